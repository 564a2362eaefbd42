//! A device for tests: the runtime's reference client `Device` (a real SQLite database built
//! by the generated migrations), plus helpers that run the generated `sync.sql` statements one
//! by one, exactly as the client's loop runs them, so each step can be looked at.
#![allow(dead_code)]

use offgen_codegen::backend::client::{Migration, migration_path};
use offgen_codegen::backend::{self, Previous};
use offgen_codegen::diagnostics::{Diagnostics, render};
use offgen_codegen::load_yaml_spec;
use offgen_codegen::model::Schema;
use offgen_codegen::output::FileSet;
use offgen_codegen::source::SourceFile;
use offgen_runtime::client::rusqlite::types::Value as SqlValue;
use offgen_runtime::client::rusqlite::{Connection, ToSql};
use offgen_runtime::client::{self, ClientSchema};
use serde_json::Value;

/// The forest-ranger example spec.
pub fn ranger_spec() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/ranger/offgen.yaml"
    ))
    .unwrap()
}

/// Every example's spec (`examples/*/offgen.yaml`), by example name, in name order.
pub fn example_specs() -> Vec<(String, String)> {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut specs: Vec<(String, String)> = std::fs::read_dir(examples)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter_map(|dir| {
            let spec = std::fs::read_to_string(dir.join("offgen.yaml")).ok()?;
            Some((dir.file_name()?.to_str()?.to_owned(), spec))
        })
        .collect();
    specs.sort();
    specs
}

/// Validates a spec, panicking with the rendered problems.
pub fn schema(spec: &str) -> Schema {
    let file = SourceFile::new("offgen.yaml", spec);
    load_yaml_spec(&file)
        .unwrap_or_else(|d| panic!("{}", offgen_codegen::diagnostics::render(&file, &d)))
}

/// A first build of a spec.
pub fn build(spec: &str) -> FileSet {
    backend::generate(&schema(spec), &Previous::default(), &mut Default::default()).unwrap()
}

/// The migration steps in a build, in order.
pub fn migrations(files: &FileSet) -> Vec<Migration> {
    files
        .iter()
        .filter_map(|(path, text)| {
            let name = path.strip_prefix("client/migrations/")?;
            Some(Migration::parse(name, text).unwrap())
        })
        .collect()
}

/// The client schema of a build, as the reference client reads it.
pub fn client_schema(files: &FileSet) -> ClientSchema {
    let steps = migrations(files);
    let texts: Vec<(String, String)> = steps
        .iter()
        .map(|m| {
            let path = migration_path(m);
            (m.file_name(), files.get(&path).unwrap().to_owned())
        })
        .collect();
    ClientSchema::from_texts(
        texts.iter().map(|(n, t)| (n.as_str(), t.as_str())),
        files.get("client/sync.sql").expect("a build has sync.sql"),
    )
    .unwrap()
}

/// One outbox entry, with its payload parsed. Mutation id and payload exist once the entry
/// was prepared for a push.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub seq: i64,
    pub mutation_id: Option<String>,
    pub entity: String,
    pub row_id: String,
    pub op: String,
    pub changed: Option<String>,
    pub payload: Option<Value>,
    pub base_version: Option<i64>,
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
}

/// The claim id the helpers claim with.
pub const CLAIM: &str = "test-claim";

/// A time after every retry delay: the helpers claim at it unless a test sets another.
pub const LATER: i64 = 1 << 50;

/// A device database and the sync statements of its build.
pub struct Device {
    pub device: client::Device,
}

impl Device {
    /// A fresh device for a spec: every migration step applied.
    pub fn new(spec: &str) -> Device {
        Device::from_build(&build(spec))
    }

    /// A fresh device for a build.
    pub fn from_build(files: &FileSet) -> Device {
        Device {
            device: client::Device::open_in_memory(&client_schema(files)).unwrap(),
        }
    }

    /// Applies the build's steps this database has not run yet (by `user_version`), each in
    /// one transaction, and takes the build's sync statements: what the client does when an
    /// app update brings a newer schema.
    pub fn upgrade(&mut self, files: &FileSet) {
        let placeholder = client::Device::open_in_memory(&self.device.schema().clone()).unwrap();
        let conn = std::mem::replace(&mut self.device, placeholder).into_connection();
        self.device = client::Device::with_connection(conn, &client_schema(files))
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// The database.
    pub fn conn(&self) -> &Connection {
        self.device.connection()
    }

    fn statement(&self, name: &str) -> String {
        self.device
            .schema()
            .statement(name)
            .unwrap_or_else(|| panic!("sync.sql has no statement `{name}`"))
            .sql
            .clone()
    }

    /// Runs a named statement; returns its rows as JSON objects.
    pub fn run(&self, name: &str, params: &[(&str, &dyn ToSql)]) -> Vec<Value> {
        let sql = self.statement(name);
        let mut stmt = self.conn().prepare(&sql).unwrap();
        let columns: Vec<String> = stmt
            .column_names()
            .iter()
            .map(|c| (*c).to_owned())
            .collect();
        let mut rows = stmt.query(params).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut out = Vec::new();
        while let Some(row) = rows.next().unwrap() {
            let mut object = serde_json::Map::new();
            for (i, column) in columns.iter().enumerate() {
                object.insert(column.clone(), to_json(row.get::<_, SqlValue>(i).unwrap()));
            }
            out.push(Value::Object(object));
        }
        out
    }

    /// Runs plain SQL (the app's own writes).
    pub fn sql(&self, sql: &str) {
        self.conn()
            .execute_batch(sql)
            .unwrap_or_else(|e| panic!("{e}\n{sql}"));
    }

    /// Runs plain SQL that must fail; returns the error text.
    pub fn sql_err(&self, sql: &str) -> String {
        self.conn()
            .execute_batch(sql)
            .expect_err("the write must be refused")
            .to_string()
    }

    /// One value of a query.
    pub fn value(&self, sql: &str) -> Value {
        self.conn()
            .query_row(sql, [], |r| r.get::<_, SqlValue>(0))
            .map(to_json)
            .unwrap_or_else(|e| panic!("{e}\n{sql}"))
    }

    /// The outbox, oldest first.
    pub fn outbox(&self) -> Vec<Entry> {
        let mut stmt = self
            .conn()
            .prepare("SELECT seq, mutation_id, entity, row_id, op, changed, payload, base_version, state, attempts, last_error FROM _offgen_outbox ORDER BY seq")
            .unwrap();
        stmt.query_map([], |r| {
            Ok(Entry {
                seq: r.get(0)?,
                mutation_id: r.get(1)?,
                entity: r.get(2)?,
                row_id: r.get(3)?,
                op: r.get(4)?,
                changed: r.get(5)?,
                payload: r
                    .get::<_, Option<String>>(6)?
                    .map(|p| serde_json::from_str(&p).unwrap()),
                base_version: r.get(7)?,
                state: r.get(8)?,
                attempts: r.get(9)?,
                last_error: r.get(10)?,
            })
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    }

    /// `sync_status` of a row.
    pub fn status(&self, table: &str, id: &str) -> String {
        self.conn()
            .query_row(
                &format!("SELECT sync_status FROM \"{table}\" WHERE id = ?1"),
                [id],
                |r| r.get(0),
            )
            .unwrap()
    }

    /// Prepares and claims a batch at time `now` like a client about to push (no byte limit
    /// to speak of); returns every entry of the claim, as sent.
    pub fn claim_at(&self, now: i64, limit: i64) -> Vec<Value> {
        let max_bytes = i64::MAX / 2;
        self.run("prepare_batch", &[(":now", &now), (":limit", &limit)]);
        self.run("set_aside_oversized", &[(":max_bytes", &max_bytes)]);
        self.run(
            "claim_batch",
            &[
                (":now", &now),
                (":limit", &limit),
                (":max_bytes", &max_bytes),
                (":claim", &CLAIM),
            ],
        );
        self.run("claimed_entries", &[(":claim", &CLAIM)])
            .into_iter()
            .map(|mut e| {
                for key in ["payload", "field_stamps"] {
                    let parsed = e[key]
                        .as_str()
                        .map(|p| serde_json::from_str::<Value>(p).unwrap());
                    e[key] = parsed.unwrap_or(Value::Null);
                }
                e
            })
            .collect()
    }

    /// [`Device::claim_at`] at a time past every retry delay.
    pub fn claim(&self, limit: i64) -> Vec<Value> {
        self.claim_at(LATER, limit)
    }

    /// What the next push sends for each row: claims everything claimable, then returns the
    /// claimed entries to the queue as if the push had failed in transit.
    pub fn sent(&self) -> Vec<Value> {
        let sent = self.claim(100_000);
        self.run("release_inflight", &[(":claim", &CLAIM)]);
        sent
    }

    /// Hands push results to SQL like a client that got a response at time `now`.
    pub fn push_results_at(&self, now: i64, results: Value) {
        let text = results.to_string();
        self.run("apply_push_results", &[(":results", &text), (":now", &now)]);
        self.run("clear_push_results", &[]);
    }

    /// [`Device::push_results_at`] at time 1,000.
    pub fn push_results(&self, results: Value) {
        self.push_results_at(1_000, results)
    }

    /// Applies a pull page like the client, in one transaction: the page, then the records
    /// waiting for a unique clash again, then the cursor.
    pub fn pull(&self, records: Value, cursor: &str) {
        let text = records.to_string();
        self.conn().execute_batch("BEGIN").unwrap();
        self.run("apply_pulled_records", &[(":records", &text)]);
        let held: Vec<String> = self
            .run("take_clashes", &[])
            .into_iter()
            .map(|r| r["records"].as_str().unwrap().to_owned())
            .collect();
        self.run("clear_clashes", &[]);
        for held in &held {
            self.run("apply_pulled_records", &[(":records", held)]);
        }
        self.run("clear_inbox", &[]);
        self.run("set_pull_cursor", &[(":cursor", &cursor)]);
        self.conn().execute_batch("COMMIT").unwrap();
    }

    /// Count of rows of a query.
    pub fn count(&self, sql: &str) -> i64 {
        self.value(sql).as_i64().unwrap()
    }
}

fn to_json(value: SqlValue) -> Value {
    client::sql_to_json(value)
}

/// An accepted push result for an entry in flight.
pub fn accepted(entry: &Entry, version: i64) -> Value {
    let id = entry
        .mutation_id
        .as_ref()
        .expect("only claimed entries get results");
    serde_json::json!({"mutationId": id, "id": entry.row_id, "status": "accepted", "version": version})
}
pub mod drift;

/// Revision `n` of the evolution fixtures.
pub fn revision(n: u32) -> String {
    let path = format!(
        "{}/tests/fixtures/evolution/v{n}.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(path).unwrap()
}

/// What the next build would read back from the output directory of `files`.
pub fn previous_of(files: &FileSet) -> Previous {
    offgen_codegen::previous::from_files(files, std::path::Path::new("out"))
        .unwrap_or_else(|d| panic!("{}", d.message))
}

/// Builds `spec` on top of `previous`: the files, or the rendered problems.
pub fn build_on(previous: &Previous, spec: &str) -> Result<(FileSet, String), String> {
    let schema = schema(spec);
    let mut diags = Diagnostics::new();
    let files = backend::generate(&schema, previous, &mut diags);
    let file = SourceFile::new("offgen.yaml", spec);
    let rendered = render(&file, &diags.into_sorted());
    files.map(|f| (f, rendered.clone())).ok_or(rendered)
}

/// Each revision built on the one before.
pub fn builds(revisions: &[String]) -> Vec<FileSet> {
    let mut previous = Previous::default();
    let mut out = Vec::new();
    for spec in revisions {
        let (files, _) = build_on(&previous, spec).unwrap_or_else(|problems| panic!("{problems}"));
        previous = previous_of(&files);
        out.push(files);
    }
    out
}
