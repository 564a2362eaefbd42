//! The limits the server enforces, defined where they are enforced: the engine (feature
//! `server`) checks requests against them, and the generator's OpenAPI document states them
//! by reading these constants, so the two cannot drift apart.

/// Records per `/sync/pull` page, and per page of the list endpoints, when `limit` is not given.
pub const DEFAULT_PAGE: usize = 500;

/// Most records per `/sync/pull` or list page (`limit` above this is a 400).
pub const MAX_PAGE: usize = 1000;

/// Audit entries per `/admin/audit` page when `limit` is not given.
pub const DEFAULT_AUDIT_PAGE: usize = 100;

/// Most audit entries per `/admin/audit` page.
pub const MAX_AUDIT_PAGE: usize = 1000;

/// Longest `clientId` and `mutationId`, in bytes: they are kept in the idempotency record.
pub const MAX_ID_LEN: usize = 128;

/// Most mutations one push may carry, unless the server is configured otherwise
/// (`OFFGEN_MAX_BATCH`).
pub const DEFAULT_MAX_BATCH: usize = 1000;

/// Largest request body, unless the server is configured otherwise (`OFFGEN_MAX_BODY_BYTES`).
pub const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// How far ahead of the server's clock an lww stamp may be before it is clamped to the
/// server's time, in milliseconds: a device with a clock days ahead must not win every
/// conflict.
pub const MAX_STAMP_AHEAD_MS: i64 = 60_000;
