//! Hostile HTTP against the real binary, on SQLite and on PostgreSQL: huge and deeply nested
//! JSON, wrong types, unknown fields, negative and huge versions, invalid UUIDs, SQL-looking
//! strings, slow and truncated bodies, a thousand mutations of one row in one batch, cursors
//! that were never issued. Each is answered with a clear 4xx problem+json or a per-item result;
//! what is stored stays as it was (checked through the API after every refusal), SQL-looking
//! text is stored verbatim, the process stays up and its memory stays bounded.

mod running;

use std::time::{Duration, Instant};

use reqwest::{StatusCode, header};
use running::*;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The body limit the server runs with here (`OFFGEN_MAX_BODY_BYTES`): small, so the huge
/// bodies stay quick to send.
const MAX_BODY: usize = 1 << 20;

/// Strings that would do harm if any of them reached SQL as text instead of as a parameter.
const SQL_LOOKING: &[&str] = &[
    "'; DROP TABLE rangers; --",
    "\" OR \"1\"=\"1",
    "x' OR 1=1 --",
    "$1; SELECT pg_sleep(10)",
    "'); DELETE FROM observations WHERE ('1'='1",
    "\\'; --",
    "%s%s%s%n",
    "?",
    "Robert'); DROP TABLE \"_offgen_mutations\";--",
    "/* */ UNION SELECT * FROM _offgen_audit --",
    // And text that is hard on encodings: astral, right-to-left override, BOM, combining.
    "\u{1F600} \u{202E}abc \u{FEFF}e\u{301} \u{10FFFF}",
];

fn id(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

struct Hostile {
    server: Process,
    client: reqwest::Client,
    next: std::cell::Cell<u64>,
}

impl Hostile {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base)
    }

    fn mutation_id(&self) -> String {
        self.next.set(self.next.get() + 1);
        format!("hostile-{}", self.next.get())
    }

    /// A push of `body` (any JSON text); the response.
    async fn push_raw(&self, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.client
            .post(self.url("/sync/push"))
            .bearer_auth(ANA_TOKEN)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// A push of `mutations` that must be answered 200; its results.
    async fn push(&self, mutations: Value) -> Vec<Value> {
        let response = self
            .push_raw(json!({"clientId": "hostile", "mutations": mutations}).to_string())
            .await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        body["results"].as_array().unwrap().clone()
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(ANA_TOKEN)
            .send()
            .await
            .unwrap()
    }

    /// Everything Ana can see: every pulled record and every REST list, in order.
    async fn everything(&self) -> Value {
        let mut records = Vec::new();
        let mut cursor = String::new();
        loop {
            let page: Value = self
                .get(&format!("/sync/pull?limit=1000&cursor={cursor}"))
                .await
                .json()
                .await
                .unwrap();
            records.extend(page["records"].as_array().unwrap().iter().cloned());
            cursor = page["cursor"].as_str().unwrap().to_owned();
            if !page["hasMore"].as_bool().unwrap() {
                break;
            }
        }
        let mut lists = Vec::new();
        for table in ["rangers", "patrol_routes", "observations"] {
            let page: Value = self
                .get(&format!("/v1/{table}?limit=1000"))
                .await
                .json()
                .await
                .unwrap();
            lists.push(page["records"].clone());
        }
        json!({"pulled": records, "lists": lists})
    }

    /// The process still answers, with its database.
    async fn still_up(&mut self) {
        assert!(
            self.server.running(),
            "the server died:\n{}",
            self.server.stderr()
        );
        let health = self.client.get(self.url("/healthz")).send().await.unwrap();
        assert_eq!(health.status(), StatusCode::OK);
    }
}

/// A 4xx problem document; its status and body.
async fn refused(response: reqwest::Response, what: &str) -> (StatusCode, Value) {
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    assert!(status.is_client_error(), "{what}: {status} {text}");
    assert_eq!(
        content_type.as_deref(),
        Some("application/problem+json"),
        "{what}: {text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["status"], status.as_u16(), "{what}");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{what}: {body}"
    );
    (status, body)
}

fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

/// A raw HTTP/1.1 request on its own connection: `head` then `body`, at `pace` between
/// chunks of `chunk` bytes; then the answer's status line, if any came within `wait`.
async fn raw(
    addr: &str,
    head: String,
    body: &[u8],
    chunk: usize,
    pace: Duration,
    close_after: bool,
    wait: Duration,
) -> Option<String> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    for part in body.chunks(chunk.max(1)) {
        if stream.write_all(part).await.is_err() {
            break;
        }
        tokio::time::sleep(pace).await;
    }
    if close_after {
        let _ = stream.shutdown().await;
    }
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    let _ = tokio::time::timeout(wait, async {
        while let Ok(n) = stream.read(&mut buffer).await {
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buffer[..n]);
            if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    })
    .await;
    let text = String::from_utf8_lossy(&answer).into_owned();
    text.lines()
        .next()
        .map(str::to_owned)
        .filter(|l| !l.is_empty())
}

fn push_head(length: usize) -> String {
    format!(
        "POST /sync/push HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ANA_TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    )
}

async fn hostile(postgres: bool) {
    let db = TestDatabase::of(postgres).await;
    let tokens = tokens(0);
    let max_body = MAX_BODY.to_string();
    let server = Process::start(&[
        ("DATABASE_URL", &db.url),
        ("OFFGEN_TOKENS", &tokens),
        ("OFFGEN_MAX_BODY_BYTES", &max_body),
        ("OFFGEN_REQUEST_TIMEOUT_SECS", "2"),
        ("OFFGEN_LOG", "warn,offgen_runtime::server::serve=info"),
    ]);
    let mut h = Hostile {
        server,
        client: reqwest::Client::new(),
        next: std::cell::Cell::new(0),
    };

    // What is stored before: Ana's ranger, a route and an observation, every text field of
    // them SQL-looking, and a JSON value with SQL-looking keys and values.
    let sql = |i: usize| SQL_LOOKING[i % SQL_LOOKING.len()];
    let geometry: Value = SQL_LOOKING
        .iter()
        .enumerate()
        .map(|(i, s)| (s.to_string(), json!([s, i, {"k": s}])))
        .collect::<serde_json::Map<_, _>>()
        .into();
    let route = id(0x2001);
    let observation = id(0x3001);
    let seeded = h
        .push(json!([
            {"mutationId": h.mutation_id(), "entity": "rangers", "id": ANA, "op": "insert",
             "data": {"name": sql(0), "badgeNumber": sql(1), "station": sql(2)}},
            {"mutationId": h.mutation_id(), "entity": "patrol_routes", "id": route, "op": "insert",
             "data": {"name": sql(3), "sector": sql(4), "geometry": geometry}},
            {"mutationId": h.mutation_id(), "entity": "observations", "id": observation,
             "op": "insert", "data": {"ranger": ANA, "route": route, "kind": "other",
             "species": sql(5), "latitude": 1.5, "longitude": 2.5, "notes": sql(6),
             "photoPath": sql(7), "recordedAt": 1, "modifiedAt": 1}},
        ]))
        .await;
    for result in &seeded {
        assert_eq!(result["status"], "accepted", "{result}");
    }
    // Stored verbatim: read back exactly as sent, through REST and pull.
    let ranger: Value = h
        .get(&format!("/v1/rangers/{ANA}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&ranger["name"], &ranger["badgeNumber"], &ranger["station"]),
        (&json!(sql(0)), &json!(sql(1)), &json!(sql(2)))
    );
    let got_route: Value = h
        .get(&format!("/v1/patrol_routes/{route}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got_route["geometry"], geometry);
    assert_eq!(
        (&got_route["name"], &got_route["sector"]),
        (&json!(sql(3)), &json!(sql(4)))
    );
    let got: Value = h
        .get(&format!("/v1/observations/{observation}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&got["species"], &got["notes"], &got["photoPath"]),
        (&json!(sql(5)), &json!(sql(6)), &json!(sql(7)))
    );
    // JSON nested as deep as a body may be (the parser's limit is 128) is stored and read
    // back as it was, on both databases.
    let mut deep_value = json!("bottom");
    for level in 0..120 {
        deep_value = if level % 2 == 0 {
            json!([deep_value])
        } else {
            json!({"k": deep_value})
        };
    }
    let deep_route = id(0x2003);
    let stored = h
        .push(json!([{"mutationId": h.mutation_id(), "entity": "patrol_routes", "id": deep_route,
                      "op": "insert", "data": {"name": "deep", "sector": "s", "geometry": deep_value}}]))
        .await;
    assert_eq!(stored[0]["status"], "accepted", "{}", stored[0]);
    let got: Value = h
        .get(&format!("/v1/patrol_routes/{deep_route}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["geometry"], deep_value);
    let before = h.everything().await;
    let rss_before = h.server.rss_kib();

    // Huge bodies, declared (Content-Length) or streamed (chunked): 413 for the whole request.
    let huge = format!(
        "{{\"clientId\":\"d\",\"mutations\":[],\"pad\":\"{}\"}}",
        "x".repeat(2 * MAX_BODY)
    );
    for _ in 0..10 {
        let (status, _) = refused(h.push_raw(huge.clone()).await, "huge").await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    }
    let mut chunked = Vec::new();
    for _ in 0..40 {
        chunked.extend_from_slice(format!("{:x}\r\n", 64 * 1024).as_bytes());
        chunked.extend_from_slice(&[b' '; 64 * 1024]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let head = format!(
        "POST /sync/push HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ANA_TOKEN}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    let status = raw(
        &h.server.addr,
        head,
        &chunked,
        64 * 1024,
        Duration::ZERO,
        false,
        Duration::from_secs(5),
    )
    .await;
    assert!(
        status.as_deref().is_some_and(|s| s.contains(" 413 ")),
        "a streamed huge body: {status:?}"
    );
    // Many at once: each refused, memory bounded.
    let at_once: Vec<_> = (0..16)
        .map(|_| {
            let request = h
                .client
                .post(h.url("/sync/push"))
                .bearer_auth(ANA_TOKEN)
                .header(header::CONTENT_TYPE, "application/json")
                .body(huge.clone());
            tokio::spawn(async move { request.send().await.unwrap().status() })
        })
        .collect();
    for answer in at_once {
        assert_eq!(answer.await.unwrap(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    // Deeply nested JSON, as the body, inside a value, and in a REST body: 400, not a stack
    // overflow.
    let deep = nested(100_000);
    let cases = [
        deep.clone(),
        format!(
            "{{\"clientId\":\"d\",\"mutations\":[{{\"mutationId\":\"m\",\"entity\":\"patrol_routes\",\
             \"id\":\"{route}\",\"op\":\"update\",\"baseVersion\":1,\"data\":{{\"geometry\":{deep}}}}}]}}"
        ),
        format!("{{\"clientId\":\"d\",\"mutations\":{deep}}}"),
    ];
    for body in &cases {
        let (status, _) = refused(h.push_raw(body.clone()).await, "deep").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    let rest_deep = h
        .client
        .post(h.url("/v1/patrol_routes"))
        .bearer_auth(ANA_TOKEN)
        .header(header::CONTENT_TYPE, "application/json")
        .body(format!(
            "{{\"id\":\"{}\",\"name\":\"n\",\"sector\":\"s\",\"geometry\":{deep}}}",
            id(0x2002)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        refused(rest_deep, "rest deep").await.0,
        StatusCode::BAD_REQUEST
    );

    // The envelope with wrong types or unknown keys: the whole request is 400.
    let m = |extra: Value| {
        let mut mutation = json!({"mutationId": "m-x", "entity": "rangers", "id": ANA,
                                  "op": "update", "baseVersion": 1, "data": {"name": "x"}});
        for (k, v) in extra.as_object().unwrap() {
            mutation[k] = v.clone();
        }
        mutation
    };
    let envelopes = [
        json!({"clientId": 5, "mutations": []}),
        json!({"clientId": "d", "mutations": {}}),
        json!({"clientId": "d", "mutations": [5]}),
        json!({"clientId": "d"}),
        json!({"clientId": "d", "mutations": [], "sneaky": true}),
        json!({"clientId": "d", "mutations": [m(json!({"op": 5}))]}),
        json!({"clientId": "d", "mutations": [m(json!({"op": "upsert"}))]}),
        json!({"clientId": "d", "mutations": [m(json!({"baseVersion": "1"}))]}),
        json!({"clientId": "d", "mutations": [m(json!({"baseVersion": 1.5}))]}),
        json!({"clientId": "d", "mutations": [m(json!({"baseVersion": 1e300}))]}),
        json!({"clientId": "d", "mutations": [m(json!({"baseVersion": -1e300}))]}),
        json!({"clientId": "d", "mutations": [m(json!({"data": []}))]}),
        json!({"clientId": "d", "mutations": [m(json!({"data": "name=x"}))]}),
        json!({"clientId": "d", "mutations": [m(json!({"stamp": "now"}))]}),
        json!({"clientId": "d", "mutations": [m(json!({"fieldStamps": [1]}))]}),
        json!({"clientId": "d", "mutations": [m(json!({"extra": 1}))]}),
        json!([]),
        json!("push"),
        json!(null),
    ];
    for body in &envelopes {
        let (status, _) = refused(h.push_raw(body.to_string()).await, &body.to_string()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
    // Numbers JSON can write but no 64-bit integer holds: 400 too.
    for version in ["18446744073709551616", "-9223372036854775809", "1e400"] {
        let body = format!(
            "{{\"clientId\":\"d\",\"mutations\":[{{\"mutationId\":\"m\",\"entity\":\"rangers\",\
             \"id\":\"{ANA}\",\"op\":\"update\",\"baseVersion\":{version},\"data\":{{}}}}]}}"
        );
        let (status, _) = refused(h.push_raw(body).await, version).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{version}");
    }

    // Per item: wrong value types, unknown fields, invalid ids, unknown entities, versions
    // out of every range. Each is that mutation's own answer; none is applied.
    let items = vec![
        m(json!({"mutationId": h.mutation_id(), "data": {"name": 5}})),
        m(json!({"mutationId": h.mutation_id(), "data": {"name": ["a"]}})),
        m(json!({"mutationId": h.mutation_id(), "data": {"name": null}})),
        m(json!({"mutationId": h.mutation_id(), "data": {"bogus": "x"}})),
        m(json!({"mutationId": h.mutation_id(), "data": {"name; DROP TABLE rangers": "x"}})),
        m(json!({"mutationId": h.mutation_id(), "data": {"active": "yes"}})),
        m(
            json!({"mutationId": h.mutation_id(), "entity": "observations", "id": observation,
                 "data": {"latitude": "north"}}),
        ),
        m(
            json!({"mutationId": h.mutation_id(), "entity": "observations", "id": observation,
                 "data": {"count": 1.5}}),
        ),
        m(
            json!({"mutationId": h.mutation_id(), "entity": "observations", "id": observation,
                 "data": {"kind": "dragon"}}),
        ),
        m(
            json!({"mutationId": h.mutation_id(), "entity": "observations", "id": observation,
                 "data": {"thumbnail": "xyz"}}),
        ),
        m(
            json!({"mutationId": h.mutation_id(), "entity": "observations", "id": observation,
                 "data": {"patrolDay": "2024-02-30"}}),
        ),
        m(
            json!({"mutationId": h.mutation_id(), "entity": "observations", "id": observation,
                 "data": {"sightingId": "not-a-uuid"}}),
        ),
        m(
            json!({"mutationId": h.mutation_id(), "entity": "observations", "id": observation,
                 "data": {"route": id(0xdead)}}),
        ),
        m(json!({"mutationId": h.mutation_id(), "id": ANA.to_uppercase()})),
        m(json!({"mutationId": h.mutation_id(), "id": "not-a-uuid"})),
        m(json!({"mutationId": h.mutation_id(), "id": "' OR 1=1 --"})),
        m(json!({"mutationId": h.mutation_id(), "id": ""})),
        m(json!({"mutationId": h.mutation_id(), "entity": "rangers; DROP TABLE rangers"})),
        m(json!({"mutationId": h.mutation_id(), "entity": "_offgen_mutations"})),
        m(json!({"mutationId": h.mutation_id(), "baseVersion": -1})),
        m(json!({"mutationId": h.mutation_id(), "baseVersion": 0})),
        m(json!({"mutationId": h.mutation_id(), "baseVersion": i64::MAX})),
        m(json!({"mutationId": h.mutation_id(), "baseVersion": i64::MIN})),
        m(json!({"mutationId": h.mutation_id(), "op": "delete", "baseVersion": i64::MAX})),
        m(
            json!({"mutationId": h.mutation_id(), "op": "insert", "baseVersion": null,
                 "data": {"name": "again", "badgeNumber": "B"}}),
        ),
        m(json!({"mutationId": "", "data": {"name": "x"}})),
        m(json!({"mutationId": "x".repeat(129), "data": {"name": "x"}})),
        m(json!({"mutationId": h.mutation_id(), "stamp": i64::MAX, "data": {"bogus": 1}})),
    ];
    let count = items.len();
    let results = h.push(Value::Array(items)).await;
    assert_eq!(results.len(), count);
    // What each was answered, in order: the value checks, the ids, the entities, then the
    // versions no row has (a conflict with the current record), then the mutation ids.
    let mut expected = vec![("rejected", "invalid-data"); 13];
    expected.extend([("rejected", "invalid-id"); 4]);
    expected.extend([("rejected", "unknown-entity"); 2]);
    expected.extend([("conflict", ""); 6]);
    expected.extend([("rejected", "invalid-request"); 2]);
    expected.push(("rejected", "invalid-data"));
    let answered: Vec<(&str, &str)> = results
        .iter()
        .map(|r| {
            let code = r["error"]["code"].as_str().unwrap_or_default();
            (r["status"].as_str().unwrap(), code)
        })
        .collect();
    assert_eq!(answered, expected, "{results:#?}");
    for result in &results {
        if result["status"] == "rejected" {
            let message = result["error"]["message"].as_str().unwrap_or_default();
            assert!(!message.is_empty(), "{result}");
        } else {
            // A conflict shows the record as it is, at the version it is.
            assert_eq!(result["version"], 1, "{result}");
        }
    }
    assert_eq!(h.everything().await, before, "nothing refused was stored");

    // REST with the same: 4xx problems, nothing stored.
    let rest_bodies = [
        (
            "POST",
            "/v1/rangers".to_owned(),
            json!({"id": id(0x1001), "name": 5, "badgeNumber": "b"}),
        ),
        (
            "POST",
            "/v1/rangers".to_owned(),
            json!({"id": id(0x1001), "name": "n", "badgeNumber": "b", "bogus": 1}),
        ),
        (
            "POST",
            "/v1/rangers".to_owned(),
            json!({"id": "NOT-A-UUID", "name": "n", "badgeNumber": "b"}),
        ),
        (
            "POST",
            "/v1/rangers".to_owned(),
            json!({"id": "'; DROP TABLE rangers; --", "name": "n", "badgeNumber": "b"}),
        ),
        (
            "POST",
            "/v1/rangers".to_owned(),
            json!([{"id": id(0x1001)}]),
        ),
        ("POST", "/v1/rangers".to_owned(), json!("rangers")),
        (
            "PUT",
            format!("/v1/rangers/{ANA}"),
            json!({"name": "n", "badgeNumber": "b", "active": "no"}),
        ),
        (
            "PUT",
            format!("/v1/rangers/{ANA}"),
            json!({"name": "n", "badgeNumber": "b", "version": "x", "bogus": 1}),
        ),
        (
            "PUT",
            format!("/v1/rangers/{}", ANA.to_uppercase()),
            json!({"name": "n", "badgeNumber": "b"}),
        ),
        (
            "PUT",
            "/v1/rangers/not-a-uuid".to_owned(),
            json!({"name": "n", "badgeNumber": "b"}),
        ),
        (
            "DELETE",
            "/v1/rangers/'%20OR%201=1%20--".to_owned(),
            json!(null),
        ),
    ];
    for (method, path, body) in &rest_bodies {
        let request = h
            .client
            .request(method.parse().unwrap(), h.url(path))
            .bearer_auth(ANA_TOKEN)
            .header(header::IF_MATCH, "\"1\"");
        let request = if body.is_null() {
            request
        } else {
            request.json(body)
        };
        refused(
            request.send().await.unwrap(),
            &format!("{method} {path} {body}"),
        )
        .await;
    }
    for tag in [
        "\"-1\"",
        "\"0\"",
        "\"99999999999999999999999\"",
        "W/\"1\"",
        "W/\"1\", \"2\"",
    ] {
        let stale = h
            .client
            .put(h.url(&format!("/v1/rangers/{ANA}")))
            .bearer_auth(ANA_TOKEN)
            .header(header::IF_MATCH, tag)
            .json(&json!({"name": "n", "badgeNumber": "b"}))
            .send()
            .await
            .unwrap();
        let (status, body) = refused(stale, tag).await;
        // Weak tags never match; no version is negative, zero or that large.
        assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{tag}: {body}");
    }
    for tag in ["1", "\"1", "\u{1}", "*, \"1\"", "\"a b\""] {
        let malformed = h
            .client
            .delete(h.url(&format!("/v1/rangers/{ANA}")))
            .bearer_auth(ANA_TOKEN)
            .header(header::IF_MATCH, tag)
            .send()
            .await;
        // A header value reqwest itself refuses to send is no test of the server.
        let Ok(malformed) = malformed else { continue };
        assert_eq!(
            refused(malformed, tag).await.0,
            StatusCode::BAD_REQUEST,
            "{tag}"
        );
    }
    assert_eq!(
        h.everything().await,
        before,
        "nothing refused over REST was stored"
    );

    // Cursors this server never gave out, and SQL in query strings: 400.
    for query in [
        "/sync/pull?cursor=garbage",
        "/sync/pull?cursor=-1",
        "/sync/pull?cursor=1e3",
        "/sync/pull?cursor=99999999999999999999999999",
        "/sync/pull?cursor=999999999",
        "/sync/pull?cursor=999999999.999999999",
        "/sync/pull?cursor=%27%20OR%201%3D1%20--",
        "/sync/pull?cursor=%00",
        "/sync/pull?limit=-1",
        "/sync/pull?limit=99999999999999999999",
        "/sync/pull?limit=1%3B%20DROP%20TABLE%20rangers",
        "/v1/rangers?cursor=%27%20OR%201%3D1%20--",
        "/v1/rangers?cursor=zzzz",
        "/v1/rangers?limit=0",
    ] {
        let (status, _) = refused(h.get(query).await, query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
    }

    // Slow bodies: a request that has not arrived whole within the request timeout is 503
    // (try again) and nothing of it is applied.
    let body = json!({"clientId": "slow", "mutations": [
        {"mutationId": h.mutation_id(), "entity": "rangers", "id": ANA, "op": "update",
         "baseVersion": 1, "data": {"name": "slow"}}]})
    .to_string();
    let started = Instant::now();
    let status = raw(
        &h.server.addr,
        push_head(body.len()),
        &body.as_bytes()[..body.len() / 2],
        4,
        Duration::from_millis(300),
        false,
        Duration::from_secs(6),
    )
    .await;
    assert!(
        status.as_deref().is_some_and(|s| s.contains(" 503 ")),
        "a slow body: {status:?} after {:?}",
        started.elapsed()
    );
    assert!(started.elapsed() < Duration::from_secs(6));
    // Truncated bodies: fewer bytes than declared, then the connection closes.
    for cut in [0, 1, body.len() / 2, body.len() - 1] {
        let answer = raw(
            &h.server.addr,
            push_head(body.len()),
            &body.as_bytes()[..cut],
            4096,
            Duration::ZERO,
            true,
            Duration::from_secs(4),
        )
        .await;
        // Either a 4xx or a closed connection: never a 2xx or a 5xx of the server's own.
        if let Some(line) = &answer {
            assert!(
                line.contains(" 400 ") || line.contains(" 408 "),
                "cut at {cut}: {line}"
            );
        }
    }
    assert_eq!(
        h.everything().await,
        before,
        "no slow or cut-off body was applied"
    );
    h.still_up().await;

    // A thousand mutations of one row in one batch: in order, each seeing the one before.
    let busy = id(0x4001);
    let mut batch = vec![
        json!({"mutationId": h.mutation_id(), "entity": "rangers", "id": busy,
                                "op": "insert", "data": {"name": "v1", "badgeNumber": "busy"}}),
    ];
    for version in 1..1000 {
        batch.push(
            json!({"mutationId": h.mutation_id(), "entity": "rangers", "id": busy,
                          "op": "update", "baseVersion": version,
                          "data": {"name": format!("v{}", version + 1)}}),
        );
    }
    let started = Instant::now();
    let results = h.push(Value::Array(batch)).await;
    let took = started.elapsed();
    assert_eq!(results.len(), 1000);
    for (i, result) in results.iter().enumerate() {
        assert_eq!(
            (&result["status"], &result["version"]),
            (&json!("accepted"), &json!(i + 1)),
            "{result}"
        );
    }
    let row: Value = h
        .get(&format!("/v1/rangers/{busy}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&row["name"], &row["version"]),
        (&json!("v1000"), &json!(1000))
    );
    // ...all based on the same version: the first wins, the other 999 are conflicts.
    let stale: Vec<Value> = (0..1000)
        .map(|i| {
            json!({"mutationId": h.mutation_id(), "entity": "rangers", "id": busy,
                        "op": "update", "baseVersion": 1000, "data": {"name": format!("s{i}")}})
        })
        .collect();
    let results = h.push(Value::Array(stale)).await;
    assert_eq!(results[0]["status"], "accepted");
    assert!(results[1..].iter().all(|r| r["status"] == "conflict"));
    // ...and one mutation sent a thousand times in one batch is applied once.
    let once = json!({"mutationId": h.mutation_id(), "entity": "rangers", "id": busy,
                      "op": "update", "baseVersion": 1001, "data": {"name": "once"}});
    let results = h.push(Value::Array(vec![once; 1000])).await;
    assert!(
        results
            .iter()
            .all(|r| r == &results[0] && r["status"] == "accepted")
    );
    let row: Value = h
        .get(&format!("/v1/rangers/{busy}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&row["name"], &row["version"]),
        (&json!("once"), &json!(1002))
    );
    println!("1000 mutations of one row in one batch: {took:?}");

    // The server is up and its memory bounded after all of it.
    h.still_up().await;
    let rss_after = h.server.rss_kib();
    println!("resident memory: {rss_before} KiB before, {rss_after} KiB after");
    assert!(
        rss_after < rss_before + 96 * 1024,
        "memory grew from {rss_before} KiB to {rss_after} KiB"
    );
    let _ = db;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_are_refused_and_change_nothing_on_sqlite() {
    hostile(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_are_refused_and_change_nothing_on_postgres() {
    hostile(true).await;
}
