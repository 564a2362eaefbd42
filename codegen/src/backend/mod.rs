//! Back-ends: read the IR, return files. None of them parses spec text or touches the disk.

pub mod client;
pub mod dart;
pub mod snapshot;

use crate::diagnostics::Diagnostics;
use crate::model::Schema;
use crate::output::FileSet;
use crate::schema_diff;

/// What the previous build left in the output directory that this build builds on.
#[derive(Clone, Debug, Default)]
pub struct Previous {
    /// `client/schema.json`, if it exists.
    pub snapshot: Option<Schema>,
    /// The existing client migration steps, in order.
    pub migrations: Vec<client::Migration>,
}

/// Everything `offgen build` generates for a schema, on top of the previous build: its
/// migration steps are kept and, if the schema changed, the next one is added. `None` when
/// the change cannot be migrated (the reasons are in `diags`).
pub fn generate(schema: &Schema, previous: &Previous, diags: &mut Diagnostics) -> Option<FileSet> {
    let migrations = match &previous.snapshot {
        None => vec![client::initial_migration(schema)],
        Some(old) => {
            let diff = schema_diff::diff(old, schema, diags);
            if diags.has_errors() {
                return None;
            }
            let mut steps = previous.migrations.clone();
            let next = u32::try_from(steps.len() + 1).expect("fewer than 4 billion steps");
            steps.extend(client::migrate::next_step(old, schema, &diff, next));
            steps
        }
    };
    let mut files = FileSet::new();
    client::generate(schema, &migrations, &mut files);
    dart::generate(schema, &migrations, &mut files);
    snapshot::generate(schema, &mut files);
    Some(files)
}
