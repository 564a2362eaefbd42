//! The tables the server engine keeps beside the entities' own: change order, idempotency
//! records, the audit of values that lost, and uploaded attachment files.
//!
//! The engine reads and writes them, so their definitions live here with it; the generator
//! copies them into a server's first migration step (and into the step that adds the first
//! attachment field). A step, once generated, is history: changing a definition here needs a
//! new step, never an edit of these files alone.

use crate::model::Dialect;

/// `CREATE` statements of the change order, idempotency and audit tables.
pub fn ddl(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => include_str!("support_tables/sqlite.sql"),
        Dialect::Postgres => include_str!("support_tables/postgres.sql"),
    }
}

/// `CREATE` statement of the table of uploaded attachment files, for a schema with
/// attachment fields.
pub fn attachments_ddl(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => include_str!("support_tables/attachments.sqlite.sql"),
        Dialect::Postgres => include_str!("support_tables/attachments.postgres.sql"),
    }
}
