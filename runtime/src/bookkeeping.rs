//! The columns offgen adds to every entity table, declared once.
//!
//! The generator builds the device and server tables, the Dart and Rust row types and the
//! OpenAPI record schemas from this list, and its SQL templates spell the columns from it
//! (`{{ bk::VERSION.sql }}`); validation refuses a declared field that would
//! collide with one of them; the runtime writes the flat records' keys with these names.

/// One bookkeeping column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// Its SQL name, on the device and (where it exists there) on the server.
    pub sql: &'static str,
    /// Its key in flat records and its Dart getter (`updatedAt`).
    pub key: &'static str,
    /// Whether records carry it over the wire and the server stores it; the device-only
    /// columns hold the device's own sync state.
    pub synced: bool,
}

/// `id`: the row's UUID, made by the device.
pub const ID: Column = Column {
    sql: "id",
    key: "id",
    synced: true,
};

/// `version`: the server's version of the row (0 on the device until the server has it).
pub const VERSION: Column = Column {
    sql: "version",
    key: "version",
    synced: true,
};

/// `updated_at`: epoch milliseconds of the last change.
pub const UPDATED_AT: Column = Column {
    sql: "updated_at",
    key: "updatedAt",
    synced: true,
};

/// `deleted_at`: epoch milliseconds of the delete, for a tombstone; NULL otherwise.
pub const DELETED_AT: Column = Column {
    sql: "deleted_at",
    key: "deletedAt",
    synced: true,
};

/// `sync_status`: where a device row stands with the server.
pub const SYNC_STATUS: Column = Column {
    sql: "sync_status",
    key: "syncStatus",
    synced: false,
};

/// `sync_error`: why the server refused the row's last change, on the device.
pub const SYNC_ERROR: Column = Column {
    sql: "sync_error",
    key: "syncError",
    synced: false,
};

/// Every bookkeeping column, in device table order (`id` first; the declared fields go
/// between `id` and the rest).
pub const COLUMNS: [Column; 6] = [ID, VERSION, UPDATED_AT, DELETED_AT, SYNC_STATUS, SYNC_ERROR];

/// The values of `sync_status`, in the order its CHECK lists them.
pub const SYNC_STATUSES: [&str; 5] = ["pending", "syncing", "synced", "failed", "conflict"];

/// The server's own columns of an entity table, never on the wire: each lww field's stamp
/// (JSON, wire key -> epoch ms), and the change sequence pulls page by.
pub const SERVER_CLOCK: &str = "_offgen_clock";

/// See [`SERVER_CLOCK`].
pub const SERVER_SEQ: &str = "_offgen_seq";
