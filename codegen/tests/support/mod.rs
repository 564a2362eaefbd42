//! A simulated device for tests: a real SQLite database (rusqlite, bundled) built by the
//! generated migrations, driven by the generated `sync.sql` statements, exactly as a client
//! would run them.
#![allow(dead_code)]

use std::collections::BTreeMap;

use offgen_codegen::backend::client::{Migration, sync_sql};
use offgen_codegen::backend::server::migrate::ServerStep;
use offgen_codegen::backend::snapshot::Snapshot;
use offgen_codegen::backend::{self, Previous};
use offgen_codegen::diagnostics::{Diagnostics, render};
use offgen_codegen::load_yaml_spec;
use offgen_codegen::model::Schema;
use offgen_codegen::output::FileSet;
use offgen_codegen::source::SourceFile;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, ToSql};
use serde_json::Value;

/// The forest-ranger example spec.
pub fn ranger_spec() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/ranger/offgen.yaml"
    ))
    .unwrap()
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

/// One outbox entry, with its payload parsed. Mutation id and payload exist from the entry's
/// first claim on.
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

/// A device database and the sync statements of its build.
pub struct Device {
    pub conn: Connection,
    pub statements: BTreeMap<String, String>,
}

impl Device {
    /// A fresh device for a spec: every migration step applied.
    pub fn new(spec: &str) -> Device {
        Device::from_build(&build(spec))
    }

    /// A fresh device for a build.
    pub fn from_build(files: &FileSet) -> Device {
        let conn = Connection::open_in_memory().unwrap();
        let mut device = Device {
            conn,
            statements: BTreeMap::new(),
        };
        device.upgrade(files);
        device
    }

    /// Applies the build's steps this database has not run yet (by `user_version`), each in
    /// one transaction, and takes the build's sync statements.
    pub fn upgrade(&mut self, files: &FileSet) {
        let current: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        self.conn
            .execute_batch("PRAGMA foreign_keys = OFF")
            .unwrap();
        for step in migrations(files) {
            if i64::from(step.number) <= current {
                continue;
            }
            let tx = self.conn.transaction().unwrap();
            for statement in &step.statements {
                tx.execute_batch(statement)
                    .unwrap_or_else(|e| panic!("step {} failed: {e}\n{statement}", step.number));
            }
            tx.commit().unwrap();
        }
        let sync = files.get("client/sync.sql").expect("a build has sync.sql");
        self.statements = sync_sql::parse(sync)
            .into_iter()
            .map(|s| (s.name, s.sql))
            .collect();
    }

    fn statement(&self, name: &str) -> &str {
        self.statements
            .get(name)
            .unwrap_or_else(|| panic!("sync.sql has no statement `{name}`"))
    }

    /// Runs a named statement; returns its rows as JSON objects.
    pub fn run(&self, name: &str, params: &[(&str, &dyn ToSql)]) -> Vec<Value> {
        let mut stmt = self.conn.prepare(self.statement(name)).unwrap();
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
        self.conn
            .execute_batch(sql)
            .unwrap_or_else(|e| panic!("{e}\n{sql}"));
    }

    /// Runs plain SQL that must fail; returns the error text.
    pub fn sql_err(&self, sql: &str) -> String {
        self.conn
            .execute_batch(sql)
            .expect_err("the write must be refused")
            .to_string()
    }

    /// One value of a query.
    pub fn value(&self, sql: &str) -> Value {
        self.conn
            .query_row(sql, [], |r| r.get::<_, SqlValue>(0))
            .map(to_json)
            .unwrap_or_else(|e| panic!("{e}\n{sql}"))
    }

    /// The outbox, oldest first.
    pub fn outbox(&self) -> Vec<Entry> {
        let mut stmt = self
            .conn
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
        self.conn
            .query_row(
                &format!("SELECT sync_status FROM \"{table}\" WHERE id = ?1"),
                [id],
                |r| r.get(0),
            )
            .unwrap()
    }

    /// Claims a batch like a client about to push; returns every entry in flight, as sent.
    pub fn claim(&self, limit: i64) -> Vec<Value> {
        self.run("claim_batch", &[(":now", &1_000i64), (":limit", &limit)]);
        self.run("claimed_entries", &[])
            .into_iter()
            .map(|mut e| {
                let payload = e["payload"]
                    .as_str()
                    .map(|p| serde_json::from_str::<Value>(p).unwrap());
                e["payload"] = payload.unwrap_or(Value::Null);
                e
            })
            .collect()
    }

    /// What the next push sends for each row: claims everything claimable, then returns the
    /// claimed entries to the queue as if the push had failed in transit.
    pub fn sent(&self) -> Vec<Value> {
        let sent = self.claim(100_000);
        self.run("release_inflight", &[]);
        sent
    }

    /// Hands push results to SQL like a client that got a response.
    pub fn push_results(&self, results: Value) {
        let text = results.to_string();
        self.run("apply_push_results", &[(":results", &text)]);
        self.run("clear_push_results", &[]);
    }

    /// Applies a pull page like a client, in one transaction.
    pub fn pull(&self, records: Value, cursor: &str) {
        let text = records.to_string();
        self.conn.execute_batch("BEGIN").unwrap();
        self.run("apply_pulled_records", &[(":records", &text)]);
        self.run("clear_inbox", &[]);
        self.run("set_pull_cursor", &[(":cursor", &cursor)]);
        self.conn.execute_batch("COMMIT").unwrap();
    }

    /// Count of rows of a query.
    pub fn count(&self, sql: &str) -> i64 {
        self.value(sql).as_i64().unwrap()
    }
}

fn to_json(value: SqlValue) -> Value {
    match value {
        SqlValue::Null => Value::Null,
        SqlValue::Integer(i) => Value::from(i),
        SqlValue::Real(f) => serde_json::json!(f),
        SqlValue::Text(t) => Value::String(t),
        SqlValue::Blob(b) => Value::String(b.iter().map(|x| format!("{x:02x}")).collect()),
    }
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
    let snapshot: Snapshot =
        serde_json::from_str(files.get("client/schema.json").unwrap()).unwrap();
    let server_steps = |dir: &str| {
        files
            .iter()
            .filter_map(|(path, text)| {
                let name = path.strip_prefix(dir)?;
                Some(ServerStep::parse(name, text.to_owned()).unwrap())
            })
            .collect()
    };
    Previous {
        snapshot: Some(snapshot.schema),
        migrations: migrations(files),
        server_sqlite: server_steps("server/migrations/sqlite/"),
        server_postgres: server_steps("server/migrations/postgres/"),
    }
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
