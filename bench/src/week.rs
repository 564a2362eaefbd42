//! A week offline: a device that synced last week's 1,000 observations makes 10,000 writes
//! without signal (3,000 new observations, 5,000 edits over old and new, 2,000 deletes), then
//! syncs once over HTTP on loopback. The goal: converged in under 2 s.

use std::time::Instant;

use offgen_runtime::client::rusqlite::params;
use offgen_runtime::client::{Device, HttpTransport, SyncClient};

use crate::initial_sync::client_schema;
use crate::process;
use crate::server_api::{self, row_id, user};

/// Measures `runs` devices, one after another, each with its own rows.
pub fn run(postgres: Option<&str>, runs: usize) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = match postgres {
        Some(admin) => server_api::fresh_postgres(admin, "offgen_bench_week"),
        None => format!("sqlite:{}", dir.path().join("server.db").display()),
    };
    let label = if postgres.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let server = process::ranger_server(&url, &server_api::tokens(1));
    server_api::Api::new(&server.base).seed_rangers(1);
    let mut samples = Vec::new();
    for run in 0..runs {
        let (ranger, token) = user(0);
        let mut device = Device::open(
            dir.path().join(format!("device-{run}.db")),
            &client_schema(),
        )
        .expect("a device");
        let client = SyncClient::new(HttpTransport::new(&server.base), move || {
            Some(token.clone())
        });
        let base = run * 10_000;
        let id = |n: usize| row_id(base + n);
        let insert = |device: &Device, n: usize| {
            device
                .connection()
                .prepare_cached(
                    "INSERT INTO observations (id, ranger, kind, latitude, longitude, notes, recorded_at, modified_at)
                     VALUES (?1, ?2, 'wildlife', ?3, 36.817223, ?4, 1700000000000, 1700000000000)",
                )
                .and_then(|mut s| {
                    s.execute(params![id(n), ranger, -1.286_389 + n as f64 * 1.000_000_1e-7, format!("note {n}")])
                })
                .expect("inserted");
        };
        for n in 0..1_000 {
            insert(&device, n);
        }
        client.sync(&mut device).expect("last week's sync");
        // Each write its own transaction, as an app makes them.
        for n in 1_000..4_000 {
            insert(&device, n);
        }
        for n in 0..5_000usize {
            device
                .connection()
                .prepare_cached(
                    "UPDATE observations SET count = ?1, notes = ?2 WHERE id = ?3 AND deleted_at IS NULL",
                )
                .and_then(|mut s| s.execute(params![(n % 40 + 2) as i64, format!("edit {n}"), id((n * 7_919) % 4_000)]))
                .expect("edited");
        }
        for n in 0..2_000usize {
            device
                .connection()
                .prepare_cached("UPDATE observations SET deleted_at = 1700000000000 WHERE id = ?1")
                .and_then(|mut s| s.execute([id(n * 2)]))
                .expect("deleted");
        }
        let queued: i64 = device
            .connection()
            .query_row("SELECT count(*) FROM _offgen_outbox", [], |r| r.get(0))
            .expect("counted");
        let started = Instant::now();
        let report = client.sync(&mut device).expect("the week's sync");
        let secs = started.elapsed().as_secs_f64();
        assert_eq!(
            report.accepted, queued as u64,
            "every queued change accepted"
        );
        assert_eq!(device.stats().expect("stats").queue_depth, 0);
        samples.push((secs, queued, report));
    }
    samples.sort_by(|a, b| a.0.partial_cmp(&b.0).expect("numbers"));
    let (secs, queued, report) = &samples[samples.len() / 2];
    println!(
        "a week offline ({label} server), median of {runs}: 10,000 writes queued as {queued} entries, converged in {secs:.2} s \
         ({} requests, {:.1} MB up, {:.1} MB down; goal under 2 s: {})",
        report.requests,
        report.bytes_sent as f64 / 1e6,
        report.bytes_received as f64 / 1e6,
        if *secs < 2.0 { "met" } else { "MISSED" }
    );
}
