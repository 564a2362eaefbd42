//! `GET` and `HEAD /attachments/<table>/<id>/<field>/<sha256>`: a row's file, streamed from the
//! store, once it was uploaded for that row. Ranges (`bytes=a-b`, `bytes=a-`, `bytes=-n`) let
//! a download cut off go on where it stopped; the entity tag is the hash, which never changes.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use object_store::{GetOptions, GetRange};

use super::{AttachmentStore, Files, permit, target, uploaded};
use crate::server::auth;
use crate::server::problem::Problem;

pub(super) async fn get(
    files: &Files,
    path: (String, String, String, String),
    head: bool,
    headers: &HeaderMap,
) -> Result<Response, Problem> {
    let shared = &files.shared;
    let user = auth::user(headers, shared.auth.as_ref())?;
    let (table, id) = (path.0.clone(), path.1.clone());
    let target = target(shared, path, headers, &user).await?;
    // Its own device may not have uploaded it yet: the same answer as for no file, and the
    // downloader tries again later.
    let Some((size, media_type)) = uploaded(shared, &target).await? else {
        return Err(Problem::not_found(format!(
            "{table} row {id}'s file {} has not been uploaded yet",
            target.sha256
        )));
    };
    let size = u64::try_from(size).unwrap_or(0);
    let etag = format!("\"{}\"", target.sha256);
    let mut response_headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response_headers.insert(header::ETAG, value);
    }
    response_headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    response_headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(value) = HeaderValue::from_str(&media_type) {
        response_headers.insert(header::CONTENT_TYPE, value);
    }
    let not_modified = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.trim_start_matches("W/") == etag
        });
    if not_modified {
        return Ok((StatusCode::NOT_MODIFIED, response_headers).into_response());
    }
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(text) => match parse_range(text, size) {
            RangeAsked::Whole => None,
            RangeAsked::Part(start, end) => Some((start, end)),
            RangeAsked::Unsatisfiable => return Err(Problem::range_not_satisfiable(size)),
        },
        None => None,
    };
    let (status, start, end) = match range {
        Some((start, end)) => (StatusCode::PARTIAL_CONTENT, start, end),
        None => (StatusCode::OK, 0, size),
    };
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(value) = HeaderValue::from_str(&format!("bytes {start}-{}/{size}", end - 1))
    {
        response_headers.insert(header::CONTENT_RANGE, value);
    }
    response_headers.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
    if head {
        return Ok((status, response_headers).into_response());
    }
    let permit = permit(files)?;
    let options = GetOptions {
        range: (status == StatusCode::PARTIAL_CONTENT).then_some(GetRange::Bounded(start..end)),
        ..GetOptions::default()
    };
    let got = files
        .settings
        .store
        .objects()
        .get_opts(&AttachmentStore::object(&target.sha256), options)
        .await
        .map_err(|error| {
            // Recorded as uploaded, and not in the store: the store lost it (or was swapped).
            tracing::error!(error = %error, sha256 = %target.sha256, "an uploaded file is missing from the store");
            Problem::internal("the file is recorded but missing from the store; the error is in the server's log")
        })?;
    // The stream holds the transfer slot until the last byte is sent.
    let stream = futures_util::StreamExt::map(got.into_stream(), move |chunk| {
        let _held = &permit;
        chunk
    });
    Ok((status, response_headers, Body::from_stream(stream)).into_response())
}

/// What a `Range` header asks for.
#[derive(Debug, PartialEq, Eq)]
enum RangeAsked {
    /// No range this server serves (several ranges, another unit, bad syntax): the whole
    /// file, as RFC 9110 lets a server answer.
    Whole,
    /// Bytes `start..end` (end exclusive).
    Part(u64, u64),
    /// A range outside the file: 416.
    Unsatisfiable,
}

fn parse_range(text: &str, size: u64) -> RangeAsked {
    let Some(spec) = text.trim().strip_prefix("bytes=") else {
        return RangeAsked::Whole;
    };
    if spec.contains(',') {
        return RangeAsked::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeAsked::Whole;
    };
    let number = |t: &str| -> Option<u64> {
        (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| t.parse().ok())
            .flatten()
    };
    match (first.trim(), last.trim()) {
        ("", suffix) => match number(suffix) {
            Some(0) => RangeAsked::Unsatisfiable,
            Some(_) if size == 0 => RangeAsked::Unsatisfiable,
            Some(n) => RangeAsked::Part(size - n.min(size), size),
            None => RangeAsked::Whole,
        },
        (start, "") => match number(start) {
            Some(start) if start < size => RangeAsked::Part(start, size),
            Some(_) => RangeAsked::Unsatisfiable,
            None => RangeAsked::Whole,
        },
        (start, end) => match (number(start), number(end)) {
            (Some(start), Some(end)) if start <= end && start < size => {
                RangeAsked::Part(start, end.min(size - 1) + 1)
            }
            (Some(start), Some(end)) if start <= end => RangeAsked::Unsatisfiable,
            _ => RangeAsked::Whole,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_read_as_rfc_9110_says() {
        assert_eq!(parse_range("bytes=0-9", 100), RangeAsked::Part(0, 10));
        assert_eq!(parse_range("bytes=90-", 100), RangeAsked::Part(90, 100));
        assert_eq!(parse_range("bytes=-10", 100), RangeAsked::Part(90, 100));
        assert_eq!(parse_range("bytes=-500", 100), RangeAsked::Part(0, 100));
        assert_eq!(parse_range("bytes=50-500", 100), RangeAsked::Part(50, 100));
        assert_eq!(parse_range("bytes=100-", 100), RangeAsked::Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), RangeAsked::Unsatisfiable);
        for whole in [
            "bytes=0-1,5-6",
            "items=0-1",
            "bytes=x-",
            "bytes=5-2",
            "bytes",
        ] {
            assert_eq!(parse_range(whole, 100), RangeAsked::Whole, "{whole}");
        }
    }
}
