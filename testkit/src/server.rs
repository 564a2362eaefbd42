//! An app's server on a real port, over a fresh database: a SQLite file, or a new database on
//! the PostgreSQL server named by `OFFGEN_TEST_DATABASE_URL` (scripts/test.sh starts one).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use offgen_runtime::model::AppDef;
use offgen_runtime::server::{AttachmentStore, Attachments, Database, Limits, StaticTokens};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};

use crate::Example;

/// Which database a test server runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A lowercase UUID, distinct per `n`.
pub fn uuid(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

static NEXT: AtomicU64 = AtomicU64::new(1);

/// A mutation id unique in this process.
pub fn mutation_id() -> String {
    format!(
        "m-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A running server.
pub struct Server {
    pub base: String,
    pub client: reqwest::Client,
    pub db: Database,
    pub backend: Backend,
    /// The app it serves.
    pub app: &'static AppDef,
    /// The example it was started for (with `app`).
    pub example: Example,
    /// Where the server keeps attachment files (apps with attachment fields): a directory for
    /// a server on SQLite, the S3-compatible test server (`OFFGEN_TEST_S3_URL`, which
    /// scripts/test.sh starts) for one on PostgreSQL, so every attachment test runs on both
    /// stores.
    pub files: Option<AttachmentStore>,
    url: String,
    task: tokio::task::JoinHandle<()>,
    _dir: Option<Arc<tempfile::TempDir>>,
}

impl Server {
    /// A server of `example` on a fresh, migrated database, with the example's seed pushed.
    pub async fn start(backend: Backend, example: &Example) -> Server {
        Server::start_with_files(
            backend,
            example,
            offgen_runtime::server::attachments::DEFAULT_MAX_BYTES,
        )
        .await
    }

    /// [`Server::start`], taking attachment files of at most `max_bytes`.
    pub async fn start_with_files(backend: Backend, example: &Example, max_bytes: u64) -> Server {
        let (url, dir) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let file = dir.path().join(format!("{}.db", example.app.name));
                (format!("sqlite:{}", file.display()), Some(Arc::new(dir)))
            }
            Backend::Postgres => (fresh_postgres_database().await, None),
        };
        let files = example.app.has_attachments().then(|| {
            let store = match &dir {
                Some(dir) => format!("file:{}", dir.path().join("files").display()),
                None => fresh_s3_prefix(),
            };
            AttachmentStore::open(&store)
                .unwrap_or_else(|e| panic!("{store}: {e}"))
                .with_max_bytes(max_bytes)
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = Server::serve(backend, url, dir, files, *example, listener).await;
        for (token, mutations) in (example.seed)() {
            let results = server.push(token, mutations).await;
            for result in results.as_array().unwrap() {
                assert_eq!(result["status"], "accepted", "seed: {result}");
            }
        }
        server
    }

    async fn serve(
        backend: Backend,
        url: String,
        dir: Option<Arc<tempfile::TempDir>>,
        files: Option<AttachmentStore>,
        example: Example,
        listener: tokio::net::TcpListener,
    ) -> Server {
        let app = example.app;
        let db = Database::connect(&url).await.unwrap();
        db.migrate(app).await.unwrap();
        let pairs: Vec<String> = example
            .users
            .iter()
            .map(|(user, token)| format!("{user}={token}"))
            .collect();
        let tokens = StaticTokens::parse(&pairs.join(","))
            .unwrap()
            .with_admins(&example.admins.join(","));
        let router = match &files {
            Some(store) if app.has_attachments() => {
                offgen_runtime::server::router_with_attachments(
                    app,
                    db.clone(),
                    tokens,
                    example.openapi,
                    Limits::default(),
                    Attachments::new(store.clone()),
                )
            }
            _ => offgen_runtime::server::router(app, db.clone(), tokens, example.openapi),
        };
        let base = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            offgen_runtime::server::axum::serve(listener, router)
                .await
                .unwrap()
        });
        Server {
            base,
            client: reqwest::Client::new(),
            db,
            backend,
            app,
            example,
            files,
            url,
            task,
            _dir: dir,
        }
    }

    /// The server stopped and started again at the same address on the same database,
    /// serving `app` (a later build: its new steps are applied at start).
    pub async fn upgrade(self, app: &'static AppDef) -> Server {
        let address = self.base.trim_start_matches("http://").to_owned();
        self.task.abort();
        let _ = self.task.await;
        self.db.close().await;
        let listener = tokio::net::TcpListener::bind(&address).await.unwrap();
        let example = self.example.serving(app);
        let files = self.files.clone().or_else(|| {
            app.has_attachments().then(|| {
                let store = match &self._dir {
                    Some(dir) => format!("file:{}", dir.path().join("files").display()),
                    None => fresh_s3_prefix(),
                };
                AttachmentStore::open(&store).unwrap_or_else(|e| panic!("{store}: {e}"))
            })
        });
        Server::serve(self.backend, self.url, self._dir, files, example, listener).await
    }

    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let request = self.client.request(method, format!("{}{path}", self.base));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Pushes mutations; returns the results array.
    pub async fn push(&self, token: &str, mutations: Value) -> Value {
        let response = self
            .request(Method::POST, "/sync/push", Some(token))
            .json(&json!({"clientId": "device-1", "mutations": mutations}))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_str::<Value>(&body).unwrap()["results"].clone()
    }

    /// Every record a user pulls from the start, page by page.
    pub async fn pull_all(&self, token: &str) -> Vec<Value> {
        self.pull_all_at(token, None).await
    }

    /// [`Server::pull_all`] as an app at schema step `step` pulls (in its shape).
    pub async fn pull_all_at(&self, token: &str, step: Option<u32>) -> Vec<Value> {
        let mut cursor = String::new();
        let mut records = Vec::new();
        loop {
            let mut request = self.request(
                Method::GET,
                &format!("/sync/pull?cursor={cursor}&limit=7"),
                Some(token),
            );
            if let Some(step) = step {
                request = request.header(offgen_runtime::protocol::SCHEMA_STEP_HEADER, step);
            }
            let page: Value = request.send().await.unwrap().json().await.unwrap();
            records.extend(page["records"].as_array().unwrap().iter().cloned());
            cursor = page["cursor"].as_str().unwrap().to_owned();
            if !page["hasMore"].as_bool().unwrap() {
                return records;
            }
        }
    }

    /// The first pulled record matching `wanted`, pulling again until it shows. On PostgreSQL
    /// a write becomes pullable once every older transaction on the whole server has ended
    /// (the snapshot's xmin is server-wide), so other tests' transactions can delay it briefly.
    pub async fn pulled(&self, token: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if let Some(found) = self.pull_all(token).await.into_iter().find(|r| wanted(r)) {
                return found;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the record never became pullable"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Runs SQL on the server's database, behind the server's back.
    pub async fn exec(&self, sql: &'static str) {
        match &self.db {
            Database::Sqlite(pool) => sqlx::raw_sql(sql).execute(pool).await.map(|_| ()),
            Database::Postgres(pool) => sqlx::raw_sql(sql).execute(pool).await.map(|_| ()),
        }
        .unwrap();
    }

    /// A count from SQL run on the server's database.
    pub async fn count(&self, sql: &'static str) -> i64 {
        self.scalar(sql).await
    }

    /// One integer from SQL made by the test, run on the server's database.
    pub async fn scalar(&self, sql: &str) -> i64 {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match &self.db {
            Database::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
            Database::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
        }
    }

    /// One value as text (or `None` for NULL) from SQL made by the test, on the server's
    /// database.
    pub async fn text(&self, sql: &str) -> Option<String> {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match &self.db {
            Database::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
            Database::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
        }
    }
}

/// A store of its own on the S3-compatible test server: the bucket of `OFFGEN_TEST_S3_URL`
/// under a prefix no other server uses.
fn fresh_s3_prefix() -> String {
    let url = std::env::var("OFFGEN_TEST_S3_URL").expect(
        "OFFGEN_TEST_S3_URL is not set: run the tests with scripts/test.sh, which starts an S3-compatible server (scripts/s3.sh)",
    );
    let (location, query) = url.split_once('?').unwrap_or((&url, ""));
    let prefix = format!(
        "test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    format!("{}/{prefix}?{query}", location.trim_end_matches('/'))
}

/// Creates a database on the test PostgreSQL server; returns its URL.
async fn fresh_postgres_database() -> String {
    let admin = std::env::var("OFFGEN_TEST_DATABASE_URL").expect(
        "OFFGEN_TEST_DATABASE_URL is not set: run the tests with scripts/test.sh, which starts PostgreSQL",
    );
    let name = format!(
        "offgen_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let pool = sqlx::PgPool::connect(&admin)
        .await
        .expect("the test PostgreSQL server answers");
    let statement = format!("CREATE DATABASE \"{name}\"");
    sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let (base, _) = admin.rsplit_once('/').expect("a URL ending in /<database>");
    format!("{base}/{name}")
}

/// An insert mutation.
pub fn insert(entity: &str, id: &str, data: Value) -> Value {
    json!({"mutationId": mutation_id(), "entity": entity, "id": id, "op": "insert", "data": data})
}

/// An update mutation.
pub fn update(entity: &str, id: &str, base: i64, data: Value) -> Value {
    json!({"mutationId": mutation_id(), "entity": entity, "id": id, "op": "update", "baseVersion": base, "data": data})
}

/// A delete mutation.
pub fn delete(entity: &str, id: &str, base: i64) -> Value {
    json!({"mutationId": mutation_id(), "entity": entity, "id": id, "op": "delete", "baseVersion": base})
}
