//! Where a pulled page's time goes on the device, in process and without the network: the
//! initial sync's records applied in pages of 1,000 (each page in one transaction) by the
//! general path (`apply_pulled_records` and the pull triggers), by the client's page apply
//! (the pulled-row statements, `Device::apply_pulled_page`), and inserted raw as the
//! initial-sync baseline inserts them. `--only` runs one of them (or `setup`, nothing but the
//! reading; `raw-setup` and `page-setup`, the reading and what the variant does before its
//! clock starts), for instruction counts
//! under callgrind: the difference of two such runs is the variant's own work.

use std::path::Path;
use std::time::Instant;

use offgen_runtime::client::Device;
use serde_json::value::RawValue;

use crate::initial_sync::{RawRows, client_schema};

/// The variants, in the order they run.
pub const VARIANTS: [&str; 3] = ["general", "page", "raw"];

/// Runs the variants (or `only` one) on fresh device files under `dir`, `rounds` times each,
/// interleaved; prints µs per record (the median) and each one's ratio to raw.
pub fn run(records: &Path, dir: &Path, only: Option<&str>, rounds: usize) {
    let text = std::fs::read_to_string(records).expect("the records");
    let all: Vec<&RawValue> = serde_json::from_str(&text).expect("a JSON array");
    let pages: Vec<String> = all
        .chunks(1000)
        .map(|page| {
            let texts: Vec<&str> = page.iter().map(|r| r.get()).collect();
            format!("[{}]", texts.join(","))
        })
        .collect();
    let n = all.len() as f64;
    let variants: Vec<&str> = match only {
        Some(one) => vec![one],
        None => VARIANTS.to_vec(),
    };
    let raw_rows = variants
        .iter()
        .any(|v| v.starts_with("raw"))
        .then(|| RawRows::read(records));
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    for round in 0..rounds {
        for (i, variant) in variants.iter().enumerate() {
            let path = dir.join(format!("apply-{variant}-{round}.db"));
            let mut device = Device::open(&path, &client_schema()).expect("a device");
            if let Ok(store) = std::env::var("OFFGEN_BENCH_TEMP_STORE") {
                // An experiment: the statement journal in SQLite's spill buffer (FILE).
                device
                    .connection()
                    .pragma_update(None, "temp_store", store)
                    .expect("pragma");
            }
            let secs = match *variant {
                "general" => general(&device, &pages),
                "page" => page(&device, &pages),
                "raw" => raw_rows.as_ref().expect("read").insert(&mut device),
                "page-setup" => {
                    let checked: Vec<&RawValue> = pages
                        .iter()
                        .map(|p| serde_json::from_str(p).expect("JSON"))
                        .collect();
                    std::hint::black_box(checked);
                    0.0
                }
                "setup" | "raw-setup" => 0.0,
                other => panic!(
                    "no variant {other} (setup, raw-setup, {})",
                    VARIANTS.join(", ")
                ),
            };
            times[i].push(secs);
            drop(device);
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
    }
    let medians: Vec<f64> = times
        .iter_mut()
        .map(|t| {
            t.sort_by(f64::total_cmp);
            t[t.len() / 2]
        })
        .collect();
    let raw = variants
        .iter()
        .position(|v| *v == "raw")
        .map(|i| medians[i]);
    for (variant, secs) in variants.iter().zip(&medians) {
        let what = match *variant {
            "general" => "apply_pulled_records, every record through the triggers (before)",
            "page" => "the client's page apply (pulled-row statements, commits not waiting)",
            "raw" => "raw insert, triggers dropped, values bound (the baseline)",
            _ => "setup only",
        };
        let ratio = raw.map_or(String::new(), |r| format!("  ratio to raw {:.2}", r / secs));
        println!(
            "    {what:<64} {:>6.1} µs/record {:>8.0} rows/s{ratio}",
            secs / n * 1e6,
            n / secs
        );
    }
}

/// Every page through `apply_pulled_records`, as every pull did before the pulled-row
/// statements.
fn general(device: &Device, pages: &[String]) -> f64 {
    let conn = device.connection();
    let sql = &device
        .schema()
        .statement("apply_pulled_records")
        .expect("the statement")
        .sql;
    let started = Instant::now();
    for page in pages {
        conn.execute_batch("BEGIN IMMEDIATE").expect("BEGIN");
        conn.execute(sql, [page]).expect("applied");
        conn.execute_batch("DELETE FROM _offgen_inbox; COMMIT")
            .expect("COMMIT");
    }
    started.elapsed().as_secs_f64()
}

/// Every page applied as the client does: split (the client checks a page as JSON on the
/// thread that receives it, so that is done before the clock starts here), bound, and
/// committed without waiting for the disk.
fn page(device: &Device, pages: &[String]) -> f64 {
    let checked: Vec<&RawValue> = pages
        .iter()
        .map(|p| serde_json::from_str(p).expect("JSON"))
        .collect();
    let conn = device.connection();
    let sql = |name: &str| {
        device
            .schema()
            .statement(name)
            .unwrap_or_else(|| panic!("sync.sql has {name}"))
            .sql
            .clone()
    };
    let relax: bool = conn
        .query_row(&sql("pull_durability"), [], |r| r.get(0))
        .expect("asked");
    let (relaxed, restored) = (sql("relax_durability"), sql("restore_durability"));
    let started = Instant::now();
    for records in checked {
        if relax {
            conn.execute_batch(&relaxed).expect("relaxed");
        }
        conn.execute_batch("BEGIN IMMEDIATE").expect("BEGIN");
        device.apply_pulled_page(records).expect("applied");
        conn.execute_batch("DELETE FROM _offgen_inbox; COMMIT")
            .expect("COMMIT");
        if relax {
            conn.execute_batch(&restored).expect("restored");
        }
    }
    started.elapsed().as_secs_f64()
}
