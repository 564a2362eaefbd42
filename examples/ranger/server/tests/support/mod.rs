//! Starts the generated ranger server on a real port, over a fresh database: a SQLite file, or
//! a new database on the PostgreSQL server named by `OFFGEN_TEST_DATABASE_URL` (scripts/test.sh
//! starts one). Every test runs on both.
#![allow(dead_code)]

pub mod fleet;

use std::sync::atomic::{AtomicU64, Ordering};

use offgen_runtime::model::AppDef;
use offgen_runtime::server::{Database, StaticTokens};
use ranger_server::{APP, OPENAPI};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};

/// Which database a test server runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Ranger ids, which are also the user ids the tokens map to (observations are owner-scoped by
/// their ranger).
pub const ANA: &str = "00000000-0000-4000-8000-00000000a0a0";
pub const BEN: &str = "00000000-0000-4000-8000-00000000b0b0";
pub const ANA_TOKEN: &str = "ana-token";
/// A station admin (`OFFGEN_ADMINS`): the admin endpoints are open to them.
pub const ADMIN: &str = "station-admin";
pub const ADMIN_TOKEN: &str = "admin-token";
pub const BEN_TOKEN: &str = "ben-token";

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
    /// The app it serves (the example's, or one made from another build of its spec).
    pub app: &'static AppDef,
    url: String,
    task: tokio::task::JoinHandle<()>,
    _dir: Option<std::sync::Arc<tempfile::TempDir>>,
}

impl Server {
    /// A server of the example on a fresh, migrated database, with Ana's and Ben's rangers and
    /// tokens.
    pub async fn start(backend: Backend) -> Server {
        Server::start_app(backend, &APP).await
    }

    /// [`Server::start`] serving `app` (which has the example's rangers).
    pub async fn start_app(backend: Backend, app: &'static AppDef) -> Server {
        let (url, dir) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                (
                    format!("sqlite:{}", dir.path().join("ranger.db").display()),
                    Some(std::sync::Arc::new(dir)),
                )
            }
            Backend::Postgres => (fresh_postgres_database().await, None),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = Server::serve(backend, url, dir, app, listener).await;
        for (id, name, token) in [(ANA, "Ana", ANA_TOKEN), (BEN, "Ben", BEN_TOKEN)] {
            let results = server
                .push(
                    token,
                    json!([insert(
                        "rangers",
                        id,
                        json!({"name": name, "badgeNumber": format!("B-{name}")})
                    )]),
                )
                .await;
            assert_eq!(results[0]["status"], "accepted", "{results}");
        }
        server
    }

    async fn serve(
        backend: Backend,
        url: String,
        dir: Option<std::sync::Arc<tempfile::TempDir>>,
        app: &'static AppDef,
        listener: tokio::net::TcpListener,
    ) -> Server {
        let db = Database::connect(&url).await.unwrap();
        db.migrate(app).await.unwrap();
        let tokens = StaticTokens::parse(&format!(
            "{ANA}={ANA_TOKEN},{BEN}={BEN_TOKEN},{ADMIN}={ADMIN_TOKEN}"
        ))
        .unwrap()
        .with_admins(ADMIN);
        let router = offgen_runtime::server::router(app, db.clone(), tokens, OPENAPI);
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
        Server::serve(self.backend, self.url, self._dir, app, listener).await
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
        assert_eq!(response.status(), StatusCode::OK);
        response.json::<Value>().await.unwrap()["results"].clone()
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
        match &self.db {
            Database::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
            Database::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
        }
    }
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

/// The data of a new observation by `ranger`.
pub fn observation(ranger: &str, modified_at: i64) -> Value {
    json!({"ranger": ranger, "kind": "wildlife", "latitude": -1.25, "longitude": 36.75,
           "recordedAt": 1_700_000_000_000i64, "modifiedAt": modified_at})
}

/// Defines one test for each backend.
#[macro_export]
macro_rules! on_both {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                ($body)(Server::start(Backend::Sqlite).await).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                ($body)(Server::start(Backend::Postgres).await).await
            }
        }
    };
}
