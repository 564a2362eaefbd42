//! Running a server process: settings from the environment, migration at start, periodic
//! pruning of push results, and a graceful shutdown that lets in-flight requests finish.
//!
//! A generated server's `main` is one call:
//!
//! ```no_run
//! # static APP: offgen_runtime::model::AppDef = offgen_runtime::model::AppDef {
//! #     name: "app", entities: &[],
//! #     migrations: offgen_runtime::model::Dialects { sqlite: &[], postgres: &[] },
//! #     pull: offgen_runtime::model::Dialects { sqlite: "", postgres: "" },
//! #     push: offgen_runtime::model::Dialects {
//! #         sqlite: offgen_runtime::model::PushSql { read: "", write: "" },
//! #         postgres: offgen_runtime::model::PushSql { read: "", write: "" },
//! #     },
//! #     step: 1, shapes: &[],
//! # };
//! fn main() -> std::process::ExitCode {
//!     offgen_runtime::server::serve::main(&APP, "{}")
//! }
//! ```

use std::future::IntoFuture;
use std::process::ExitCode;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

use super::config::Settings;
use super::{Authenticate, Database, prune_mutations};
use crate::model::AppDef;

/// Exit code for settings that cannot work (a bad variable, no way to authenticate).
const EXIT_CONFIG: u8 = 2;
/// Exit code for a server that could not start or failed while serving.
const EXIT_FAILED: u8 = 1;

/// Why [`serve`] stopped other than by a requested shutdown.
#[derive(Debug)]
pub enum ServeError {
    /// The settings cannot work.
    Config(String),
    /// Starting failed (database unreachable, migration refused, address taken) or serving did.
    Failed(String),
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServeError::Config(why) | ServeError::Failed(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for ServeError {}

/// The whole server process for `app`, every setting and the authentication from the
/// environment: what a generated server's `main` calls. Logs go to stderr; the exit code is
/// 0 after a requested shutdown, 2 for settings that cannot work, 1 for any other failure.
pub fn main(app: &'static AppDef, openapi: &'static str) -> ExitCode {
    run_main(app, openapi, None)
}

/// [`main`] with an authentication of your own (your identity provider) instead of the one
/// the environment configures.
pub fn main_with_auth(
    app: &'static AppDef,
    openapi: &'static str,
    auth: impl Authenticate,
) -> ExitCode {
    run_main(app, openapi, Some(Arc::new(auth)))
}

fn run_main(
    app: &'static AppDef,
    openapi: &'static str,
    auth: Option<Arc<dyn Authenticate>>,
) -> ExitCode {
    let outcome = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| ServeError::Failed(format!("cannot start the async runtime: {e}")))
        .and_then(|runtime| {
            runtime.block_on(async {
                init_logging().map_err(ServeError::Config)?;
                let settings = Settings::from_env(&format!("sqlite:{}.db", app.name))
                    .map_err(ServeError::Config)?;
                let auth = match auth {
                    Some(auth) => auth,
                    None => super::auth::from_env().map_err(ServeError::Config)?,
                };
                serve_arc(app, openapi, settings, auth).await
            })
        });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // Logged, and printed plainly too: the log may not be set up, and a person
            // starting the server by hand reads this line first.
            tracing::error!(error = %error, "{}-server stopped", app.name);
            eprintln!("{}-server: {error}", app.name);
            ExitCode::from(match error {
                ServeError::Config(_) => EXIT_CONFIG,
                ServeError::Failed(_) => EXIT_FAILED,
            })
        }
    }
}

/// Serves `app` until SIGTERM or Ctrl-C: connects to the database, applies its migrations,
/// prunes expired push results now and every `prune_interval`, listens, and on shutdown
/// stops accepting connections and waits up to `shutdown_grace` for in-flight requests.
pub async fn serve(
    app: &'static AppDef,
    openapi: &'static str,
    settings: Settings,
    auth: impl Authenticate,
) -> Result<(), ServeError> {
    serve_arc(app, openapi, settings, Arc::new(auth)).await
}

async fn serve_arc(
    app: &'static AppDef,
    openapi: &'static str,
    settings: Settings,
    auth: Arc<dyn Authenticate>,
) -> Result<(), ServeError> {
    let database = settings.database_for_logs();
    let db = Database::connect_with(&settings.database_url, settings.pool)
        .await
        .map_err(|e| ServeError::Failed(format!("cannot open {database}: {e}")))?;
    db.migrate(app)
        .await
        .map_err(|e| ServeError::Failed(format!("migrating {database} failed: {e}")))?;
    let pruning = tokio::spawn(prune_forever(db.clone(), settings.clone()));

    let listener = TcpListener::bind(&settings.addr)
        .await
        .map_err(|e| ServeError::Failed(format!("cannot listen on {}: {e}", settings.addr)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| ServeError::Failed(format!("cannot listen on {}: {e}", settings.addr)))?;
    let attachments = if app.has_attachments() {
        let url = settings
            .attachment_store
            .clone()
            .unwrap_or_else(|| format!("file:{}-attachments", app.name));
        let store = super::AttachmentStore::open(&url)
            .map_err(|e| ServeError::Config(format!("OFFGEN_ATTACHMENT_STORE: {e}")))?
            .with_max_bytes(settings.attachment_max_bytes);
        Some(super::Attachments {
            store,
            max_in_flight: settings.attachment_max_in_flight,
            stall_timeout: settings.attachment_stall,
        })
    } else {
        None
    };
    let files = attachments
        .as_ref()
        .map_or_else(|| "none".to_owned(), |a| a.store.label().to_owned());
    let router = super::build_router(
        app,
        db.clone(),
        auth,
        openapi,
        settings.limits,
        settings.metrics_token.clone(),
        attachments,
    );
    tracing::info!(app = app.name, addr = %addr, database = %database, attachments = %files, "listening");

    let (stop, stopped) = watch::channel(());
    let mut serving = std::pin::pin!(
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let mut stopped = stopped;
                let _ = stopped.changed().await;
            })
            .into_future()
    );
    let outcome = tokio::select! {
        served = &mut serving => served.map_err(|e| ServeError::Failed(format!("serving failed: {e}"))),
        () = shutdown_requested() => {
            tracing::info!(
                grace_s = settings.shutdown_grace.as_secs(),
                "shutting down: no new connections; waiting for the requests in flight"
            );
            let _ = stop.send(());
            tokio::select! {
                served = tokio::time::timeout(settings.shutdown_grace, &mut serving) => match served {
                    Ok(served) => served.map_err(|e| ServeError::Failed(format!("serving failed: {e}"))),
                    Err(_) => {
                        // A push cut off here is rolled back with its connection; the device
                        // sends it again, and idempotency makes that safe.
                        tracing::warn!("requests still running after the grace period were cut off");
                        Ok(())
                    }
                },
                // A second signal: the operator does not want to wait.
                () = shutdown_requested() => {
                    tracing::warn!("asked again: requests still running were cut off");
                    Ok(())
                }
            }
        }
    };
    pruning.abort();
    // Requests cut off at the grace period may still hold connections: do not wait for them.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), db.close()).await;
    if outcome.is_ok() {
        tracing::info!("stopped");
    }
    outcome
}

/// Deletes push results past their retention now, then every `prune_interval`. A failure is
/// logged and tried again at the next interval: nothing depends on pruning being on time.
async fn prune_forever(db: Database, settings: Settings) {
    loop {
        match prune_mutations(&db, settings.idempotency_days).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                pruned = n,
                days = settings.idempotency_days,
                "pruned expired push results"
            ),
            Err(e) => tracing::warn!(error = %e, "pruning push results failed; will retry"),
        }
        tokio::time::sleep(settings.prune_interval).await;
    }
}

/// Logs to stderr, one JSON object a line (`OFFGEN_LOG_FORMAT=text` for people), filtered by
/// `OFFGEN_LOG` (`info` by default; `warn,offgen_runtime=debug` and the like).
fn init_logging() -> Result<(), String> {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::prelude::*;

    let filter = std::env::var("OFFGEN_LOG")
        .ok()
        .filter(|f| !f.trim().is_empty())
        .unwrap_or_else(|| "info".to_owned());
    let targets: Targets = filter
        .parse()
        .map_err(|e| format!("OFFGEN_LOG={filter} is not a log filter: {e}"))?;
    let format = std::env::var("OFFGEN_LOG_FORMAT").unwrap_or_default();
    let layer = match format.trim() {
        "" | "json" => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true)
            .with_writer(std::io::stderr)
            .boxed(),
        "text" => tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(std::io::stderr)
            .boxed(),
        other => return Err(format!("OFFGEN_LOG_FORMAT={other}: use json or text")),
    };
    // Already set (a process that serves twice, or set up its own): keep that one.
    let _ = tracing_subscriber::registry()
        .with(layer.with_filter(targets))
        .try_init();
    Ok(())
}

/// Resolves on SIGTERM (what orchestrators send) or SIGINT (Ctrl-C).
async fn shutdown_requested() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
