//! Talking to a running server outside any device: pushes for setup, pulls for the records a
//! baseline inserts, and fresh PostgreSQL databases.

use std::time::Duration;

use offgen_runtime::client::{HttpTransport, Method, Request, Transport};
use offgen_runtime::server::tokio;
use serde_json::{Value, json};

/// A user id and token of a benchmark user.
pub fn user(n: usize) -> (String, String) {
    (
        format!("00000000-0000-4000-8000-{:012x}", 0xa000_0000 + n),
        format!("user-{n}-token"),
    )
}

/// The `OFFGEN_TOKENS` value for users `0..count`.
pub fn tokens(count: usize) -> String {
    (0..count)
        .map(|n| {
            let (id, token) = user(n);
            format!("{id}={token}")
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// An id for row `n` of a run.
pub fn row_id(n: usize) -> String {
    format!("00000000-0000-4000-9000-{n:012x}")
}

/// An observation like a ranger's: a GPS fix, a count, a note, two times.
pub fn observation(ranger: &str, n: usize) -> Value {
    json!({"ranger": ranger, "kind": "wildlife", "species": "Loxodonta africana", "count": 3 + n % 7,
           "latitude": -1.286_389 - n as f64 * 1.000_000_1e-6, "longitude": 36.817_223 + n as f64 * 1e-6,
           "accuracyM": 4.5, "notes": format!("herd of {} at the river crossing", 3 + n % 7),
           "status": "final", "recordedAt": 1_700_000_000_000i64 + n as i64,
           "modifiedAt": 1_700_000_000_000i64 + n as i64})
}

/// A client for setup and checks.
pub struct Api {
    transport: HttpTransport,
}

impl Api {
    /// Against the server at `base`.
    pub fn new(base: &str) -> Api {
        Api {
            transport: HttpTransport::with_timeout(base, Duration::from_secs(300)),
        }
    }

    /// Pushes `mutations` as `token`; panics unless every one is accepted.
    pub fn push(&self, token: &str, mutations: Vec<Value>) {
        let body = json!({"clientId": "bench-setup", "mutations": mutations});
        let response = self
            .transport
            .send(Request {
                method: Method::Post,
                path: "/sync/push".to_owned(),
                headers: vec![
                    ("Authorization".to_owned(), format!("Bearer {token}")),
                    ("Content-Type".to_owned(), "application/json".to_owned()),
                ],
                body: serde_json::to_vec(&body).expect("JSON"),
            })
            .expect("the server answers");
        let answer: Value = serde_json::from_slice(&response.body).expect("JSON");
        assert_eq!(response.status, 200, "{answer}");
        let all = answer["results"].as_array().expect("results");
        assert!(all.iter().all(|r| r["status"] == "accepted"), "{answer}");
    }

    /// Inserts users `0..count`' rangers.
    pub fn seed_rangers(&self, count: usize) {
        let mutations: Vec<Value> = (0..count)
            .map(|n| {
                let (id, _) = user(n);
                json!({"mutationId": format!("ranger-{n}"), "entity": "rangers", "id": id, "op": "insert",
                       "data": {"name": format!("Ranger {n}"), "badgeNumber": format!("B-{n}")}})
            })
            .collect();
        for chunk in mutations.chunks(1000) {
            self.push(&user(0).1, chunk.to_vec());
        }
    }

    /// Inserts `rows` observations of user 0, numbered from `first`, 1,000 per push.
    pub fn seed_observations(&self, first: usize, rows: usize) {
        let (ranger, token) = user(0);
        let all: Vec<usize> = (first..first + rows).collect();
        for chunk in all.chunks(1000) {
            let mutations = chunk
                .iter()
                .map(|n| json!({"mutationId": format!("seed-{n}"), "entity": "observations", "id": row_id(*n),
                                "op": "insert", "data": observation(&ranger, *n)}))
                .collect();
            self.push(&token, mutations);
        }
    }

    /// Pulls everything `token`'s user sees; returns the records and the last cursor.
    pub fn pull_all(&self, token: &str) -> (Vec<Value>, String) {
        let mut cursor = String::new();
        let mut records = Vec::new();
        loop {
            let response = self
                .transport
                .send(Request {
                    method: Method::Get,
                    path: format!("/sync/pull?cursor={cursor}&limit=1000"),
                    headers: vec![("Authorization".to_owned(), format!("Bearer {token}"))],
                    body: Vec::new(),
                })
                .expect("the server answers");
            assert_eq!(response.status, 200);
            let mut page: Value = serde_json::from_slice(&response.body).expect("JSON");
            if let Some(r) = page["records"].as_array_mut() {
                records.append(r);
            }
            cursor = page["cursor"].as_str().unwrap_or_default().to_owned();
            if page["hasMore"] != true {
                return (records, cursor);
            }
        }
    }
}

/// A fresh database on the PostgreSQL server at `admin` (a URL ending in /<database>),
/// dropped first if a previous run left it; returns its URL.
pub fn fresh_postgres(admin: &str, name: &str) -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let pool = sqlx::PgPool::connect(admin)
            .await
            .expect("the PostgreSQL server answers");
        for statement in [
            format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
            format!("CREATE DATABASE \"{name}\""),
        ] {
            sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
                .execute(&pool)
                .await
                .expect("database created");
        }
        pool.close().await;
    });
    let (base, _) = admin.rsplit_once('/').expect("a URL ending in /<database>");
    format!("{base}/{name}")
}

/// One number from SQL on a PostgreSQL database.
pub fn postgres_count(url: &str, sql: &'static str) -> i64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let pool = sqlx::PgPool::connect(url).await.expect("connects");
        let n: i64 = sqlx::query_scalar(sql)
            .fetch_one(&pool)
            .await
            .expect("counted");
        pool.close().await;
        n
    })
}
