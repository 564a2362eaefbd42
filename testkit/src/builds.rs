//! Builds of a spec made in memory, as `offgen build` makes them, each on the one before: the
//! app versions of a fleet that does not upgrade in lockstep, served without compiling a
//! crate (the runtime serves the plan a build describes).

use std::path::Path;

use offgen_codegen::backend::{self, server::app_def};
use offgen_codegen::diagnostics::{Diagnostics, render};
use offgen_codegen::output::FileSet;
use offgen_codegen::source::SourceFile;
use offgen_runtime::client::ClientSchema;
use offgen_runtime::model::AppDef;

/// The build of `spec` on top of `previous` (the last build's files), as `offgen build`
/// makes it. Panics with the rendered diagnostics when the spec has problems.
pub fn build_on(previous: Option<&FileSet>, spec: &str) -> FileSet {
    let file = SourceFile::new("offgen.yaml", spec);
    let schema =
        offgen_codegen::load_yaml_spec(&file).unwrap_or_else(|d| panic!("{}", render(&file, &d)));
    let previous = previous
        .map(|files| offgen_codegen::previous::from_files(files, Path::new("out")).unwrap())
        .unwrap_or_default();
    let mut diags = Diagnostics::new();
    backend::generate(&schema, &previous, &mut diags)
        .unwrap_or_else(|| panic!("{}", render(&file, &diags.into_sorted())))
}

/// One app version: its device schema and the app as the server sees it.
pub struct Version {
    pub client: ClientSchema,
    pub app: &'static AppDef,
}

impl Version {
    /// The version a build describes (its app leaked: it lives as long as the test).
    pub fn of(files: &FileSet) -> Version {
        let migrations: Vec<(&str, &str)> = files
            .iter()
            .filter_map(|(path, text)| Some((path.strip_prefix("client/migrations/")?, text)))
            .collect();
        Version {
            client: ClientSchema::from_texts(migrations, files.get("client/sync.sql").unwrap())
                .unwrap(),
            app: app_def::plan_of_build(files)
                .unwrap_or_else(|d| panic!("{}", d.message))
                .leak(),
        }
    }
}
