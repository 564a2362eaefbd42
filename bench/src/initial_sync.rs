//! Initial sync: a fresh device pulls every observation from the example server over HTTP on
//! loopback and applies them, against a raw bulk insert of the same rows into the same device
//! schema, and beside it PouchDB replicating the same documents into a fresh local database.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use offgen_runtime::client::rusqlite::params_from_iter;
use offgen_runtime::client::rusqlite::types::Value as SqlValue;
use offgen_runtime::client::{ClientSchema, Device, HttpTransport, SyncClient, SyncOptions};
use offgen_runtime::model::Kind;
use serde_json::{Value, json};

use crate::process::{self, run_json};
use crate::server_api::{self, Api, user};

/// The example's device schema.
pub fn client_schema() -> ClientSchema {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/ranger/client");
    ClientSchema::from_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

/// How many times each side is measured (the median is reported).
const RUNS: usize = 3;

/// The whole benchmark: seeds a server with `rows` observations and measures each side.
pub fn run(rows: usize, postgres: Option<&str>, node_dir: Option<PathBuf>) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = match postgres {
        Some(admin) => server_api::fresh_postgres(admin, "offgen_bench_initial"),
        None => format!("sqlite:{}", dir.path().join("server.db").display()),
    };
    let label = if postgres.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let server = process::ranger_server(&url, &server_api::tokens(1));
    let api = Api::new(&server.base);
    api.seed_rangers(1);
    api.seed_observations(0, rows);
    let (records, _) = api.pull_all(&user(0).1);
    let records_path = dir.path().join("records.json");
    std::fs::write(&records_path, serde_json::to_vec(&records).expect("JSON")).expect("written");

    let me = std::env::current_exe().expect("own path");
    let mut client = Vec::new();
    for run in 0..RUNS {
        client.push(run_json(
            Command::new(&me)
                .args([
                    "pull-client",
                    "--base",
                    &server.base,
                    "--token",
                    &user(0).1,
                    "--db",
                ])
                .arg(dir.path().join(format!("device-{run}.db"))),
        ));
    }
    let mut raw = Vec::new();
    for run in 0..RUNS {
        raw.push(run_json(
            Command::new(&me)
                .args(["raw-insert", "--records"])
                .arg(&records_path)
                .arg("--db")
                .arg(dir.path().join(format!("raw-{run}.db"))),
        ));
    }
    let client = median_by_secs(client);
    let raw = median_by_secs(raw);
    let n = records.len() as f64;
    let client_rate = n / client["secs"].as_f64().unwrap_or(f64::NAN);
    let raw_rate = n / raw["secs"].as_f64().unwrap_or(f64::NAN);
    println!(
        "initial sync ({label} server), {} records, median of {RUNS}:",
        records.len()
    );
    println!(
        "  offgen client over HTTP   {client_rate:>9.0} rows/s  {:>6.2} s  ({:.2} s waiting for the server) {} requests, {:.1} MB received, peak memory {:.1} MiB",
        client["secs"].as_f64().unwrap_or(0.0),
        client["waiting_secs"].as_f64().unwrap_or(0.0),
        client["requests"],
        client["bytes_received"].as_f64().unwrap_or(0.0) / 1e6,
        client["peak_kib"].as_f64().unwrap_or(0.0) / 1024.0
    );
    println!(
        "  raw SQLite bulk insert    {raw_rate:>9.0} rows/s  {:>6.2} s  (same rows, same device schema, one prepared INSERT, one transaction; peak memory {:.1} MiB, the parsed rows included)",
        raw["secs"].as_f64().unwrap_or(0.0),
        raw["peak_kib"].as_f64().unwrap_or(0.0) / 1024.0
    );
    println!("  ratio                     {:.2}", client_rate / raw_rate);
    drop(server);
    println!(
        "  where the device's time goes (the page apply alone, in process, pages of 1,000, median of {RUNS}):"
    );
    crate::apply_cost::run(&records_path, dir.path(), None, RUNS);
    match node_dir.filter(|d| d.join("node_modules/pouchdb-server").exists()) {
        Some(node_dir) => pouchdb(&node_dir, dir.path(), &records_path, records.len()),
        None => println!(
            "  PouchDB                   skipped: set OFFGEN_BENCH_NODE_DIR to a folder with pouchdb-server and pouchdb-node installed (scripts/bench.sh does)"
        ),
    }
}

fn pouchdb(node_dir: &Path, dir: &Path, records: &Path, count: usize) {
    // The server runs in its own folder: a relative --node-dir would point nowhere there.
    let node_dir = &std::path::absolute(node_dir).expect("the node folder's path");
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("pouchdb");
    let server_dir = dir.join("pouchdb-server");
    std::fs::create_dir_all(&server_dir).expect("a folder");
    let server = process::pouchdb_server(node_dir, &server_dir);
    let remote = format!("{}/observations", server.base);
    let node = |script: &str| {
        let mut command = Command::new("node");
        command
            .arg(scripts.join(script))
            .env("NODE_PATH", node_dir.join("node_modules"));
        command
    };
    run_json(node("seed.js").arg(&remote).arg(records));
    let mut runs = Vec::new();
    for run in 0..RUNS {
        runs.push(run_json(
            node("replicate.js")
                .arg(&remote)
                .arg(dir.join(format!("pouch-local-{run}"))),
        ));
    }
    let pouch = median_by_secs(runs);
    let secs = pouch["secs"].as_f64().unwrap_or(f64::NAN);
    println!(
        "  PouchDB replicate         {:>9.0} docs/s  {secs:>6.2} s  ({} of {count} docs, pouchdb-server to a fresh pouchdb-node LevelDB, batches of 1,000; peak memory {:.1} MiB)",
        pouch["docs"].as_f64().unwrap_or(0.0) / secs,
        pouch["docs"],
        pouch["peak_kib"].as_f64().unwrap_or(0.0) / 1024.0
    );
}

fn median_by_secs(mut runs: Vec<Value>) -> Value {
    runs.sort_by(|a, b| {
        a["secs"]
            .as_f64()
            .partial_cmp(&b["secs"].as_f64())
            .expect("times are numbers")
    });
    runs.swap_remove(runs.len() / 2)
}

/// The measured client (a process of its own, so its memory is its own): a fresh device at
/// `db` syncs once; prints what it did as one JSON line.
pub fn pull_client(base: &str, token: &str, db: &Path) {
    let mut device = Device::open(db, &client_schema()).expect("a device");
    let token = token.to_owned();
    let waited = std::sync::Arc::new(std::sync::Mutex::new(std::time::Duration::ZERO));
    let transport = Waiting {
        inner: HttpTransport::new(base),
        waited: waited.clone(),
    };
    let client =
        SyncClient::new(transport, move || Some(token.clone())).with_options(SyncOptions {
            pull_page: 1000,
            ..SyncOptions::default()
        });
    let started = Instant::now();
    let report = client.sync(&mut device).expect("the sync succeeds");
    let secs = started.elapsed().as_secs_f64();
    let rows: i64 = device
        .connection()
        .query_row(
            "SELECT (SELECT count(*) FROM observations) + (SELECT count(*) FROM rangers)",
            [],
            |r| r.get(0),
        )
        .expect("counted");
    assert_eq!(rows as u64, report.pulled, "every pulled record is a row");
    println!(
        "{}",
        json!({"secs": secs, "pulled": report.pulled, "requests": report.requests,
               "bytes_received": report.bytes_received, "peak_kib": process::own_peak_kib(),
               "waiting_secs": waited.lock().expect("lock").as_secs_f64()})
    );
}

/// HTTP that adds up the time spent waiting for answers (the server's work and the
/// transfer), so the report can say how much of a sync is the device's own. It sends from
/// another thread as the plain HTTP transport does, so that wait overlaps the device's work.
struct Waiting {
    inner: HttpTransport,
    waited: std::sync::Arc<std::sync::Mutex<std::time::Duration>>,
}

impl offgen_runtime::client::Transport for Waiting {
    fn concurrent(&self) -> Option<&(dyn offgen_runtime::client::Transport + Sync)> {
        Some(self)
    }

    fn send(
        &self,
        request: offgen_runtime::client::Request,
    ) -> Result<offgen_runtime::client::Response, offgen_runtime::client::TransportError> {
        let started = Instant::now();
        let answer = self.inner.send(request);
        *self.waited.lock().expect("lock") += started.elapsed();
        answer
    }
}

/// The baseline (a process of its own): the same records inserted as plain rows into a fresh
/// device database of the same schema, its triggers removed, with one prepared statement per
/// table in one transaction. The records are read and converted before the clock starts.
pub fn raw_insert(records: &Path, db: &Path) {
    let rows = RawRows::read(records);
    let mut device = Device::open(db, &client_schema()).expect("a device");
    let secs = rows.insert(&mut device);
    println!(
        "{}",
        json!({"secs": secs, "rows": rows.rows.len(), "peak_kib": process::own_peak_kib()})
    );
}

/// The baseline's rows: every record's column values, converted before any clock starts.
pub struct RawRows {
    rows: Vec<(&'static str, Vec<SqlValue>)>,
}

impl RawRows {
    /// Reads and converts the records of a file (a JSON array of pulled records).
    pub fn read(records: &Path) -> RawRows {
        let records: Vec<Value> =
            serde_json::from_slice(&std::fs::read(records).expect("the records")).expect("JSON");
        let mut rows: Vec<(&'static str, Vec<SqlValue>)> = Vec::new();
        for record in &records {
            let entity = ranger_server::APP
                .entities
                .iter()
                .find(|e| record["entity"] == e.table)
                .expect("a known entity");
            let mut values = vec![
                SqlValue::Text(record["id"].as_str().unwrap_or_default().to_owned()),
                SqlValue::Integer(record["version"].as_i64().unwrap_or(0)),
                SqlValue::Integer(record["updatedAt"].as_i64().unwrap_or(0)),
            ];
            for field in entity.fields {
                values.push(to_sql(field.kind, &record["data"][field.key]));
            }
            rows.push((entity.table, values));
        }
        RawRows { rows }
    }

    /// Drops the device's triggers, then inserts the rows in one transaction; returns the
    /// seconds the inserts took.
    pub fn insert(&self, device: &mut Device) -> f64 {
        let conn = device.connection_mut();
        let triggers: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .expect("triggers listed");
        for trigger in triggers {
            conn.execute_batch(&format!("DROP TRIGGER \"{trigger}\""))
                .expect("dropped");
        }
        let statements: Vec<(&'static str, String)> = ranger_server::APP
            .entities
            .iter()
            .map(|e| {
                let columns: Vec<String> =
                    e.fields.iter().map(|f| format!("\"{}\"", f.column)).collect();
                let marks = vec!["?"; e.fields.len()].join(", ");
                (
                    e.table,
                    format!(
                        "INSERT INTO \"{}\" (id, version, updated_at, sync_status, {}) VALUES (?, ?, ?, 'synced', {marks})",
                        e.table,
                        columns.join(", ")
                    ),
                )
            })
            .collect();
        let started = Instant::now();
        let tx = conn.transaction().expect("BEGIN");
        for (table, values) in &self.rows {
            let sql = &statements
                .iter()
                .find(|(t, _)| t == table)
                .expect("a statement")
                .1;
            tx.prepare_cached(sql)
                .and_then(|mut s| s.execute(params_from_iter(values.iter())))
                .expect("inserted");
        }
        tx.commit().expect("COMMIT");
        started.elapsed().as_secs_f64()
    }
}

/// A wire value as its device column holds it.
fn to_sql(kind: Kind, value: &Value) -> SqlValue {
    match (kind, value) {
        (_, Value::Null) => SqlValue::Null,
        (Kind::Bool, Value::Bool(b)) => SqlValue::Integer(i64::from(*b)),
        (Kind::Int | Kind::DateTime, v) => SqlValue::Integer(v.as_i64().unwrap_or(0)),
        (Kind::Real, v) => SqlValue::Real(v.as_f64().unwrap_or(0.0)),
        (Kind::Json | Kind::Attachment, v) => SqlValue::Text(v.to_string()),
        (_, Value::String(s)) => SqlValue::Text(s.clone()),
        (_, other) => SqlValue::Text(other.to_string()),
    }
}
