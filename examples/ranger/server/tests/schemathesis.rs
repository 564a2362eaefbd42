//! The OpenAPI document held to the server: schemathesis (scripts/lib/python.sh installs it)
//! generates requests from `openapi.json` and runs every check it has (`--checks all`) in all
//! its phases, the stateful one included, against the real binary on SQLite and on
//! PostgreSQL. Any response the document does not describe, any request the document allows
//! that the server refuses (or the reverse), and any 5xx fails the test. What the document
//! cannot state (a stale `If-Match`, a deleted record) is listed, with why, in
//! scripts/schemathesis/schemathesis.toml.
//!
//! In the suite the run is bounded (`OFFGEN_SCHEMATHESIS_EXAMPLES`, default 8 per operation,
//! a fixed seed), and on PostgreSQL it leaves out the coverage phase (`OFFGEN_SCHEMATHESIS_PHASES`):
//! its deterministic edge cases, most of a run's time, ask the same of either database, while
//! fuzzing reaches what only PostgreSQL refuses. `scripts/schemathesis.sh` runs every phase on
//! both, long, with a fresh seed.

mod running;

use std::path::{Path, PathBuf};
use std::process::Command;

use running::*;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..")
}

/// schemathesis from the virtualenv the test scripts make, or `OFFGEN_SCHEMATHESIS`. Missing,
/// the test fails: skipping would let a wrong document through.
fn schemathesis() -> PathBuf {
    let path = std::env::var_os("OFFGEN_SCHEMATHESIS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/py/bin/schemathesis"));
    assert!(
        path.is_file(),
        "schemathesis not found at {}: run scripts/test.sh, which installs it (or, from the \
         repository root: `. scripts/lib/python.sh && ensure_python_tools`), or point \
         OFFGEN_SCHEMATHESIS at one",
        path.display()
    );
    path
}

fn setting(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

async fn conforms(postgres: bool) {
    let db = TestDatabase::of(postgres).await;
    let tokens = tokens(0);
    // Ana is an admin, so the admin endpoints are exercised beyond their 403.
    let server = Process::start(&[
        ("DATABASE_URL", &db.url),
        ("OFFGEN_TOKENS", &tokens),
        ("OFFGEN_ADMINS", ANA),
        // Warnings only (5xx answers among them), and the line that says where it listens.
        ("OFFGEN_LOG", "warn,offgen_runtime::server::serve=info"),
    ]);
    // Ana's own ranger record: observations are owned by a ranger, so without it every
    // generated observation would be refused (409) and the stateful phase could never follow
    // a created observation to its reads and writes.
    let seeded = reqwest::Client::new()
        .post(format!("{}/v1/rangers", server.base))
        .bearer_auth(ANA_TOKEN)
        .json(&serde_json::json!({ "id": ANA, "name": "Ana", "badgeNumber": "A-0001" }))
        .send()
        .await
        .unwrap();
    assert_eq!(seeded.status(), 201, "{}", seeded.text().await.unwrap());
    let examples = setting("OFFGEN_SCHEMATHESIS_EXAMPLES", "8");
    let seed = setting("OFFGEN_SCHEMATHESIS_SEED", "20260101");
    let every_phase = "examples,coverage,fuzzing,stateful";
    let phases = match setting("OFFGEN_SCHEMATHESIS_PHASES", "") {
        all if all == "all" => every_phase.to_owned(),
        phases if !phases.is_empty() => phases,
        _ if postgres => "examples,fuzzing,stateful".to_owned(),
        _ => every_phase.to_owned(),
    };
    let scratch = tempfile::tempdir().unwrap();
    let mut command = Command::new(schemathesis());
    command
        .arg("--config-file")
        .arg(root().join("scripts/schemathesis/schemathesis.toml"))
        .arg("run")
        .arg(format!("{}/openapi.json", server.base))
        .args(["--checks", "all", "--max-examples", &examples])
        .args(["--phases", &phases])
        .args(["--header", &format!("Authorization: Bearer {ANA_TOKEN}")])
        .args(["--workers", "1", "--request-timeout", "10"])
        .env("NO_COLOR", "1")
        // Its own files (the hypothesis database, reports) in a folder of the test's.
        .current_dir(scratch.path());
    if seed != "random" {
        command.args(["--seed", &seed]);
    }
    let out = command.output().expect("schemathesis runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The whole report (nextest shows it for a failure, or with --no-capture).
    println!("{text}");
    assert!(
        out.status.success(),
        "schemathesis found the document and the server apart ({}):\n{text}\n--- server log:\n{}",
        out.status,
        server.stderr()
    );
    let mut server = server;
    assert!(server.running(), "the server stayed up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_exact_on_sqlite() {
    conforms(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_exact_on_postgres() {
    conforms(true).await;
}
