//! Back-ends: read the IR, return files. None of them parses spec text or touches the disk.

pub mod client;
pub mod dart;
pub mod snapshot;

use crate::model::Schema;
use crate::output::FileSet;

/// What the previous build left in the output directory that this build builds on.
#[derive(Clone, Debug, Default)]
pub struct Previous {
    /// `client/schema.json`, if it exists.
    pub snapshot: Option<Schema>,
    /// The existing client migration steps, in order.
    pub migrations: Vec<client::Migration>,
}

/// Everything `offgen build` generates for a schema.
pub fn generate(schema: &Schema, previous: &Previous) -> FileSet {
    let mut files = FileSet::new();
    let migrations = if previous.migrations.is_empty() {
        vec![client::initial_migration(schema)]
    } else {
        previous.migrations.clone()
    };
    client::generate(schema, &migrations, &mut files);
    dart::generate(schema, &migrations, &mut files);
    snapshot::generate(schema, &mut files);
    files
}
