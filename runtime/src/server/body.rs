//! Request bodies: read with a hard size limit, parsed strictly, every failure answered as
//! problem+json (axum's own rejections answer in plain text).

use axum::body::Body;
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;

use super::problem::Problem;

/// Reads and parses a JSON body of at most `limit` bytes: 413 beyond, 400 if it is not the
/// expected JSON (with serde's line and column).
pub(crate) async fn json<T: DeserializeOwned>(body: Body, limit: usize) -> Result<T, Problem> {
    let bytes = read(body, limit).await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Problem::bad_request(format!("the body is not valid: {e}")))
}

/// The body's bytes, at most `limit` of them kept. Past the limit the rest is read and
/// dropped, up to as much again: a server that answers and closes while the client is still
/// sending makes the client see a broken connection instead of the 413 that says why, and
/// a device would retry the same oversized batch forever. Beyond twice the limit the
/// connection is cut off all the same.
async fn read(mut body: Body, limit: usize) -> Result<Vec<u8>, Problem> {
    let mut kept = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| Problem::bad_request(format!("the body could not be read: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen = seen.saturating_add(data.len());
        if seen <= limit {
            kept.extend_from_slice(&data);
        } else if seen > limit.saturating_mul(2) {
            break;
        }
    }
    if seen > limit {
        return Err(Problem::payload_too_large(format!(
            "the body is larger than {limit} bytes"
        )));
    }
    Ok(kept)
}
