//! The photos of observations (an attachment field) over real HTTP: uploads and downloads of
//! their bytes, on SQLite with files in a directory and on PostgreSQL with files in a real
//! S3-compatible server (moto, started by scripts/test.sh).

mod support;

use std::time::Duration;

use offgen_runtime::attachments::{MAX_BYTES_HEADER, sha256_hex};
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};
use support::*;
use tokio::io::AsyncWriteExt;

/// Bytes standing for a photo: `n` of them, different for each `seed`.
fn photo(seed: u8, n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn reference(bytes: &[u8]) -> Value {
    json!({"sha256": sha256_hex(bytes), "size": bytes.len(), "mediaType": "image/jpeg"})
}

/// Ana's observation `id`, pushed with `photo` as its photo; the path of the photo's bytes.
async fn observed(s: &Server, id: &str, photo: &[u8]) -> String {
    let mut data = observation(ANA, 1);
    data["photo"] = reference(photo);
    let results = s
        .push(ANA_TOKEN, json!([insert("observations", id, data)]))
        .await;
    assert_eq!(results[0]["status"], "accepted", "{results}");
    format!("/attachments/observations/{id}/photo/{}", sha256_hex(photo))
}

async fn put(s: &Server, path: &str, token: &str, bytes: Vec<u8>) -> reqwest::Response {
    s.request(Method::PUT, path, Some(token))
        .header(header::CONTENT_TYPE, "image/jpeg")
        .body(bytes)
        .send()
        .await
        .unwrap()
}

async fn problem(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/problem+json"
    );
    (status, response.json().await.unwrap())
}

async fn stored(s: &Server) -> Vec<(String, u64)> {
    s.files.as_ref().unwrap().stored().await.unwrap()
}

on_both!(
    an_upload_is_stored_once_and_served_to_its_owner,
    |s: Server| async move {
        let bytes = photo(1, 300_000);
        let path = observed(&s, &uuid(1), &bytes).await;

        let first = put(&s, &path, ANA_TOKEN, bytes.clone()).await;
        assert_eq!(first.status(), StatusCode::CREATED);
        assert_eq!(
            first.headers()[MAX_BYTES_HEADER],
            offgen_runtime::server::attachments::DEFAULT_MAX_BYTES
                .to_string()
                .as_str()
        );
        assert_eq!(first.json::<Value>().await.unwrap(), reference(&bytes));
        // A retry (a lost answer) or a second copy: the same one object.
        let again = put(&s, &path, ANA_TOKEN, bytes.clone()).await;
        assert_eq!(again.status(), StatusCode::OK);
        assert_eq!(stored(&s).await, [(sha256_hex(&bytes), bytes.len() as u64)]);

        let got = s
            .request(Method::GET, &path, Some(ANA_TOKEN))
            .send()
            .await
            .unwrap();
        assert_eq!(got.status(), StatusCode::OK);
        assert_eq!(got.headers()[header::CONTENT_TYPE], "image/jpeg");
        let etag = format!("\"{}\"", sha256_hex(&bytes));
        assert_eq!(got.headers()[header::ETAG], etag.as_str());
        assert_eq!(got.bytes().await.unwrap(), bytes);

        let head = s
            .request(Method::HEAD, &path, Some(ANA_TOKEN))
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), StatusCode::OK);
        assert_eq!(head.headers()[header::CONTENT_LENGTH], "300000");

        // A download cut off goes on where it stopped.
        let rest = s
            .request(Method::GET, &path, Some(ANA_TOKEN))
            .header(header::RANGE, "bytes=299990-")
            .send()
            .await
            .unwrap();
        assert_eq!(rest.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(
            rest.headers()[header::CONTENT_RANGE],
            "bytes 299990-299999/300000"
        );
        assert_eq!(rest.bytes().await.unwrap(), bytes[299_990..]);
        let past = s
            .request(Method::GET, &path, Some(ANA_TOKEN))
            .header(header::RANGE, "bytes=300000-")
            .send()
            .await
            .unwrap();
        assert_eq!(past.status(), StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(past.headers()[header::CONTENT_RANGE], "bytes */300000");
        let cached = s
            .request(Method::GET, &path, Some(ANA_TOKEN))
            .header(header::IF_NONE_MATCH, &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
    }
);

on_both!(
    a_file_its_row_does_not_refer_to_is_refused,
    |s: Server| async move {
        let bytes = photo(2, 1000);
        let hash = sha256_hex(&bytes);
        // The record has not reached the server yet: nothing to attach to.
        let early = format!("/attachments/observations/{}/photo/{hash}", uuid(2));
        let (status, _) = problem(put(&s, &early, ANA_TOKEN, bytes.clone()).await).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // The row refers to another file.
        let path = observed(&s, &uuid(2), &photo(3, 1000)).await;
        let other = path.replace(&sha256_hex(&photo(3, 1000)), &hash);
        let (status, body) = problem(put(&s, &other, ANA_TOKEN, bytes.clone()).await).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        // Not uploaded yet: not served.
        let (status, body) = problem(
            s.request(Method::GET, &path, Some(ANA_TOKEN))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("not been uploaded yet"),
            "{body}"
        );
        // Not an attachment field, no such entity, a name that is no hash.
        for (path, expected) in [
            (
                format!("/attachments/observations/{}/notes/{hash}", uuid(2)),
                StatusCode::NOT_FOUND,
            ),
            (
                format!("/attachments/nothing/{}/photo/{hash}", uuid(2)),
                StatusCode::NOT_FOUND,
            ),
            (
                format!(
                    "/attachments/observations/{}/photo/{}",
                    uuid(2),
                    hash.to_uppercase()
                ),
                StatusCode::BAD_REQUEST,
            ),
        ] {
            let (status, _) = problem(put(&s, &path, ANA_TOKEN, bytes.clone()).await).await;
            assert_eq!(status, expected, "{path}");
        }
        assert!(stored(&s).await.is_empty());
        // No token: 401.
        let anonymous = s.request(Method::GET, &path, None).send().await.unwrap();
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    }
);

on_both!(
    bytes_that_changed_on_the_way_are_refused_and_a_retry_succeeds,
    |s: Server| async move {
        let bytes = photo(4, 200_000);
        let path = observed(&s, &uuid(4), &bytes).await;
        let mut corrupted = bytes.clone();
        corrupted[100_000] ^= 0x40;
        let (status, body) = problem(put(&s, &path, ANA_TOKEN, corrupted).await).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["type"], "https://offgen.dev/problems/digest-mismatch");
        assert!(stored(&s).await.is_empty(), "nothing of it is visible");
        let (status, _) = problem(put(&s, &path, ANA_TOKEN, bytes[..1000].to_vec()).await).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "a body shorter than the file"
        );
        assert_eq!(
            put(&s, &path, ANA_TOKEN, bytes.clone()).await.status(),
            StatusCode::CREATED
        );
        assert_eq!(stored(&s).await.len(), 1);
    }
);

on_both!(
    an_upload_cut_off_half_way_leaves_nothing_and_a_retry_stores_one_object,
    |s: Server| async move {
        // Over 5 MiB, so a first part is written to the store before the cut.
        let bytes = photo(5, 6 * 1024 * 1024 + 17);
        let path = observed(&s, &uuid(5), &bytes).await;
        let address = s.base.trim_start_matches("http://").to_owned();
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        let head = format!(
            "PUT {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {ANA_TOKEN}\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
            bytes.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let half = bytes.len() / 2 + 1024 * 1024;
        stream.write_all(&bytes[..half]).await.unwrap();
        stream.flush().await.unwrap();
        // The link drops.
        drop(stream);
        // The server gives the upload up (its body ends early); nothing becomes visible.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let uploads = s.scalar("SELECT count(*) FROM _offgen_attachments").await;
            assert_eq!(uploads, 0, "nothing recorded");
            if stored(&s).await.is_empty() || std::time::Instant::now() > deadline {
                break;
            }
        }
        assert!(stored(&s).await.is_empty(), "nothing stored");
        let head = s
            .request(Method::HEAD, &path, Some(ANA_TOKEN))
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), StatusCode::NOT_FOUND);
        // The retry succeeds, and there is one object.
        assert_eq!(
            put(&s, &path, ANA_TOKEN, bytes.clone()).await.status(),
            StatusCode::CREATED
        );
        assert_eq!(stored(&s).await, [(sha256_hex(&bytes), bytes.len() as u64)]);
        let got = s
            .request(Method::GET, &path, Some(ANA_TOKEN))
            .send()
            .await
            .unwrap();
        assert_eq!(got.bytes().await.unwrap(), bytes);
    }
);

on_both!(
    another_users_photo_is_answered_as_one_that_does_not_exist,
    |s: Server| async move {
        let bytes = photo(6, 5000);
        let path = observed(&s, &uuid(6), &bytes).await;
        assert_eq!(
            put(&s, &path, ANA_TOKEN, bytes.clone()).await.status(),
            StatusCode::CREATED
        );
        let missing = path.replace(&uuid(6), &uuid(66));
        let same = |body: &Value, id: &str| {
            let mut body = body.clone();
            body["detail"] = json!(body["detail"].as_str().unwrap().replace(id, "<id>"));
            body
        };
        for (method, body) in [
            (Method::GET, None),
            (Method::HEAD, None),
            (Method::PUT, Some(bytes.clone())),
            (Method::PUT, Some(photo(7, 5000))),
        ] {
            let ask = |path: String| {
                let request = s.request(method.clone(), &path, Some(BEN_TOKEN));
                match &body {
                    Some(b) => request.body(b.clone()),
                    None => request,
                }
            };
            let theirs = ask(path.clone()).send().await.unwrap();
            let nobodys = ask(missing.clone()).send().await.unwrap();
            assert_eq!(theirs.status(), StatusCode::NOT_FOUND, "{method}");
            assert_eq!(nobodys.status(), StatusCode::NOT_FOUND, "{method}");
            if method != Method::HEAD {
                let theirs: Value = theirs.json().await.unwrap();
                let nobodys: Value = nobodys.json().await.unwrap();
                assert_eq!(
                    same(&theirs, &uuid(6)),
                    same(&nobodys, &uuid(66)),
                    "{method}"
                );
            }
        }
        // Ben's own row cannot name Ana's photo to get it: it was never uploaded for his row.
        let mut data = observation(BEN, 1);
        data["photo"] = reference(&bytes);
        let results = s
            .push(BEN_TOKEN, json!([insert("observations", &uuid(7), data)]))
            .await;
        assert_eq!(results[0]["status"], "accepted");
        let borrowed = path.replace(&uuid(6), &uuid(7));
        let got = s
            .request(Method::GET, &borrowed, Some(BEN_TOKEN))
            .send()
            .await
            .unwrap();
        assert_eq!(got.status(), StatusCode::NOT_FOUND);
        // Ana's file is untouched.
        let got = s
            .request(Method::GET, &path, Some(ANA_TOKEN))
            .send()
            .await
            .unwrap();
        assert_eq!(got.bytes().await.unwrap(), bytes);
    }
);

mod oversize {
    use super::*;

    async fn refused(backend: Backend) {
        let s = Server::start_with_files(backend, &RANGER, 64 * 1024).await;
        let bytes = photo(8, 100 * 1024);
        let path = observed(&s, &uuid(8), &bytes).await;
        let response = put(&s, &path, ANA_TOKEN, bytes).await;
        assert_eq!(response.headers()[MAX_BYTES_HEADER], "65536");
        let (status, body) = problem(response).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
        assert!(stored(&s).await.is_empty());
        // A body larger than the file the row refers to is refused too.
        let small = photo(9, 1000);
        let path = observed(&s, &uuid(9), &small).await;
        let mut longer = small.clone();
        longer.extend_from_slice(&[0; 10]);
        let (status, _) = problem(put(&s, &path, ANA_TOKEN, longer).await).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "Content-Length is not the file's size"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        refused(Backend::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        refused(Backend::Postgres).await
    }
}
