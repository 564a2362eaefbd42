//! The engine behind generated servers: axum routes over SQLite or PostgreSQL.
//!
//! Generated code describes the app (its [`AppDef`](crate::model::AppDef), with the SQL offgen
//! generated) and calls [`router`]; everything else (the protocol, conflict policies,
//! idempotency, audit, preconditions, limits) is here, written once. [`serve`] runs a whole
//! server process around it, configured from the environment.

mod admin;
pub mod attachments;
mod auth;
mod body;
mod config;
mod db;
mod jwt;
mod metrics;
mod middleware;
mod problem;
mod pull;
mod push;
mod rest;
pub mod serve;
mod shapes;
mod sqlite_reals;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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

pub use admin::{DEFAULT_AUDIT_PAGE, MAX_AUDIT_PAGE};
pub use attachments::{AttachmentStore, Attachments};
pub use auth::{Authenticate, Identity, Jwt, StaticTokens, require_admin};
pub use config::Settings;
pub use db::{Database, Dialect, MigrateError, PoolOptions};
pub use problem::Problem;
pub use push::{Caller, MAX_STAMP_AHEAD_MS, Mode};

use crate::model::AppDef;
use crate::protocol::{PushRequest, PushResponse};

/// Request limits. A body or batch too large answers 413 for the whole request; a request
/// beyond the concurrency limit or past the timeout answers 503 with `Retry-After`.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Most mutations in one push.
    pub max_batch: usize,
    /// Most requests answered at once (`/metrics` not counted).
    pub max_in_flight: usize,
    /// How long a request may take, receiving its body included.
    pub request_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_body_bytes: crate::limits::DEFAULT_MAX_BODY_BYTES,
            max_batch: crate::limits::DEFAULT_MAX_BATCH,
            max_in_flight: 256,
            // A full 8 MiB batch over a slow field link takes a while to arrive.
            request_timeout: Duration::from_secs(120),
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
    metrics: Arc<metrics::Metrics>,
    /// The token `/metrics` asks for, when one is configured.
    metrics_token: Option<StaticTokens>,
}

/// The pinned clock of [`set_fixed_clock`]; `i64::MIN` while the system clock is used.
static FIXED_CLOCK_MS: AtomicI64 = AtomicI64::new(i64::MIN);

/// Epoch milliseconds now: the system clock, or the one pinned by [`set_fixed_clock`].
pub fn now_ms() -> i64 {
    let fixed = FIXED_CLOCK_MS.load(Ordering::Relaxed);
    if fixed != i64::MIN {
        return fixed;
    }
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Pins the clock of every server in this process to `ms` (or gives it back to the system
/// with `None`): change times, `serverTime`, the lww stamp limit, retention. For a simulation
/// that must replay a run event for event, as the device's `Device::set_fixed_clock` does for
/// devices; a real server never calls it.
pub fn set_fixed_clock(ms: Option<i64>) {
    FIXED_CLOCK_MS.store(ms.unwrap_or(i64::MIN), Ordering::Relaxed);
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
    build_router(app, db, Arc::new(auth), openapi, limits, None, None)
}

/// [`router_with_limits`] with the attachment routes (`/attachments/...`), for an app with
/// attachment fields: their bytes go to `attachments.store`.
pub fn router_with_attachments(
    app: &'static AppDef,
    db: Database,
    auth: impl Authenticate,
    openapi: &'static str,
    limits: Limits,
    attachments: Attachments,
) -> Router {
    build_router(
        app,
        db,
        Arc::new(auth),
        openapi,
        limits,
        None,
        Some(attachments),
    )
}

/// The routes over an already shared authentication.
pub(crate) fn build_router(
    app: &'static AppDef,
    db: Database,
    auth: Arc<dyn Authenticate>,
    openapi: &'static str,
    limits: Limits,
    metrics_token: Option<String>,
    attachments: Option<Attachments>,
) -> Router {
    let metrics = Arc::new(metrics::Metrics::default());
    let shared = Arc::new(Shared {
        app,
        db,
        auth,
        limits,
        openapi,
        metrics: metrics.clone(),
        metrics_token: metrics_token.map(StaticTokens::single),
    });
    let mut router = Router::new()
        .route("/healthz", get(health))
        .route("/openapi.json", get(openapi_document))
        .route("/sync/push", axum::routing::post(push_handler))
        .route("/sync/pull", get(pull_handler))
        .route(
            "/admin/audit",
            get(
                |State(s): State<Arc<Shared>>, RawQuery(q): RawQuery, h: HeaderMap| {
                    admin::list(s, q, h)
                },
            ),
        )
        .route(
            "/admin/audit/{id}/restore",
            axum::routing::post(
                |State(s): State<Arc<Shared>>, Path(id): Path<String>, h: HeaderMap| {
                    admin::restore(s, id, h)
                },
            ),
        );
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
    let router = router
        .fallback(|| async { Problem::not_found("no such endpoint; see /openapi.json") })
        .method_not_allowed_fallback(|| async {
            let mut p =
                Problem::bad_request("this endpoint does not take that method; see /openapi.json");
            p.status = StatusCode::METHOD_NOT_ALLOWED;
            p
        })
        .with_state(shared.clone());
    let router = middleware::guard(
        router,
        metrics.clone(),
        limits.max_in_flight,
        limits.request_timeout,
    );
    // Transfers of files take minutes over a field link: outside the request timeout, with
    // limits of their own.
    let router = match attachments {
        Some(attachments) if app.has_attachments() => {
            router.merge(attachments::routes(shared.clone(), attachments))
        }
        _ => router,
    };
    // Outside the concurrency limit: a saturated server is exactly when its metrics matter,
    // and when an orchestrator must not take it for dead.
    let router = router
        .route("/metrics", get(metrics_handler).with_state(shared))
        .route(
            "/livez",
            get(|| async { axum::Json(json!({ "status": "alive" })) }),
        );
    middleware::observe(router, metrics)
}

async fn metrics_handler(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Some(token) = &shared.metrics_token
        && let Err(problem) = auth::user(&headers, token)
    {
        return problem.into_response();
    }
    let text = shared.metrics.render(shared.app, &shared.db).await;
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// How long `/healthz` waits for the database. Probes (load balancers, Kubernetes) give up
/// after a second or so; an answer after that is no answer, so health says 503 in time.
const HEALTH_TIMEOUT: Duration = Duration::from_millis(300);

async fn health(State(shared): State<Arc<Shared>>) -> Response {
    match tokio::time::timeout(HEALTH_TIMEOUT, shared.db.ping()).await {
        Ok(Ok(())) => axum::Json(json!({ "status": "ok" })).into_response(),
        Ok(Err(error)) => {
            tracing::warn!(error = %error, "health check: the database failed");
            Problem::unavailable("the database does not answer").into_response()
        }
        Err(_) => Problem::unavailable(format!(
            "the database did not answer within {} ms",
            HEALTH_TIMEOUT.as_millis()
        ))
        .into_response(),
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
    if request.client_id.is_empty() || request.client_id.len() > crate::limits::MAX_ID_LEN {
        return Err(Problem::bad_request(format!(
            "clientId must be 1 to {} characters",
            crate::limits::MAX_ID_LEN
        )));
    }
    // PostgreSQL cannot store U+0000 in text; refused alike on SQLite (values.rs does the same
    // for record values).
    if request.client_id.contains('\0') {
        return Err(Problem::bad_request("clientId must not contain U+0000"));
    }
    let caller = Caller {
        user: &user,
        client_id: &request.client_id,
    };
    let results = match shapes::client_step(shared.app, &headers, true)? {
        shapes::ClientStep::Current => {
            push::push(
                shared.app,
                &shared.db,
                caller,
                request.mutations,
                Mode::Policy,
            )
            .await?
        }
        shapes::ClientStep::Older(shape) => {
            push_in_shape(&shared, caller, shape, request.mutations).await?
        }
    };
    shared.metrics.push_results(&results);
    Ok(axum::Json(PushResponse {
        results,
        server_time: now_ms(),
    })
    .into_response())
}

/// A push from an app at an older schema step: converted to the current schema, run, and
/// answered in the app's own shape; what the schema no longer holds as sent is kept in the
/// audit, in the transaction that records the mutation's outcome (push/converted.rs).
async fn push_in_shape(
    shared: &Shared,
    caller: Caller<'_>,
    shape: &'static crate::model::Shape,
    mutations: Vec<crate::protocol::Mutation>,
) -> Result<Vec<crate::protocol::PushResult>, Problem> {
    let count = mutations.len();
    let converted = shapes::push_in(shared.app, shape, mutations);
    let mut positions = Vec::with_capacity(converted.mutations.len());
    let mut entities = Vec::with_capacity(converted.mutations.len());
    let mut run = Vec::with_capacity(converted.mutations.len());
    for (position, mutation, change) in converted.mutations {
        positions.push(position);
        entities.push(mutation.entity.clone());
        run.push((mutation, change));
    }
    let ran = push::push_converted(shared.app, &shared.db, caller, run, Mode::Policy).await?;
    let mut results: Vec<Option<crate::protocol::PushResult>> = vec![None; count];
    for ((position, entity), result) in positions.into_iter().zip(&entities).zip(ran) {
        results[position] = Some(shapes::result_out(shape, entity, result));
    }
    if !converted.dropped_entities.is_empty() {
        let answered =
            push::accept_dropped_entities(&shared.db, caller, converted.dropped_entities).await?;
        for (position, result) in answered {
            results[position] = Some(result);
        }
    }
    Ok(results.into_iter().flatten().collect())
}

async fn pull_handler(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let user = auth::user(&headers, shared.auth.as_ref())?;
    let (cursor, limit) = page_query(query.as_deref())?;
    let step = shapes::client_step(shared.app, &headers, false)?;
    let mut page = pull::pull(shared.app, &shared.db, &user, &cursor, limit).await?;
    if let shapes::ClientStep::Older(shape) = step {
        page = shapes::page_out(shape, &page)?;
    }
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
            // No cursor this server gives out holds U+0000, which PostgreSQL cannot compare.
            "cursor" if value.contains('\0') => {
                return Err(Problem::bad_request(
                    "`cursor` is not a cursor this server gave out",
                ));
            }
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
        for bad in [
            "limit=0",
            "limit=1001",
            "limit=x",
            "page=2",
            "cursor=%zz",
            "cursor=a%00b",
        ] {
            assert!(page_query(Some(bad)).is_err(), "{bad}");
        }
    }
}
