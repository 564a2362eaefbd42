//! The pull cursor on PostgreSQL, where concurrent transactions commit out of sequence order:
//! every committed change is pulled exactly once, none is skipped.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use offgen_runtime::server::Database;
use offgen_runtime::values::full_record;
use ranger_server::entities::OBSERVATIONS;
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::{PgPool, Postgres, Transaction};
use support::*;

fn pool(s: &Server) -> PgPool {
    match &s.db {
        Database::Postgres(pool) => pool.clone(),
        Database::Sqlite(_) => unreachable!("these tests run on PostgreSQL"),
    }
}

/// Writes an observation inside `tx` with the generated insert statement, as a push would.
async fn insert_in(tx: &mut Transaction<'_, Postgres>, id: &str) {
    let data = full_record(&OBSERVATIONS, observation(ANA, 1).as_object().unwrap()).unwrap();
    let mut flat = data;
    for (key, value) in [
        ("id", json!(id)),
        ("version", json!(1)),
        ("updatedAt", json!(1)),
        ("deletedAt", Value::Null),
        ("_seq", json!(0)),
    ] {
        flat.insert(key.to_owned(), value);
    }
    sqlx::query(OBSERVATIONS.sql.postgres.insert)
        .bind(Value::Array(vec![Value::Object(flat)]).to_string())
        .execute(&mut **tx)
        .await
        .unwrap();
}

/// A puller that trusts the sequence alone (what the design warns against).
async fn naive_pull(pool: &PgPool, after: &mut i64) -> Vec<String> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT id::text, _offgen_seq FROM observations WHERE _offgen_seq > $1 ORDER BY _offgen_seq",
    )
    .bind(*after)
    .fetch_all(pool)
    .await
    .unwrap();
    if let Some((_, seq)) = rows.last() {
        *after = *seq;
    }
    rows.into_iter().map(|(id, _)| id).collect()
}

/// Our puller: one page from the server.
async fn pull_page(s: &Server, cursor: &mut String) -> (Vec<Value>, bool) {
    let page: Value = s
        .request(
            Method::GET,
            &format!("/sync/pull?cursor={cursor}&limit=5"),
            Some(ANA_TOKEN),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    *cursor = page["cursor"].as_str().unwrap().to_owned();
    (
        page["records"].as_array().unwrap().clone(),
        page["hasMore"].as_bool().unwrap(),
    )
}

async fn drain(s: &Server, cursor: &mut String, seen: &mut Vec<String>) {
    loop {
        let (records, more) = pull_page(s, cursor).await;
        seen.extend(
            records
                .iter()
                .filter(|r| r["entity"] == "observations")
                .map(|r| r["id"].as_str().unwrap().to_owned()),
        );
        if !more {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_that_commits_late_is_still_pulled_and_a_sequence_cursor_would_skip_it() {
    let s = support::start(Backend::Postgres).await;
    let pool = pool(&s);
    let (mut ours, mut naive) = (String::new(), 0i64);
    let (mut ours_seen, mut naive_seen) = (Vec::new(), Vec::new());
    drain(&s, &mut ours, &mut ours_seen).await;
    naive_seen.extend(naive_pull(&pool, &mut naive).await);

    // A slow transaction takes its sequence value first and commits last.
    let slow = uuid(500);
    let mut tx = pool.begin().await.unwrap();
    insert_in(&mut tx, &slow).await;
    let fast: Vec<String> = (0..3).map(|i| uuid(501 + i)).collect();
    let inserts: Vec<Value> = fast
        .iter()
        .map(|id| insert("observations", id, observation(ANA, 1)))
        .collect();
    assert!(
        s.push(ANA_TOKEN, json!(inserts))
            .await
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "accepted")
    );

    naive_seen.extend(naive_pull(&pool, &mut naive).await);
    drain(&s, &mut ours, &mut ours_seen).await;
    assert!(
        fast.iter().all(|id| naive_seen.contains(id)),
        "the naive puller moved past the slow row's sequence"
    );
    assert!(
        fast.iter().all(|id| !ours_seen.contains(id)),
        "ours waits: the fast rows are held back while an older transaction may still commit"
    );

    tx.commit().await.unwrap();
    naive_seen.extend(naive_pull(&pool, &mut naive).await);
    assert!(
        !naive_seen.contains(&slow),
        "the naive cursor skipped the late commit for good"
    );
    // Pullable once every older transaction on the server has ended, other tests' included:
    // one of theirs, younger than the slow one and older than the fast ones, can hold the fast
    // ones back a little longer, so wait for all of them.
    let expected: BTreeSet<String> = fast.iter().cloned().chain([slow.clone()]).collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !expected.iter().all(|id| ours_seen.contains(id)) && std::time::Instant::now() < deadline
    {
        drain(&s, &mut ours, &mut ours_seen).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        ours_seen.iter().cloned().collect::<BTreeSet<_>>(),
        expected,
        "every change pulled within 30 s of the slow commit; pulled: {ours_seen:?}"
    );
    assert_eq!(
        ours_seen.len(),
        expected.len(),
        "each change exactly once: {ours_seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_and_pullers_every_committed_change_pulled_exactly_once() {
    let s = Arc::new(support::start(Backend::Postgres).await);
    let pool = pool(&s);
    // Set once every writer has committed: what each puller must end up with.
    let written_all: Arc<std::sync::OnceLock<BTreeSet<String>>> = Arc::default();

    let mut pullers = Vec::new();
    for _ in 0..3 {
        let (s, written_all) = (Arc::clone(&s), Arc::clone(&written_all));
        pullers.push(tokio::spawn(async move {
            let mut cursor = String::new();
            let mut seen = Vec::new();
            let mut deadline = None;
            loop {
                drain(&s, &mut cursor, &mut seen).await;
                if let Some(written) = written_all.get() {
                    // Committed changes become pullable once every older transaction on the
                    // PostgreSQL server has ended, other tests' included: keep pulling until
                    // all are here, or give up after 30 s (and the assertions say what is
                    // missing).
                    let deadline = *deadline
                        .get_or_insert_with(|| std::time::Instant::now() + Duration::from_secs(30));
                    if written.iter().all(|id| seen.contains(id))
                        || std::time::Instant::now() > deadline
                    {
                        return seen;
                    }
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }));
    }

    let mut writers = Vec::new();
    for w in 0..4u64 {
        let s = Arc::clone(&s);
        writers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for b in 0..20u64 {
                let batch: Vec<String> = (0..4)
                    .map(|i| uuid(10_000 + w * 1000 + b * 10 + i))
                    .collect();
                let inserts: Vec<Value> = batch
                    .iter()
                    .map(|id| insert("observations", id, observation(ANA, 1)))
                    .collect();
                let results = s.push(ANA_TOKEN, json!(inserts)).await;
                assert!(
                    results
                        .as_array()
                        .unwrap()
                        .iter()
                        .all(|r| r["status"] == "accepted"),
                    "{results}"
                );
                ids.extend(batch);
            }
            ids
        }));
    }
    // Slow transactions interleaved with the fast ones: each takes its place in the sequence
    // early and commits late.
    let slow_pool = pool.clone();
    let slow = tokio::spawn(async move {
        let mut ids = Vec::new();
        for i in 0..6u64 {
            let id = uuid(90_000 + i);
            let mut tx = slow_pool.begin().await.unwrap();
            insert_in(&mut tx, &id).await;
            tokio::time::sleep(Duration::from_millis(40)).await;
            tx.commit().await.unwrap();
            ids.push(id);
        }
        ids
    });

    let mut written = BTreeSet::new();
    for writer in writers {
        written.extend(writer.await.unwrap());
    }
    written.extend(slow.await.unwrap());
    written_all.set(written.clone()).unwrap();

    for puller in pullers {
        let seen = puller.await.unwrap();
        let mut counts: BTreeMap<&String, usize> = BTreeMap::new();
        for id in &seen {
            *counts.entry(id).or_default() += 1;
        }
        let duplicates: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
        assert!(duplicates.is_empty(), "pulled twice: {duplicates:?}");
        let seen: BTreeSet<String> = seen.into_iter().collect();
        let missing: Vec<_> = written.difference(&seen).collect();
        assert!(missing.is_empty(), "never pulled: {missing:?}");
        assert_eq!(seen.len(), written.len());
    }
}
