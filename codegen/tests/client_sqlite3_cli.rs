//! The generated device SQL, run by a second, independent consumer: Debian's `sqlite3` command
//! line (a different SQLite build than rusqlite's, and older: 3.40 on Debian 12), with the two
//! real-conversion functions the clients register loaded from a C extension of our own
//! (`fixtures/sqlite_ext`, over the C library's printf and strtod). `scripts/test.sh` installs
//! the command line and SQLite's headers; without them these tests fail and say so.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use offgen_codegen::output::FileSet;
use serde_json::{Value, json};

/// The extension with `offgen_real_json` and `offgen_real`, built once per test run.
fn extension() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sqlite_ext/offgen_reals.c");
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("offgen_reals_{}.so", std::process::id()));
        let status = Command::new("cc")
            .args(["-shared", "-fPIC", "-O2", "-o"])
            .arg(&out)
            .arg(&source)
            .arg("-lm")
            .status()
            .expect("a C compiler (cc) is needed to build the SQLite extension");
        assert!(
            status.success(),
            "building {} failed: SQLite's headers are needed (run scripts/test.sh, or apt-get install libsqlite3-dev)",
            source.display()
        );
        out
    })
}

fn sqlite3(db: &Path, script: &str) -> String {
    let script = format!(
        ".load {} sqlite3_offgenreals_init\n{script}",
        extension().display()
    );
    let mut child = Command::new("sqlite3")
        .args(["-bail", "-json"])
        .arg(db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect(
            "the sqlite3 command line is needed: run scripts/test.sh, or apt-get install sqlite3",
        );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "sqlite3 failed: {}\n--- script ---\n{script}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The JSON arrays sqlite3 -json prints, one per query that returned rows.
fn results(output: &str) -> Vec<Value> {
    serde_json::Deserializer::from_str(output)
        .into_iter::<Value>()
        .map(Result::unwrap)
        .collect()
}

/// Runs the build's steps this database has not run yet, each in one transaction.
fn migrate(db: &Path, files: &FileSet) {
    let version = results(&sqlite3(db, "PRAGMA user_version;"))[0][0]["user_version"]
        .as_u64()
        .unwrap();
    for step in support::migrations(files) {
        if u64::from(step.number) <= version {
            continue;
        }
        let statements = step.statements.join("\n");
        sqlite3(
            db,
            &format!("PRAGMA foreign_keys = OFF;\nBEGIN;\n{statements}\nCOMMIT;\n"),
        );
    }
}

/// A named statement of the build's sync.sql, ready to run.
fn statement(files: &FileSet, name: &str) -> String {
    let sync = files.get("client/sync.sql").unwrap();
    let found = offgen_runtime::scripts::parse_sync_sql(sync)
        .unwrap()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no statement {name}"));
    format!("{};\n", found.sql)
}

/// A `.parameter set` line: sqlite3 evaluates the value as SQL, so text goes in quoted.
fn text_param(name: &str, text: &str) -> String {
    let literal = text.replace('\'', "''").replace('"', "\\\"");
    format!(".parameter set {name} \"'{literal}'\"\n")
}

#[test]
fn every_step_applies_on_an_empty_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("device.db");
    let files = support::build(&support::ranger_spec());
    migrate(&db, &files);
    let out = results(&sqlite3(
        &db,
        "PRAGMA user_version; SELECT count(*) AS triggers FROM sqlite_master WHERE type = 'trigger';",
    ));
    assert_eq!(out[0], json!([{"user_version": 1}]));
    assert_eq!(
        out[1],
        json!([{"triggers": 54}]),
        "16 triggers for each of 3 entities, and 6 for observations' photo"
    );
}

#[test]
fn writes_queue_and_the_sync_statements_run_under_the_command_line_too() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("device.db");
    // Applying pulled blobs needs `unhex` (SQLite 3.41, docs/drift.md), which Debian 12's 3.40
    // lacks: the ranger's one blob field is left out here.
    let spec = support::ranger_spec();
    let thumbnail = spec
        .lines()
        .find(|l| l.trim_start().starts_with("thumbnail:"))
        .expect("the ranger spec has a thumbnail");
    let files = support::build(&spec.replace(&format!("{thumbnail}\n"), ""));
    migrate(&db, &files);
    let mut script = String::from(
        "INSERT INTO rangers (id, name, badge_number) VALUES ('r1', 'Ana', 'B-1');
         INSERT INTO observations (id, ranger, kind, latitude, longitude, recorded_at, modified_at)
           VALUES ('o1', 'r1', 'tracks', -1.25, 36.75, 1700000000000, 1700000000000);
         UPDATE observations SET notes = 'lion tracks', count = 2 WHERE id = 'o1';
         SELECT entity, row_id, op FROM _offgen_outbox ORDER BY seq;
.parameter set :now 1000
.parameter set :limit 10
.parameter set :max_bytes 1000000
.parameter set :claim 7\n",
    );
    script.push_str(&statement(&files, "prepare_batch"));
    script.push_str(&statement(&files, "set_aside_oversized"));
    script.push_str(&statement(&files, "claim_batch"));
    script.push_str(&statement(&files, "claimed_entries"));
    let out = results(&sqlite3(&db, &script));
    assert_eq!(
        out[0].as_array().unwrap().len(),
        2,
        "the update folded into the insert"
    );
    let claimed = out[1].as_array().unwrap();
    assert_eq!(claimed.len(), 2);
    let payload: Value = serde_json::from_str(claimed[1]["payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload["notes"], "lion tracks");
    assert_eq!(payload["count"], 2);

    let accepted: Vec<Value> = claimed
        .iter()
        .map(|m| json!({"mutationId": m["mutation_id"], "status": "accepted", "version": 1}))
        .collect();
    let pulled = json!([{"entity": "observations", "id": "o2", "version": 5, "deleted": false,
        "data": {"ranger": "r1", "route": null, "kind": "fire", "species": null, "count": 1, "latitude": 0.5,
                 "longitude": 0.25, "accuracyM": 3.5, "altitudeM": null, "notes": null, "photoPath": null,
                 "photoUpload": "none", "status": "final", "recordedAt": 1, "modifiedAt": 2}}]);
    let mut script = text_param(":results", &Value::Array(accepted).to_string());
    script.push_str(".parameter set :now 2000\n");
    script.push_str(&statement(&files, "apply_push_results"));
    script.push_str("BEGIN;\n");
    script.push_str(&text_param(":records", &pulled.to_string()));
    script.push_str(&statement(&files, "apply_pulled_records"));
    script.push_str(&text_param(":cursor", "c-1"));
    script.push_str(&statement(&files, "set_pull_cursor"));
    script.push_str("COMMIT;\n");
    script.push_str(
        "SELECT count(*) AS queued FROM _offgen_outbox;
         SELECT id, version, sync_status, kind, accuracy_m FROM observations ORDER BY id;\n",
    );
    script.push_str(&statement(&files, "get_pull_cursor"));
    let out = results(&sqlite3(&db, &script));
    assert_eq!(out[0], json!([{"queued": 0}]));
    assert_eq!(
        out[1],
        json!([
            {"id": "o1", "version": 1, "sync_status": "synced", "kind": "tracks", "accuracy_m": null},
            {"id": "o2", "version": 5, "sync_status": "synced", "kind": "fire", "accuracy_m": 3.5}
        ])
    );
    assert_eq!(out[2], json!([{"cursor": "c-1"}]));
}

#[test]
fn a_database_with_rows_and_queued_writes_upgrades_through_every_revision_under_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("device.db");
    let builds = support::builds(&(1..=4).map(support::revision).collect::<Vec<_>>());
    migrate(&db, &builds[0]);
    sqlite3(
        &db,
        "INSERT INTO rangers (id, name, badge_number) VALUES ('r1', 'Ana', 'B-1');
         INSERT INTO patrol_routes (id, name) VALUES ('p1', 'Ridge');
         INSERT INTO observations (id, ranger, kind, latitude, longitude, photo_url, recorded_at, modified_at)
           VALUES ('o1', 'r1', 'other', 1, 2, 'file:///a.jpg', 1, 1);",
    );
    for files in &builds[1..] {
        migrate(&db, files);
    }
    let script = format!(
        "PRAGMA user_version;
         SELECT (SELECT count(*) FROM rangers) AS rangers, (SELECT count(*) FROM routes) AS routes,
                (SELECT count(*) FROM _offgen_outbox) AS queued;
         SELECT id, kind, photo_path, notes FROM observations;
.parameter set :now 1
.parameter set :limit 10
{}SELECT entity, json(payload) AS payload FROM _offgen_outbox WHERE row_id = 'o1';",
        statement(&builds[3], "prepare_batch")
    );
    let out = results(&sqlite3(&db, &script));
    assert_eq!(out[0], json!([{"user_version": 4}]));
    assert_eq!(out[1], json!([{"rangers": 1, "routes": 1, "queued": 3}]));
    assert_eq!(
        out[2],
        json!([{"id": "o1", "kind": "wildlife", "photo_path": "file:///a.jpg", "notes": ""}])
    );
    let payload: Value = serde_json::from_str(out[3][0]["payload"].as_str().unwrap()).unwrap();
    assert_eq!(
        (payload["photoPath"].clone(), payload["kind"].clone()),
        (json!("file:///a.jpg"), json!("wildlife"))
    );
    assert!(payload.get("photoUrl").is_none() && payload.get("altitudeM").is_none());
}
