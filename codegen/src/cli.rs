//! The `offgen` command line: parse arguments, run one command, map the outcome to an exit code.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use askama::Template;
use clap::{Parser, Subcommand};

use crate::diagnostics::{Diagnostic, Severity, render_set};
use crate::output::{self, Staleness};
use crate::scaffold;
use crate::source::{SourceFile, SourceSet};

/// Exit codes, as documented in the README: scripts and CI rely on them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Everything worked; `--check` found the output up to date.
    Ok = 0,
    /// The spec has problems, the output is stale (`--check`), or writing failed.
    Failed = 1,
    /// The command line was wrong or the spec file could not be read.
    Usage = 2,
}

const EXAMPLES: &str = "\
Examples:
  offgen init                       write a starter offgen.yaml here
  offgen check                      report every problem in offgen.yaml
  offgen build                      generate into generated/
  offgen build app.yaml --out gen   another spec and output folder
  offgen build --check              in CI: fail if generated/ is not up to date
  offgen build --rust src           the same from Rust structs deriving Syncable
  offgen schema > offgen.schema.json

Exit codes: 0 ok, 1 spec problems or stale output, 2 usage.";

/// offgen: generate offline-first sync code from one description of your entities.
#[derive(Debug, Parser)]
#[command(name = "offgen", version, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a starter spec to get going.
    Init {
        /// Where to write it.
        #[arg(default_value = "offgen.yaml")]
        path: PathBuf,
        /// The app's name (default: the current folder's name, or `app`).
        #[arg(long)]
        app: Option<String>,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Check a spec and report every problem in it, with file:line:col.
    Check {
        /// The spec.
        #[arg(default_value = "offgen.yaml")]
        spec: PathBuf,
        /// Read the spec from the Rust sources in DIR (structs deriving Syncable) instead.
        #[arg(long, value_name = "DIR")]
        rust: Option<PathBuf>,
    },
    /// Generate code from a spec. Writes nothing if the spec has problems.
    Build {
        /// The spec.
        #[arg(default_value = "offgen.yaml")]
        spec: PathBuf,
        /// The output folder [default: generated; with --rust, the app's `build` folder
        /// in the crate holding DIR].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write nothing; exit 1 and list the files that are not up to date.
        #[arg(long)]
        check: bool,
        /// Read the spec from the Rust sources in DIR (structs deriving Syncable) instead;
        /// everything is generated but the server's Rust, which the structs are.
        #[arg(long, value_name = "DIR")]
        rust: Option<PathBuf>,
    },
    /// Print the JSON Schema of the spec format (for editor completion and validation).
    Schema,
}

/// Runs the command line of this process.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { Exit::Usage as u8 } else { 0 });
        }
    };
    let stdout = io::stdout();
    let stderr = io::stderr();
    ExitCode::from(run(cli, &mut stdout.lock(), &mut stderr.lock()) as u8)
}

/// Runs a parsed command, writing results to `out` and problems to `err`.
pub fn run(cli: Cli, out: &mut dyn Write, err: &mut dyn Write) -> Exit {
    let result = match cli.command {
        Command::Init { path, app, force } => init(&path, app, force, out, err),
        Command::Check { spec, rust } => check(&spec, rust.as_deref(), out, err),
        Command::Build {
            spec,
            out: dir,
            check,
            rust,
        } => build(&spec, rust.as_deref(), dir.as_deref(), check, out, err),
        Command::Schema => {
            let schema = crate::spec_schema::spec_json_schema();
            writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&schema).unwrap_or_default()
            )
            .map(|_| Exit::Ok)
        }
    };
    result.unwrap_or_else(|e| {
        let _ = writeln!(err, "error: {e}");
        Exit::Failed
    })
}

#[derive(Template)]
#[template(path = "init/offgen.yaml", escape = "none")]
struct StarterSpec<'a> {
    app: &'a str,
}

fn init(
    path: &Path,
    app: Option<String>,
    force: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<Exit> {
    if path.exists() && !force {
        writeln!(
            err,
            "error: {} already exists; pass --force to overwrite it",
            path.display()
        )?;
        return Ok(Exit::Usage);
    }
    let app = app.unwrap_or_else(|| default_app_name(path));
    if crate::validate::identifiers::check_identifier("app", &app, Default::default()).is_err() {
        writeln!(
            err,
            "error: `{app}` is not a valid app name; pass --app with letters, digits and `_`, starting with a letter"
        )?;
        return Ok(Exit::Usage);
    }
    let text = StarterSpec { app: &app }
        .render()
        .map_err(io::Error::other)?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
    }
    fs::write(path, text)?;
    writeln!(
        out,
        "wrote {} (app `{app}`); next: offgen build {}",
        path.display(),
        path.display()
    )?;
    Ok(Exit::Ok)
}

/// The folder's name when it is a usable identifier (`my-app` -> `my_app`), else `app`.
fn default_app_name(spec_path: &Path) -> String {
    let folder = std::path::absolute(spec_path).ok().and_then(|p| {
        p.parent()
            .and_then(|d| d.file_name())
            .map(|n| n.to_string_lossy().replace('-', "_"))
    });
    match folder {
        Some(name)
            if crate::validate::identifiers::check_identifier("app", &name, Default::default())
                .is_ok() =>
        {
            name
        }
        _ => "app".to_owned(),
    }
}

/// Reads a spec; `Err` carries the exit code after the problem was reported.
fn read_spec(path: &Path, err: &mut dyn Write) -> io::Result<Result<SourceFile, Exit>> {
    match fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Ok(Ok(SourceFile::new(path.display().to_string(), text))),
            Err(e) => {
                writeln!(
                    err,
                    "error: {} is not UTF-8 text (invalid byte at offset {})",
                    path.display(),
                    e.utf8_error().valid_up_to()
                )?;
                Ok(Err(Exit::Failed))
            }
        },
        Err(e) => {
            writeln!(err, "error: cannot read spec {}: {e}", path.display())?;
            if e.kind() == io::ErrorKind::NotFound {
                writeln!(
                    err,
                    "help: run `offgen init` to write a starter spec, or name the spec to use"
                )?;
            }
            Ok(Err(Exit::Usage))
        }
    }
}

fn report(
    sources: &SourceSet,
    name: &str,
    diagnostics: &[Diagnostic],
    err: &mut dyn Write,
) -> io::Result<()> {
    write!(err, "{}", render_set(sources, diagnostics))?;
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    if errors > 0 {
        writeln!(
            err,
            "{name}: {errors} problem{} found",
            if errors == 1 { "" } else { "s" }
        )?;
    }
    Ok(())
}

/// A spec read and checked: its sources (for reporting), its name, the schema and the
/// warnings, and for Rust sources where the app's build output lives.
struct Loaded {
    sources: SourceSet,
    name: String,
    schema: crate::model::Schema,
    warnings: Vec<Diagnostic>,
    rust_out: Option<PathBuf>,
}

enum Read {
    Loaded(Box<Loaded>),
    /// The spec has problems (already reported).
    Problems,
    /// The spec could not be read (already reported).
    Exit(Exit),
}

fn load(spec: &Path, rust: Option<&Path>, err: &mut dyn Write) -> io::Result<Read> {
    let Some(dir) = rust else {
        let file = match read_spec(spec, err)? {
            Ok(file) => file,
            Err(exit) => return Ok(Read::Exit(exit)),
        };
        let name = file.name.clone();
        let sources = SourceSet::single(file.clone());
        return Ok(match crate::read_yaml_spec(&file) {
            Ok((schema, warnings)) => Read::Loaded(Box::new(Loaded {
                sources,
                name,
                schema,
                warnings,
                rust_out: None,
            })),
            Err(diagnostics) => {
                report(&sources, &name, &diagnostics, err)?;
                Read::Problems
            }
        });
    };
    let sources = match crate::frontend::rust::read_dir(dir) {
        Ok(sources) => sources,
        Err(e) => {
            writeln!(
                err,
                "error: cannot read the Rust sources in {}: {e}",
                dir.display()
            )?;
            return Ok(Read::Exit(Exit::Usage));
        }
    };
    let name = dir.display().to_string();
    Ok(match crate::read_rust_spec(&sources) {
        Ok((schema, warnings, build)) => {
            let rust_out = crate_root(dir).join(build.as_deref().unwrap_or("generated"));
            Read::Loaded(Box::new(Loaded {
                sources,
                name,
                schema,
                warnings,
                rust_out: Some(rust_out),
            }))
        }
        Err(diagnostics) => {
            report(&sources, &name, &diagnostics, err)?;
            Read::Problems
        }
    })
}

/// The crate a source folder belongs to: the nearest folder up from it with a Cargo.toml
/// (else the folder itself), which the app's `build = "..."` is relative to.
fn crate_root(dir: &Path) -> PathBuf {
    let mut at = Some(dir);
    while let Some(candidate) = at {
        if candidate.join("Cargo.toml").is_file() {
            return candidate.to_path_buf();
        }
        at = candidate.parent();
    }
    dir.to_path_buf()
}

fn check(
    spec: &Path,
    rust: Option<&Path>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<Exit> {
    let loaded = match load(spec, rust, err)? {
        Read::Loaded(loaded) => loaded,
        Read::Problems => return Ok(Exit::Failed),
        Read::Exit(exit) => return Ok(exit),
    };
    report(&loaded.sources, &loaded.name, &loaded.warnings, err)?;
    let fields: usize = loaded.schema.entities.iter().map(|e| e.fields.len()).sum();
    writeln!(
        out,
        "{}: ok ({} entities, {fields} fields)",
        loaded.name,
        loaded.schema.entities.len()
    )?;
    Ok(Exit::Ok)
}

fn build(
    spec: &Path,
    rust: Option<&Path>,
    dir: Option<&Path>,
    check_only: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<Exit> {
    let loaded = match load(spec, rust, err)? {
        Read::Loaded(loaded) => loaded,
        Read::Problems => {
            writeln!(err, "nothing was written")?;
            return Ok(Exit::Failed);
        }
        Read::Exit(exit) => return Ok(exit),
    };
    let Loaded {
        sources,
        name,
        schema,
        warnings,
        rust_out,
    } = *loaded;
    let default_out = rust_out
        .clone()
        .unwrap_or_else(|| PathBuf::from("generated"));
    let dir = dir.unwrap_or(&default_out);
    report(&sources, &name, &warnings, err)?;
    let previous = match crate::previous::read(dir) {
        Ok(previous) => previous,
        Err(problem) => {
            report(&sources, &name, &[problem], err)?;
            writeln!(err, "nothing was written")?;
            return Ok(Exit::Failed);
        }
    };
    let mut diags = crate::diagnostics::Diagnostics::new();
    let generated = crate::backend::generate(&schema, &previous, &mut diags);
    let diagnostics = diags.into_sorted();
    let Some(mut files) = generated else {
        report(&sources, &name, &diagnostics, err)?;
        writeln!(err, "nothing was written")?;
        return Ok(Exit::Failed);
    };
    report(&sources, &name, &diagnostics, err)?;
    if rust_out.is_some() {
        files.retain(crate::rust_build_writes);
    }
    if check_only {
        let stale = output::check(dir, &files)?;
        if stale.is_empty() {
            writeln!(
                out,
                "{} is up to date ({} files)",
                dir.display(),
                files.len()
            )?;
            return Ok(Exit::Ok);
        }
        for file in &stale {
            let why = match file.why {
                Staleness::Missing => "missing",
                Staleness::Differs => "differs",
                Staleness::Obsolete => "no longer generated",
            };
            writeln!(err, "stale: {} ({why})", dir.join(&file.path).display())?;
        }
        writeln!(
            err,
            "{} file{} not up to date; run `offgen build` and commit the result",
            stale.len(),
            if stale.len() == 1 { " is" } else { "s are" }
        )?;
        return Ok(Exit::Failed);
    }
    let summary = output::write(dir, &files)?;
    writeln!(
        out,
        "{}: {} written, {} unchanged, {} removed",
        dir.display(),
        summary.written.len(),
        summary.unchanged,
        summary.removed.len()
    )?;
    if rust_out.is_none() {
        scaffold_server(dir, &schema.app.snake, out)?;
    }
    Ok(Exit::Ok)
}

/// Writes the server crate around the generated library, the first time only.
fn scaffold_server(dir: &Path, app: &str, out: &mut dyn Write) -> io::Result<()> {
    let (outcome, home) = crate::scaffold::write_once(dir, app)?;
    let scaffold::Outcome::Written(paths) = outcome else {
        return Ok(());
    };
    if paths.is_empty() {
        return Ok(());
    }
    let crate_dir = dir.join(scaffold::SERVER_DIR);
    writeln!(
        out,
        "wrote the server crate {} ({}): yours to edit, never overwritten; run it with `cargo run --manifest-path {}`",
        crate_dir.display(),
        paths.join(", "),
        crate_dir.join("Cargo.toml").display()
    )?;
    if let scaffold::Home::Workspace(manifest) | scaffold::Home::WorkspaceWithRuntime(manifest) =
        home
    {
        writeln!(
            out,
            "note: {} is inside the Cargo workspace of {}: it must be one of that workspace's members",
            crate_dir.display(),
            manifest.display()
        )?;
    }
    Ok(())
}
