//! offgen's code generator.
//!
//! One direction only: spec text -> [`frontend`] -> [`model::draft`] -> [`validate`] ->
//! [`model::Schema`] (the IR) -> [`backend`] -> [`output::FileSet`] -> disk. Front-ends never
//! emit, back-ends never parse spec text, and nothing is written until every back-end succeeded.
#![deny(missing_docs)]

pub mod backend;
pub mod cli;
pub mod derive;
pub mod diagnostics;
pub mod frontend;
pub mod history;
pub mod model;
pub mod output;
pub mod previous;
pub mod scaffold;
pub mod schema_diff;
pub mod source;
pub mod spec_format;
pub mod spec_schema;
pub mod suggest;
pub mod validate;

use diagnostics::{Diagnostic, Diagnostics};
use model::Schema;
use source::{SourceFile, SourceSet};

/// Reads and validates a YAML spec. On failure, every problem found, in source order.
pub fn load_yaml_spec(file: &SourceFile) -> Result<Schema, Vec<Diagnostic>> {
    read_yaml_spec(file).map(|(schema, _warnings)| schema)
}

/// [`load_yaml_spec`], keeping the warnings of a spec that is accepted (in source order), for
/// the CLI to show.
pub fn read_yaml_spec(file: &SourceFile) -> Result<(Schema, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut diags = Diagnostics::new();
    let schema = frontend::yaml::read(file, &mut diags)
        .and_then(|draft| validate::validate(&draft, &mut diags));
    match schema {
        Some(schema) if !diags.has_errors() => Ok((schema, diags.into_sorted())),
        _ => Err(diags.into_sorted()),
    }
}

/// A spec read from Rust sources (`offgen build --rust`): the schema, the warnings of an
/// accepted spec, and where the app's build output lives (`build = "..."`, from the crate's
/// root). On failure, every problem found, in source order.
pub fn read_rust_spec(
    sources: &SourceSet,
) -> Result<(Schema, Vec<Diagnostic>, Option<String>), Vec<Diagnostic>> {
    let mut diags = Diagnostics::new();
    let read = frontend::rust::read(sources, &mut diags);
    let schema = read
        .as_ref()
        .and_then(|spec| validate::validate(&spec.draft, &mut diags));
    match (schema, read) {
        (Some(schema), Some(spec)) if !diags.has_errors() => {
            Ok((schema, diags.into_sorted(), spec.build))
        }
        _ => Err(diags.into_sorted()),
    }
}

/// What a build from Rust sources leaves out: the server's Rust, which the structs and their
/// derives are.
pub fn rust_build_writes(path: &str) -> bool {
    !path.starts_with("server/src/")
}
