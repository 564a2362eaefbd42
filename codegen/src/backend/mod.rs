//! Back-ends: read the IR, return files. None of them parses spec text or touches the disk.

pub mod client;
pub mod dart;
pub mod device_columns;
pub mod literals;
pub mod openapi;
pub mod server;
pub mod snapshot;
pub mod sqlite;

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::history::{self, PastStep};
use crate::model::Schema;
use crate::output::FileSet;
use crate::schema_diff;
pub use offgen_runtime::model::Dialect;
use server::migrate::ServerStep;

/// What the previous build left in the output directory that this build builds on.
#[derive(Clone, Debug, Default)]
pub struct Previous {
    /// `client/schema.json`, if it exists.
    pub snapshot: Option<Schema>,
    /// The existing device migration steps, in order.
    pub migrations: Vec<client::Migration>,
    /// The existing server steps for SQLite, in order.
    pub server_sqlite: Vec<ServerStep>,
    /// The existing server steps for PostgreSQL, in order.
    pub server_postgres: Vec<ServerStep>,
    /// The wire at each earlier step (from the snapshot), oldest first.
    pub history: Vec<PastStep>,
}

/// Everything `offgen build` generates for a schema, on top of the previous build: its
/// migration steps are kept and, if the schema changed, the next one is added (device and
/// server steps share their numbers). `None` when the change cannot be migrated (the reasons
/// are in `diags`).
pub fn generate(schema: &Schema, previous: &Previous, diags: &mut Diagnostics) -> Option<FileSet> {
    let (migrations, sqlite, postgres, past) = match &previous.snapshot {
        None => (
            vec![client::initial_migration(schema)],
            vec![server::migrate::initial(schema, Dialect::Sqlite)],
            vec![server::migrate::initial(schema, Dialect::Postgres)],
            previous.history.clone(),
        ),
        Some(old) => {
            let steps = previous.migrations.len();
            if previous.server_sqlite.len() != steps || previous.server_postgres.len() != steps {
                diags.push(Diagnostic::error(format!(
                    "the output holds {steps} device steps but {} SQLite and {} PostgreSQL server steps",
                    previous.server_sqlite.len(),
                    previous.server_postgres.len()
                ))
                .help("restore client/migrations and server/migrations from version control"));
                return None;
            }
            let diff = schema_diff::diff(old, schema, diags);
            if diags.has_errors() {
                return None;
            }
            let mut migrations = previous.migrations.clone();
            let mut sqlite = previous.server_sqlite.clone();
            let mut postgres = previous.server_postgres.clone();
            let mut past = previous.history.clone();
            let number = u32::try_from(steps + 1).expect("fewer than 4 billion steps");
            let device =
                client::migrate::next_step(old, schema, &diff, &previous.migrations, number);
            let server_sqlite = server::migrate::next(schema, &diff, Dialect::Sqlite);
            let server_postgres = server::migrate::next(schema, &diff, Dialect::Postgres);
            if device.is_some() || server_sqlite.is_some() || server_postgres.is_some() {
                // The step that ends here is history now: how its apps named things, and
                // what each name became, for serving them after the upgrade.
                let ended = u32::try_from(steps).expect("fewer than 4 billion steps");
                past.push(history::past_step(old, &diff, ended));
                // Named for the device's changes, or (a step only the server needed) for the
                // server's first change.
                let slug = device.as_ref().map(|d| d.slug.clone()).unwrap_or_else(|| {
                    let first = [&server_postgres, &server_sqlite]
                        .into_iter()
                        .flatten()
                        .find_map(|step| step.changes.first())
                        .expect("a step is made when something changes");
                    format!("server_{}", first.slug())
                });
                migrations.push(device.unwrap_or_else(|| client::unchanged_step(number, &slug)));
                for (dialect, next, out) in [
                    (Dialect::Sqlite, server_sqlite, &mut sqlite),
                    (Dialect::Postgres, server_postgres, &mut postgres),
                ] {
                    out.push(match next {
                        Some(next) => server::migrate::step(
                            number,
                            &slug,
                            dialect,
                            &next.summary(),
                            &next.statements,
                        ),
                        None => server::migrate::unchanged(number, &slug, dialect),
                    });
                }
            }
            (migrations, sqlite, postgres, past)
        }
    };
    let mut files = FileSet::new();
    client::generate(schema, &migrations, &mut files);
    dart::generate(schema, &migrations, &mut files);
    for (dialect, steps) in [(Dialect::Sqlite, &sqlite), (Dialect::Postgres, &postgres)] {
        for step in steps.iter() {
            files.insert(step.path(dialect), step.script.clone());
        }
    }
    let newest = u32::try_from(migrations.len()).expect("fewer than 4 billion steps");
    let oldest = schema.oldest_client_step.unwrap_or(1);
    if oldest > newest {
        let mut problem = Diagnostic::error(format!(
            "`oldest_step` is {oldest}, but the newest schema step is {newest}"
        ))
        .help("the window of app versions the server serves ends at the newest step; write at most that");
        if let Some(span) = schema.oldest_client_step_span {
            problem = problem.at(span, "no such step yet");
        }
        diags.push(problem);
        return None;
    }
    let shapes = history::client_shapes(&past, schema, oldest);
    let unrecorded = (oldest..newest).find(|step| shapes.iter().all(|s| s.step != *step));
    if let Some(step) = unrecorded {
        let mut warning = Diagnostic::warning(format!(
            "apps at schema step {step} cannot be served: the build output keeps no shape of it (it was built by an offgen that did not record them)"
        ))
        .help("those apps are told to upgrade; steps built from now on are recorded");
        if let Some(span) = schema.oldest_client_step_span {
            warning = warning.at(span, "the window starts here");
        }
        diags.push(warning);
    }
    let plan = server::app_def::plan(schema, &sqlite, &postgres, &shapes);
    server::rust::generate(schema, &plan, &mut files);
    openapi::generate(schema, &mut files);
    snapshot::generate(schema, &past, &mut files);
    Some(files)
}
