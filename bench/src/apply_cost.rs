//! Where a pulled page's time goes on the device: the generated `apply_pulled_records` run on
//! pages of the initial sync's records, as generated and with one thing changed at a time in
//! the device's own SQL (never kept: this measures what a change to the generator would buy).

use std::path::Path;
use std::time::Instant;

use offgen_runtime::client::Device;
use serde_json::Value;

use crate::initial_sync::client_schema;

/// Times applying `records` in pages of 1,000, each page in one transaction.
fn apply(device: &Device, statement: &str, pages: &[String]) -> f64 {
    let started = Instant::now();
    for page in pages {
        let conn = device.connection();
        conn.execute_batch("BEGIN IMMEDIATE").expect("BEGIN");
        conn.execute(statement, [page]).expect("applied");
        conn.execute_batch("DELETE FROM _offgen_inbox; COMMIT")
            .expect("COMMIT");
    }
    started.elapsed().as_secs_f64()
}

/// Rewrites the device's triggers with `change` (old text, new text) applied.
fn rewrite_triggers(device: &Device, change: (&str, &str)) {
    let conn = device.connection();
    let triggers: Vec<(String, String)> = conn
        .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
        .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
        .expect("triggers");
    for (name, sql) in triggers {
        if sql.contains(change.0) {
            conn.execute_batch(&format!(
                "DROP TRIGGER \"{name}\"; {};",
                sql.replace(change.0, change.1)
            ))
            .expect("rewritten");
        }
    }
}

/// Runs every variant on fresh devices under `dir` and prints rows/s for each.
pub fn run(records: &Path, dir: &Path) {
    let records: Vec<Value> =
        serde_json::from_slice(&std::fs::read(records).expect("records")).expect("JSON");
    let pages: Vec<String> = records
        .chunks(1000)
        .map(|c| serde_json::to_string(c).expect("JSON"))
        .collect();
    let schema = client_schema();
    let generated = schema
        .statement("apply_pulled_records")
        .expect("the statement")
        .sql
        .clone();
    let n = records.len() as f64;
    let fresh =
        |name: &str| Device::open(dir.join(format!("{name}.db")), &schema).expect("a device");
    let device = fresh("generated");
    let as_generated = apply(&device, &generated, &pages);
    println!(
        "  apply_pulled_records as generated        {:>9.0} rows/s",
        n / as_generated
    );
    // The same pages again: every record now meets its row (the upsert's update path).
    let again = apply(&device, &generated, &pages);
    println!(
        "  the same pages again, every row here     {:>9.0} rows/s",
        n / again
    );
    // The guard set and cleared around each record instead of once per page.
    let device = fresh("guard");
    rewrite_triggers(
        &device,
        (
            "UPDATE \"_offgen_meta\" SET \"value\" = '1' WHERE \"key\" = 'applying_remote';",
            "",
        ),
    );
    rewrite_triggers(
        &device,
        (
            "UPDATE \"_offgen_meta\" SET \"value\" = '0' WHERE \"key\" = 'applying_remote';",
            "",
        ),
    );
    device
        .connection()
        .execute_batch("UPDATE _offgen_meta SET value = '1' WHERE key = 'applying_remote'")
        .expect("guard");
    let guard = apply(&device, &generated, &pages);
    println!(
        "  guard set once per page, not per record  {:>9.0} rows/s",
        n / guard
    );
    // Each record's data parsed once, into SQLite's binary JSON, instead of per column.
    let binary = generated.replace(
        "coalesce(json_extract(\"value\", '$.data'), '{}')",
        "jsonb(coalesce(json_extract(\"value\", '$.data'), '{}'))",
    );
    assert_ne!(binary, generated, "the statement changed");
    let device = fresh("jsonb");
    let jsonb = apply(&device, &binary, &pages);
    println!(
        "  data as binary JSON (jsonb) in the inbox {:>9.0} rows/s",
        n / jsonb
    );
    let device = fresh("both");
    rewrite_triggers(
        &device,
        (
            "UPDATE \"_offgen_meta\" SET \"value\" = '1' WHERE \"key\" = 'applying_remote';",
            "",
        ),
    );
    rewrite_triggers(
        &device,
        (
            "UPDATE \"_offgen_meta\" SET \"value\" = '0' WHERE \"key\" = 'applying_remote';",
            "",
        ),
    );
    device
        .connection()
        .execute_batch("UPDATE _offgen_meta SET value = '1' WHERE key = 'applying_remote'")
        .expect("guard");
    let both = apply(&device, &binary, &pages);
    println!(
        "  both                                     {:>9.0} rows/s",
        n / both
    );
}
