//! What the sync-queue triggers cost on the device: inserts and updates per second on the
//! ranger example's `observations` table with its generated triggers, against the same tables
//! without triggers, in the same run, on file databases (WAL, synchronous=NORMAL, as apps run).
//!
//! Run: `cargo bench -p offgen-codegen --bench device_triggers` (results in docs/BENCHMARKS.md).

use std::time::{Duration, Instant};

use offgen_codegen::backend::client::Migration;
use offgen_codegen::backend::{self, Previous};
use offgen_codegen::load_yaml_spec;
use offgen_codegen::source::SourceFile;
use rusqlite::{Connection, params};

/// Rows per measurement in one transaction (the CPU-bound case, where triggers weigh most).
const BATCH_ROWS: usize = 20_000;
/// Rows per measurement written one transaction each (an app saving one form at a time).
const SINGLE_ROWS: usize = 2_000;
/// Rows per measurement with an fsync per commit (fewer: each takes milliseconds).
const DURABLE_ROWS: usize = 300;
/// Measurements per case; the median is reported.
const RUNS: usize = 7;

fn steps() -> Vec<Migration> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/ranger/offgen.yaml"
    );
    let file = SourceFile::new("offgen.yaml", std::fs::read_to_string(path).unwrap());
    let schema = load_yaml_spec(&file).unwrap();
    let files = backend::generate(&schema, &Previous::default(), &mut Default::default()).unwrap();
    files
        .iter()
        .filter_map(|(p, text)| {
            Some(Migration::parse(p.strip_prefix("client/migrations/")?, text).unwrap())
        })
        .collect()
}

/// How a database is opened.
#[derive(Clone, Copy)]
enum Durability {
    /// WAL, synchronous=NORMAL: commits without fsync (CPU-bound; where triggers weigh most).
    Wal,
    /// SQLite's defaults (rollback journal, synchronous=FULL): every commit reaches the disk.
    /// Drift's NativeDatabase runs this way unless the app changes it.
    Defaults,
}

fn open(
    dir: &std::path::Path,
    name: &str,
    steps: &[Migration],
    triggers: bool,
    durability: Durability,
) -> Connection {
    let conn = Connection::open(dir.join(name)).unwrap();
    // temp_store as the generated Dart database and the Rust client set it.
    let pragmas = match durability {
        Durability::Wal => {
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY;"
        }
        Durability::Defaults => "PRAGMA temp_store = MEMORY;",
    };
    conn.execute_batch(pragmas).unwrap();
    for step in steps {
        for statement in &step.statements {
            if triggers || !statement.starts_with("CREATE TRIGGER") {
                conn.execute_batch(statement).unwrap();
            }
        }
    }
    conn.execute(
        "INSERT INTO rangers (id, name, badge_number) VALUES ('r1', 'Ana', 'B-1')",
        [],
    )
    .unwrap();
    conn
}

const INSERT: &str = "INSERT INTO observations (id, ranger, kind, species, count, latitude, longitude, accuracy_m, notes, recorded_at, modified_at) VALUES (?1, 'r1', 'wildlife', 'Loxodonta africana', 3, ?2, ?3, 4.5, 'herd at the river', ?4, ?4)";
const UPDATE: &str =
    "UPDATE observations SET notes = ?2, count = count + 1, modified_at = ?3 WHERE id = ?1";

/// Writes `rows` rows starting at `offset`, in one transaction or one each; returns the time.
fn inserts(conn: &Connection, offset: usize, rows: usize, one_transaction: bool) -> Duration {
    let start = Instant::now();
    if one_transaction {
        conn.execute_batch("BEGIN").unwrap();
    }
    let mut stmt = conn.prepare_cached(INSERT).unwrap();
    for i in offset..offset + rows {
        let id = format!("obs-{i:08}");
        stmt.execute(params![
            id,
            -1.0 - i as f64 * 1e-5,
            36.0 + i as f64 * 1e-5,
            1_700_000_000_000i64 + i as i64
        ])
        .unwrap();
    }
    if one_transaction {
        conn.execute_batch("COMMIT").unwrap();
    }
    start.elapsed()
}

fn updates(
    conn: &Connection,
    offset: usize,
    rows: usize,
    one_transaction: bool,
    round: usize,
) -> Duration {
    let start = Instant::now();
    if one_transaction {
        conn.execute_batch("BEGIN").unwrap();
    }
    let mut stmt = conn.prepare_cached(UPDATE).unwrap();
    for i in offset..offset + rows {
        let id = format!("obs-{i:08}");
        stmt.execute(params![
            id,
            format!("seen again, round {round}"),
            1_800_000_000_000i64 + i as i64
        ])
        .unwrap();
    }
    if one_transaction {
        conn.execute_batch("COMMIT").unwrap();
    }
    start.elapsed()
}

/// Marks everything as synced, as after a successful push, so the next update of each row
/// queues a new entry (the common case after a sync) instead of folding into a pending one.
fn settle(conn: &Connection) {
    conn.execute_batch(
        "DELETE FROM _offgen_outbox; UPDATE observations SET sync_status = 'synced' WHERE sync_status <> 'synced';",
    )
    .unwrap();
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn rate(rows: usize, time: Duration) -> f64 {
    rows as f64 / time.as_secs_f64()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("device_triggers: benchmark");
        return;
    }
    let steps = steps();
    let dir = tempfile::tempdir().unwrap();
    println!("device triggers: ranger example, observations table, median of {RUNS} runs");
    println!(
        "{:<68} {:>14} {:>14} {:>6}",
        "case", "with triggers", "without", "ratio"
    );
    for (label, rows, one_transaction, durability) in [
        (
            "WAL, 20000 in one transaction",
            BATCH_ROWS,
            true,
            Durability::Wal,
        ),
        (
            "WAL, 2000 one transaction each",
            SINGLE_ROWS,
            false,
            Durability::Wal,
        ),
        (
            "defaults, 300 one transaction each",
            DURABLE_ROWS,
            false,
            Durability::Defaults,
        ),
    ] {
        let with = open(
            dir.path(),
            &format!("with-{label}.db"),
            &steps,
            true,
            durability,
        );
        let without = open(
            dir.path(),
            &format!("without-{label}.db"),
            &steps,
            false,
            durability,
        );
        let (mut insert_with, mut insert_without) = (Vec::new(), Vec::new());
        let (mut new_entry_with, mut new_entry_without) = (Vec::new(), Vec::new());
        let (mut fold_with, mut fold_without) = (Vec::new(), Vec::new());
        for run in 0..RUNS {
            let offset = run * rows;
            // Alternate which database goes first, so neither always meets a warmer cache.
            let order: [(&Connection, bool); 2] = if run % 2 == 0 {
                [(&with, true), (&without, false)]
            } else {
                [(&without, false), (&with, true)]
            };
            for (conn, triggered) in order {
                let t = inserts(conn, offset, rows, one_transaction);
                if triggered {
                    insert_with.push(t)
                } else {
                    insert_without.push(t)
                }
                settle(conn);
                let t = updates(conn, offset, rows, one_transaction, 1);
                if triggered {
                    new_entry_with.push(t)
                } else {
                    new_entry_without.push(t)
                }
                let t = updates(conn, offset, rows, one_transaction, 2);
                if triggered {
                    fold_with.push(t)
                } else {
                    fold_without.push(t)
                }
                settle(conn);
            }
        }
        for (what, with, without) in [
            ("inserts", insert_with, insert_without),
            (
                "updates of synced rows (new entry)",
                new_entry_with,
                new_entry_without,
            ),
            ("updates of pending rows (fold)", fold_with, fold_without),
        ] {
            let (w, wo) = (rate(rows, median(with)), rate(rows, median(without)));
            println!(
                "{:<68} {:>12.0}/s {:>12.0}/s {:>6.2}",
                format!("{label}: {what}"),
                w,
                wo,
                w / wo
            );
        }
    }
}
