//! The reference sync client (feature `client`): a device database over rusqlite, synced with
//! an offgen server by running only the statements `offgen build` generated.
//!
//! The generated triggers do the queueing, folding, conflict and clash bookkeeping inside the
//! database; `sync.sql` holds every step of the algorithm as a named statement. This module
//! runs those statements in order, moves JSON between them and the server, and decides what
//! each HTTP answer means. The Dart client runs the very same statements.
//!
//! ```no_run
//! use offgen_runtime::client::{ClientSchema, Device, HttpTransport, SyncClient};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The `client/` folder `offgen build` wrote (or `ClientSchema::from_texts` with
//! // `include_str!`, to compile it into the app).
//! let schema = ClientSchema::from_dir("generated/client".as_ref())?;
//! let mut device = Device::open("ranger.db", &schema)?;
//!
//! // The app writes with plain SQL; the triggers queue every change.
//! device.connection().execute(
//!     "INSERT INTO rangers (id, name, badge_number) VALUES (?1, 'Ana', 'B-17')",
//!     ["0b8f3c1e-6d2a-4f7b-9c4e-2a1d5e7f9b30"],
//! )?;
//!
//! // The token is asked for before each request and never stored.
//! let client = SyncClient::new(HttpTransport::new("http://127.0.0.1:8080"), || {
//!     Some("ana-token".to_owned())
//! });
//! match client.sync(&mut device) {
//!     Ok(report) => println!("pushed {}, pulled {}", report.pushed, report.pulled),
//!     Err(e) if e.is_unauthorized() => println!("sign in again: {e}"),
//!     Err(e) => println!("will retry later: {e}"),
//! }
//! let stats = device.stats()?;
//! println!("{} changes waiting, {} need attention", stats.queue_depth, stats.failed + stats.conflicts);
//! # Ok(())
//! # }
//! ```

mod attachments;
mod device;
mod reals;
mod schema;
mod sync;
mod transport;

use std::fmt;

pub use attachments::{
    AttachmentOptions, AttachmentPolicy, AttachmentReport, AttachmentStats, Downloads,
    FailedAttachment, LocalAttachment,
};
pub use device::{Clash, Conflict, Device, FailedEntry, Notice, Resolution, Stats, sql_to_json};
pub use schema::ClientSchema;
pub use sync::{SyncClient, SyncError, SyncErrorKind, SyncOptions, SyncReport};
pub use transport::{HttpTransport, Method, Request, Response, Transport, TransportError};

/// Re-exported so apps and tests use the client's own SQLite binding.
pub use rusqlite;

use crate::scripts::ScriptError;

/// What can go wrong with a device database.
#[derive(Debug)]
pub enum ClientError {
    /// SQLite failed.
    Database(rusqlite::Error),
    /// The schema's files could not be read.
    Schema(ScriptError),
    /// A migration step failed; the database stays on the step before it.
    Migration {
        /// The step that failed.
        step: u32,
        /// Why.
        error: rusqlite::Error,
    },
    /// The database was made by a newer version of the app than this schema: opening it with
    /// an older one could lose data, so it is left untouched.
    NewerDatabase {
        /// The database's step.
        database: u32,
        /// The newest step this schema knows.
        schema: u32,
    },
    /// `sync.sql` lacks a statement the client runs.
    MissingStatement(String),
    /// A file could not be attached or kept (no such attachment field, a file that cannot be
    /// read or written).
    Attachment(String),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Database(e) => write!(f, "device database: {e}"),
            ClientError::Schema(e) => write!(f, "device schema: {e}"),
            ClientError::Migration { step, error } => {
                write!(
                    f,
                    "migration step {step} failed (nothing of it was applied): {error}"
                )
            }
            ClientError::NewerDatabase { database, schema } => write!(
                f,
                "the database is at schema step {database}, newer than this app's {schema}: update the app"
            ),
            ClientError::MissingStatement(name) => {
                write!(f, "sync.sql has no statement `{name}`")
            }
            ClientError::Attachment(why) => write!(f, "attachment: {why}"),
        }
    }
}

impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClientError::Database(e) | ClientError::Migration { error: e, .. } => Some(e),
            ClientError::Schema(e) => Some(e),
            _ => None,
        }
    }
}

impl From<rusqlite::Error> for ClientError {
    fn from(error: rusqlite::Error) -> ClientError {
        ClientError::Database(error)
    }
}

impl From<ScriptError> for ClientError {
    fn from(error: ScriptError) -> ClientError {
        ClientError::Schema(error)
    }
}
