//! Conflicts between devices, on both databases: lww converges whatever order pushes arrive
//! in, and what loses is kept where an admin can see it.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::*;

/// A push from one device: its own client id, one result per mutation.
async fn push_from(s: &Server, device: &str, mutations: Value) -> Value {
    let response = s
        .request(Method::POST, "/sync/push", Some(ANA_TOKEN))
        .json(&json!({"clientId": device, "mutations": mutations}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert!(body["serverTime"].is_i64(), "{body}");
    body["results"].clone()
}

/// An lww update with its device's stamp and, optionally, per-field stamps.
fn stamped(id: &str, stamp: i64, data: Value, field_stamps: Option<Value>) -> Value {
    let mut m = update("observations", id, 1, data);
    m["stamp"] = json!(stamp);
    if let Some(stamps) = field_stamps {
        m["fieldStamps"] = stamps;
    }
    m
}

/// A deterministic shuffle (splitmix64), so a failing order can be replayed.
fn shuffled<T: Clone>(items: &[T], seed: u64) -> Vec<T> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut out = items.to_vec();
    for i in (1..out.len()).rev() {
        out.swap(i, (next() % (i as u64 + 1)) as usize);
    }
    out
}

async fn get(s: &Server, id: &str) -> (reqwest::StatusCode, Value) {
    let response = s
        .request(
            Method::GET,
            &format!("/v1/observations/{id}"),
            Some(ANA_TOKEN),
        )
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

on_both!(
    lww_converges_whatever_order_the_pushes_arrive_in,
    |s: Server| async move {
        // Three devices edit two observations, all from version 1, in every order tried. Stamps
        // are in the past, so no clamping (which depends on arrival time) comes into play.
        let t = offgen_runtime::server::now_ms() - 600_000;
        let mutations = |edited: &str, deleted: &str| {
            vec![
                (
                    "tablet",
                    stamped(
                        edited,
                        t + 10,
                        json!({"notes": "tablet", "modifiedAt": t + 10}),
                        None,
                    ),
                ),
                (
                    "phone",
                    stamped(
                        edited,
                        t + 20,
                        json!({"count": 5, "modifiedAt": t + 20}),
                        None,
                    ),
                ),
                (
                    "watch",
                    stamped(
                        edited,
                        t + 5,
                        json!({"notes": "watch", "species": "lion", "modifiedAt": t + 5}),
                        None,
                    ),
                ),
                // A background change that does not touch modifiedAt: its stamp still counts.
                (
                    "phone",
                    stamped(edited, t + 30, json!({"status": "final"}), None),
                ),
                // Per-field stamps: the notes were edited earlier than the count.
                (
                    "tablet",
                    stamped(
                        edited,
                        t + 25,
                        json!({"notes": "tablet again", "count": 7, "modifiedAt": t + 25}),
                        Some(json!({"notes": t + 15})),
                    ),
                ),
                // The same stamp as the watch's species: the greater JSON text wins, always.
                (
                    "tablet",
                    stamped(edited, t + 5, json!({"species": "leopard"}), None),
                ),
                // A delete wins over any edit, before or after it.
                ("phone", delete("observations", deleted, 1)),
                (
                    "watch",
                    stamped(deleted, t + 40, json!({"notes": "too late"}), None),
                ),
            ]
        };
        let mut finals = Vec::new();
        for order in 0..12u64 {
            let (edited, deleted) = (uuid(1000 + 2 * order), uuid(1001 + 2 * order));
            let mut first = observation(ANA, t);
            first["notes"] = json!("first");
            let mut insert_edited = insert("observations", &edited, first);
            insert_edited["stamp"] = json!(t);
            let results = push_from(
                &s,
                "tablet",
                json!([
                    insert_edited,
                    insert("observations", &deleted, observation(ANA, t))
                ]),
            )
            .await;
            assert!(
                results
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|r| r["status"] == "accepted")
            );
            let all = mutations(&edited, &deleted);
            let order_of = match order {
                0 => all.clone(),
                1 => all.iter().rev().cloned().collect(),
                n => shuffled(&all, n),
            };
            for (device, mutation) in order_of {
                let result = push_from(&s, device, json!([mutation])).await;
                assert_ne!(result[0]["status"], "rejected", "{result}");
            }
            let (status, row) = get(&s, &edited).await;
            assert_eq!(status, 200);
            let mut data = row.as_object().unwrap().clone();
            for bookkeeping in ["id", "version", "updatedAt", "deletedAt"] {
                data.remove(bookkeeping);
            }
            assert_eq!(
                get(&s, &deleted).await.0,
                410,
                "order {order}: the delete won"
            );
            finals.push((order, Value::Object(data)));
        }
        let (_, expected) = &finals[0];
        assert_eq!(
            (
                &expected["notes"],
                &expected["count"],
                &expected["species"],
                &expected["status"],
                &expected["modifiedAt"]
            ),
            (
                &json!("tablet again"),
                &json!(7),
                &json!("lion"),
                &json!("final"),
                &json!(t + 25)
            ),
            "each field's newest write: {expected}"
        );
        for (order, data) in &finals {
            assert_eq!(data, expected, "order {order} ended elsewhere");
        }
    }
);
