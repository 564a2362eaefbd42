//! The ranger server over real HTTP, on SQLite and on PostgreSQL: the one `offgen build`
//! generates from offgen.yaml, and the one examples/ranger-rs derives from Rust structs (each
//! test runs against both: one suite, two servers).

mod support;

use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};
use support::*;

async fn problem(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let content_type = response.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        content_type, "application/problem+json",
        "errors are problem+json"
    );
    (status, response.json().await.unwrap())
}

on_both_servers!(
    rest_create_get_update_delete_with_preconditions,
    |s: Server| async move {
        let id = uuid(1);
        let created = s
        .request(Method::POST, "/v1/patrol_routes", Some(ANA_TOKEN))
        .json(&json!({"id": id, "name": "Ridge", "sector": "north", "geometry": {"type": "LineString", "coordinates": [[1, 2], [3, 4]]}}))
        .send()
        .await
        .unwrap();
        assert_eq!(created.status(), StatusCode::CREATED);
        assert_eq!(created.headers()[header::ETAG], "\"1\"");
        assert_eq!(
            created.headers()[header::LOCATION],
            format!("/v1/patrol_routes/{id}").as_str()
        );
        let body: Value = created.json().await.unwrap();
        assert_eq!(
            (body["difficulty"].clone(), body["retired"].clone()),
            (json!("moderate"), json!(false)),
            "defaults applied"
        );

        let again = s
        .request(Method::POST, "/v1/patrol_routes", Some(ANA_TOKEN))
        .json(&json!({"id": id, "name": "Ridge", "sector": "north", "geometry": {"type": "LineString", "coordinates": [[1, 2], [3, 4]]}}))
        .send()
        .await
        .unwrap();
        assert_eq!(
            again.status(),
            StatusCode::OK,
            "creating the same record again is idempotent"
        );
        let clash = s
            .request(Method::POST, "/v1/patrol_routes", Some(ANA_TOKEN))
            .json(&json!({"id": id, "name": "Other", "sector": "north", "geometry": {}}))
            .send()
            .await
            .unwrap();
        assert_eq!(problem(clash).await.0, StatusCode::CONFLICT);

        let url = format!("/v1/patrol_routes/{id}");
        let got = s
            .request(Method::GET, &url, Some(ANA_TOKEN))
            .send()
            .await
            .unwrap();
        assert_eq!(
            (got.status(), got.headers()[header::ETAG].to_str().unwrap()),
            (StatusCode::OK, "\"1\"")
        );
        let not_modified = s
            .request(Method::GET, &url, Some(ANA_TOKEN))
            .header(header::IF_NONE_MATCH, "W/\"1\"")
            .send()
            .await
            .unwrap();
        assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);

        let body = json!({"name": "Ridge trail", "sector": "north", "geometry": {"type": "Point"}, "lengthKm": 4.5});
        let missing = s
            .request(Method::PUT, &url, Some(ANA_TOKEN))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(problem(missing).await.0, StatusCode::PRECONDITION_REQUIRED);
        let malformed = s
            .request(Method::PUT, &url, Some(ANA_TOKEN))
            .header(header::IF_MATCH, "1")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(problem(malformed).await.0, StatusCode::BAD_REQUEST);
        let weak = s
            .request(Method::PUT, &url, Some(ANA_TOKEN))
            .header(header::IF_MATCH, "W/\"1\"")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            problem(weak).await.0,
            StatusCode::PRECONDITION_FAILED,
            "If-Match never matches a weak tag"
        );
        let updated = s
            .request(Method::PUT, &url, Some(ANA_TOKEN))
            .header(header::IF_MATCH, "\"0\", \"1\"")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            (
                updated.status(),
                updated.headers()[header::ETAG].to_str().unwrap()
            ),
            (StatusCode::OK, "\"2\"")
        );
        let stale = s
            .request(Method::PUT, &url, Some(ANA_TOKEN))
            .header(header::IF_MATCH, "\"1\"")
            .json(&body)
            .send()
            .await
            .unwrap();
        let (status, body412) = problem(stale).await;
        assert_eq!(status, StatusCode::PRECONDITION_FAILED);
        assert_eq!(
            (
                body412["record"]["version"].clone(),
                body412["record"]["name"].clone()
            ),
            (json!(2), json!("Ridge trail"))
        );
        assert_eq!(
            body412["type"],
            "https://offgen.dev/problems/precondition-failed"
        );

        let invalid = s
            .request(Method::PUT, &url, Some(ANA_TOKEN))
            .header(header::IF_MATCH, "*")
            .json(&json!({"name": "x", "sector": "n", "geometry": {}, "difficulty": "extreme"}))
            .send()
            .await
            .unwrap();
        let (status, body422) = problem(invalid).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body422["errors"][0]["field"], "difficulty");

        let deleted = s
            .request(Method::DELETE, &url, Some(ANA_TOKEN))
            .header(header::IF_MATCH, "\"2\"")
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            problem(
                s.request(Method::GET, &url, Some(ANA_TOKEN))
                    .send()
                    .await
                    .unwrap()
            )
            .await
            .0,
            StatusCode::GONE
        );
        let tombstone = s
            .pulled(BEN_TOKEN, |r| {
                r["id"] == id.as_str() && r["deleted"] == true
            })
            .await;
        assert_eq!(
            (tombstone["deleted"].clone(), tombstone["version"].clone()),
            (json!(true), json!(3))
        );
        assert!(tombstone["deletedAt"].is_i64());
        let unknown = s
            .request(
                Method::GET,
                &format!("/v1/patrol_routes/{}", uuid(99)),
                Some(ANA_TOKEN),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(problem(unknown).await.0, StatusCode::NOT_FOUND);
    }
);

on_both_servers!(
    a_push_batch_gets_one_result_per_mutation,
    |s: Server| async move {
        let results = s
        .push(
            ANA_TOKEN,
            json!([
                insert("observations", &uuid(10), observation(ANA, 1)),
                insert("observations", &uuid(11), json!({"ranger": ANA, "kind": "meteor"})),
                insert("gadgets", &uuid(12), json!({})),
                insert("observations", "NOT-A-UUID", observation(ANA, 1)),
                update("observations", &uuid(404), 1, json!({"notes": "x"})),
                insert("observations", &uuid(13), json!({"ranger": uuid(77), "kind": "fire", "latitude": 0, "longitude": 0, "recordedAt": 1, "modifiedAt": 1})),
                insert("observations", &uuid(14), observation(ANA, 2)),
            ]),
        )
        .await;
        let statuses: Vec<&str> = results
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["status"].as_str().unwrap())
            .collect();
        assert_eq!(
            statuses,
            [
                "accepted", "rejected", "rejected", "rejected", "rejected", "rejected", "accepted"
            ]
        );
        let codes: Vec<&str> = results
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["error"]["code"].as_str())
            .collect();
        assert_eq!(
            codes,
            [
                "invalid-data",
                "unknown-entity",
                "invalid-id",
                "not-found",
                "invalid-data"
            ]
        );
        assert!(
            results[1]["error"]["message"]
                .as_str()
                .unwrap()
                .contains("meteor")
        );
        assert_eq!(
            s.count("SELECT count(*) FROM observations").await,
            2,
            "one bad item never fails the others"
        );
    }
);

on_both_servers!(
    the_same_push_twice_changes_nothing_and_answers_the_same,
    |s: Server| async move {
        let batch = json!([
            insert("observations", &uuid(20), observation(ANA, 1)),
            update("rangers", ANA, 1, json!({"station": "North"}))
        ]);
        let first = s.push(ANA_TOKEN, batch.clone()).await;
        let second = s.push(ANA_TOKEN, batch).await;
        assert_eq!(first, second);
        assert_eq!(first[1]["version"], 2);
        assert_eq!(s.count("SELECT count(*) FROM observations").await, 1);
        assert_eq!(
            s.count("SELECT max(version) FROM rangers").await,
            2,
            "the update was applied once"
        );
    }
);

on_both_servers!(
    a_retried_update_after_a_lost_response_is_accepted_not_a_conflict,
    |s: Server| async move {
        let id = uuid(30);
        s.push(
            ANA_TOKEN,
            json!([insert("observations", &id, observation(ANA, 1))]),
        )
        .await;
        let edit = update(
            "observations",
            &id,
            1,
            json!({"notes": "fox", "modifiedAt": 2}),
        );
        let first = s.push(ANA_TOKEN, json!([edit.clone()])).await;
        assert_eq!(first[0]["status"], "accepted");
        // The response was lost: the device sends the very same mutation again, still based on
        // version 1 although the row is at version 2 now.
        let retry = s.push(ANA_TOKEN, json!([edit])).await;
        assert_eq!(retry, first);
        assert_eq!(s.count("SELECT count(*) FROM _offgen_audit").await, 0);
    }
);

on_both_servers!(
    every_conflict_policy_decides_and_audits_the_loser,
    |s: Server| async move {
        // version (rangers): a stale write is a conflict, nothing is applied or audited.
        s.push(
            ANA_TOKEN,
            json!([update("rangers", ANA, 1, json!({"station": "A"}))]),
        )
        .await;
        let stale = s
            .push(
                ANA_TOKEN,
                json!([update("rangers", ANA, 1, json!({"station": "B"}))]),
            )
            .await;
        assert_eq!(
            (
                stale[0]["status"].clone(),
                stale[0]["record"]["data"]["station"].clone()
            ),
            (json!("conflict"), json!("A"))
        );
        assert_eq!(s.count("SELECT count(*) FROM _offgen_audit").await, 0);

        // lww (observations): each field's newest stamp wins; whatever lost, and what a device
        // that had not seen it replaced, is audited.
        let id = uuid(40);
        let lww = |base: i64, notes: &str, stamp: i64| {
            let mut m = update("observations", &id, base, json!({"notes": notes}));
            m["stamp"] = json!(stamp);
            m
        };
        let mut first = insert("observations", &id, observation(ANA, 100));
        first["stamp"] = json!(100);
        s.push(ANA_TOKEN, json!([first])).await;
        s.push(ANA_TOKEN, json!([lww(1, "from tablet", 200)])).await;
        let newer = s.push(ANA_TOKEN, json!([lww(1, "from phone", 300)])).await;
        assert_eq!(
            (
                newer[0]["status"].clone(),
                newer[0]["version"].clone(),
                newer[0]["overridden"].clone(),
                newer[0]["record"]["data"]["notes"].clone()
            ),
            (json!("accepted"), json!(3), json!([]), json!("from phone")),
            "stale but newer: accepted, with the merged row to adopt"
        );
        let older = s.push(ANA_TOKEN, json!([lww(1, "from watch", 150)])).await;
        assert_eq!(older[0]["status"], "conflict");
        assert_eq!(older[0]["overridden"], json!(["notes"]));
        assert_eq!(older[0]["record"]["data"]["notes"], "from phone");
        assert_eq!(
            s.count("SELECT count(*) FROM _offgen_audit WHERE entity = 'observations'")
                .await,
            2
        );

        // server_wins (patrol_routes): the stale write loses and is audited.
        let route = uuid(41);
        s.push(
            ANA_TOKEN,
            json!([insert(
                "patrol_routes",
                &route,
                json!({"name": "R", "sector": "s", "geometry": {}})
            )]),
        )
        .await;
        s.push(
            ANA_TOKEN,
            json!([update(
                "patrol_routes",
                &route,
                1,
                json!({"name": "Station's name"})
            )]),
        )
        .await;
        let lost = s
            .push(
                ANA_TOKEN,
                json!([update(
                    "patrol_routes",
                    &route,
                    1,
                    json!({"name": "Ranger's name"})
                )]),
            )
            .await;
        assert_eq!(
            (
                lost[0]["status"].clone(),
                lost[0]["record"]["data"]["name"].clone()
            ),
            (json!("conflict"), json!("Station's name"))
        );
        assert_eq!(
            s.count("SELECT count(*) FROM _offgen_audit WHERE entity = 'patrol_routes'")
                .await,
            1
        );
        let again = s
            .push(
                ANA_TOKEN,
                json!([update(
                    "patrol_routes",
                    &route,
                    1,
                    json!({"name": "Ranger's name"})
                )]),
            )
            .await;
        assert_eq!(again[0]["status"], "conflict");
        assert_eq!(
            s.count("SELECT count(*) FROM _offgen_audit").await,
            4,
            "a new mutation, a new audit row"
        );
    }
);

on_both_servers!(
    oversized_batches_and_bodies_are_refused_whole_with_413,
    |s: Server| async move {
        let many: Vec<Value> = (0..1001)
            .map(|i| insert("observations", &uuid(1000 + i), observation(ANA, 1)))
            .collect();
        let response = s
            .request(Method::POST, "/sync/push", Some(ANA_TOKEN))
            .json(&json!({"clientId": "d", "mutations": many}))
            .send()
            .await
            .unwrap();
        assert_eq!(problem(response).await.0, StatusCode::PAYLOAD_TOO_LARGE);
        let huge = "x".repeat(9 * 1024 * 1024);
        let response = s
        .request(Method::POST, "/sync/push", Some(ANA_TOKEN))
        .json(&json!({"clientId": "d", "mutations": [insert("observations", &uuid(1), json!({"notes": huge}))]}))
        .send()
        .await
        .unwrap();
        assert_eq!(problem(response).await.0, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(s.count("SELECT count(*) FROM observations").await, 0);
    }
);

on_both_servers!(
    malformed_json_and_unknown_keys_are_400_problems,
    |s: Server| async move {
        let cases = [
            "{\"clientId\": \"d\", \"mutations\": [",
            "{\"clientId\": \"d\", \"mutations\": [], \"extra\": 1}",
            "{\"clientId\": \"d\", \"mutations\": [{\"mutationId\": \"m\", \"entity\": \"rangers\", \"id\": \"x\", \"op\": \"upsert\"}]}",
        ];
        for body in cases {
            let response = s
                .request(Method::POST, "/sync/push", Some(ANA_TOKEN))
                .header(header::CONTENT_TYPE, "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let (status, detail) = problem(response).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(detail["type"], "https://offgen.dev/problems/bad-request");
        }
        let bad_cursor = s
            .request(Method::GET, "/sync/pull?cursor=garbage", Some(ANA_TOKEN))
            .send()
            .await
            .unwrap();
        assert_eq!(problem(bad_cursor).await.0, StatusCode::BAD_REQUEST);
    }
);

on_both_servers!(no_or_unknown_token_is_401, |s: Server| async move {
    for token in [None, Some("wrong")] {
        for (method, path) in [
            (Method::GET, "/sync/pull"),
            (Method::POST, "/sync/push"),
            (Method::GET, "/v1/rangers"),
        ] {
            let response = s.request(method.clone(), path, token).send().await.unwrap();
            assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
            assert_eq!(
                problem(response).await.0,
                StatusCode::UNAUTHORIZED,
                "{method} {path}"
            );
        }
    }
    let health = s
        .request(Method::GET, "/healthz", None)
        .send()
        .await
        .unwrap();
    assert_eq!(
        health.status(),
        StatusCode::OK,
        "health checks need no token"
    );
});

/// A response as text with the ids and mutation ids it names replaced, to compare answers
/// about different rows.
fn without(text: &str, ids: &[&str]) -> String {
    let mut text = text.to_owned();
    for id in ids {
        text = text.replace(id, "<id>");
    }
    text
}

/// A push result without its mutation id, and with `id` replaced.
fn answer(result: &Value, id: &str) -> String {
    let mut result = result.clone();
    result["mutationId"] = json!("<m>");
    without(&result.to_string(), &[id])
}

on_both_servers!(
    another_users_row_looks_exactly_like_a_missing_one_on_every_path,
    |s: Server| async move {
        let (theirs, gone, missing) = (uuid(50), uuid(52), uuid(59));
        let mut private = observation(ANA, 1);
        private["notes"] = json!("Ana's private notes");
        s.push(
            ANA_TOKEN,
            json!([
                insert("observations", &theirs, private.clone()),
                insert("observations", &gone, observation(ANA, 1)),
            ]),
        )
        .await;
        s.push(ANA_TOKEN, json!([delete("observations", &gone, 1)]))
            .await;
        s.pulled(ANA_TOKEN, |r| {
            r["id"] == gone.as_str() && r["deleted"] == true
        })
        .await;

        // Push: updates and deletes of Ana's rows, live or deleted, get what a missing row
        // gets; inserts over her ids and inserts naming her are refused as not-found, with
        // none of her data.
        for target in [&theirs, &gone] {
            for (mine, probe) in [
                (
                    update("observations", target, 1, json!({"notes": "mine now"})),
                    update("observations", &missing, 1, json!({"notes": "mine now"})),
                ),
                (
                    delete("observations", target, 1),
                    delete("observations", &missing, 1),
                ),
            ] {
                let results = s.push(BEN_TOKEN, json!([mine, probe])).await;
                assert_eq!(
                    answer(&results[0], target),
                    answer(&results[1], &missing),
                    "{results}"
                );
                assert_eq!(results[0]["error"]["code"], "not-found");
            }
        }
        let takeover = s
            .push(
                BEN_TOKEN,
                json!([
                    insert("observations", &theirs, observation(BEN, 9)),
                    insert("observations", &gone, observation(BEN, 9)),
                    insert("observations", &uuid(51), observation(ANA, 1)),
                ]),
            )
            .await;
        for result in takeover.as_array().unwrap() {
            assert_eq!(
                (result["status"].clone(), result["error"]["code"].clone()),
                (json!("rejected"), json!("not-found")),
                "{takeover}"
            );
            assert!(result.get("record").is_none() && result.get("version").is_none());
        }
        assert_eq!(
            answer(&takeover[0], &theirs),
            answer(&takeover[1], &gone),
            "a live row and a tombstone look alike"
        );
        assert!(!takeover.to_string().contains("private"), "{takeover}");
        let given_away = s
            .push(
                ANA_TOKEN,
                json!([update("observations", &theirs, 1, json!({"ranger": BEN}))]),
            )
            .await;
        assert_eq!(
            given_away[0]["error"]["code"], "not-found",
            "no giving rows away"
        );

        // REST: the same refusals, and reads and writes that answer as for a missing id.
        for body in [
            json!({"id": theirs, "ranger": BEN, "kind": "fire", "latitude": 0.0, "longitude": 0.0, "recordedAt": 1, "modifiedAt": 1}),
            json!({"id": uuid(53), "ranger": ANA, "kind": "fire", "latitude": 0.0, "longitude": 0.0, "recordedAt": 1, "modifiedAt": 1}),
        ] {
            let created = s
                .request(Method::POST, "/v1/observations", Some(BEN_TOKEN))
                .json(&body)
                .send()
                .await
                .unwrap();
            let (status, detail) = problem(created).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{detail}");
            assert!(!detail.to_string().contains("private"), "{detail}");
        }
        for target in [&theirs, &gone] {
            for (method, if_match) in [
                (Method::GET, None),
                (Method::PUT, Some("*")),
                (Method::PUT, Some("\"1\"")),
                (Method::DELETE, Some("*")),
            ] {
                let mut answers = Vec::new();
                for id in [target, &missing] {
                    let mut request = s.request(
                        method.clone(),
                        &format!("/v1/observations/{id}"),
                        Some(BEN_TOKEN),
                    );
                    if let Some(tag) = if_match {
                        request = request
                            .header(header::IF_MATCH, tag)
                            .json(&observation(BEN, 2));
                    }
                    let response = request.send().await.unwrap();
                    let status = response.status();
                    let text = response.text().await.unwrap();
                    answers.push((status, without(&text, &[target, &missing])));
                }
                assert_eq!(answers[0], answers[1], "{method} {target}");
            }
        }
        let listed: Value = s
            .request(Method::GET, "/v1/observations", Some(BEN_TOKEN))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(listed["records"], json!([]));

        // Pull: neither her rows nor her tombstones.
        assert!(
            s.pull_all(BEN_TOKEN)
                .await
                .iter()
                .all(|r| r["entity"] != "observations"),
            "Ben pulls no observation of Ana's"
        );

        // Nothing of hers changed, and nothing was kept of the attempts.
        let row: Value = s
            .request(
                Method::GET,
                &format!("/v1/observations/{theirs}"),
                Some(ANA_TOKEN),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            (
                row["version"].clone(),
                row["notes"].clone(),
                row["ranger"].clone()
            ),
            (json!(1), json!("Ana's private notes"), json!(ANA))
        );
        assert_eq!(s.count("SELECT count(*) FROM _offgen_audit").await, 0);
        assert_eq!(s.count("SELECT count(*) FROM observations").await, 2);
    }
);

on_both_servers!(
    pulls_page_through_every_change_once_and_tombstones_come_too,
    |s: Server| async move {
        let ids: Vec<String> = (0..25).map(|i| uuid(60 + i)).collect();
        let inserts: Vec<Value> = ids
            .iter()
            .map(|id| insert("observations", id, observation(ANA, 1)))
            .collect();
        s.push(ANA_TOKEN, json!(inserts)).await;
        s.push(
            ANA_TOKEN,
            json!([
                delete("observations", &ids[3], 1),
                update(
                    "observations",
                    &ids[4],
                    1,
                    json!({"count": 7, "modifiedAt": 2})
                )
            ]),
        )
        .await;
        s.pulled(ANA_TOKEN, |r| {
            r["id"] == ids[4].as_str() && r["version"] == 2
        })
        .await;
        let records = s.pull_all(ANA_TOKEN).await;
        let observations: Vec<&Value> = records
            .iter()
            .filter(|r| r["entity"] == "observations")
            .collect();
        assert_eq!(
            observations.len(),
            25,
            "each row once, at its newest version"
        );
        let three = observations
            .iter()
            .find(|r| r["id"] == ids[3].as_str())
            .unwrap();
        assert_eq!(
            (three["deleted"].clone(), three["version"].clone()),
            (json!(true), json!(2))
        );
        let four = observations
            .iter()
            .find(|r| r["id"] == ids[4].as_str())
            .unwrap();
        assert_eq!(four["data"]["count"], 7);
        // The change order: both changed rows come after the untouched ones.
        let position = |id: &str| observations.iter().position(|r| r["id"] == id).unwrap();
        assert!(position(&ids[3]) > position(&ids[24]) && position(&ids[4]) > position(&ids[24]));
        let rangers: Vec<&Value> = records
            .iter()
            .filter(|r| r["entity"] == "rangers")
            .collect();
        assert_eq!(
            rangers.len(),
            2,
            "entities that are not owner-scoped are pulled by everyone"
        );
    }
);

on_both_servers!(
    every_answer_is_the_one_the_document_gives,
    |s: Server| async move {
        // Each of these was found by schemathesis: the server answered what openapi.json did
        // not say (docs/protocol.md has the rules).
        let status = |r: reqwest::Response| r.status();
        let unknown = format!("/v1/patrol_routes/{}", uuid(9001));
        // A record that does not exist is 404 before any precondition (RFC 9110 13.2.1).
        for method in [Method::PUT, Method::DELETE] {
            let mut request = s
                .request(method.clone(), &unknown, Some(ANA_TOKEN))
                .header(header::IF_MATCH, "\"1\"");
            if method == Method::PUT {
                request = request.json(&json!({"name": "n", "sector": "s", "geometry": {}}));
            }
            let (code, body) = problem(request.send().await.unwrap()).await;
            assert_eq!(code, StatusCode::NOT_FOUND, "{method} {body}");
        }
        // A malformed If-None-Match is the request's fault, whether or not the record exists.
        let got = s
            .request(Method::GET, &unknown, Some(ANA_TOKEN))
            .header(header::IF_NONE_MATCH, "0")
            .send()
            .await
            .unwrap();
        assert_eq!(problem(got).await.0, StatusCode::BAD_REQUEST);

        // Bad fields are 422 whatever the version: the body is judged first.
        let id = uuid(9002);
        let route = json!({"id": id, "name": "Ridge", "sector": "north", "geometry": {}});
        let created = s
            .request(Method::POST, "/v1/patrol_routes", Some(ANA_TOKEN))
            .json(&route)
            .send()
            .await
            .unwrap();
        assert_eq!(status(created), StatusCode::CREATED);
        let url = format!("/v1/patrol_routes/{id}");
        let stale_and_bad = s
            .request(Method::PUT, &url, Some(ANA_TOKEN))
            .header(header::IF_MATCH, "\"7\"")
            .json(&json!({"name": 5, "sector": "north", "geometry": {}}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            problem(stale_and_bad).await.0,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        // A client may send back the record it holds, bookkeeping and all.
        let held: Value = s
            .request(Method::GET, &url, Some(ANA_TOKEN))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut edited = held.clone();
        edited["name"] = json!("Ridge 2");
        edited.as_object_mut().unwrap().remove("id");
        let put = s
            .request(Method::PUT, &url, Some(ANA_TOKEN))
            .header(header::IF_MATCH, "\"1\"")
            .json(&edited)
            .send()
            .await
            .unwrap();
        assert_eq!(status(put), StatusCode::OK);

        // A reference to a record that does not exist conflicts with what is stored: 409,
        // not 422, which is what the record's schema can say.
        let orphan = s
            .request(Method::POST, "/v1/observations", Some(ANA_TOKEN))
            .json(
                &json!({"id": uuid(9003), "kind": "fire", "latitude": 0.0, "longitude": 0.0,
                          "recordedAt": 1, "modifiedAt": 1, "route": uuid(9999)}),
            )
            .send()
            .await
            .unwrap();
        let (code, body) = problem(orphan).await;
        assert_eq!(code, StatusCode::CONFLICT, "{body}");

        // JSON Schema's integers include 3.0; they are stored as the integer.
        let whole = s
            .request(Method::POST, "/v1/observations", Some(ANA_TOKEN))
            .json(
                &json!({"id": uuid(9004), "kind": "fire", "latitude": 0.0, "longitude": 0.0,
                          "recordedAt": 1.0, "modifiedAt": 2e3, "count": 3.0}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(whole.status(), StatusCode::CREATED);
        let whole: Value = whole.json().await.unwrap();
        assert_eq!(
            (&whole["count"], &whole["recordedAt"], &whole["modifiedAt"]),
            (&json!(3), &json!(1), &json!(2000))
        );
        let fraction = s
            .request(Method::POST, "/v1/observations", Some(ANA_TOKEN))
            .json(
                &json!({"id": uuid(9005), "kind": "fire", "latitude": 0.0, "longitude": 0.0,
                          "recordedAt": 1, "modifiedAt": 1, "count": 3.5}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(problem(fraction).await.0, StatusCode::UNPROCESSABLE_ENTITY);
        let mut push = update("patrol_routes", &id, 2, json!({"name": "Ridge 3"}));
        push["baseVersion"] = json!(2.0);
        assert_eq!(
            s.push(ANA_TOKEN, json!([push])).await[0]["status"],
            "accepted"
        );

        // Cursors this server never gave out are 400, not an empty page forever.
        for path in [
            "/sync/pull?cursor=999999999",
            "/v1/patrol_routes?cursor=zzz",
            "/sync/pull?cursor=a%00b",
        ] {
            let response = s
                .request(Method::GET, path, Some(ANA_TOKEN))
                .send()
                .await
                .unwrap();
            assert_eq!(problem(response).await.0, StatusCode::BAD_REQUEST, "{path}");
        }
        let page: Value = s
            .request(Method::GET, "/sync/pull", Some(ANA_TOKEN))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let cursor = page["cursor"].as_str().unwrap();
        let caught_up = s
            .request(
                Method::GET,
                &format!("/sync/pull?cursor={cursor}"),
                Some(ANA_TOKEN),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            status(caught_up),
            StatusCode::OK,
            "a real cursor at the end"
        );

        // Schema steps: `0` is malformed; a step beyond any number is an app from ahead,
        // whose push waits (409 schema-ahead).
        for (step, expected) in [
            ("0", StatusCode::BAD_REQUEST),
            ("99999999999", StatusCode::CONFLICT),
        ] {
            let response = s
                .request(Method::POST, "/sync/push", Some(ANA_TOKEN))
                .header(offgen_runtime::protocol::SCHEMA_STEP_HEADER, step)
                .json(&json!({"clientId": "d", "mutations": []}))
                .send()
                .await
                .unwrap();
            assert_eq!(problem(response).await.0, expected, "step {step}");
        }
        // U+0000 cannot be stored as a device id.
        let response = s
            .request(Method::POST, "/sync/push", Some(ANA_TOKEN))
            .json(&json!({"clientId": "d\u{0}", "mutations": []}))
            .send()
            .await
            .unwrap();
        assert_eq!(problem(response).await.0, StatusCode::BAD_REQUEST);
    }
);
