//! The server process as an operator runs it: the real binary, configured from the
//! environment, on SQLite and PostgreSQL: settings refused at start, pruning, request ids in
//! the logs, metrics, the concurrency limit and timeout, and a graceful shutdown that finishes
//! the push in flight.

mod running;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use running::*;
use serde_json::{Value, json};

fn insert(entity: &str, id: &str, data: Value, mutation: &str) -> Value {
    json!({"mutationId": mutation, "entity": entity, "id": id, "op": "insert", "data": data})
}

fn ranger_insert(mutation: &str) -> Value {
    insert(
        "rangers",
        ANA,
        json!({"name": "Ana", "badgeNumber": "B-1"}),
        mutation,
    )
}

async fn push(client: &reqwest::Client, base: &str, mutations: Value) -> reqwest::Response {
    client
        .post(format!("{base}/sync/push"))
        .bearer_auth(ANA_TOKEN)
        .json(&json!({"clientId": "device-1", "mutations": mutations}))
        .send()
        .await
        .unwrap()
}

/// A transaction of the test's that holds the write lock a push of Ana's ranger needs, until
/// it is released: how a push is kept "in flight" for as long as a test wants.
enum Held {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl Held {
    async fn take(url: &str) -> Held {
        if url.starts_with("postgres") {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            let mut tx = pool.begin().await.unwrap();
            // A table lock, not a row lock: it blocks the push's `FOR UPDATE` without giving
            // this transaction an id, which would hold back every other test's pulls on the
            // shared PostgreSQL server (pull visibility is server-wide).
            sqlx::query("LOCK TABLE rangers IN EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await
                .unwrap();
            Held::Postgres(tx)
        } else {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            let tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
            Held::Sqlite(tx)
        }
    }

    async fn release(self) {
        match self {
            Held::Sqlite(tx) => tx.commit().await.unwrap(),
            Held::Postgres(tx) => tx.commit().await.unwrap(),
        }
    }
}

fn update_ranger(mutation: &str, base: i64, name: &str) -> Value {
    json!({"mutationId": mutation, "entity": "rangers", "id": ANA, "op": "update",
           "baseVersion": base, "data": {"name": name}})
}

async fn graceful_shutdown_finishes_the_push_in_flight(postgres: bool) {
    let db = TestDatabase::of(postgres).await;
    let tokens = tokens(0);
    let mut server = Process::start(&[("DATABASE_URL", &db.url), ("OFFGEN_TOKENS", &tokens)]);
    let client = reqwest::Client::new();
    let first = push(&client, &server.base, json!([ranger_insert("m-1")])).await;
    assert_eq!(first.status(), StatusCode::OK);

    let held = Held::take(&db.url).await;
    let in_flight = tokio::spawn({
        let (client, base) = (client.clone(), server.base.clone());
        async move {
            let response = push(&client, &base, json!([update_ranger("m-2", 1, "Ana M.")])).await;
            (response.status(), response.json::<Value>().await.unwrap())
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!in_flight.is_finished(), "the push waits for the held lock");
    server.terminate();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(server.running(), "the server waits for the push in flight");
    assert!(
        tokio::net::TcpStream::connect(&server.addr).await.is_err(),
        "no new connections once shutting down"
    );
    held.release().await;
    let (status, body) = in_flight.await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"][0]["status"], "accepted", "{body}");
    let exit = server
        .wait(Duration::from_secs(5))
        .expect("the server exits");
    assert!(exit.success(), "{exit:?}\n{}", server.stderr());
    let messages: Vec<String> = server
        .logs()
        .iter()
        .map(|l| l["message"].as_str().unwrap_or("").to_owned())
        .collect();
    assert!(
        messages.iter().any(|m| m.starts_with("shutting down")),
        "{messages:?}"
    );
    assert_eq!(messages.last().map(String::as_str), Some("stopped"));
}

#[tokio::test]
async fn graceful_shutdown_finishes_the_push_in_flight_sqlite() {
    graceful_shutdown_finishes_the_push_in_flight(false).await;
}

#[tokio::test]
async fn graceful_shutdown_finishes_the_push_in_flight_postgres() {
    graceful_shutdown_finishes_the_push_in_flight(true).await;
}

#[test]
fn settings_that_cannot_work_stop_the_server_at_start_with_exit_2() {
    let db = TestDatabase::sqlite();
    for (env, says) in [
        (vec![("DATABASE_URL", db.url.as_str())], "OFFGEN_TOKENS"),
        (
            vec![
                ("DATABASE_URL", db.url.as_str()),
                ("OFFGEN_TOKENS", "a=b"),
                ("OFFGEN_IDEMPOTENCY_DAYS", "forever"),
            ],
            "OFFGEN_IDEMPOTENCY_DAYS=forever",
        ),
        (
            vec![
                ("DATABASE_URL", db.url.as_str()),
                ("OFFGEN_TOKENS", "a=b"),
                ("OFFGEN_LOG_FORMAT", "xml"),
            ],
            "OFFGEN_LOG_FORMAT=xml",
        ),
        (
            vec![
                ("DATABASE_URL", db.url.as_str()),
                ("OFFGEN_TOKENS", "a=b"),
                ("OFFGEN_ATTACHMENT_STORE", "ftp://photos"),
            ],
            "OFFGEN_ATTACHMENT_STORE: `ftp://photos` is not an attachment store",
        ),
        (
            vec![
                ("DATABASE_URL", db.url.as_str()),
                ("OFFGEN_TOKENS", "a=b"),
                ("OFFGEN_ATTACHMENT_STORE", "s3://photos"),
            ],
            "feature `s3-tls`",
        ),
    ] {
        let (status, logs) = match Process::try_start(&env) {
            Ok(_) => panic!("started with {env:?}"),
            Err(failed) => failed,
        };
        assert_eq!(status.and_then(|s| s.code()), Some(2), "{env:?}: {logs:?}");
        assert!(logs.join("\n").contains(says), "{env:?}: {logs:?}");
    }
    // A database that cannot be opened is a failure to start (1), not a settings problem.
    let (status, logs) = match Process::try_start(&[
        ("DATABASE_URL", "sqlite:/nonexistent/dir/x.db"),
        ("OFFGEN_TOKENS", "a=b"),
    ]) {
        Ok(_) => panic!("started without a database"),
        Err(failed) => failed,
    };
    assert_eq!(status.and_then(|s| s.code()), Some(1), "{logs:?}");
    assert!(
        logs.join("\n")
            .contains("cannot open sqlite:/nonexistent/dir/x.db")
    );
}

async fn expired_push_results_are_pruned_at_start(postgres: bool) {
    let db = TestDatabase::of(postgres).await;
    let tokens = tokens(0);
    // A first run migrates the database; then two results are planted: one past the
    // retention period and one within it.
    let mut first = Process::start(&[("DATABASE_URL", &db.url), ("OFFGEN_TOKENS", &tokens)]);
    first.kill();
    let day = 86_400_000i64;
    let now = offgen_runtime::server::now_ms();
    let plant = format!(
        "INSERT INTO _offgen_mutations (mutation_id, user_id, client_id, created_at) VALUES \
         ('old', 'u', 'c', {}), ('recent', 'u', 'c', {})",
        now - 31 * day,
        now - 29 * day
    );
    let remaining = || async {
        if postgres {
            let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM _offgen_mutations WHERE mutation_id IN ('old', 'recent')",
            )
            .fetch_one(&pool)
            .await
            .unwrap()
        } else {
            let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM _offgen_mutations WHERE mutation_id IN ('old', 'recent')",
            )
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    if postgres {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(plant))
            .execute(&pool)
            .await
            .unwrap();
    } else {
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(plant))
            .execute(&pool)
            .await
            .unwrap();
    }
    assert_eq!(remaining().await, 2);
    let server = Process::start(&[
        ("DATABASE_URL", &db.url),
        ("OFFGEN_TOKENS", &tokens),
        ("OFFGEN_IDEMPOTENCY_DAYS", "30"),
    ]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let logged = || {
        server
            .logs()
            .into_iter()
            .find(|l| l["message"] == "pruned expired push results")
    };
    // The log line follows the commit: wait for both.
    while remaining().await != 1 || logged().is_none() {
        assert!(
            Instant::now() < deadline,
            "never pruned:\n{}",
            server.stderr()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pruned = logged();
    assert_eq!(
        pruned.map(|l| l["pruned"].clone()),
        Some(json!(1)),
        "{}",
        server.stderr()
    );
}

#[tokio::test]
async fn expired_push_results_are_pruned_at_start_sqlite() {
    expired_push_results_are_pruned_at_start(false).await;
}

#[tokio::test]
async fn expired_push_results_are_pruned_at_start_postgres() {
    expired_push_results_are_pruned_at_start(true).await;
}

#[tokio::test]
async fn every_log_line_of_a_request_carries_its_id_and_metrics_count_what_happened() {
    let db = TestDatabase::postgres().await;
    let tokens = tokens(0);
    let server = Process::start(&[("DATABASE_URL", &db.url), ("OFFGEN_TOKENS", &tokens)]);
    let client = reqwest::Client::new();

    // A request id from a proxy is kept; without one, the server makes one.
    let response = client
        .post(format!("{}/sync/push", server.base))
        .bearer_auth(ANA_TOKEN)
        .header("x-request-id", "from-the-proxy-1")
        .json(&json!({"clientId": "d", "mutations": [ranger_insert("m-1")]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-request-id"], "from-the-proxy-1");
    let made = push(&client, &server.base, json!([ranger_insert("m-1")])).await;
    let made_id = made.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(made_id.len(), 36, "a UUID: {made_id}");

    // One of each push result: the retry above (accepted again, from its record), a stale
    // update of a `version` entity (conflict), an unknown entity (rejected).
    let results = push(
        &client,
        &server.base,
        json!([
            update_ranger("m-2", 0, "stale"),
            insert("nope", ANA, json!({}), "m-3"),
        ]),
    )
    .await
    .json::<Value>()
    .await
    .unwrap();
    assert_eq!(results["results"][0]["status"], "conflict", "{results}");
    assert_eq!(results["results"][1]["status"], "rejected", "{results}");
    let unauthorized = client
        .get(format!("{}/sync/pull", server.base))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), StatusCode::UNAUTHORIZED);
    let _ = client
        .get(format!("{}/v1/rangers/{ANA}", server.base))
        .bearer_auth(ANA_TOKEN)
        .send()
        .await
        .unwrap();

    let metrics = client
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    assert!(
        metrics.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = metrics.text().await.unwrap();
    for (series, value) in [
        (
            "offgen_http_requests_total{route=\"/sync/push\",method=\"POST\",status=\"200\"}",
            3.0,
        ),
        (
            "offgen_http_requests_total{route=\"/sync/pull\",method=\"GET\",status=\"401\"}",
            1.0,
        ),
        (
            "offgen_http_requests_total{route=\"/v1/rangers/{id}\",method=\"GET\",status=\"200\"}",
            1.0,
        ),
        ("offgen_push_mutations_total{status=\"accepted\"}", 2.0),
        ("offgen_push_mutations_total{status=\"conflict\"}", 1.0),
        ("offgen_push_mutations_total{status=\"rejected\"}", 1.0),
        ("offgen_push_rejections_total{code=\"unknown-entity\"}", 1.0),
        ("offgen_push_conflicts_total{entity=\"rangers\"}", 1.0),
        ("offgen_push_conflicts_total{entity=\"observations\"}", 0.0),
        (
            "offgen_http_request_duration_seconds_count{route=\"/sync/push\"}",
            3.0,
        ),
        ("offgen_idempotency_records", 1.0),
        ("offgen_database_up", 1.0),
    ] {
        assert_eq!(sample(&text, series), Some(value), "{series} in\n{text}");
    }
    assert!(sample(&text, "offgen_idempotency_oldest_age_seconds").unwrap() < 60.0);

    // Every line written while answering a request is inside its span, with its id; the
    // answer's line says the status, and the user once authenticated.
    let answered_proxied = |logs: &[Value]| {
        logs.iter().any(|l| {
            l["message"] == "answered"
                && l["spans"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|s| s["request_id"] == "from-the-proxy-1"))
        })
    };
    let logs = server.logs_once(answered_proxied);
    let of_request = |id: &str| -> Vec<Value> {
        logs.iter()
            .filter(|l| {
                l["spans"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|s| s["request_id"] == id))
            })
            .cloned()
            .collect()
    };
    let proxied = of_request("from-the-proxy-1");
    let answered = proxied
        .iter()
        .find(|l| l["message"] == "answered")
        .expect("an answer line");
    assert_eq!(answered["status"], 200);
    assert_eq!(answered["spans"][0]["route"], "/sync/push");
    assert_eq!(answered["spans"][0]["user"], ANA);
    assert!(!of_request(&made_id).is_empty());
    // Lines outside any request (start, pruning) are the only ones without a span.
    for line in &logs {
        let message = line["message"].as_str().unwrap_or("");
        if line["spans"].as_array().is_none_or(|s| s.is_empty()) {
            assert!(
                ["listening", "pruned expired push results"].contains(&message)
                    || line["target"]
                        .as_str()
                        .is_some_and(|t| t.starts_with("sqlx")),
                "a request's line without its span: {line}"
            );
        }
    }
}

#[tokio::test]
async fn a_full_server_turns_requests_away_and_a_slow_one_is_cut_off_with_503() {
    let db = TestDatabase::postgres().await;
    let tokens = tokens(0);
    let server = Process::start(&[
        ("DATABASE_URL", &db.url),
        ("OFFGEN_TOKENS", &tokens),
        ("OFFGEN_MAX_IN_FLIGHT", "1"),
        ("OFFGEN_REQUEST_TIMEOUT_SECS", "1"),
        ("OFFGEN_METRICS_TOKEN", "scrape-token"),
    ]);
    let client = reqwest::Client::new();
    assert_eq!(
        push(&client, &server.base, json!([ranger_insert("m-1")]))
            .await
            .status(),
        StatusCode::OK
    );
    let held = Held::take(&db.url).await;
    let slow = tokio::spawn({
        let (client, base) = (client.clone(), server.base.clone());
        async move {
            let started = Instant::now();
            let response = push(&client, &base, json!([update_ranger("m-2", 1, "x")])).await;
            (started.elapsed(), response)
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let turned_away = client
        .get(format!("{}/sync/pull", server.base))
        .bearer_auth(ANA_TOKEN)
        .send()
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_millis(200), "at once");
    assert_eq!(turned_away.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(turned_away.headers()["retry-after"], "2");
    assert_eq!(
        turned_away.headers()["content-type"],
        "application/problem+json"
    );
    // /metrics and /livez are outside the limit: a saturated server is when metrics are
    // needed, and it must not be taken for dead.
    let live = client
        .get(format!("{}/livez", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), StatusCode::OK);
    let unauthorized = client
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        unauthorized.headers()["content-type"],
        "application/problem+json"
    );
    let metrics = client
        .get(format!("{}/metrics", server.base))
        .bearer_auth("scrape-token")
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    assert_eq!(
        sample(
            &metrics.text().await.unwrap(),
            "offgen_http_requests_in_flight"
        ),
        Some(2.0),
        "the held push and this scrape"
    );

    let (took, response) = slow.await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(3),
        "{took:?}"
    );
    held.release().await;
    // Cut off, the push was rolled back: sent again, it applies once.
    let again = push(&client, &server.base, json!([update_ranger("m-2", 1, "x")]))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(again["results"][0]["status"], "accepted", "{again}");
    assert_eq!(again["results"][0]["version"], 2, "{again}");
    let text = client
        .get(format!("{}/metrics", server.base))
        .bearer_auth("scrape-token")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(sample(&text, "offgen_http_requests_shed_total"), Some(1.0));
    assert_eq!(
        sample(&text, "offgen_http_request_timeouts_total"),
        Some(1.0)
    );
}

#[tokio::test]
async fn a_second_signal_cuts_the_grace_period_short() {
    let db = TestDatabase::sqlite();
    let tokens = tokens(0);
    let mut server = Process::start(&[("DATABASE_URL", &db.url), ("OFFGEN_TOKENS", &tokens)]);
    let client = reqwest::Client::new();
    assert_eq!(
        push(&client, &server.base, json!([ranger_insert("m-1")]))
            .await
            .status(),
        StatusCode::OK
    );
    let held = Held::take(&db.url).await;
    let in_flight = tokio::spawn({
        let (client, base) = (client.clone(), server.base.clone());
        async move { push(&client, &base, json!([update_ranger("m-2", 1, "x")])).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.terminate();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(server.running(), "the first signal waits (30 s by default)");
    let asked_again = Instant::now();
    server.terminate();
    let exit = server
        .wait(Duration::from_secs(3))
        .expect("the second signal ends it");
    assert!(asked_again.elapsed() < Duration::from_secs(2));
    assert!(exit.success(), "{exit:?}");
    drop(held);
    // The cut-off push got no answer; nothing of it was applied.
    let _ = in_flight.await;
    let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
    let name: String = sqlx::query_scalar("SELECT name FROM rangers")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(name, "Ana");
}
