//! What wraps every route: a request id and a log span per request (tower-http), one log line
//! and the metrics per answered request, panics answered as problem+json, and on the app's
//! routes a concurrency limit and a request timeout that answer 503 instead of piling up.

use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;
use tracing::{Level, Span};

use super::Problem;
use super::metrics::Metrics;

/// The route label of a request that matched no route (one label for all of them, so random
/// paths never become label values).
const UNMATCHED: &str = "unmatched";

/// Adds the concurrency limit and the request timeout to the routes of `router` so far.
pub(crate) fn guard(
    router: Router,
    metrics: Arc<Metrics>,
    max_in_flight: usize,
    timeout: Duration,
) -> Router {
    let guard = Arc::new(Guard {
        permits: Semaphore::new(max_in_flight),
        max_in_flight,
        timeout,
        metrics,
    });
    router.layer(from_fn_with_state(guard, limit))
}

/// Adds request ids, spans, request logs and metrics, and the panic handler to every route.
pub(crate) fn observe(router: Router, metrics: Arc<Metrics>) -> Router {
    // Layers added later wrap the earlier ones: the request id is set first, then the span
    // that carries it is entered, and the id is copied onto the response on the way out.
    router
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(from_fn_with_state(metrics, count))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            // One line per request is written by `count`, inside this span.
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_request(())
                .on_response(())
                .on_failure(()),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// The span every log line of a request is written in. `user` is filled in once the caller
/// is authenticated.
fn request_span(request: &Request) -> Span {
    let id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or("");
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, MatchedPath::as_str);
    tracing::span!(
        Level::INFO,
        "request",
        request_id = %id,
        method = %request.method(),
        route = %route,
        path = %request.uri().path(),
        user = tracing::field::Empty,
    )
}

/// Counts and logs every answered request, with its status and how long it took.
async fn count(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, MatchedPath::as_str)
        .to_owned();
    let method = request.method().clone();
    let in_flight = metrics.start();
    let response = next.run(request).await;
    drop(in_flight);
    let elapsed = started.elapsed();
    let status = response.status();
    metrics.request(&route, method.as_str(), status.as_u16(), elapsed);
    let ms = elapsed.as_secs_f64() * 1000.0;
    // Probes and scrapes come every few seconds: logged only when asked for (debug).
    let routine =
        matches!(route.as_str(), "/healthz" | "/livez" | "/metrics") && status.is_success();
    if status.is_server_error() {
        tracing::warn!(status = status.as_u16(), ms, "answered");
    } else if routine {
        tracing::debug!(status = status.as_u16(), ms, "answered");
    } else {
        tracing::info!(status = status.as_u16(), ms, "answered");
    }
    response
}

struct Guard {
    permits: Semaphore,
    max_in_flight: usize,
    timeout: Duration,
    metrics: Arc<Metrics>,
}

/// At most `max_in_flight` requests at once: one more is answered 503 at once (a device
/// retries later) rather than queued behind the others until everyone times out. Each request
/// gets `timeout` to be answered. A push cut off by it is rolled back with its transaction
/// (the device sends it again; idempotency makes that safe).
async fn limit(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    let Ok(_permit) = guard.permits.try_acquire() else {
        guard.metrics.shed();
        tracing::warn!(
            limit = guard.max_in_flight,
            "turned away: the concurrency limit is reached"
        );
        return Problem::unavailable(format!(
            "the server is answering {} requests already; try again",
            guard.max_in_flight
        ))
        .into_response();
    };
    match tokio::time::timeout(guard.timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            guard.metrics.timed_out();
            tracing::warn!(
                timeout_s = guard.timeout.as_secs(),
                "cut off at the request timeout"
            );
            Problem::unavailable(format!(
                "the request was not answered within {} s; try again",
                guard.timeout.as_secs()
            ))
            .into_response()
        }
    }
}

/// A panic in a handler is a bug: logged, and answered like any other internal error.
fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!(panic = message, "a handler panicked");
    Problem::internal("the server failed; the error is in its log").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_panicking_handler_is_a_500_problem_with_a_request_id_and_is_counted() {
        let metrics = Arc::new(Metrics::default());
        let router = Router::new().route(
            "/boom",
            get(|| async {
                if true {
                    panic!("a bug");
                }
                ""
            }),
        );
        let router = observe(router, metrics.clone());
        let response = router
            .oneshot(Request::get("/boom").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), 500);
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        assert!(response.headers().contains_key("x-request-id"));
        assert_eq!(metrics.in_flight(), 0);
        let text = metrics
            .requests_for_tests()
            .get(&("/boom".to_owned(), "GET", 500))
            .copied();
        assert_eq!(text, Some(1));
    }
}
