//! Every kind of value comes back from the server exactly as it was sent: through push and
//! pull, and through the REST routes, on both databases. The record JSON is built by the
//! database (docs/BENCHMARKS.md says why), so this is where escaping and number printing are
//! held to the wire format.

mod support;

use std::collections::HashMap;

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
        // Nor in a mutation id, which a retry's lookup of stored results would otherwise
        // send to PostgreSQL (a 500 for the whole batch).
        let mut bad_id = insert("observations", &uuid(7204), observation(ANA, 1));
        bad_id["mutationId"] = json!("m\u{0}1");
        let results = s
            .push(
                ANA_TOKEN,
                json!([
                    insert("observations", &uuid(7200), bad_text),
                    insert("patrol_routes", &uuid(7202), bad_json),
                    insert("observations", &good, observation(ANA, 1)),
                    bad_id,
                ]),
            )
            .await;
        assert_eq!(results[3]["status"], "rejected", "{results}");
        assert_eq!(results[3]["error"]["code"], "invalid-request", "{results}");
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

/// Deterministic doubles: random bit patterns (so every exponent, subnormals included), GPS-like
/// values, and the edges (zeros of both signs, the smallest and largest of each kind).
fn doubles(count: usize) -> Vec<f64> {
    let mut state = 0x00ff_6e17_ea15_u64;
    let mut next = move || {
        // splitmix64: a small, well-mixed, seedable generator.
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut out = vec![
        0.0,
        -0.0,
        f64::MIN_POSITIVE,
        -f64::MIN_POSITIVE,
        f64::from_bits(1),
        -f64::from_bits(1),
        f64::from_bits(0x000f_ffff_ffff_ffff),
        f64::MAX,
        f64::MIN,
        f64::EPSILON,
        1.0,
        -1.0,
        0.1,
        1e20,
        9_007_199_254_740_992.0,
        1.999_524_045_638_267_3e-9,
        -1.234_567_890_123_456_7,
    ];
    while out.len() < count {
        let bits = next();
        let x = if out.len() % 3 == 0 {
            // A latitude or longitude with every digit a GPS fix gives.
            (bits >> 11) as f64 / (1u64 << 53) as f64 * 360.0 - 180.0
        } else {
            f64::from_bits(bits)
        };
        if x.is_finite() {
            out.push(x);
        }
    }
    out
}

const REAL_FIELDS: [&str; 4] = ["latitude", "longitude", "altitudeM", "accuracyM"];

/// Every number after `"key":` in a JSON text, in order, read with Rust's own (correctly
/// rounded) parser, so the check does not depend on the JSON library the server uses.
fn numbers_after(text: &str, key: &str) -> Vec<f64> {
    let needle = format!("\"{key}\":");
    text.match_indices(&needle)
        .map(|(at, _)| {
            let rest = text[at + needle.len()..].trim_start();
            let end = rest.find([',', '}', ' ', '\n']).unwrap_or(rest.len());
            rest[..end]
                .parse::<f64>()
                .unwrap_or_else(|_| panic!("`{}` after {key} is not a number", &rest[..end]))
        })
        .collect()
}

/// What the reals' check found: how many were compared, and the ones that changed.
#[derive(Default)]
struct Checked {
    count: usize,
    wrong: Vec<String>,
}

impl Checked {
    /// Compares, bit for bit, the reals of each observation in `text` (records in order, `ids`
    /// their ids) with what was sent.
    fn compare(&mut self, text: &str, ids: &[String], sent: &HashMap<String, [f64; 4]>) {
        self.count += ids.len() * REAL_FIELDS.len();
        self.wrong.extend(mismatches(text, ids, sent));
    }
}

fn mismatches(text: &str, ids: &[String], sent: &HashMap<String, [f64; 4]>) -> Vec<String> {
    let mut wrong = Vec::new();
    for (k, key) in REAL_FIELDS.iter().enumerate() {
        let got = numbers_after(text, key);
        assert_eq!(got.len(), ids.len(), "one {key} per record");
        for (id, value) in ids.iter().zip(got) {
            let want = sent[id][k];
            if value.to_bits() != want.to_bits() {
                wrong.push(format!("{key} {want:?} came back as {value:?}"));
            }
        }
    }
    wrong
}

/// Every observation the user pulls from the start: the raw page texts, and the ids in order.
async fn pull_raw(s: &Server, token: &str) -> Vec<(String, Vec<String>)> {
    let mut cursor = String::new();
    let mut pages = Vec::new();
    loop {
        let text = s
            .request(
                Method::GET,
                &format!("/sync/pull?cursor={cursor}&limit=1000"),
                Some(token),
            )
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let page: Value = serde_json::from_str(&text).unwrap();
        let ids: Vec<String> = page["records"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["entity"] == "observations")
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect();
        pages.push((text, ids));
        cursor = page["cursor"].as_str().unwrap().to_owned();
        if !page["hasMore"].as_bool().unwrap() {
            return pages;
        }
    }
}

on_both!(
    every_finite_double_round_trips_bit_for_bit,
    |s: Server| async move {
        let values = doubles(3000);
        let rows: Vec<(String, [f64; 4])> = values
            .chunks_exact(4)
            .enumerate()
            .map(|(n, c)| (uuid(20_000 + n as u64), [c[0], c[1], c[2], c[3]]))
            .collect();
        let mut sent: HashMap<String, [f64; 4]> = rows.iter().cloned().collect();
        let data = |reals: &[f64; 4]| {
            let mut data = observation(ANA, 1);
            for (key, value) in REAL_FIELDS.iter().zip(reals) {
                data[*key] = json!(value);
            }
            data
        };
        // Push, then pull.
        let mutations: Vec<Value> = rows
            .iter()
            .map(|(id, reals)| insert("observations", id, data(reals)))
            .collect();
        let results = s.push(ANA_TOKEN, json!(mutations)).await;
        assert!(
            results
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["status"] == "accepted"),
            "{results}"
        );
        let last = rows.last().unwrap().0.clone();
        s.pulled(ANA_TOKEN, |r| r["id"] == last.as_str()).await;
        let mut checked = Checked::default();
        let mut pulled = 0;
        for (text, ids) in pull_raw(&s, ANA_TOKEN).await {
            pulled += ids.len();
            checked.compare(&text, &ids, &sent);
        }
        assert_eq!(pulled, rows.len());

        // REST writes: a new record, and a replaced one, each with other doubles.
        let again = doubles(3000 + 16);
        let fresh: Vec<f64> = again[3000..].to_vec();
        for (n, chunk) in fresh.chunks_exact(4).enumerate() {
            let reals = [chunk[0], chunk[1], chunk[2], chunk[3]];
            let id = uuid(30_000 + n as u64);
            let mut body = data(&reals);
            body["id"] = json!(id);
            let created = s
                .request(Method::POST, "/v1/observations", Some(ANA_TOKEN))
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(created.status(), StatusCode::CREATED);
            let text = created.text().await.unwrap();
            checked.compare(
                &text,
                std::slice::from_ref(&id),
                &HashMap::from([(id.clone(), reals)]),
            );
            sent.insert(id, reals);
            let (target, _) = &rows[n];
            let mut swapped = reals;
            swapped.reverse();
            let replaced = s
                .request(
                    Method::PUT,
                    &format!("/v1/observations/{target}"),
                    Some(ANA_TOKEN),
                )
                .header(reqwest::header::IF_MATCH, "*")
                .json(&data(&swapped))
                .send()
                .await
                .unwrap();
            assert_eq!(replaced.status(), StatusCode::OK);
            sent.insert(target.clone(), swapped);
        }

        // REST reads: one at a time, and the list.
        for (id, _) in rows.iter().take(50).chain(&[(uuid(30_000), [0.0; 4])]) {
            let text = s
                .request(
                    Method::GET,
                    &format!("/v1/observations/{id}"),
                    Some(ANA_TOKEN),
                )
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            checked.compare(&text, std::slice::from_ref(id), &sent);
        }
        let mut cursor = String::new();
        let mut listed = 0;
        loop {
            let text = s
                .request(
                    Method::GET,
                    &format!("/v1/observations?limit=1000&cursor={cursor}"),
                    Some(ANA_TOKEN),
                )
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let page: Value = serde_json::from_str(&text).unwrap();
            let ids: Vec<String> = page["records"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_owned())
                .collect();
            listed += ids.len();
            checked.compare(&text, &ids, &sent);
            cursor = page["cursor"].as_str().unwrap().to_owned();
            if !page["hasMore"].as_bool().unwrap() {
                break;
            }
        }
        assert_eq!(listed, sent.len());
        // And the replaced rows come back changed through pulls too.
        let replaced = rows[0].0.clone();
        let version_two = |r: &Value| r["id"] == replaced.as_str() && r["version"] == 2;
        s.pulled(ANA_TOKEN, version_two).await;
        for (text, ids) in pull_raw(&s, ANA_TOKEN).await {
            checked.compare(&text, &ids, &sent);
        }

        let wrong = &checked.wrong;
        assert!(
            wrong.is_empty(),
            "{} of {} doubles read back changed, e.g. {:?}",
            wrong.len(),
            checked.count,
            &wrong[..wrong.len().min(8)]
        );
    }
);

on_both!(
    a_real_written_as_an_integer_is_the_same_double_everywhere,
    |s: Server| async move {
        // `1` and `1.0` are one double: posting the record again with the other spelling is
        // the same record (200), on either database, and reads back as a double.
        let id = uuid(7300);
        let mut body = observation(ANA, 1);
        body["id"] = json!(id);
        body["latitude"] = json!(1);
        let first = s
            .request(Method::POST, "/v1/observations", Some(ANA_TOKEN))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(first.status(), StatusCode::CREATED);
        body["latitude"] = json!(1.0);
        let again = s
            .request(Method::POST, "/v1/observations", Some(ANA_TOKEN))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::OK, "the same record again");
        body["latitude"] = json!(1);
        let third = s
            .request(Method::POST, "/v1/observations", Some(ANA_TOKEN))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(third.status(), StatusCode::OK, "the same record again");
        let got: Value = third.json().await.unwrap();
        assert_eq!(got["latitude"].to_string(), "1.0");
    }
);
