//! The `offgen` command line: parse arguments, run one command, map the outcome to an exit code.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use askama::Template;
use clap::{Parser, Subcommand};

use crate::diagnostics::{Diagnostic, Severity, render};
use crate::output::{self, Staleness};
use crate::scaffold;
use crate::source::SourceFile;

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
    },
    /// Generate code from a spec. Writes nothing if the spec has problems.
    Build {
        /// The spec.
        #[arg(default_value = "offgen.yaml")]
        spec: PathBuf,
        /// The output folder.
        #[arg(long, default_value = "generated")]
        out: PathBuf,
        /// Write nothing; exit 1 and list the files that are not up to date.
        #[arg(long)]
        check: bool,
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
        Command::Check { spec } => check(&spec, out, err),
        Command::Build {
            spec,
            out: dir,
            check,
        } => build(&spec, &dir, check, out, err),
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

fn report(file: &SourceFile, diagnostics: &[Diagnostic], err: &mut dyn Write) -> io::Result<()> {
    write!(err, "{}", render(file, diagnostics))?;
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    if errors > 0 {
        writeln!(
            err,
            "{}: {errors} problem{} found",
            file.name,
            if errors == 1 { "" } else { "s" }
        )?;
    }
    Ok(())
}

fn check(spec: &Path, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<Exit> {
    let file = match read_spec(spec, err)? {
        Ok(file) => file,
        Err(exit) => return Ok(exit),
    };
    match crate::read_yaml_spec(&file) {
        Ok((schema, warnings)) => {
            report(&file, &warnings, err)?;
            let fields: usize = schema.entities.iter().map(|e| e.fields.len()).sum();
            writeln!(
                out,
                "{}: ok ({} entities, {fields} fields)",
                file.name,
                schema.entities.len()
            )?;
            Ok(Exit::Ok)
        }
        Err(diagnostics) => {
            report(&file, &diagnostics, err)?;
            Ok(Exit::Failed)
        }
    }
}

fn build(
    spec: &Path,
    dir: &Path,
    check_only: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<Exit> {
    let file = match read_spec(spec, err)? {
        Ok(file) => file,
        Err(exit) => return Ok(exit),
    };
    let (schema, warnings) = match crate::read_yaml_spec(&file) {
        Ok(read) => read,
        Err(diagnostics) => {
            report(&file, &diagnostics, err)?;
            writeln!(err, "nothing was written")?;
            return Ok(Exit::Failed);
        }
    };
    report(&file, &warnings, err)?;
    let previous = match crate::previous::read(dir) {
        Ok(previous) => previous,
        Err(problem) => {
            report(&file, &[problem], err)?;
            writeln!(err, "nothing was written")?;
            return Ok(Exit::Failed);
        }
    };
    let mut diags = crate::diagnostics::Diagnostics::new();
    let generated = crate::backend::generate(&schema, &previous, &mut diags);
    let diagnostics = diags.into_sorted();
    let Some(files) = generated else {
        report(&file, &diagnostics, err)?;
        writeln!(err, "nothing was written")?;
        return Ok(Exit::Failed);
    };
    report(&file, &diagnostics, err)?;
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
    scaffold_server(dir, &schema.app.snake, out)?;
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
