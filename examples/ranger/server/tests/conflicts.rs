//! Conflicts between devices, on both databases: lww converges whatever order pushes arrive
//! in, and what loses is kept where an admin can see it.

mod running;
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

/// A problem+json answer: its status and body.
async fn problem(response: reqwest::Response) -> (reqwest::StatusCode, Value) {
    let status = response.status();
    assert_eq!(
        response.headers()[reqwest::header::CONTENT_TYPE],
        "application/problem+json"
    );
    (status, response.json().await.unwrap())
}

async fn audit(s: &Server, token: Option<&str>, query: &str) -> reqwest::Response {
    s.request(Method::GET, &format!("/admin/audit{query}"), token)
        .send()
        .await
        .unwrap()
}

async fn restore(s: &Server, token: Option<&str>, entry: &str) -> reqwest::Response {
    s.request(
        Method::POST,
        &format!("/admin/audit/{entry}/restore"),
        token,
    )
    .send()
    .await
    .unwrap()
}

on_both!(
    an_admin_lists_what_lost_and_restores_it_through_the_normal_write_path,
    |s: Server| async move {
        // server_wins: the station renamed the route; Ana's stale rename lost.
        let route = uuid(2000);
        let results = push_from(
            &s,
            "station",
            json!([insert(
                "patrol_routes",
                &route,
                json!({"name": "R", "sector": "north", "geometry": {}})
            )]),
        )
        .await;
        assert_eq!(results[0]["status"], "accepted");
        push_from(
            &s,
            "station",
            json!([update(
                "patrol_routes",
                &route,
                1,
                json!({"name": "Station's name"})
            )]),
        )
        .await;
        let lost = push_from(
            &s,
            "tablet",
            json!([update(
                "patrol_routes",
                &route,
                1,
                json!({"name": "Ranger's name"})
            )]),
        )
        .await;
        assert_eq!(lost[0]["status"], "conflict");
        // lww: an older note of Ana's lost to a newer one (owner-scoped: Ana's private row).
        let obs = uuid(2001);
        let mut first = insert("observations", &obs, observation(ANA, 1));
        first["stamp"] = json!(1);
        push_from(&s, "tablet", json!([first])).await;
        push_from(
            &s,
            "phone",
            json!([stamped(&obs, 300, json!({"notes": "private, newer"}), None)]),
        )
        .await;
        push_from(
            &s,
            "watch",
            json!([stamped(&obs, 200, json!({"notes": "private, older"}), None)]),
        )
        .await;

        // Only admins: no token is 401, a user's token 403, both problem+json, before anything
        // is read; Ben sees nothing of Ana's this way.
        for (token, status) in [(None, 401), (Some(ANA_TOKEN), 403), (Some(BEN_TOKEN), 403)] {
            for response in [
                audit(&s, token, "").await,
                audit(&s, token, &format!("?entity=observations&id={obs}")).await,
                restore(&s, token, "1").await,
            ] {
                let (got, body) = problem(response).await;
                assert_eq!(got, status, "{body}");
                assert!(!body.to_string().contains("private"), "{body}");
            }
        }
        let (_, body) = problem(audit(&s, Some(BEN_TOKEN), "").await).await;
        assert_eq!(body["type"], "https://offgen.dev/problems/forbidden");

        // Newest first, per entity and row, in pages.
        let page: Value = audit(&s, Some(ADMIN_TOKEN), "").await.json().await.unwrap();
        let entries = page["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 2, "{page}");
        assert!(
            entries[0]["id"].as_i64() > entries[1]["id"].as_i64(),
            "newest first"
        );
        assert_eq!(entries[0]["entity"], "observations");
        assert_eq!(
            entries[0]["losing"]["data"],
            json!({"notes": "private, older"})
        );
        assert_eq!(entries[0]["userId"], ANA);
        let first_page: Value = audit(&s, Some(ADMIN_TOKEN), "?limit=1")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(first_page["hasMore"], true);
        let cursor = first_page["cursor"].as_str().unwrap().to_owned();
        let second: Value = audit(&s, Some(ADMIN_TOKEN), &format!("?limit=1&cursor={cursor}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(second["entries"][0], entries[1]);
        assert_eq!(second["hasMore"], false);
        let of_route: Value = audit(
            &s,
            Some(ADMIN_TOKEN),
            &format!("?entity=patrol_routes&id={route}"),
        )
        .await
        .json()
        .await
        .unwrap();
        let entry = of_route["entries"][0].clone();
        assert_eq!(of_route["entries"].as_array().unwrap().len(), 1);
        assert_eq!(
            (
                &entry["losing"]["op"],
                &entry["losing"]["data"]["name"],
                &entry["clientId"]
            ),
            (&json!("update"), &json!("Ranger's name"), &json!("tablet"))
        );
        for bad in [
            "?entity=nope",
            "?id=not-a-uuid&entity=patrol_routes",
            "?limit=0",
            "?cursor=x",
            "?page=2",
            &format!("?id={route}"),
        ] {
            let (status, body) = problem(audit(&s, Some(ADMIN_TOKEN), bad).await).await;
            assert_eq!(status, 400, "{bad}: {body}");
        }

        // Restore: the losing name is written again, on the current version, as a new version
        // devices pull; what it replaced is audited in turn.
        let entry_id = entry["id"].to_string();
        let restored = restore(&s, Some(ADMIN_TOKEN), &entry_id).await;
        assert_eq!(restored.status(), 200);
        let restored: Value = restored.json().await.unwrap();
        assert_eq!(
            (&restored["version"], &restored["record"]["data"]["name"]),
            (&json!(3), &json!("Ranger's name"))
        );
        let pulled = s
            .pulled(ANA_TOKEN, |r| {
                r["id"] == route.as_str() && r["version"] == 3
            })
            .await;
        assert_eq!(pulled["data"]["name"], "Ranger's name");
        let after: Value = audit(
            &s,
            Some(ADMIN_TOKEN),
            &format!("?entity=patrol_routes&id={route}"),
        )
        .await
        .json()
        .await
        .unwrap();
        let undo = &after["entries"][0];
        assert_eq!(
            (
                &undo["losing"]["data"],
                &undo["clientId"],
                &undo["winningVersion"]
            ),
            (
                &json!({"name": "Station's name"}),
                &json!(format!("admin:{ADMIN}")),
                &json!(3)
            )
        );
        // The restore can itself be restored (undone).
        let undone = restore(&s, Some(ADMIN_TOKEN), &undo["id"].to_string()).await;
        assert_eq!(undone.status(), 200);
        let undone: Value = undone.json().await.unwrap();
        assert_eq!(undone["record"]["data"]["name"], "Station's name");

        // The lww loss of an owner-scoped row: restored as Ana's write.
        let lost_note = entries[0]["id"].to_string();
        let restored: Value = restore(&s, Some(ADMIN_TOKEN), &lost_note)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(restored["record"]["data"]["notes"], "private, older");
        let row: Value = s
            .request(
                Method::GET,
                &format!("/v1/observations/{obs}"),
                Some(ANA_TOKEN),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(row["notes"], "private, older");

        // What cannot be restored says why, and changes nothing.
        let (status, _) = problem(restore(&s, Some(ADMIN_TOKEN), "999999").await).await;
        assert_eq!(status, 404);
        let (status, _) = problem(restore(&s, Some(ADMIN_TOKEN), "x").await).await;
        assert_eq!(status, 400);
        push_from(&s, "phone", json!([delete("observations", &obs, 5)])).await;
        let (status, body) = problem(restore(&s, Some(ADMIN_TOKEN), &lost_note).await).await;
        assert_eq!(status, 409, "{body}");
        assert!(
            body["detail"].as_str().unwrap().contains("deleted"),
            "{body}"
        );
        assert_eq!(get(&s, &obs).await.0, 410);
    }
);

/// The example server as an operator runs it: `OFFGEN_ADMINS` names who may use the audit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_server_opens_the_audit_to_the_users_offgen_admins_names() {
    let db = running::TestDatabase::sqlite();
    let tokens = format!("{ANA}={ANA_TOKEN},{ADMIN}={ADMIN_TOKEN}");
    let server = running::Process::start(&[
        ("DATABASE_URL", &db.url),
        ("OFFGEN_TOKENS", &tokens),
        ("OFFGEN_ADMINS", ADMIN),
    ]);
    let client = reqwest::Client::new();
    for (token, status) in [(ADMIN_TOKEN, 200), (ANA_TOKEN, 403)] {
        let response = client
            .get(format!("{}/admin/audit", server.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{token}");
    }
}
