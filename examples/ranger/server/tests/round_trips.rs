//! Statements per push on PostgreSQL, counted on the wire: the server's connection runs
//! through a loopback proxy that reads what the server sends PostgreSQL and counts the
//! statements it runs: `Query` messages (simple protocol: `BEGIN`, `COMMIT`) and `Execute`
//! messages (a prepared statement run with its parameters). sqlx waits for each statement's
//! answer before it sends the next, so each is a round trip; so the count cannot silently grow
//! back. Not counted: preparing a statement (once per connection), and the pool's connection
//! checks (an empty `Sync` when a connection is taken, and when it is given back), which do
//! not depend on the engine.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use offgen_runtime::server::{Database, PoolOptions, StaticTokens};
use ranger_server::{APP, router};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const RANGER: &str = "00000000-0000-4000-8000-00000000a0a0";
const TOKEN: &str = "ranger-token";

/// A proxy in front of `upstream` (`host:port`); its address and the count of statements
/// clients have sent through it.
async fn counting_proxy(upstream: String) -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let statements = Arc::new(AtomicU64::new(0));
    let counter = statements.clone();
    tokio::spawn(async move {
        loop {
            let (client, _) = listener.accept().await.unwrap();
            let server = TcpStream::connect(&upstream).await.unwrap();
            let counter = counter.clone();
            let (mut client_read, mut client_write) = client.into_split();
            let (mut server_read, mut server_write) = server.into_split();
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
            });
            tokio::spawn(async move {
                let mut messages = Messages::default();
                let mut buffer = vec![0; 64 * 1024];
                loop {
                    let n = match client_read.read(&mut buffer).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    counter.fetch_add(messages.count(&buffer[..n], b"QE"), Ordering::SeqCst);
                    if server_write.write_all(&buffer[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    (address, statements)
}

/// What a client sends PostgreSQL, read as messages across reads that split them anywhere:
/// first the startup message (a big-endian length that counts itself, then the body), then
/// messages of a type byte and such a length.
#[derive(Default)]
struct Messages {
    /// Whether the startup message has been read.
    started: bool,
    /// The bytes of the current message's header read so far.
    header: Vec<u8>,
    /// The body bytes of the current message still to pass.
    body_left: usize,
}

impl Messages {
    /// How many messages of the `kinds` begin in `bytes`.
    fn count(&mut self, mut bytes: &[u8], kinds: &[u8]) -> u64 {
        let mut found = 0;
        while !bytes.is_empty() {
            if self.body_left > 0 {
                let skip = self.body_left.min(bytes.len());
                self.body_left -= skip;
                bytes = &bytes[skip..];
                continue;
            }
            let header_len = if self.started { 5 } else { 4 };
            let take = (header_len - self.header.len()).min(bytes.len());
            self.header.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.header.len() == header_len {
                let length = &self.header[header_len - 4..];
                let length = u32::from_be_bytes(length.try_into().unwrap()) as usize;
                if self.started && kinds.contains(&self.header[0]) {
                    found += 1;
                }
                self.started = true;
                self.body_left = length - 4;
                self.header.clear();
            }
        }
        found
    }
}

struct Running {
    base: String,
    client: reqwest::Client,
    statements: Arc<AtomicU64>,
}

impl Running {
    /// Pushes `mutations`, every one accepted; returns the statements the server ran.
    async fn push(&self, mutations: Vec<Value>) -> u64 {
        let before = self.statements.load(Ordering::SeqCst);
        let response = self
            .client
            .post(format!("{}/sync/push", self.base))
            .bearer_auth(TOKEN)
            .json(&json!({"clientId": "phone", "mutations": mutations}))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
        let body: Value = response.json().await.unwrap();
        for result in body["results"].as_array().unwrap() {
            assert_eq!(result["status"], "accepted", "{body}");
        }
        self.statements.load(Ordering::SeqCst) - before
    }
}

/// The ranger server on a fresh database reached through the proxy, with one connection (so
/// the statements of a push are prepared once, by the first).
async fn start() -> Running {
    let admin = std::env::var("OFFGEN_TEST_DATABASE_URL").expect(
        "OFFGEN_TEST_DATABASE_URL is not set: run the tests with scripts/test.sh, which starts PostgreSQL",
    );
    let name = format!("offgen_round_trips_{}", std::process::id());
    let pool = sqlx::PgPool::connect(&admin).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    // postgres://user@host:port/database
    let (scheme_user, rest) = admin.split_once('@').unwrap();
    let (host_port, _) = rest.split_once('/').unwrap();
    let (proxy, statements) = counting_proxy(host_port.to_owned()).await;
    let url = format!("{scheme_user}@{proxy}/{name}?sslmode=disable");
    let db = Database::connect_with(
        &url,
        PoolOptions {
            max_connections: 1,
            acquire_timeout: Duration::from_secs(5),
        },
    )
    .await
    .unwrap();
    db.migrate(&APP).await.unwrap();
    let app = router(
        db,
        StaticTokens::parse(&format!("{RANGER}={TOKEN}")).unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        offgen_runtime::server::axum::serve(listener, app)
            .await
            .unwrap()
    });
    let running = Running {
        base,
        client: reqwest::Client::new(),
        statements,
    };
    let ranger = json!({"mutationId": "ranger", "entity": "rangers", "id": RANGER, "op": "insert",
                        "data": {"name": "Ana", "badgeNumber": "B-1"}});
    running.push(vec![ranger]).await;
    running
}

fn id(n: usize) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

fn new_observations(numbers: std::ops::Range<usize>) -> Vec<Value> {
    numbers
        .map(|n| {
            json!({"mutationId": format!("insert-{n}"), "entity": "observations", "id": id(n), "op": "insert",
                   "data": {"ranger": RANGER, "kind": "wildlife", "latitude": -1.25, "longitude": 36.75,
                            "recordedAt": 1_700_000_000_000i64, "modifiedAt": 1_700_000_000_000i64 + n as i64}})
        })
        .collect()
}

fn edits(numbers: std::ops::Range<usize>) -> Vec<Value> {
    numbers
        .map(|n| {
            json!({"mutationId": format!("edit-{n}"), "entity": "observations", "id": id(n), "op": "update",
                   "baseVersion": 1, "data": {"notes": "seen again", "modifiedAt": 1_800_000_000_000i64}})
        })
        .collect()
}

/// `BEGIN`, the advisory locks on the mutation ids, one read (stored results, touched rows,
/// referenced rows), one write (rows, idempotency records), `COMMIT`: five, whatever the
/// batch's size, for new rows and for edits alike. A retried batch reads its stored results
/// and writes nothing: four. (It was eight for new rows: one statement per phase and
/// referenced table.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_is_five_statements_on_postgres() {
    let running = start().await;
    // The first of each kind prepares its statements on the connection (a round trip each,
    // once per connection): not what a push costs.
    running.push(new_observations(1000..1010)).await;
    running.push(edits(1000..1010)).await;

    assert_eq!(running.push(new_observations(0..100)).await, 5, "new rows");
    assert_eq!(
        running.push(new_observations(100..600)).await,
        5,
        "500 new rows"
    );
    assert_eq!(running.push(edits(0..100)).await, 5, "edits");
    assert_eq!(running.push(edits(0..100)).await, 4, "a retry");
}
