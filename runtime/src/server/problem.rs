//! Errors as `application/problem+json` (RFC 9457), each with a stable `type`.

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::problems::{self, ProblemType};

/// `Retry-After` of a 503, in seconds: long enough for a database restart or failover to
/// progress, short enough that devices catch up soon after.
const RETRY_AFTER_SECS: &str = "2";

/// An error response.
#[derive(Debug, Clone)]
pub struct Problem {
    /// HTTP status.
    pub status: StatusCode,
    /// Last segment of the `type` URI (`precondition-failed`).
    pub kind: &'static str,
    /// Short, fixed summary of the type.
    pub title: &'static str,
    /// What happened this time.
    pub detail: String,
    /// Extension members (`record`, `errors`).
    pub extensions: Box<Map<String, Value>>,
    /// Extra response headers (few and rare: a list keeps `Result<_, Problem>` small).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl Problem {
    fn new(ty: &'static ProblemType, detail: impl Into<String>) -> Problem {
        Problem {
            status: StatusCode::from_u16(ty.status).expect("problem types have valid statuses"),
            kind: ty.slug,
            title: ty.title,
            detail: detail.into(),
            extensions: Box::default(),
            headers: Vec::new(),
        }
    }

    /// 400: the request cannot be understood as sent.
    pub fn bad_request(detail: impl Into<String>) -> Problem {
        Problem::new(&problems::BAD_REQUEST, detail)
    }

    /// 401: no or unknown credentials.
    pub fn unauthorized(detail: impl Into<String>) -> Problem {
        let mut p = Problem::new(&problems::UNAUTHORIZED, detail);
        p.headers
            .push((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        p
    }

    /// 403: authenticated, but not allowed (an admin endpoint, a user who is not an admin).
    pub fn forbidden(detail: impl Into<String>) -> Problem {
        Problem::new(&problems::FORBIDDEN, detail)
    }

    /// 404.
    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(&problems::NOT_FOUND, detail)
    }

    /// 409: the request contradicts what is stored.
    pub fn conflict(detail: impl Into<String>) -> Problem {
        Problem::new(&problems::CONFLICT, detail)
    }

    /// 409: a push from an app at a newer schema step than this server's. Its changes wait on
    /// the device (uncounted) until the server is upgraded.
    pub fn schema_ahead(client_step: u32, server_step: u32) -> Problem {
        let mut p = Problem::new(
            &problems::SCHEMA_AHEAD,
            format!(
                "this app is at schema step {client_step} and the server at {server_step}: its changes wait until the server is upgraded"
            ),
        );
        p.extensions.insert("serverStep".into(), json!(server_step));
        p
    }

    /// 409: a request from an app older than the oldest schema step the server serves.
    pub fn upgrade_required(client_step: u32, oldest_step: u32, server_step: u32) -> Problem {
        let mut p = Problem::new(
            &problems::UPGRADE_REQUIRED,
            format!(
                "this app is at schema step {client_step}; the server serves steps {oldest_step} to {server_step}: update the app (its unsent changes are kept and go with it)"
            ),
        );
        p.extensions.insert("oldestStep".into(), json!(oldest_step));
        p.extensions.insert("serverStep".into(), json!(server_step));
        p
    }

    /// 410: the record was deleted.
    pub fn gone(detail: impl Into<String>) -> Problem {
        Problem::new(&problems::GONE, detail)
    }

    /// 412, with the current record (if there is one) so the client can re-merge.
    pub fn precondition_failed(detail: impl Into<String>, record: Option<Value>) -> Problem {
        let mut p = Problem::new(&problems::PRECONDITION_FAILED, detail);
        if let Some(record) = record {
            p.extensions.insert("record".into(), record);
        }
        p
    }

    /// 413.
    pub fn payload_too_large(detail: impl Into<String>) -> Problem {
        Problem::new(&problems::PAYLOAD_TOO_LARGE, detail)
    }

    /// 416, with the file's size in `Content-Range`, as RFC 9110 asks.
    pub fn range_not_satisfiable(size: u64) -> Problem {
        let mut p = Problem::new(
            &problems::RANGE_NOT_SATISFIABLE,
            format!("the file has {size} bytes; the range asks for none of them"),
        );
        if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
            p.headers.push((header::CONTENT_RANGE, value));
        }
        p
    }

    /// 422: an upload's bytes do not hash to the file its row refers to.
    pub fn digest_mismatch(detail: impl Into<String>) -> Problem {
        Problem::new(&problems::DIGEST_MISMATCH, detail)
    }

    /// 422, with one entry per field in error.
    pub fn invalid_data(
        detail: impl Into<String>,
        errors: &[crate::values::FieldError],
    ) -> Problem {
        let mut p = Problem::new(&problems::INVALID_DATA, detail);
        p.extensions.insert("errors".into(), json!(errors));
        p
    }

    /// 428: an update or delete without `If-Match`.
    pub fn precondition_required(detail: impl Into<String>) -> Problem {
        Problem::new(&problems::PRECONDITION_REQUIRED, detail)
    }

    /// 500. The detail is kept short: internals are logged, not sent.
    pub fn internal(detail: impl Into<String>) -> Problem {
        Problem::new(&problems::INTERNAL, detail)
    }

    /// 503: the database is unreachable or overloaded for now, with `Retry-After`.
    pub fn unavailable(detail: impl Into<String>) -> Problem {
        let mut p = Problem::new(&problems::UNAVAILABLE, detail);
        p.headers.push((
            header::RETRY_AFTER,
            HeaderValue::from_static(RETRY_AFTER_SECS),
        ));
        p
    }

    /// The body as JSON.
    pub fn body(&self) -> Value {
        let mut body = Map::new();
        body.insert(
            "type".into(),
            json!(format!("{}{}", problems::TYPE_BASE, self.kind)),
        );
        body.insert("title".into(), json!(self.title));
        body.insert("status".into(), json!(self.status.as_u16()));
        body.insert("detail".into(), json!(self.detail));
        body.extend(self.extensions.as_ref().clone());
        Value::Object(body)
    }
}

impl From<sqlx::Error> for Problem {
    fn from(error: sqlx::Error) -> Problem {
        if super::db::is_unavailable(&error) {
            tracing::warn!(error = %error, "database unavailable");
            Problem::unavailable("the database cannot serve right now; try again")
        } else {
            tracing::error!(error = %error, "database error");
            Problem::internal("the database failed; the error is in the server's log")
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.body()).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}
