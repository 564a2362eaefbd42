//! Authentication a deployment uses, through the real binary: JWTs from an identity provider
//! (RS256 keys from a JWKS file that rotates without a restart, issuer and audience checked,
//! the user id from the `sub` claim) beside static tokens, every refusal a 401 problem+json.

mod running;

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use reqwest::StatusCode;
use running::*;
use serde_json::{Value, json};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jwt");

fn signed(kid: &str, private_pem: &str, claims: Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    let pem = std::fs::read(format!("{FIXTURES}/{private_pem}")).unwrap();
    encode(&header, &claims, &EncodingKey::from_rsa_pem(&pem).unwrap()).unwrap()
}

fn claims(sub: &str, exp_in: i64) -> Value {
    let now = offgen_runtime::server::now_ms() / 1000;
    json!({"sub": sub, "iss": "https://idp.example/realms/field", "aud": "ranger",
           "exp": now + exp_in, "iat": now})
}

async fn pull(client: &reqwest::Client, base: &str, token: &str) -> reqwest::Response {
    client
        .get(format!("{base}/sync/pull"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn assert_401(response: reqwest::Response, why: &str) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{why}");
    assert_eq!(response.headers()["www-authenticate"], "Bearer", "{why}");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json",
        "{why}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["type"], "https://offgen.dev/problems/unauthorized",
        "{why}"
    );
    assert_eq!(body["status"], 401, "{why}");
}

#[tokio::test]
async fn identity_provider_tokens_and_static_tokens_authenticate_and_keys_rotate() {
    let db = TestDatabase::sqlite();
    let keys = tempfile::tempdir().unwrap();
    let jwks = keys.path().join("jwks.json");
    std::fs::copy(format!("{FIXTURES}/jwks.json"), &jwks).unwrap();
    let server = Process::start(&[
        ("DATABASE_URL", &db.url),
        ("OFFGEN_TOKENS", "service-account=svc-token"),
        ("OFFGEN_JWT_JWKS_FILE", jwks.to_str().unwrap()),
        ("OFFGEN_JWT_ISSUER", "https://idp.example/realms/field"),
        ("OFFGEN_JWT_AUDIENCE", "ranger"),
        ("OFFGEN_JWT_JWKS_RECHECK_SECS", "0"),
    ]);
    let client = reqwest::Client::new();
    let ana = signed("idp-2026", "idp-private.pem", claims(ANA, 300));

    // The JWT's `sub` is the user id owner scoping compares with: Ana writes her own rows.
    let push = client
        .post(format!("{}/sync/push", server.base))
        .bearer_auth(&ana)
        .json(&json!({"clientId": "d", "mutations": [
            {"mutationId": "m-1", "entity": "rangers", "id": ANA, "op": "insert",
             "data": {"name": "Ana", "badgeNumber": "B-1"}},
            {"mutationId": "m-2", "entity": "observations", "id": "00000000-0000-4000-8000-000000000001",
             "op": "insert", "data": {"ranger": ANA, "kind": "fire", "latitude": 1.0, "longitude": 2.0,
                                       "recordedAt": 1, "modifiedAt": 1}}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(push.status(), StatusCode::OK);
    let results: Value = push.json().await.unwrap();
    assert!(
        results["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "accepted"),
        "{results}"
    );
    assert_eq!(
        pull(&client, &server.base, &ana).await.status(),
        StatusCode::OK
    );
    // Static tokens work beside it.
    assert_eq!(
        pull(&client, &server.base, "svc-token").await.status(),
        StatusCode::OK
    );

    let now = offgen_runtime::server::now_ms() / 1000;
    for (why, token) in [
        (
            "expired",
            signed("idp-2026", "idp-private.pem", claims(ANA, -120)),
        ),
        (
            "signed by another key under the provider's kid",
            signed("idp-2026", "other-private.pem", claims(ANA, 300)),
        ),
        (
            "another issuer",
            signed(
                "idp-2026",
                "idp-private.pem",
                json!({"sub": ANA, "iss": "https://evil.example", "aud": "ranger", "exp": now + 300}),
            ),
        ),
        (
            "another audience",
            signed(
                "idp-2026",
                "idp-private.pem",
                json!({"sub": ANA, "iss": "https://idp.example/realms/field", "aud": "billing", "exp": now + 300}),
            ),
        ),
        (
            "an unknown key id",
            signed("rotated-2027", "other-private.pem", claims(ANA, 300)),
        ),
        ("not a token at all", "svc-token-but-wrong".to_owned()),
    ] {
        assert_401(pull(&client, &server.base, &token).await, why).await;
    }
    let missing = client
        .get(format!("{}/sync/pull", server.base))
        .send()
        .await
        .unwrap();
    assert_401(missing, "no Authorization header").await;

    // The provider rotates its keys: the JWKS file is rewritten, and a token signed with the
    // new key is accepted without restarting the server.
    let mut set: Value = serde_json::from_str(&std::fs::read_to_string(&jwks).unwrap()).unwrap();
    let rotated = rotated_jwk();
    set["keys"].as_array_mut().unwrap().push(rotated);
    std::fs::write(&jwks, set.to_string()).unwrap();
    let rotated_token = signed("rotated-2027", "other-private.pem", claims(ANA, 300));
    assert_eq!(
        pull(&client, &server.base, &rotated_token).await.status(),
        StatusCode::OK,
        "{}",
        server.stderr()
    );
    let reloaded = server
        .logs_once(|logs| logs.iter().any(|l| l["message"] == "JWKS reloaded"))
        .iter()
        .any(|l| l["message"] == "JWKS reloaded");
    assert!(reloaded, "{}", server.stderr());
}

/// The public half of `other-private.pem` as a JWK with kid `rotated-2027`.
fn rotated_jwk() -> Value {
    let text = std::fs::read_to_string(format!("{FIXTURES}/other-public.jwk.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn a_pem_public_key_verifies_tokens_and_refuses_others() {
    let db = TestDatabase::sqlite();
    let server = Process::start(&[
        ("DATABASE_URL", &db.url),
        (
            "OFFGEN_JWT_PUBLIC_KEY_FILE",
            &format!("{FIXTURES}/idp-public.pem"),
        ),
        ("OFFGEN_JWT_ALGORITHMS", "RS256"),
    ]);
    let client = reqwest::Client::new();
    let good = signed("any", "idp-private.pem", claims(ANA, 300));
    assert_eq!(
        pull(&client, &server.base, &good).await.status(),
        StatusCode::OK
    );
    let foreign = signed("any", "other-private.pem", claims(ANA, 300));
    assert_401(pull(&client, &server.base, &foreign).await, "another key").await;
    // The same claims as an HMAC token "signed" with the public key's bytes: the classic
    // algorithm confusion, refused because only RS256 fits the key.
    let pem = std::fs::read(format!("{FIXTURES}/idp-public.pem")).unwrap();
    let confused = encode(
        &Header::new(Algorithm::HS256),
        &claims(ANA, 300),
        &EncodingKey::from_secret(&pem).unwrap(),
    )
    .unwrap();
    assert_401(
        pull(&client, &server.base, &confused).await,
        "HS256 with the public key",
    )
    .await;
}
