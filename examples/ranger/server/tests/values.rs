//! Every kind of value comes back from the server exactly as it was sent: through push and
//! pull, and through the REST routes, on both databases. The record JSON is built by the
//! database (docs/BENCHMARKS.md says why), so this is where escaping and number printing are
//! held to the wire format.

mod support;

use ranger_server::models::Observation;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::*;

/// Text that needs every kind of escaping JSON has, and characters beyond the BMP.
const AWKWARD: &str = "quote \" backslash \\ slash / newline \n tab \t bell \u{7} del \u{7f} \
                       é 漢字 🦓 \u{2028} </script> 'single' %s ${x}";

fn observation_with_every_kind() -> Value {
    json!({
        "ranger": ANA, "kind": "poaching", "species": AWKWARD, "count": i64::MAX,
        // Coordinates need all 17 significant digits to come back the same.
        "latitude": -1.2345678901234567, "longitude": 36.71234567890124,
        "accuracyM": 1e-300, "altitudeM": 1.7976931348623157e308,
        "notes": "", "photoPath": null, "photoUpload": "pending", "status": "final",
        "thumbnail": "00ff10abcdef", "sightingId": "123e4567-e89b-42d3-a456-426614174000",
        "patrolDay": "2024-02-29", "recordedAt": -86_400_000i64, "modifiedAt": 0,
    })
}

fn assert_same_fields(sent: &Value, got: &Value) {
    for (key, value) in sent.as_object().unwrap() {
        assert_eq!(
            &got[key], value,
            "field `{key}` changed on its way through the server"
        );
    }
}

on_both!(
    every_kind_of_value_round_trips_through_push_and_pull,
    |s: Server| async move {
        let id = uuid(7001);
        let sent = observation_with_every_kind();
        let results = s
            .push(
                ANA_TOKEN,
                json!([insert("observations", &id, sent.clone())]),
            )
            .await;
        assert_eq!(results[0]["status"], "accepted", "{results}");
        let pulled = s.pulled(ANA_TOKEN, |r| r["id"] == id.as_str()).await;
        assert_same_fields(&sent, &pulled["data"]);

        let get: Value = s
            .request(
                Method::GET,
                &format!("/v1/observations/{id}"),
                Some(ANA_TOKEN),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_same_fields(&sent, &get);

        // The generated row struct reads and writes the same JSON.
        let typed: Observation = serde_json::from_value(get.clone()).unwrap();
        assert_eq!(typed.count, i64::MAX);
        assert_eq!(typed.thumbnail.as_deref(), Some("00ff10abcdef"));
        assert_eq!(serde_json::to_value(&typed).unwrap(), get);
    }
);

on_both!(
    every_shape_of_json_value_round_trips,
    |s: Server| async move {
        let shapes = [
            json!({"type": "LineString", "coordinates": [[36.1, -1.2], [36.2, -1.3]], "props": {"name": AWKWARD}}),
            json!([1, "two", 3.5, true, null, {"nested": []}]),
            json!("a bare string"),
            json!(42),
            json!(-0.5),
            json!(true),
            json!({}),
        ];
        for (n, geometry) in shapes.iter().enumerate() {
            let id = uuid(7100 + n as u64);
            let sent =
                json!({"name": format!("route {n}"), "sector": "north", "geometry": geometry});
            let results = s
                .push(
                    ANA_TOKEN,
                    json!([insert("patrol_routes", &id, sent.clone())]),
                )
                .await;
            assert_eq!(results[0]["status"], "accepted", "{results}");
            let pulled = s.pulled(ANA_TOKEN, |r| r["id"] == id.as_str()).await;
            assert_same_fields(&sent, &pulled["data"]);
        }
    }
);

on_both!(
    text_the_database_cannot_store_is_rejected_per_item_everywhere,
    |s: Server| async move {
        // U+0000: PostgreSQL keeps none in text or jsonb, so neither database takes it.
        let mut bad_text = observation(ANA, 1);
        bad_text["notes"] = json!("before\u{0}after");
        let bad_json = json!({"name": "r", "sector": "s", "geometry": {"k": "v\u{0}"}});
        let good = uuid(7201);
        let results = s
            .push(
                ANA_TOKEN,
                json!([
                    insert("observations", &uuid(7200), bad_text),
                    insert("patrol_routes", &uuid(7202), bad_json),
                    insert("observations", &good, observation(ANA, 1)),
                ]),
            )
            .await;
        for bad in [0, 1] {
            assert_eq!(results[bad]["status"], "rejected", "{results}");
            assert_eq!(results[bad]["error"]["code"], "invalid-data", "{results}");
            assert!(
                results[bad]["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("U+0000"),
                "{results}"
            );
        }
        assert_eq!(results[2]["status"], "accepted", "{results}");

        let response = s
            .request(Method::POST, "/v1/observations", Some(ANA_TOKEN))
            .json(
                &json!({"id": uuid(7203), "ranger": ANA, "kind": "fire", "latitude": 0.0,
                          "longitude": 0.0, "recordedAt": 1, "modifiedAt": 1, "notes": "\u{0}"}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(s.count("SELECT count(*) FROM observations").await, 1);
    }
);
