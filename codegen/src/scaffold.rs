//! The server crate around the generated server library: `server/Cargo.toml` and
//! `server/src/main.rs`, written by the first `offgen build` into an output folder and never
//! again. Unlike generated files they carry no `@generated` marker: they belong to the team,
//! so the build neither rewrites, checks nor removes them.
//!
//! The build writes them, not `offgen init`: only the build knows the output folder (`--out`)
//! and the app's final name, and teams that write their spec by hand (and every example) never
//! run `init`. The crate is of no use before the generated library exists next to it anyway.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use askama::Template;

/// The crate's folder inside the output folder.
pub const SERVER_DIR: &str = "server";

#[derive(Template)]
#[template(path = "init/server/Cargo.toml", escape = "none")]
struct Manifest<'a> {
    app: &'a str,
    package: &'a str,
    runtime_dependency: &'a str,
    own_workspace: bool,
}

#[derive(Template)]
#[template(path = "init/server/main.rs", escape = "none")]
struct Main<'a> {
    app: &'a str,
    library: &'a str,
}

/// Where the crate will be built from, which decides how it names `offgen-runtime`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Home {
    /// Inside a Cargo workspace (its manifest) whose `[workspace.dependencies]` has
    /// `offgen-runtime`.
    WorkspaceWithRuntime(PathBuf),
    /// Inside a Cargo workspace (its manifest) that does not declare `offgen-runtime`.
    Workspace(PathBuf),
    /// In no workspace: the crate gets a `[workspace]` table of its own.
    Alone,
}

/// The scaffold's two files for app `app`, by path relative to the output folder.
/// `runtime_source` is the `offgen-runtime` source folder to depend on by path, when known.
pub fn files(
    app: &str,
    home: &Home,
    runtime_source: Option<&Path>,
) -> io::Result<Vec<(String, String)>> {
    let package = format!("{}-server", app.replace('_', "-"));
    let library = package.replace('-', "_");
    let version = env!("CARGO_PKG_VERSION");
    let runtime_dependency = match (home, runtime_source) {
        (Home::WorkspaceWithRuntime(_), _) => {
            "offgen-runtime = { workspace = true, features = [\"server\"] }".to_owned()
        }
        (_, Some(path)) => format!(
            "offgen-runtime = {{ version = \"{version}\", path = \"{}\", features = [\"server\"] }}",
            path.display().to_string().replace('\\', "/")
        ),
        (_, None) => {
            format!("offgen-runtime = {{ version = \"{version}\", features = [\"server\"] }}")
        }
    };
    let manifest = Manifest {
        app,
        package: &package,
        runtime_dependency: &runtime_dependency,
        own_workspace: *home == Home::Alone,
    }
    .render()
    .map_err(io::Error::other)?;
    let main = Main {
        app,
        library: &library,
    }
    .render()
    .map_err(io::Error::other)?;
    // askama drops a template's final newline; a text file ends with one.
    let (manifest, main) = (manifest + "\n", main + "\n");
    Ok(vec![
        (format!("{SERVER_DIR}/Cargo.toml"), manifest),
        (format!("{SERVER_DIR}/src/main.rs"), main),
    ])
}

/// What [`write_once`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The crate was written (the paths, relative to the crate's folder).
    Written(Vec<String>),
    /// `server/Cargo.toml` exists: the crate is the team's, nothing was touched.
    Kept,
}

/// Writes the server crate into `out_dir` unless `server/Cargo.toml` is already there. Of the
/// two files only the missing ones are written, so a main.rs of the team's own survives too.
pub fn write_once(out_dir: &Path, app: &str) -> io::Result<(Outcome, Home)> {
    let crate_dir = out_dir.join(SERVER_DIR);
    let home = find_home(&crate_dir)?;
    if crate_dir.join("Cargo.toml").exists() {
        return Ok((Outcome::Kept, home));
    }
    let runtime = runtime_source().and_then(|source| relative_to(&source, &crate_dir));
    let mut written = Vec::new();
    for (path, contents) in files(app, &home, runtime.as_deref())? {
        let target = out_dir.join(&path);
        if target.exists() {
            continue;
        }
        let name = path
            .strip_prefix(&format!("{SERVER_DIR}/"))
            .unwrap_or(&path);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(&target, contents)?;
        written.push(name.to_owned());
    }
    Ok((Outcome::Written(written), home))
}

/// The workspace `crate_dir` would belong to: the nearest ancestor manifest with a
/// `[workspace]` table, as Cargo looks for it.
fn find_home(crate_dir: &Path) -> io::Result<Home> {
    let absolute = std::path::absolute(crate_dir)?;
    for dir in absolute.ancestors().skip(1) {
        let manifest = dir.join("Cargo.toml");
        let Ok(text) = fs::read_to_string(&manifest) else {
            continue;
        };
        if !text.lines().any(|l| l.trim() == "[workspace]") {
            continue;
        }
        let mut in_dependencies = false;
        for line in text.lines().map(str::trim) {
            if line.starts_with('[') {
                in_dependencies = line == "[workspace.dependencies]";
            } else if in_dependencies && line.starts_with("offgen-runtime") {
                return Ok(Home::WorkspaceWithRuntime(manifest));
            }
        }
        return Ok(Home::Workspace(manifest));
    }
    Ok(Home::Alone)
}

/// The `offgen-runtime` sources this offgen was built from, when they are still there
/// (offgen run from its own checkout). A released offgen would name the version alone.
fn runtime_source() -> Option<PathBuf> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime");
    source
        .join("Cargo.toml")
        .is_file()
        .then(|| source.canonicalize().ok())
        .flatten()
}

/// `target` as a path relative to `from` (both made absolute), so the manifest stays valid
/// when the repository moves; absolute when they share nothing but the root, `None` when not
/// even that (another drive).
fn relative_to(target: &Path, from: &Path) -> Option<PathBuf> {
    let target = std::path::absolute(target).ok()?;
    let from = std::path::absolute(from).ok()?;
    let (t, f) = (normal(&target), normal(&from));
    let common = t.iter().zip(&f).take_while(|(a, b)| a == b).count();
    // Sharing only the root (`/`), a relative path would just be a longer absolute one.
    if common <= 1 {
        return Some(target);
    }
    let mut relative = PathBuf::new();
    for _ in common..f.len() {
        relative.push("..");
    }
    for part in &t[common..] {
        relative.push(part.as_os_str());
    }
    Some(relative)
}

/// A path's components without `.`.
fn normal(path: &Path) -> Vec<Component<'_>> {
    path.components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_made_relative() {
        assert_eq!(
            relative_to(Path::new("/a/b/runtime"), Path::new("/a/c/d/server")),
            Some(PathBuf::from("../../../b/runtime"))
        );
    }

    #[test]
    fn a_crate_alone_gets_a_workspace_of_its_own() {
        let alone = files("field_notes", &Home::Alone, None).unwrap();
        let manifest = &alone[0].1;
        assert!(
            manifest.contains("name = \"field-notes-server\""),
            "{manifest}"
        );
        assert!(manifest.trim_end().ends_with("[workspace]"), "{manifest}");
        assert!(alone[1].1.contains("field_notes_server::APP"));
        let member = files(
            "field_notes",
            &Home::WorkspaceWithRuntime(PathBuf::from("Cargo.toml")),
            None,
        )
        .unwrap();
        assert!(!member[0].1.contains("[workspace]"));
        assert!(member[0].1.contains("workspace = true"));
        for (_, text) in alone.iter().chain(&member) {
            assert!(
                !text.contains(crate::output::GENERATED_MARKER),
                "a marker would let the build remove the team's file"
            );
        }
    }
}
