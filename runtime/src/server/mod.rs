//! The engine behind generated servers: axum routes over SQLite or PostgreSQL.
//!
//! Generated code describes the app (its [`AppDef`](crate::model::AppDef), with the SQL offgen
//! generated) and calls [`router`]; everything else (the protocol, conflict policies,
//! idempotency, audit, preconditions, limits) is here, written once.

mod auth;
mod body;
mod db;
mod problem;
mod pull;
mod push;
mod rest;
mod sqlite_reals;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

/// Re-exported so generated servers and their `main` need no axum dependency of their own.
pub use axum;
/// Re-exported for the same reason.
pub use tokio;

pub use auth::{Authenticate, StaticTokens};
pub use db::{Database, Dialect, MigrateError};
pub use problem::Problem;
pub use push::{Caller, Mode};

use crate::model::AppDef;
use crate::protocol::{PushRequest, PushResponse};

/// Request limits. Exceeding one answers 413 for the whole request.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Most mutations in one push.
    pub max_batch: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_body_bytes: 8 * 1024 * 1024,
            max_batch: 1000,
        }
    }
}

/// What every handler shares.
pub(crate) struct Shared {
    app: &'static AppDef,
    db: Database,
    auth: Arc<dyn Authenticate>,
    limits: Limits,
    openapi: &'static str,
}

/// Epoch milliseconds now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The app's routes with default limits: `/sync/push`, `/sync/pull`, `/v1/<table>...` for every
/// entity, `/healthz` and `/openapi.json` (serving `openapi`).
pub fn router(
    app: &'static AppDef,
    db: Database,
    auth: impl Authenticate,
    openapi: &'static str,
) -> Router {
    router_with_limits(app, db, auth, openapi, Limits::default())
}

/// [`router`] with chosen limits.
pub fn router_with_limits(
    app: &'static AppDef,
    db: Database,
    auth: impl Authenticate,
    openapi: &'static str,
    limits: Limits,
) -> Router {
    let shared = Arc::new(Shared {
        app,
        db,
        auth: Arc::new(auth),
        limits,
        openapi,
    });
    let mut router = Router::new()
        .route("/healthz", get(health))
        .route("/openapi.json", get(openapi_document))
        .route("/sync/push", axum::routing::post(push_handler))
        .route("/sync/pull", get(pull_handler));
    for entity in app.entities {
        let collection = format!("/v1/{}", entity.table);
        let item = format!("/v1/{}/{{id}}", entity.table);
        router = router
            .route(
                &collection,
                get(move |State(s): State<Arc<Shared>>, RawQuery(q): RawQuery, h: HeaderMap| async move {
                    rest::list(s, entity, q, h).await
                })
                .post(move |State(s): State<Arc<Shared>>, h: HeaderMap, b: Body| async move {
                    rest::create(s, entity, h, b).await
                }),
            )
            .route(
                &item,
                get(move |State(s): State<Arc<Shared>>, Path(id): Path<String>, h: HeaderMap| async move {
                    rest::get(s, entity, id, h).await
                })
                .put(move |State(s): State<Arc<Shared>>, Path(id): Path<String>, h: HeaderMap, b: Body| async move {
                    rest::replace(s, entity, id, h, b).await
                })
                .delete(move |State(s): State<Arc<Shared>>, Path(id): Path<String>, h: HeaderMap| async move {
                    rest::delete(s, entity, id, h).await
                }),
            );
    }
    router
        .fallback(|| async { Problem::not_found("no such endpoint; see /openapi.json") })
        .method_not_allowed_fallback(|| async {
            let mut p =
                Problem::bad_request("this endpoint does not take that method; see /openapi.json");
            p.status = StatusCode::METHOD_NOT_ALLOWED;
            p
        })
        .with_state(shared)
}

async fn health(State(shared): State<Arc<Shared>>) -> Response {
    if shared.db.ping().await {
        axum::Json(json!({ "status": "ok" })).into_response()
    } else {
        Problem::unavailable("the database does not answer").into_response()
    }
}

async fn openapi_document(State(shared): State<Arc<Shared>>) -> Response {
    let mut response = shared.openapi.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

async fn push_handler(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let user = auth::user(&headers, shared.auth.as_ref())?;
    let request: PushRequest = body::json(body, shared.limits.max_body_bytes).await?;
    if request.mutations.len() > shared.limits.max_batch {
        return Err(Problem::payload_too_large(format!(
            "{} mutations in one push; at most {} are accepted",
            request.mutations.len(),
            shared.limits.max_batch
        )));
    }
    if request.client_id.is_empty() || request.client_id.len() > 128 {
        return Err(Problem::bad_request("clientId must be 1 to 128 characters"));
    }
    let caller = Caller {
        user: &user,
        client_id: &request.client_id,
    };
    let results = push::push(
        shared.app,
        &shared.db,
        caller,
        request.mutations,
        Mode::Policy,
    )
    .await?;
    Ok(axum::Json(PushResponse { results }).into_response())
}

async fn pull_handler(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let user = auth::user(&headers, shared.auth.as_ref())?;
    let (cursor, limit) = page_query(query.as_deref())?;
    let page = pull::pull(shared.app, &shared.db, &user, &cursor, limit).await?;
    let mut response = page.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// `cursor` and `limit` from a query string, strictly: an unknown parameter or a bad limit is
/// a 400, not a silent default.
pub(crate) fn page_query(query: Option<&str>) -> Result<(String, usize), Problem> {
    let mut cursor = String::new();
    let mut limit = pull::DEFAULT_PAGE;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(value)
            .ok_or_else(|| Problem::bad_request(format!("bad escape in `{pair}`")))?;
        match key {
            "cursor" => cursor = value,
            "limit" => {
                limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|l| (1..=pull::MAX_PAGE).contains(l))
                    .ok_or_else(|| {
                        Problem::bad_request(format!("limit must be 1 to {}", pull::MAX_PAGE))
                    })?;
            }
            other => {
                return Err(Problem::bad_request(format!(
                    "unknown parameter `{other}` (cursor, limit)"
                )));
            }
        }
    }
    Ok((cursor, limit))
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Deletes idempotency records older than `days` (docs/protocol.md: they must outlive any
/// device's time offline). Returns how many went.
pub async fn prune_mutations(db: &Database, days: u32) -> Result<u64, sqlx::Error> {
    let cutoff = now_ms() - i64::from(days) * 86_400_000;
    let mut tx = db.begin_write().await?;
    let n = tx
        .exec(
            crate::model::Dialects {
                sqlite: "DELETE FROM \"_offgen_mutations\" WHERE \"created_at\" < ?1",
                postgres: "DELETE FROM \"_offgen_mutations\" WHERE \"created_at\" < $1",
            },
            &[db::Arg::Int(cutoff)],
        )
        .await?;
    tx.commit().await?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_queries_are_strict() {
        assert_eq!(
            page_query(None).unwrap(),
            (String::new(), pull::DEFAULT_PAGE)
        );
        assert_eq!(
            page_query(Some("cursor=x1.2&limit=10")).unwrap(),
            ("x1.2".to_owned(), 10)
        );
        assert_eq!(page_query(Some("cursor=a%2Fb")).unwrap().0, "a/b");
        for bad in ["limit=0", "limit=1001", "limit=x", "page=2", "cursor=%zz"] {
            assert!(page_query(Some(bad)).is_err(), "{bad}");
        }
    }
}
