//! The YAML spec front-end (`offgen.yaml`).

mod lower;
pub mod tree;

use crate::diagnostics::Diagnostics;
use crate::model::draft::SchemaDraft;
use crate::source::SourceFile;

/// Parses a YAML spec into a draft. Syntax errors stop here (there is no tree to look at);
/// shape problems are all recorded and the draft holds what could be read.
pub fn read(file: &SourceFile, diags: &mut Diagnostics) -> Option<SchemaDraft> {
    match tree::parse(file) {
        Ok(root) => Some(lower::lower(&root, diags)),
        Err(d) => {
            diags.push(d);
            None
        }
    }
}
