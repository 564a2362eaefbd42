//! Generated files: built in memory by the back-ends, then written or checked here, once.
//!
//! Because every back-end returns its files into one ordered [`FileSet`] before anything
//! touches the disk, a failed build writes nothing, output order never depends on hash order,
//! and `--check` compares exactly what `build` would write.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Every generated file carries this marker in its first lines, so offgen can tell its own
/// files (which it may replace or remove) from the user's (which it never touches). Defined by
/// the runtime, whose readers of generated SQL check it too.
pub use offgen_runtime::scripts::GENERATED_MARKER;

/// How far into a file the marker is looked for.
const MARKER_WINDOW: usize = 512;

/// Files by path relative to the output directory (always `/`-separated).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FileSet {
    files: BTreeMap<String, String>,
}

impl FileSet {
    /// An empty set.
    pub fn new() -> FileSet {
        FileSet::default()
    }

    /// Adds a file. Two back-ends writing one path is a bug, so it panics in debug builds.
    pub fn insert(&mut self, path: impl Into<String>, contents: impl Into<String>) {
        let path = path.into();
        let previous = self.files.insert(path.clone(), contents.into());
        debug_assert!(previous.is_none(), "two back-ends generated {path}");
    }

    /// The files, ordered by path.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.files.iter().map(|(p, c)| (p.as_str(), c.as_str()))
    }

    /// One file's contents.
    pub fn get(&self, path: &str) -> Option<&str> {
        self.files.get(path).map(String::as_str)
    }

    /// Keeps only the files whose path `keep` accepts.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.files.retain(|path, _| keep(path));
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// Why a file on disk does not match the build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Staleness {
    /// The build would create it.
    Missing,
    /// The build would change it.
    Differs,
    /// offgen generated it once, but the build no longer does; the build removes it.
    Obsolete,
}

/// A file that differs from what the build would write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaleFile {
    /// Path relative to the output directory.
    pub path: String,
    /// How it differs.
    pub why: Staleness,
}

/// What a write did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteSummary {
    /// Files created or changed.
    pub written: Vec<String>,
    /// Files already up to date (left untouched, so their timestamps do not change).
    pub unchanged: usize,
    /// Obsolete generated files removed.
    pub removed: Vec<String>,
}

/// Compares the set with the output directory without writing anything.
pub fn check(out_dir: &Path, files: &FileSet) -> io::Result<Vec<StaleFile>> {
    let mut stale = Vec::new();
    for (path, contents) in files.iter() {
        match fs::read(out_dir.join(path)) {
            Ok(on_disk) if on_disk == contents.as_bytes() => {}
            Ok(_) => stale.push(StaleFile {
                path: path.to_owned(),
                why: Staleness::Differs,
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => stale.push(StaleFile {
                path: path.to_owned(),
                why: Staleness::Missing,
            }),
            Err(e) => return Err(e),
        }
    }
    for path in obsolete_files(out_dir, files)? {
        stale.push(StaleFile {
            path,
            why: Staleness::Obsolete,
        });
    }
    Ok(stale)
}

/// Writes the set: changed files are replaced atomically (temp file + rename, so a crash never
/// leaves half a file), unchanged ones are left alone, obsolete generated files are removed.
pub fn write(out_dir: &Path, files: &FileSet) -> io::Result<WriteSummary> {
    let mut summary = WriteSummary::default();
    for stale in check(out_dir, files)? {
        let target = out_dir.join(&stale.path);
        match stale.why {
            Staleness::Missing | Staleness::Differs => {
                let contents = files.get(&stale.path).unwrap_or_default();
                write_atomically(&target, contents.as_bytes())?;
                summary.written.push(stale.path);
            }
            Staleness::Obsolete => {
                fs::remove_file(&target)?;
                summary.removed.push(stale.path);
            }
        }
    }
    summary.unchanged = files.len() - summary.written.len();
    Ok(summary)
}

fn write_atomically(target: &Path, contents: &[u8]) -> io::Result<()> {
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent)?;
    }
    let mut temp_name = target.file_name().unwrap_or_default().to_os_string();
    temp_name.push(".offgen-tmp");
    let temp = target.with_file_name(temp_name);
    fs::write(&temp, contents)?;
    fs::rename(&temp, target)
}

/// Files under `out_dir` that carry the marker but are not in the set.
fn obsolete_files(out_dir: &Path, files: &FileSet) -> io::Result<Vec<String>> {
    let mut found = Vec::new();
    if !out_dir.is_dir() {
        return Ok(found);
    }
    let mut pending: Vec<PathBuf> = vec![out_dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let mut entries: Vec<_> = fs::read_dir(&dir)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let kind = entry.file_type()?;
            if kind.is_dir() {
                // Build artefacts of a generated server crate are not ours to judge.
                if entry.file_name() != "target" {
                    pending.push(path);
                }
                continue;
            }
            if !kind.is_file() {
                continue;
            }
            let Ok(relative) = path.strip_prefix(out_dir) else {
                continue;
            };
            let relative = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            if files.get(&relative).is_none() && carries_marker(&path)? {
                found.push(relative);
            }
        }
    }
    found.sort();
    Ok(found)
}

fn carries_marker(path: &Path) -> io::Result<bool> {
    use std::io::Read;
    let mut head = Vec::with_capacity(MARKER_WINDOW);
    fs::File::open(path)?
        .take(MARKER_WINDOW as u64)
        .read_to_end(&mut head)?;
    Ok(String::from_utf8_lossy(&head).contains(GENERATED_MARKER))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(files: &[(&str, &str)]) -> FileSet {
        let mut s = FileSet::new();
        for (p, c) in files {
            s.insert(*p, *c);
        }
        s
    }

    #[test]
    fn check_reports_missing_differing_and_obsolete_files() {
        let dir = tempfile::tempdir().unwrap();
        let first = set(&[
            ("a/one.sql", "-- @generated by offgen\none"),
            ("two.sql", "-- @generated by offgen\ntwo"),
        ]);
        write(dir.path(), &first).unwrap();
        assert_eq!(check(dir.path(), &first).unwrap(), vec![]);

        fs::write(dir.path().join("user-notes.txt"), "mine").unwrap();
        let second = set(&[
            ("a/one.sql", "-- @generated by offgen\nONE"),
            ("three.sql", "-- @generated by offgen\nthree"),
        ]);
        let stale = check(dir.path(), &second).unwrap();
        let described: Vec<(&str, &Staleness)> =
            stale.iter().map(|s| (s.path.as_str(), &s.why)).collect();
        assert_eq!(
            described,
            vec![
                ("a/one.sql", &Staleness::Differs),
                ("three.sql", &Staleness::Missing),
                ("two.sql", &Staleness::Obsolete),
            ]
        );
    }

    #[test]
    fn write_leaves_unchanged_and_user_files_alone() {
        let dir = tempfile::tempdir().unwrap();
        let files = set(&[("x.sql", "-- @generated by offgen\nx")]);
        write(dir.path(), &files).unwrap();
        fs::write(dir.path().join("mine.sql"), "-- my own file").unwrap();
        let summary = write(dir.path(), &files).unwrap();
        assert_eq!(summary.written, Vec::<String>::new());
        assert_eq!(summary.unchanged, 1);
        assert!(dir.path().join("mine.sql").exists());
    }
}
