//! The server side of a run: the runtime's real router and engine serving one build of the
//! example, called in process (tower's `oneshot` on a runtime of the simulation's own), over
//! a SQLite file or a fresh PostgreSQL database. A restart drops the router and its pool and
//! builds new ones over the same database, as a redeployed process would; an upgrade does the
//! same with the next build, whose steps the database is migrated to.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use offgen_runtime::client::{Method, Request, Response};
use offgen_runtime::model::AppDef;
use offgen_runtime::protocol::SCHEMA_STEP_HEADER;
use offgen_runtime::server::axum::Router;
use offgen_runtime::server::axum::body::{Body, to_bytes};
use offgen_runtime::server::axum::http;
use offgen_runtime::server::{Database, Limits, PoolOptions, StaticTokens};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::schema::SchemaVersion;

/// Which database the server runs on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in the run's folder (the default).
    Sqlite,
    /// A fresh database on the PostgreSQL server at this admin URL (dropped after the run).
    Postgres(String),
}

/// The body limit of the simulated server: low enough that a batch of long notes meets a
/// real 413 (and the client halves its batches), high enough for any single change.
pub const MAX_BODY_BYTES: usize = 48 * 1024;

/// A row of `_offgen_audit`: what lost, kept for an admin.
#[derive(Clone, Debug)]
pub struct AuditRow {
    /// The entity's table.
    pub entity: String,
    /// The row.
    pub row_id: String,
    /// The mutation that lost, or whose newer values replaced what is kept here.
    pub mutation_id: String,
    /// Why.
    pub reason: String,
    /// The losing values (`{"op", "data", ...}`).
    pub losing: Value,
}

/// The server of one run.
pub struct SimServer {
    rt: tokio::runtime::Runtime,
    url: String,
    admin: Option<(String, String)>,
    tokens: String,
    db: Database,
    router: Router,
    app: &'static AppDef,
    openapi: &'static str,
    /// How many times it was restarted.
    pub restarts: u32,
}

static NEXT_DATABASE: AtomicU64 = AtomicU64::new(0);

impl SimServer {
    /// A server of `version` over a fresh, migrated database; `tokens` are `user=token` pairs.
    pub fn start(
        backend: &Backend,
        dir: &Path,
        tokens: String,
        version: &SchemaVersion,
    ) -> Result<SimServer, String> {
        let (app, openapi) = (version.app, version.openapi);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let (url, admin) = match backend {
            Backend::Sqlite => (format!("sqlite:{}", dir.join("server.db").display()), None),
            Backend::Postgres(admin) => {
                let name = format!(
                    "offgen_sim_{}_{}",
                    std::process::id(),
                    NEXT_DATABASE.fetch_add(1, Ordering::Relaxed)
                );
                rt.block_on(postgres_admin(
                    admin,
                    &format!("CREATE DATABASE \"{name}\""),
                ))?;
                let (base, _) = admin
                    .rsplit_once('/')
                    .ok_or("the PostgreSQL URL must end in /<database>")?;
                (format!("{base}/{name}"), Some((admin.clone(), name)))
            }
        };
        let db = rt.block_on(connect(&url))?;
        rt.block_on(db.migrate(app)).map_err(|e| e.to_string())?;
        let router = build_router(app, openapi, db.clone(), &tokens)?;
        Ok(SimServer {
            rt,
            url,
            admin,
            tokens,
            db,
            router,
            app,
            openapi,
            restarts: 0,
        })
    }

    /// The schema step it serves.
    pub fn step(&self) -> u32 {
        self.app.step
    }

    /// The server process stops and a new one starts over the same database.
    pub fn restart(&mut self) -> Result<(), String> {
        self.rt.block_on(self.db.close());
        self.db = self.rt.block_on(connect(&self.url))?;
        self.rt
            .block_on(self.db.migrate(self.app))
            .map_err(|e| e.to_string())?;
        self.router = build_router(self.app, self.openapi, self.db.clone(), &self.tokens)?;
        self.restarts += 1;
        Ok(())
    }

    /// The server is redeployed with a later build: it stops, and the new one migrates the
    /// same database to its steps as it starts.
    pub fn upgrade(&mut self, version: &SchemaVersion) -> Result<(), String> {
        self.app = version.app;
        self.openapi = version.openapi;
        self.restart()
    }

    /// Answers one request, as the server would over HTTP.
    pub fn handle(&self, request: &Request) -> Response {
        let method = match request.method {
            Method::Get => http::Method::GET,
            Method::Post => http::Method::POST,
            Method::Put => http::Method::PUT,
            Method::Head => http::Method::HEAD,
        };
        let mut builder = http::Request::builder().method(method).uri(&request.path);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let http_request = builder
            .body(Body::from(request.body.clone()))
            .expect("a request the client built is valid HTTP");
        let router = self.router.clone();
        self.rt.block_on(async move {
            let response = router
                .oneshot(http_request)
                .await
                .expect("the router's error type is Infallible");
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let body = to_bytes(response.into_body(), usize::MAX)
                .await
                .map(|b| b.to_vec())
                .unwrap_or_default();
            Response {
                status,
                headers,
                body,
            }
        })
    }

    /// Pushes `mutations` as `token`'s user, outside any device (setup, replays); returns
    /// the results.
    pub fn push(&self, token: &str, mutations: Value) -> Result<Vec<Value>, String> {
        self.push_at(token, None, mutations)
    }

    /// [`SimServer::push`] as an app at schema step `step` pushes (in its shape).
    pub fn push_at(
        &self,
        token: &str,
        step: Option<u32>,
        mutations: Value,
    ) -> Result<Vec<Value>, String> {
        let body = json!({"clientId": "simulation", "mutations": mutations});
        let mut headers = vec![
            ("Authorization".to_owned(), format!("Bearer {token}")),
            ("Content-Type".to_owned(), "application/json".to_owned()),
        ];
        if let Some(step) = step {
            headers.push((SCHEMA_STEP_HEADER.to_owned(), step.to_string()));
        }
        let response = self.handle(&Request {
            method: Method::Post,
            path: "/sync/push".to_owned(),
            headers,
            body: serde_json::to_vec(&body).expect("JSON"),
        });
        let answer: Value = serde_json::from_slice(&response.body)
            .map_err(|e| format!("push answered {}: {e}", response.status))?;
        if response.status != 200 {
            return Err(format!("push answered {}: {answer}", response.status));
        }
        Ok(answer["results"].as_array().cloned().unwrap_or_default())
    }

    /// Every record `token`'s user pulls from the start.
    pub fn pull_all(&self, token: &str) -> Result<Vec<Value>, String> {
        self.pull_all_at(token, None)
    }

    /// [`SimServer::pull_all`] as an app at schema step `step` pulls (in its shape).
    pub fn pull_all_at(&self, token: &str, step: Option<u32>) -> Result<Vec<Value>, String> {
        let mut cursor = String::new();
        let mut records = Vec::new();
        let mut headers = vec![("Authorization".to_owned(), format!("Bearer {token}"))];
        if let Some(step) = step {
            headers.push((SCHEMA_STEP_HEADER.to_owned(), step.to_string()));
        }
        loop {
            let response = self.handle(&Request {
                method: Method::Get,
                path: format!("/sync/pull?cursor={cursor}&limit=1000"),
                headers: headers.clone(),
                body: Vec::new(),
            });
            let page: Value = serde_json::from_slice(&response.body)
                .map_err(|e| format!("pull answered {}: {e}", response.status))?;
            if response.status != 200 {
                return Err(format!("pull answered {}: {page}", response.status));
            }
            records.extend(page["records"].as_array().into_iter().flatten().cloned());
            cursor = page["cursor"].as_str().unwrap_or_default().to_owned();
            if page["hasMore"] != true {
                return Ok(records);
            }
        }
    }

    /// Runs SQL on the server's database behind the engine's back (tests that prove the
    /// checks see what they should).
    pub fn exec(&self, sql: &str) -> Result<(), String> {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        self.rt
            .block_on(async {
                match &self.db {
                    Database::Sqlite(pool) => sqlx::raw_sql(sql).execute(pool).await.map(|_| ()),
                    Database::Postgres(pool) => sqlx::raw_sql(sql).execute(pool).await.map(|_| ()),
                }
            })
            .map_err(|e| e.to_string())
    }

    /// Everything in `_offgen_audit`, oldest first.
    pub fn audit(&self) -> Result<Vec<AuditRow>, String> {
        type Row = (String, String, String, String, String);
        let rows: Vec<Row> =
            self.rt
                .block_on(async {
                    match &self.db {
                        Database::Sqlite(pool) => {
                            sqlx::query_as(
                                "SELECT entity, row_id, mutation_id, reason, losing_data \
                             FROM _offgen_audit ORDER BY id",
                            )
                            .fetch_all(pool)
                            .await
                        }
                        Database::Postgres(pool) => sqlx::query_as(
                            "SELECT entity, row_id::text, mutation_id, reason, losing_data::text \
                             FROM _offgen_audit ORDER BY id",
                        )
                        .fetch_all(pool)
                        .await,
                    }
                })
                .map_err(|e| e.to_string())?;
        Ok(rows
            .into_iter()
            .map(|(entity, row_id, mutation_id, reason, losing)| AuditRow {
                entity,
                row_id,
                mutation_id,
                reason,
                losing: serde_json::from_str(&losing).unwrap_or(Value::String(losing)),
            })
            .collect())
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        self.rt.block_on(self.db.close());
        if let Some((admin, name)) = &self.admin {
            // Best effort: a database left behind is removed with the throwaway cluster.
            let _ = self.rt.block_on(postgres_admin(
                admin,
                &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
            ));
        }
    }
}

async fn connect(url: &str) -> Result<Database, String> {
    let pool = PoolOptions {
        max_connections: 2,
        acquire_timeout: Duration::from_secs(10),
    };
    Database::connect_with(url, pool)
        .await
        .map_err(|e| format!("{url}: {e}"))
}

fn build_router(
    app: &'static AppDef,
    openapi: &'static str,
    db: Database,
    tokens: &str,
) -> Result<Router, String> {
    let auth = StaticTokens::parse(tokens)?;
    let limits = Limits {
        max_body_bytes: MAX_BODY_BYTES,
        ..Limits::default()
    };
    Ok(offgen_runtime::server::router_with_limits(
        app, db, auth, openapi, limits,
    ))
}

async fn postgres_admin(admin: &str, statement: &str) -> Result<(), String> {
    let pool = sqlx::PgPool::connect(admin)
        .await
        .map_err(|e| format!("{admin}: {e}"))?;
    let done = sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_owned()))
        .execute(&pool)
        .await
        .map(|_| ())
        .map_err(|e| format!("{statement}: {e}"));
    pool.close().await;
    done
}
