//! Reads what the last build left in the output directory: the schema snapshot and the client
//! migration steps. The next build diffs against the one and appends to the other.

use std::fs;
use std::io;
use std::path::Path;

use crate::backend::Previous;
use crate::backend::client::{MIGRATIONS_DIR, Migration};
use crate::backend::snapshot::{self, SNAPSHOT_VERSION, Snapshot};
use crate::diagnostics::Diagnostic;

/// The previous build under `out_dir`; an empty one if there is none. A damaged snapshot or
/// migration history is an error: building on a guess could write a step that loses data.
pub fn read(out_dir: &Path) -> Result<Previous, Diagnostic> {
    let mut previous = Previous::default();
    let snapshot_path = out_dir.join(snapshot::PATH);
    match fs::read_to_string(&snapshot_path) {
        Ok(text) => {
            let snapshot: Snapshot = serde_json::from_str(&text).map_err(|e| {
                damaged(
                    &snapshot_path,
                    &format!("it is not a schema snapshot offgen can read ({e})"),
                )
            })?;
            if snapshot.snapshot != SNAPSHOT_VERSION {
                return Err(damaged(
                    &snapshot_path,
                    &format!(
                        "it has snapshot layout {}, and this offgen reads layout {SNAPSHOT_VERSION}",
                        snapshot.snapshot
                    ),
                ));
            }
            previous.snapshot = Some(snapshot.schema);
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(damaged(&snapshot_path, &e.to_string())),
    }
    let dir = out_dir.join(MIGRATIONS_DIR);
    let mut names: Vec<String> = match fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(damaged(&dir, &e.to_string())),
    };
    names.sort();
    for (i, name) in names.iter().enumerate() {
        let path = dir.join(name);
        let text = fs::read_to_string(&path).map_err(|e| damaged(&path, &e.to_string()))?;
        let step = Migration::parse(name, &text).map_err(|e| damaged(&path, &e))?;
        if step.number as usize != i + 1 {
            return Err(damaged(
                &path,
                &format!(
                    "expected step {} here; steps must be numbered 1, 2, 3, ... without gaps",
                    i + 1
                ),
            ));
        }
        previous.migrations.push(step);
    }
    match (&previous.snapshot, previous.migrations.is_empty()) {
        (Some(_), true) => Err(damaged(
            &dir,
            "client/schema.json exists but the migrations it was built with are gone",
        )),
        (None, false) => Err(damaged(
            &snapshot_path,
            "the migrations exist but the snapshot they were built from is gone",
        )),
        _ => Ok(previous),
    }
}

fn damaged(path: &Path, why: &str) -> Diagnostic {
    Diagnostic::error(format!(
        "cannot build on the previous output in {}: {why}",
        path.display()
    ))
    .help("restore it from version control; never edit or delete generated migrations by hand")
}
