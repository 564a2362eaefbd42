//! Back-ends: read the IR, return files. None of them parses spec text or touches the disk.

pub mod snapshot;

use crate::model::Schema;
use crate::output::FileSet;

/// Everything `offgen build` generates for a schema.
pub fn generate(schema: &Schema) -> FileSet {
    let mut files = FileSet::new();
    snapshot::generate(schema, &mut files);
    files
}
