//! Reads what the last build left in the output directory: the schema snapshot (with the
//! history of earlier steps' shapes) and the device and server migration steps. The next build
//! diffs against the one and appends to the others.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::backend::Previous;
use crate::backend::client::{MIGRATIONS_DIR, Migration};
use crate::backend::server::{self, Dialect, migrate::ServerStep};
use crate::backend::snapshot::{self, OLDEST_SNAPSHOT_VERSION, SNAPSHOT_VERSION, Snapshot};
use crate::diagnostics::Diagnostic;
use crate::output::FileSet;

/// The previous build under `out_dir`; an empty one if there is none. A damaged snapshot or
/// migration history is an error: building on a guess could write a step that loses data.
pub fn read(out_dir: &Path) -> Result<Previous, Diagnostic> {
    let mut files = FileSet::new();
    let snapshot_path = out_dir.join(snapshot::PATH);
    match fs::read_to_string(&snapshot_path) {
        Ok(text) => files.insert(snapshot::PATH, text),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(damaged(&snapshot_path, &e.to_string())),
    }
    let dirs = [
        MIGRATIONS_DIR,
        server::migrate::dir(Dialect::Sqlite),
        server::migrate::dir(Dialect::Postgres),
    ];
    for dir in dirs {
        for (path, text) in numbered_scripts(&out_dir.join(dir))? {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            files.insert(format!("{}/{name}", dir.trim_end_matches('/')), text);
        }
    }
    from_files(&files, out_dir)
}

/// The previous build held in `files` (paths relative to the output directory, as a build
/// writes them); `out_dir` only names the folder in problems.
pub fn from_files(files: &FileSet, out_dir: &Path) -> Result<Previous, Diagnostic> {
    let mut previous = Previous::default();
    let snapshot_path = out_dir.join(snapshot::PATH);
    if let Some(text) = files.get(snapshot::PATH) {
        let snapshot: Snapshot = serde_json::from_str(text).map_err(|e| {
            damaged(
                &snapshot_path,
                &format!("it is not a schema snapshot offgen can read ({e})"),
            )
        })?;
        if !(OLDEST_SNAPSHOT_VERSION..=SNAPSHOT_VERSION).contains(&snapshot.snapshot) {
            return Err(damaged(
                &snapshot_path,
                &format!(
                    "it has snapshot layout {}, and this offgen reads layouts {OLDEST_SNAPSHOT_VERSION} to {SNAPSHOT_VERSION}",
                    snapshot.snapshot
                ),
            ));
        }
        previous.snapshot = Some(snapshot.schema);
        previous.history = snapshot.history;
    }
    let scripts = |dir: &str| -> Vec<(PathBuf, &str)> {
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        files
            .iter()
            .filter(|(path, _)| {
                path.strip_prefix(&prefix)
                    .is_some_and(|name| !name.contains('/') && name.ends_with(".sql"))
            })
            .map(|(path, text)| (out_dir.join(path), text))
            .collect()
    };
    for (i, (path, text)) in scripts(MIGRATIONS_DIR).into_iter().enumerate() {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let step = Migration::parse(&name, text).map_err(|e| damaged(&path, &e.message))?;
        check_number(&path, step.number, i)?;
        previous.migrations.push(step);
    }
    for (dialect, steps) in [
        (Dialect::Sqlite, &mut previous.server_sqlite),
        (Dialect::Postgres, &mut previous.server_postgres),
    ] {
        for (i, (path, script)) in scripts(server::migrate::dir(dialect))
            .into_iter()
            .enumerate()
        {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            let step =
                ServerStep::parse(&name, script.to_owned()).map_err(|e| damaged(&path, &e))?;
            check_number(&path, step.number, i)?;
            steps.push(step);
        }
    }
    let dir = out_dir.join(MIGRATIONS_DIR);
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

/// The `.sql` files of `dir` (none if it does not exist), in name order, with their text.
fn numbered_scripts(dir: &Path) -> Result<Vec<(PathBuf, String)>, Diagnostic> {
    let mut paths: Vec<PathBuf> = match fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "sql"))
            .collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(damaged(dir, &e.to_string())),
    };
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = fs::read_to_string(&path).map_err(|e| damaged(&path, &e.to_string()))?;
            Ok((path, text))
        })
        .collect()
}

/// Steps are numbered 1, 2, 3, ...: a gap means a step was lost.
fn check_number(path: &Path, number: u32, index: usize) -> Result<(), Diagnostic> {
    if number as usize == index + 1 {
        return Ok(());
    }
    Err(damaged(
        path,
        &format!(
            "expected step {} here; steps must be numbered 1, 2, 3, ... without gaps",
            index + 1
        ),
    ))
}

fn damaged(path: &Path, why: &str) -> Diagnostic {
    Diagnostic::error(format!(
        "cannot build on the previous output in {}: {why}",
        path.display()
    ))
    .help("restore it from version control; never edit or delete generated migrations by hand")
}
