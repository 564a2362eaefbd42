//! Faults as they happen in the field and in operations, against the real binary:
//! - the server killed (SIGKILL) again and again while four devices push, each device retrying
//!   the same batch (same mutation ids) until it is answered, as the sync client does: nothing
//!   is lost and nothing is applied twice;
//! - the database stopped and started again under a running server: `/healthz` answers within a
//!   bounded time and tells the truth throughout, every request in the outage is a 503 with
//!   `Retry-After` (the one cut off by the shutdown's 57P01 too), and the server serves again by
//!   itself when the database is back.

mod running;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use running::*;
use serde_json::{Value, json};

const DEVICES: usize = 4;
const KILLS: usize = 10;

/// Sends one push body until the server answers it, as a device does: a lost connection or a
/// 503 means "try again, the same batch"; any other answer is a bug.
async fn push_until_answered(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    body: &Value,
    failures: &AtomicU64,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let sent = client
            .post(format!("{base}/sync/push"))
            .bearer_auth(token)
            .json(body)
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        match sent {
            Ok(response) if response.status() == StatusCode::OK => {
                // A kill can also cut the answer off half-way.
                if let Ok(answer) = response.json::<Value>().await {
                    return answer["results"].as_array().unwrap().clone();
                }
            }
            Ok(response) => {
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
            }
            Err(_) => {}
        }
        failures.fetch_add(1, Ordering::Relaxed);
        assert!(Instant::now() < deadline, "a push was never answered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn observation_id(device: usize, group: usize, n: usize) -> String {
    format!("00000000-0000-4000-8000-{device:04x}{:08x}", group * 3 + n)
}

/// One device: its ranger, then groups of three observations, each inserted and updated
/// twice in three batches (one row appears once per batch), until told to stop. Returns how
/// many groups it pushed.
async fn device(d: usize, base: String, stop: Arc<AtomicBool>, failures: Arc<AtomicU64>) -> usize {
    let client = reqwest::Client::new();
    let token = format!("device-{d}");
    let user = device_user(d);
    let mut next_mutation = 0usize;
    let mut mutation = move || {
        next_mutation += 1;
        format!("d{d}-m{next_mutation}")
    };
    let ranger = json!({"clientId": format!("device-{d}"), "mutations": [{
        "mutationId": mutation(), "entity": "rangers", "id": user, "op": "insert",
        "data": {"name": format!("Device {d}"), "badgeNumber": format!("B-{d}")}}]});
    let results = push_until_answered(&client, &base, &token, &ranger, &failures).await;
    assert_eq!(results[0]["status"], "accepted", "{results:?}");
    let mut groups = 0;
    while !stop.load(Ordering::Relaxed) {
        let ids: Vec<String> = (0..3).map(|n| observation_id(d, groups, n)).collect();
        let mut versions = [0i64; 3];
        for step in 0..3 {
            let mutations: Vec<Value> = ids
                .iter()
                .zip(versions)
                .map(|(id, version)| {
                    if step == 0 {
                        json!({"mutationId": mutation(), "entity": "observations", "id": id, "op": "insert",
                               "data": {"ranger": user, "kind": "tracks", "latitude": -1.5, "longitude": 36.5,
                                        "recordedAt": 1_700_000_000_000i64, "modifiedAt": 1}})
                    } else {
                        json!({"mutationId": mutation(), "entity": "observations", "id": id, "op": "update",
                               "baseVersion": version,
                               "data": {"notes": format!("u{step}"), "count": step + 1, "modifiedAt": step + 1}})
                    }
                })
                .collect();
            let body = json!({"clientId": format!("device-{d}"), "mutations": mutations});
            let results = push_until_answered(&client, &base, &token, &body, &failures).await;
            for (result, version) in results.iter().zip(versions.iter_mut()) {
                // A retry of a batch the killed server had committed gets its first results
                // back: accepted, with the same version, never a conflict.
                assert_eq!(result["status"], "accepted", "{result}");
                assert_eq!(result["version"], *version + 1, "{result}");
                *version += 1;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        groups += 1;
    }
    groups
}

async fn sigkill_during_pushes_loses_and_duplicates_nothing(postgres: bool) {
    let db = TestDatabase::of(postgres).await;
    let tokens = tokens(DEVICES);
    let server = Process::start(&[("DATABASE_URL", &db.url), ("OFFGEN_TOKENS", &tokens)]);
    let base = server.base.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicU64::new(0));
    let devices: Vec<_> = (0..DEVICES)
        .map(|d| tokio::spawn(device(d, base.clone(), stop.clone(), failures.clone())))
        .collect();

    let killer = tokio::task::spawn_blocking({
        let stop = stop.clone();
        move || {
            let mut server = server;
            // A fixed sequence of pauses between 60 and 250 ms: reproducible, yet not in step
            // with the devices' batches.
            let mut seed = 0x2545_f491u64;
            for _ in 0..KILLS {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                std::thread::sleep(Duration::from_millis(60 + (seed >> 33) % 190));
                server.restart_after_kill();
            }
            std::thread::sleep(Duration::from_millis(100));
            stop.store(true, Ordering::Relaxed);
            server
        }
    });
    let server = killer.await.unwrap();
    let mut groups = Vec::new();
    for device in devices {
        groups.push(device.await.unwrap());
    }
    let failed = failures.load(Ordering::Relaxed);
    println!(
        "{KILLS} kills; {failed} push attempts failed and were retried; groups per device {groups:?}"
    );
    assert!(
        failed >= KILLS as u64,
        "the kills must hit pushes in flight: only {failed} attempts failed"
    );

    // Every device's every write is there exactly once: each row has the version of one
    // insert and two updates, and each mutation is recorded once.
    let rows = query_rows(&db.url).await;
    let expected_mutations: usize = groups.iter().map(|g| 1 + 9 * g).sum();
    for (d, &g) in groups.iter().enumerate() {
        assert!(g > 0, "device {d} pushed nothing");
        let mine: Vec<_> = rows.iter().filter(|r| r.0 == device_user(d)).collect();
        assert_eq!(mine.len(), 3 * g, "device {d}");
        for (_, version, count, notes) in &mine {
            assert_eq!(
                (*version, *count, notes.as_deref()),
                (3, 3, Some("u2")),
                "device {d}"
            );
        }
    }
    assert_eq!(
        count_mutations(&db.url).await,
        expected_mutations as i64,
        "one idempotency record per mutation"
    );
    // And each device pulls exactly its rows, once each.
    let client = reqwest::Client::new();
    for (d, &g) in groups.iter().enumerate() {
        let page: Value = client
            .get(format!("{}/sync/pull?limit=1000", server.base))
            .bearer_auth(format!("device-{d}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let observations: Vec<&Value> = page["records"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["entity"] == "observations")
            .collect();
        assert_eq!(observations.len(), 3 * g, "device {d}");
        assert!(observations.iter().all(|r| r["version"] == 3));
    }
}

/// An observation's ranger, version, count and notes.
type Row = (String, i64, i64, Option<String>);

async fn query_rows(url: &str) -> Vec<Row> {
    if url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query_as("SELECT ranger::text, version, count, notes FROM observations ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap()
    } else {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query_as("SELECT ranger, version, count, notes FROM observations ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap()
    }
}

async fn count_mutations(url: &str) -> i64 {
    let sql = "SELECT count(*) FROM _offgen_mutations";
    if url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap()
    } else {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_pushes_loses_and_duplicates_nothing_sqlite() {
    sigkill_during_pushes_loses_and_duplicates_nothing(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_pushes_loses_and_duplicates_nothing_postgres() {
    sigkill_during_pushes_loses_and_duplicates_nothing(true).await;
}

/// `/healthz` with a probe's patience: its status (or `None` if no answer within 1 s) and how
/// long it took.
async fn probe(client: &reqwest::Client, base: &str) -> (Option<StatusCode>, Duration) {
    let started = Instant::now();
    let status = client
        .get(format!("{base}/healthz"))
        .timeout(Duration::from_secs(1))
        .send()
        .await
        .ok()
        .map(|r| r.status());
    (status, started.elapsed())
}

fn assert_unavailable(response_status: StatusCode, headers: &reqwest::header::HeaderMap) {
    assert_eq!(response_status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers["content-type"], "application/problem+json");
    assert!(headers.contains_key("retry-after"), "{headers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_is_503_with_health_on_time_and_the_server_recovers_by_itself() {
    let cluster = Cluster::start();
    let url = create_database(&cluster.url).await;
    let tokens = tokens(0);
    let server = Process::start(&[
        ("DATABASE_URL", &url),
        ("OFFGEN_TOKENS", &tokens),
        // A request in the outage waits this long for a connection before its 503.
        ("OFFGEN_DB_ACQUIRE_TIMEOUT_SECS", "1"),
    ]);
    let client = reqwest::Client::new();
    let push = |mutations: Value| {
        client
            .post(format!("{}/sync/push", server.base))
            .bearer_auth(ANA_TOKEN)
            .json(&json!({"clientId": "d", "mutations": mutations}))
            .send()
    };
    let ranger = |m: &str, name: &str, op: &str, base: Option<i64>| {
        json!({"mutationId": m, "entity": "rangers", "id": ANA, "op": op, "baseVersion": base,
               "data": {"name": name, "badgeNumber": "B-1"}})
    };
    let first = push(json!([ranger("m-1", "Ana", "insert", None)]))
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(probe(&client, &server.base).await.0, Some(StatusCode::OK));

    // Before the outage, on this cluster of the test's own (a transaction holding an id holds
    // back pulls server-wide, so not on the suite's shared one): such a transaction shows in
    // the pull lag.
    let scrape = || async {
        client
            .get(format!("{}/metrics", server.base))
            .timeout(Duration::from_secs(1))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    assert_eq!(
        sample(&scrape().await, "offgen_pull_lag_seconds"),
        Some(0.0)
    );
    let long = sqlx::PgPool::connect(&url).await.unwrap();
    let mut long = long.begin().await.unwrap();
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut *long)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let lag = sample(&scrape().await, "offgen_pull_lag_seconds").unwrap();
    assert!(lag >= 1.1, "{lag}");
    long.rollback().await.unwrap();

    // A push in flight when the database shuts down: held on a row lock, then the shutdown
    // ends its session with 57P01 (admin shutdown).
    let holder = sqlx::PgPool::connect(&url).await.unwrap();
    let mut held = holder.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM rangers WHERE id = $1::uuid FOR UPDATE")
        .bind(ANA)
        .execute(&mut *held)
        .await
        .unwrap();
    let in_flight = tokio::spawn(
        client
            .post(format!("{}/sync/push", server.base))
            .bearer_auth(ANA_TOKEN)
            .json(&json!({"clientId": "d", "mutations": [ranger("m-2", "Ana M.", "update", Some(1))]}))
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    cluster.halt();
    drop(held);
    let cut_off = in_flight.await.unwrap().unwrap();
    let (status, headers) = (cut_off.status(), cut_off.headers().clone());
    let body = cut_off.text().await.unwrap();
    assert_unavailable(status, &headers);
    assert!(body.contains("/problems/unavailable"), "{body}");

    // The outage: every probe is answered, in time, and says 503; so do the requests.
    let outage = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut probes = 0;
    while outage.elapsed() < Duration::from_millis(1500) {
        let (status, took) = probe(&client, &server.base).await;
        assert_eq!(
            status,
            Some(StatusCode::SERVICE_UNAVAILABLE),
            "after {took:?}"
        );
        slowest = slowest.max(took);
        probes += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        slowest < Duration::from_millis(500),
        "slowest probe {slowest:?}"
    );
    let started = Instant::now();
    let refused = push(json!([ranger("m-3", "x", "update", Some(1))]))
        .await
        .unwrap();
    let push_took = started.elapsed();
    assert_unavailable(refused.status(), refused.headers());
    assert!(push_took < Duration::from_secs(3), "{push_took:?}");
    let pull = client
        .get(format!("{}/sync/pull", server.base))
        .bearer_auth(ANA_TOKEN)
        .send()
        .await
        .unwrap();
    assert_unavailable(pull.status(), pull.headers());
    assert_eq!(sample(&scrape().await, "offgen_database_up"), Some(0.0));
    // Alive all the same: an orchestrator must not restart a server for its database.
    let live = client
        .get(format!("{}/livez", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), StatusCode::OK);

    // The database is back: health says so at once, and the same server serves again.
    cluster.resume();
    let back = Instant::now();
    loop {
        let (status, _) = probe(&client, &server.base).await;
        if status == Some(StatusCode::OK) {
            break;
        }
        assert_eq!(status, Some(StatusCode::SERVICE_UNAVAILABLE));
        assert!(
            back.elapsed() < Duration::from_secs(3),
            "health never recovered"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let recovered = back.elapsed();
    let again = push(json!([ranger("m-2", "Ana M.", "update", Some(1))]))
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["results"][0]["status"], "accepted", "{again}");
    assert_eq!(
        again["results"][0]["version"], 2,
        "the cut-off push was not applied"
    );
    // What was measured, for the record (visible with --nocapture).
    println!(
        "outage: {probes} probes, slowest {slowest:?}; a push answered 503 in {push_took:?}; \
         healthy {recovered:?} after the database was back"
    );
}
