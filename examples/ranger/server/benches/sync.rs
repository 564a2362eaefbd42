//! Push and pull throughput of the generated ranger server, each as a ratio to the raw SQL
//! that does the same to the same database in the same run:
//!
//! - push: observations sent over HTTP in batches of 100 and of 500 (`POST /sync/push`:
//!   validation, idempotency records, version checks, the write) against multi-row `INSERT`s
//!   of rows just like them, as many per statement, one transaction each;
//! - pull: every observation pulled over HTTP in pages of 1,000 against one `SELECT` of the
//!   same rows, in the same order, read the same way (the owner's change index).
//!
//! Run with `scripts/bench.sh` (it starts a throwaway PostgreSQL), or directly with
//! `OFFGEN_TEST_DATABASE_URL=postgres://... cargo bench -p ranger-server --bench sync`.

use std::time::{Duration, Instant};

use offgen_runtime::server::{Database, StaticTokens, tokio};
use ranger_server::{APP, router};
use serde_json::{Value, json};

const RANGER: &str = "00000000-0000-4000-8000-00000000a0a0";
const TOKEN: &str = "bench";
const ROWS: usize = 10_000;
/// Push batch sizes measured (and raw INSERT statement sizes beside them).
const BATCHES: [usize; 2] = [100, 500];
const PAGE: usize = 1000;
const RUNS: usize = 5;

fn id(n: usize) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

fn observation(n: usize) -> Value {
    json!({"ranger": RANGER, "kind": "wildlife", "species": "Loxodonta africana", "count": 3,
           "latitude": -1.0 - n as f64 * 1e-5, "longitude": 36.0 + n as f64 * 1e-5, "accuracyM": 4.5,
           "notes": "herd at the river", "recordedAt": 1_700_000_000_000i64 + n as i64,
           "modifiedAt": 1_700_000_000_000i64 + n as i64})
}

/// A pull page as a client reads it: every record read through, the position kept.
#[derive(offgen_runtime::serde::Deserialize)]
#[serde(crate = "offgen_runtime::serde", rename_all = "camelCase")]
struct Page {
    records: Vec<offgen_runtime::serde::de::IgnoredAny>,
    cursor: String,
    has_more: bool,
}

struct Bench {
    base: String,
    client: reqwest::Client,
    /// A plain pool for the raw baselines, without the server's connection settings.
    raw: Database,
}

async fn start(url: &str) -> Bench {
    let db = Database::connect(url).await.unwrap();
    db.migrate(&APP).await.unwrap();
    let app = router(
        db.clone(),
        StaticTokens::parse(&format!("{RANGER}={TOKEN}")).unwrap(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        offgen_runtime::server::axum::serve(listener, app)
            .await
            .unwrap()
    });
    let raw = match &db {
        Database::Sqlite(_) => db.clone(),
        Database::Postgres(_) => Database::Postgres(sqlx::PgPool::connect(url).await.unwrap()),
    };
    let bench = Bench {
        base,
        client: reqwest::Client::new(),
        raw,
    };
    let ranger = json!([{"mutationId": "ranger", "entity": "rangers", "id": RANGER, "op": "insert",
                         "data": {"name": "Ana", "badgeNumber": "B-1"}}]);
    bench.push(ranger).await;
    bench
}

impl Bench {
    async fn push(&self, mutations: Value) {
        let response = self
            .client
            .post(format!("{}/sync/push", self.base))
            .bearer_auth(TOKEN)
            .json(&json!({"clientId": "bench", "mutations": mutations}))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
        let body: Value = response.json().await.unwrap();
        assert!(
            body["results"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["status"] == "accepted"),
            "{body}"
        );
    }

    /// Pushes `ROWS` new observations numbered from `first`, `size` per request.
    async fn push_rows(&self, first: usize, size: usize) -> Duration {
        let start = Instant::now();
        for batch in (first..first + ROWS).collect::<Vec<_>>().chunks(size) {
            let mutations: Vec<Value> = batch
                .iter()
                .map(|n| json!({"mutationId": format!("m{n}"), "entity": "observations", "id": id(*n), "op": "insert", "data": observation(*n)}))
                .collect();
            self.push(json!(mutations)).await;
        }
        start.elapsed()
    }

    /// Inserts `ROWS` rows numbered from `first` with multi-row INSERTs, `size` per statement.
    async fn raw_insert_rows(&self, first: usize, size: usize) -> Duration {
        let postgres = matches!(self.raw, Database::Postgres(_));
        let columns = "id, ranger, kind, species, count, latitude, longitude, accuracy_m, notes, photo_upload, status, recorded_at, modified_at, version, updated_at, _offgen_seq";
        let mut sql = format!(
            "INSERT INTO observations ({columns}{}) VALUES ",
            if postgres { ", _offgen_xid" } else { "" }
        );
        for row in 0..size {
            let p = |i: usize| {
                if postgres {
                    format!("${}", row * 13 + i)
                } else {
                    // Anonymous: with numbered `?NNN` parameters every bind looks its name up
                    // in a list as long as the statement's parameters
                    // (sqlite3_bind_parameter_name), which at 1,300 parameters cost the
                    // baseline a third of its time.
                    "?".to_owned()
                }
            };
            let uuid = if postgres { "::uuid" } else { "" };
            if row > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "({}{uuid}, {}{uuid}, {}, {}, {}, {}, {}, {}, {}, 'none', 'draft', {}, {}, 1, {}, {}{})",
                p(1), p(2), p(3), p(4), p(5), p(6), p(7), p(8), p(9), p(10), p(11), p(12),
                if postgres { "nextval('\"_offgen_seq\"')".to_owned() } else { p(13) },
                if postgres { ", pg_current_xact_id()" } else { "" }
            ));
        }
        let start = Instant::now();
        for batch in (first..first + ROWS).collect::<Vec<_>>().chunks(size) {
            macro_rules! run {
                ($pool:expr) => {{
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
                    for n in batch {
                        let o = observation(*n);
                        query = query
                            .bind(id(*n))
                            .bind(RANGER)
                            .bind("wildlife")
                            .bind("Loxodonta africana")
                            .bind(3i64)
                            .bind(o["latitude"].as_f64().unwrap())
                            .bind(o["longitude"].as_f64().unwrap())
                            .bind(4.5f64)
                            .bind("herd at the river")
                            .bind(o["recordedAt"].as_i64().unwrap())
                            .bind(o["modifiedAt"].as_i64().unwrap())
                            .bind(o["recordedAt"].as_i64().unwrap());
                        if !postgres {
                            query = query.bind(*n as i64);
                        } else {
                            query = query.bind(0i64);
                        }
                    }
                    query.execute($pool).await.unwrap();
                }};
            }
            match &self.raw {
                Database::Sqlite(pool) => run!(pool),
                Database::Postgres(pool) => run!(pool),
            }
        }
        start.elapsed()
    }

    /// Pulls everything; returns the time and how many records came (the rangers' one
    /// included, as the raw select below selects observations only, minus that one).
    async fn pull_all(&self) -> (Duration, usize) {
        let start = Instant::now();
        let mut cursor = String::new();
        let mut count = 0;
        loop {
            let body = self
                .client
                .get(format!(
                    "{}/sync/pull?cursor={cursor}&limit={PAGE}",
                    self.base
                ))
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            let page: Page = serde_json::from_slice(&body).unwrap();
            count += page.records.len();
            cursor = page.cursor;
            if !page.has_more {
                return (start.elapsed(), count - 1);
            }
        }
    }

    /// Selects every column of the ranger's observations in change order; returns the time
    /// and the row count.
    async fn raw_select_all(&self) -> (Duration, usize) {
        let start = Instant::now();
        let rows = match &self.raw {
            Database::Sqlite(pool) => {
                sqlx::query("SELECT * FROM observations WHERE ranger = ?1 ORDER BY _offgen_seq")
                    .bind(RANGER)
                    .fetch_all(pool)
                    .await
                    .unwrap()
                    .len()
            }
            Database::Postgres(pool) => {
                sqlx::query(
                    "SELECT * FROM observations WHERE ranger = $1::uuid ORDER BY _offgen_xid, _offgen_seq",
                )
                .bind(RANGER)
                .fetch_all(pool)
                    .await
                    .unwrap()
                    .len()
            }
        };
        (start.elapsed(), rows)
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

async fn measure(label: &str, url: &str) {
    let bench = start(url).await;
    let rate = |n: usize, t: Duration| n as f64 / t.as_secs_f64();
    for (i, size) in BATCHES.into_iter().enumerate() {
        let (mut push, mut raw) = (Vec::new(), Vec::new());
        for run in 0..RUNS {
            // Pushed rows and raw rows take turns, so neither always meets the bigger table.
            let base = 1 + (i * RUNS + run) * 2 * ROWS;
            if run % 2 == 0 {
                push.push(bench.push_rows(base, size).await);
                raw.push(bench.raw_insert_rows(base + ROWS, size).await);
            } else {
                raw.push(bench.raw_insert_rows(base + ROWS, size).await);
                push.push(bench.push_rows(base, size).await);
            }
        }
        let (p, r) = (rate(ROWS, median(push)), rate(ROWS, median(raw)));
        println!(
            "{label:<11} push {p:>9.0} mutations/s   raw INSERT {r:>9.0} rows/s   ratio {:.2}   (batches of {size})",
            p / r
        );
    }
    let (mut pull, mut select) = (Vec::new(), Vec::new());
    let mut pulled = 0;
    let mut selected = 0;
    for _ in 0..RUNS {
        let (t, n) = bench.pull_all().await;
        pull.push(t);
        pulled = n;
        let (t, n) = bench.raw_select_all().await;
        select.push(t);
        selected = n;
    }
    assert_eq!(
        pulled, selected,
        "the pull and the select see the same rows"
    );
    let (p, r) = (rate(pulled, median(pull)), rate(selected, median(select)));
    println!(
        "{label:<11} pull {p:>9.0} rows/s        raw SELECT {r:>9.0} rows/s   ratio {:.2}   ({pulled} rows)",
        p / r
    );
}

#[tokio::main(crate = "offgen_runtime::server::tokio")]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("sync: benchmark");
        return;
    }
    println!(
        "ranger server, {ROWS} observations per run, push batches of {BATCHES:?}, pull pages of {PAGE}, median of {RUNS}"
    );
    let dir = tempfile::tempdir().unwrap();
    measure(
        "SQLite",
        &format!("sqlite:{}", dir.path().join("bench.db").display()),
    )
    .await;
    match std::env::var("OFFGEN_TEST_DATABASE_URL") {
        Ok(admin) => {
            let pool = sqlx::PgPool::connect(&admin).await.unwrap();
            sqlx::raw_sql("DROP DATABASE IF EXISTS offgen_bench")
                .execute(&pool)
                .await
                .unwrap();
            sqlx::raw_sql("CREATE DATABASE offgen_bench")
                .execute(&pool)
                .await
                .unwrap();
            let (base, _) = admin.rsplit_once('/').unwrap();
            measure("PostgreSQL", &format!("{base}/offgen_bench")).await;
        }
        Err(_) => {
            println!("PostgreSQL  skipped: set OFFGEN_TEST_DATABASE_URL (scripts/bench.sh does)")
        }
    }
}
