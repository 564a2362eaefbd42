//! `client/schema.json`: the IR as the last build saw it.
//!
//! The next build diffs the spec against this snapshot to write the next migration step, so
//! the snapshot is the contract between builds: it is versioned and holds everything a
//! migration depends on (names in every spelling, types, nullability, defaults, indexes).

use serde::{Deserialize, Serialize};

use crate::history::PastStep;
use crate::model::Schema;
use crate::output::{FileSet, GENERATED_MARKER};

/// Path of the snapshot inside the output directory.
pub const PATH: &str = "client/schema.json";

/// Version of the snapshot's own layout; bumped when it changes. Layout 2 added `history`;
/// a layout-1 snapshot is read with an empty one (its older steps' shapes were never kept).
pub const SNAPSHOT_VERSION: u32 = 2;

/// The oldest layout this offgen still reads.
pub const OLDEST_SNAPSHOT_VERSION: u32 = 1;

/// The file's contents.
#[derive(Debug, Serialize, Deserialize)]
pub struct Snapshot {
    /// Says the file is generated and what it is for (JSON has no comments).
    #[serde(rename = "$comment")]
    pub comment: String,
    /// Layout version, see [`SNAPSHOT_VERSION`].
    pub snapshot: u32,
    /// The schema.
    pub schema: Schema,
    /// The wire at each earlier step, oldest first (crate::history).
    #[serde(default)]
    pub history: Vec<PastStep>,
}

/// Adds the snapshot of `schema` and the `history` before it to `files`.
pub fn generate(schema: &Schema, history: &[PastStep], files: &mut FileSet) {
    let snapshot = Snapshot {
        comment: format!(
            "{GENERATED_MARKER}. The schema as of the newest migration: the base the next build diffs against. Do not edit."
        ),
        snapshot: SNAPSHOT_VERSION,
        schema: schema.clone(),
        history: history.to_vec(),
    };
    let mut text = serde_json::to_string_pretty(&snapshot).expect("the IR always serializes");
    text.push('\n');
    files.insert(PATH, text);
}
