//! The problem types the server answers with (RFC 9457), defined once: the engine (feature
//! `server`) builds its `application/problem+json` bodies from them, and the generator's
//! OpenAPI document lists them by reading these constants.

/// Where the problem types live; clients match on the whole URI.
pub const TYPE_BASE: &str = "https://offgen.dev/problems/";

/// One problem type: its status, the last segment of its `type` URI, and its fixed title.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProblemType {
    /// The HTTP status it is answered with.
    pub status: u16,
    /// Last segment of the `type` URI (`precondition-failed`).
    pub slug: &'static str,
    /// The short, fixed summary (`title`).
    pub title: &'static str,
}

impl ProblemType {
    /// The whole `type` URI.
    pub fn uri(&self) -> String {
        format!("{TYPE_BASE}{}", self.slug)
    }
}

macro_rules! problem_types {
    ($($(#[$doc:meta])* $name:ident = $status:literal, $slug:literal, $title:literal;)*) => {
        $($(#[$doc])* pub const $name: ProblemType = ProblemType {
            status: $status,
            slug: $slug,
            title: $title,
        };)*

        /// Every problem type, in status order.
        pub const ALL: &[ProblemType] = &[$($name),*];
    };
}

problem_types! {
    /// 400: the request cannot be understood as sent.
    BAD_REQUEST = 400, "bad-request", "Bad request";
    /// 401: no or unknown credentials.
    UNAUTHORIZED = 401, "unauthorized", "Unauthorized";
    /// 403: authenticated, but not allowed.
    FORBIDDEN = 403, "forbidden", "Forbidden";
    /// 404.
    NOT_FOUND = 404, "not-found", "Not found";
    /// 409: the request contradicts what is stored.
    CONFLICT = 409, "conflict", "Conflict";
    /// 409: a push from an app at a newer schema step than the server's.
    SCHEMA_AHEAD = 409, "schema-ahead", "Schema ahead of the server";
    /// 409: a request from an app older than the oldest schema step the server serves.
    UPGRADE_REQUIRED = 409, "upgrade-required", "Upgrade required";
    /// 410: the record was deleted.
    GONE = 410, "gone", "Gone";
    /// 412: `If-Match` names another version.
    PRECONDITION_FAILED = 412, "precondition-failed", "Precondition failed";
    /// 413: the request is too large.
    PAYLOAD_TOO_LARGE = 413, "payload-too-large", "Payload too large";
    /// 416: a `Range` of a file that it does not have.
    RANGE_NOT_SATISFIABLE = 416, "range-not-satisfiable", "Range not satisfiable";
    /// 422: field values that do not fit their fields.
    INVALID_DATA = 422, "invalid-data", "Invalid data";
    /// 422: an attachment's bytes that do not hash to the file its row refers to.
    DIGEST_MISMATCH = 422, "digest-mismatch", "Content does not match its digest";
    /// 428: an update or delete without `If-Match`.
    PRECONDITION_REQUIRED = 428, "precondition-required", "Precondition required";
    /// 500: an unexpected server error.
    INTERNAL = 500, "internal", "Internal server error";
    /// 503: the database cannot be reached for now.
    UNAVAILABLE = 503, "unavailable", "Service unavailable";
}
