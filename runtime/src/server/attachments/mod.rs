//! `/attachments/<table>/<id>/<field>/<sha256>`: the bytes of attachment fields, uploaded and
//! downloaded apart from the records that refer to them (docs/protocol.md, *Attachments*).
//!
//! A file is reached through the row that refers to it, and the row's scope decides: another
//! user's row, or a row that does not exist, answers the same 404 whatever is asked of it. A
//! row's file is served only once it was uploaded for that row (`_offgen_attachments`), so a
//! hash alone never gives anyone a file; the bytes are stored once per content
//! ([`AttachmentStore`]). Bodies stream both ways: an upload is hashed while it arrives, and
//! at most one part of it (5 MiB) is in memory at a time.

mod download;
mod store;
mod upload;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use super::db::Arg;
use super::problem::Problem;
use super::{Shared, shapes};
use crate::attachments::{AttachmentRef, MAX_BYTES_HEADER, is_sha256};
use crate::model::{Dialects, EntityDef, FieldDef, Kind};

pub use store::{AttachmentStore, DEFAULT_MAX_BYTES};

/// How the attachment routes run: the store, how many transfers at once, and how long a body
/// may stop arriving before the upload is given up.
#[derive(Clone, Debug)]
pub struct Attachments {
    /// Where the bytes go.
    pub store: AttachmentStore,
    /// Most uploads and downloads at once; one more is answered 503 at once.
    pub max_in_flight: usize,
    /// How long an upload's body may stop arriving before it is given up (a trickle does not
    /// hold a transfer slot for ever; a slow link that keeps sending is never cut off).
    pub stall_timeout: Duration,
}

impl Attachments {
    /// The routes' settings for `store`, with default limits.
    pub fn new(store: AttachmentStore) -> Attachments {
        Attachments {
            store,
            max_in_flight: 64,
            stall_timeout: Duration::from_secs(60),
        }
    }
}

/// What the attachment handlers share.
struct Files {
    shared: Arc<Shared>,
    settings: Attachments,
    permits: Arc<Semaphore>,
}

/// The attachment routes of `shared.app`. They are not under the request timeout of the other
/// routes (an upload over 3G takes minutes); they have a concurrency limit of their own and
/// give up a body that stalls.
pub(crate) fn routes(shared: Arc<Shared>, settings: Attachments) -> Router {
    let files = Arc::new(Files {
        permits: Arc::new(Semaphore::new(settings.max_in_flight)),
        shared,
        settings,
    });
    let path = format!(
        "{}/{{table}}/{{id}}/{{field}}/{{sha256}}",
        crate::attachments::PATH_PREFIX
    );
    Router::new()
        .route(
            &path,
            axum::routing::get(
                |State(f): State<Arc<Files>>,
                 Path(p): Path<(String, String, String, String)>,
                 method: Method,
                 headers: HeaderMap| async move {
                    let max = f.settings.store.max_bytes();
                    with_limit(
                        max,
                        download::get(&f, p, method == Method::HEAD, &headers).await,
                    )
                },
            )
            .put(
                |State(f): State<Arc<Files>>,
                 Path(p): Path<(String, String, String, String)>,
                 headers: HeaderMap,
                 body: Body| async move {
                    let max = f.settings.store.max_bytes();
                    with_limit(max, upload::put(&f, p, &headers, body).await)
                },
            ),
        )
        .with_state(files)
}

/// Every answer says the largest file the server takes, so a client sets aside a file that
/// can never be sent without sending it.
fn with_limit(max_bytes: u64, answer: Result<Response, Problem>) -> Response {
    let mut response = match answer {
        Ok(response) => response,
        Err(problem) => problem.into_response(),
    };
    response
        .headers_mut()
        .insert(MAX_BYTES_HEADER, HeaderValue::from(max_bytes));
    response
}

/// A transfer slot, or 503 when every one is taken.
fn permit(files: &Files) -> Result<tokio::sync::OwnedSemaphorePermit, Problem> {
    files.permits.clone().try_acquire_owned().map_err(|_| {
        Problem::unavailable(format!(
            "{} file transfers are running; try again shortly",
            files.settings.max_in_flight
        ))
    })
}

/// What a request names, checked: the entity, its attachment field, the row as the caller
/// may see it, and the file the row's field refers to now.
struct Target {
    entity: &'static EntityDef,
    field: &'static FieldDef,
    id: String,
    sha256: String,
    /// The row's reference, when it refers to this very file.
    current: Option<AttachmentRef>,
}

/// The answer for anything that does not exist, or is not the caller's: the same for all.
fn no_such(table: &str, id: &str) -> Problem {
    Problem::not_found(format!("no {table} row {id} with such a file"))
}

/// Resolves `/<table>/<id>/<field>/<sha256>` for the caller: names in the app's own shape
/// (an older app's names are mapped to the current ones), the row visible to the caller
/// (another user's row is answered exactly as a missing one), not deleted.
async fn target(
    shared: &Shared,
    (table, id, field, sha256): (String, String, String, String),
    headers: &HeaderMap,
    user: &str,
) -> Result<Target, Problem> {
    let (table_now, key_now) = match shapes::client_step(shared.app, headers, false)? {
        shapes::ClientStep::Current => (table.clone(), field.clone()),
        shapes::ClientStep::Older(shape) => {
            let entity = shape
                .entity(&table)
                .and_then(|e| Some((e.now?, e.field(&field)?.now?)));
            match entity {
                Some((t, k)) => (t.to_owned(), k.to_owned()),
                None => return Err(no_such(&table, &id)),
            }
        }
    };
    let entity = shared
        .app
        .entity(&table_now)
        .ok_or_else(|| no_such(&table, &id))?;
    let field = entity
        .field(&key_now)
        .filter(|f| f.kind == Kind::Attachment)
        .ok_or_else(|| no_such(&table, &id))?;
    if !is_sha256(&sha256) {
        return Err(Problem::bad_request(
            "the last segment names a file by its SHA-256: 64 lowercase hex digits",
        ));
    }
    let row = super::rest::visible(shared, entity, &id, user)
        .await?
        .ok_or_else(|| no_such(&table, &id))?;
    if row.deleted_at.is_some() {
        return Err(Problem::gone(format!("{table} row {id} was deleted")));
    }
    let current = row
        .data
        .get(field.key)
        .and_then(|v| AttachmentRef::from_value(v).ok())
        .filter(|r| r.sha256 == sha256);
    Ok(Target {
        entity,
        field,
        id,
        sha256,
        current,
    })
}

/// The upload recorded for a row's field and file: (size, media type).
async fn uploaded(shared: &Shared, target: &Target) -> Result<Option<(i64, String)>, Problem> {
    let mut tx = shared.db.begin_read().await?;
    let rows = tx
        .rows(
            Dialects {
                sqlite: "SELECT \"size\", \"media_type\" FROM \"_offgen_attachments\" \
                         WHERE \"entity\" = ?1 AND \"row_id\" = ?2 AND \"field\" = ?3 AND \"sha256\" = ?4",
                postgres: "SELECT \"size\", \"media_type\" FROM \"_offgen_attachments\" \
                           WHERE \"entity\" = $1 AND \"row_id\" = $2 AND \"field\" = $3 AND \"sha256\" = $4",
            },
            &key_args(target),
        )
        .await?;
    tx.commit().await?;
    match rows.first() {
        Some(row) => Ok(Some((row.int("size")?, row.text("media_type")?))),
        None => Ok(None),
    }
}

fn key_args(target: &Target) -> Vec<Arg> {
    vec![
        Arg::Text(target.entity.table.to_owned()),
        Arg::Text(target.id.clone()),
        Arg::Text(target.field.key.to_owned()),
        Arg::Text(target.sha256.clone()),
    ]
}
