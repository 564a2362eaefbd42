//! `PUT /attachments/<table>/<id>/<field>/<sha256>`: a file's bytes, streamed into the store
//! and hashed on the way. Nothing becomes visible unless every byte arrived and the hash is
//! the one the row refers to: an upload cut off, or whose bytes changed on the way, leaves
//! nothing behind, and a retry succeeds. The same bytes sent again (a retry after a lost
//! answer, two devices holding one photo) are one object.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use object_store::{MultipartUpload, ObjectStoreExt, PutPayload};
use serde_json::json;

use super::{AttachmentStore, Files, Target, key_args, permit, target};
use crate::model::Dialects;
use crate::server::auth;
use crate::server::problem::Problem;

/// Bytes kept before they are written as one part: S3's smallest part (every part but the
/// last must be at least this), and the most of an upload held in memory at once.
const PART: usize = 5 * 1024 * 1024;

pub(super) async fn put(
    files: &Files,
    path: (String, String, String, String),
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let shared = &files.shared;
    let user = auth::user(headers, shared.auth.as_ref())?;
    let (table, id) = (path.0.clone(), path.1.clone());
    let target = target(shared, path, headers, &user).await?;
    let Some(reference) = target.current.clone() else {
        return Err(Problem::conflict(format!(
            "{table} row {id}'s {} does not refer to this file (its record may not have reached the server yet): upload the file its record refers to",
            target.field.key
        )));
    };
    let max = files.settings.store.max_bytes();
    if reference.size > max {
        return Err(Problem::payload_too_large(format!(
            "the file is {} bytes; this server takes files of at most {max} bytes",
            reference.size
        )));
    }
    if let Some(length) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && length != reference.size
    {
        return Err(Problem::bad_request(format!(
            "Content-Length is {length}, and the file the row refers to is {} bytes",
            reference.size
        )));
    }
    let _permit = permit(files)?;
    let store = &files.settings.store;
    let object = AttachmentStore::object(&target.sha256);
    // Stored already (for another row, or by an earlier try): the bytes are still read and
    // checked, so that only a caller who holds the file gets it recorded for its row.
    let stored = match store.objects().head(&object).await {
        Ok(_) => true,
        Err(object_store::Error::NotFound { .. }) => false,
        Err(error) => return Err(store_failed(error)),
    };
    let mut upload = if stored {
        None
    } else {
        Some(
            store
                .objects()
                .put_multipart(&object)
                .await
                .map_err(store_failed)?,
        )
    };
    let received = receive(files, body, reference.size, upload.as_mut()).await;
    let digest = match received {
        Ok(digest) => digest,
        Err(problem) => {
            if let Some(upload) = upload.as_mut() {
                let _ = upload.abort().await;
            }
            return Err(problem);
        }
    };
    if digest != target.sha256 {
        if let Some(upload) = upload.as_mut() {
            let _ = upload.abort().await;
        }
        return Err(Problem::digest_mismatch(format!(
            "the bytes received hash to {digest}, not to {}: they changed on the way; send the file again",
            target.sha256
        )));
    }
    if let Some(upload) = upload.as_mut() {
        upload.complete().await.map_err(store_failed)?;
    }
    let created = record(files, &target, &reference.media_type, &user).await?;
    if created {
        tracing::info!(
            entity = target.entity.table,
            field = target.field.key,
            bytes = reference.size,
            "file uploaded"
        );
    }
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(json!(reference.to_value()))).into_response())
}

/// Reads the body, at most `size` bytes of it, into the hash and (when given) the upload, a
/// part at a time; the hex digest of what arrived. A body of another size is refused: too
/// short (cut off) or longer than the file the row refers to.
async fn receive(
    files: &Files,
    mut body: Body,
    size: u64,
    mut upload: Option<&mut Box<dyn MultipartUpload>>,
) -> Result<String, Problem> {
    let stall = files.settings.stall_timeout;
    let mut hash = crate::attachments::ContentHash::new();
    let mut part: Vec<Bytes> = Vec::new();
    let mut part_len = 0usize;
    let mut seen = 0u64;
    loop {
        let frame = match tokio::time::timeout(stall, body.frame()).await {
            Ok(Some(frame)) => frame
                .map_err(|e| Problem::bad_request(format!("the body could not be read: {e}")))?,
            Ok(None) => break,
            Err(_) => {
                return Err(Problem::bad_request(format!(
                    "no bytes arrived for {} s; the upload was given up (send it again)",
                    stall.as_secs()
                )));
            }
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen = seen.saturating_add(data.len() as u64);
        if seen > size {
            return Err(Problem::digest_mismatch(format!(
                "more bytes arrived than the {size} of the file the row refers to"
            )));
        }
        hash.update(&data);
        if upload.is_some() {
            part_len += data.len();
            part.push(data);
            if part_len >= PART
                && let Some(upload) = upload.as_mut()
            {
                let payload: PutPayload = std::mem::take(&mut part).into_iter().collect();
                part_len = 0;
                upload.put_part(payload).await.map_err(store_failed)?;
            }
        }
    }
    if seen < size {
        return Err(Problem::bad_request(format!(
            "the body ended after {seen} of the file's {size} bytes; send it again"
        )));
    }
    if let Some(upload) = upload
        && (!part.is_empty() || size == 0)
    {
        let payload: PutPayload = part.into_iter().collect();
        upload.put_part(payload).await.map_err(store_failed)?;
    }
    Ok(hash.hex())
}

/// Records that the row's field has its file; whether this upload was the first.
async fn record(
    files: &Files,
    target: &Target,
    media_type: &str,
    user: &str,
) -> Result<bool, Problem> {
    let mut args = key_args(target);
    let size = target.current.as_ref().map_or(0, |r| r.size);
    args.extend([
        crate::server::db::Arg::Int(i64::try_from(size).unwrap_or(i64::MAX)),
        crate::server::db::Arg::Text(media_type.to_owned()),
        crate::server::db::Arg::Text(user.to_owned()),
        crate::server::db::Arg::Int(crate::server::now_ms()),
    ]);
    let mut tx = files.shared.db.begin_write().await?;
    let changed = tx
        .exec(
            Dialects {
                sqlite: "INSERT INTO \"_offgen_attachments\" (\"entity\", \"row_id\", \"field\", \"sha256\", \"size\", \"media_type\", \"user_id\", \"uploaded_at\") \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING",
                postgres: "INSERT INTO \"_offgen_attachments\" (\"entity\", \"row_id\", \"field\", \"sha256\", \"size\", \"media_type\", \"user_id\", \"uploaded_at\") \
                           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
            },
            &args,
        )
        .await?;
    tx.commit().await?;
    Ok(changed == 1)
}

/// The store failed: logged; 503 (the device keeps its file and tries again later).
fn store_failed(error: object_store::Error) -> Problem {
    tracing::warn!(error = %error, "attachment store failed");
    Problem::unavailable("the file store cannot take the file right now; try again")
}
