//! The forest-ranger sync server: the generated `ranger_server` library and this small main.
//!
//! Configuration, all from the environment:
//! - `OFFGEN_ADDR`: where to listen (default `127.0.0.1:8080`);
//! - `DATABASE_URL`: `sqlite:<file>` (default `sqlite:ranger.db`, created if missing) or
//!   `postgres://...`;
//! - `OFFGEN_TOKENS`: who may sync, as `user=token` pairs separated by commas (required);
//! - `OFFGEN_IDEMPOTENCY_DAYS`: how long push results are kept for retries (default 180).

use std::process::ExitCode;
use std::time::Duration;

use offgen_runtime::server::tokio;
use offgen_runtime::server::{Database, StaticTokens, axum, prune_mutations};
use ranger_server::{APP, router};

#[tokio::main(crate = "offgen_runtime::server::tokio")]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("ranger-server: {message}");
            ExitCode::from(2)
        }
    }
}

async fn run() -> Result<(), String> {
    let addr = std::env::var("OFFGEN_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".to_owned());
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite:ranger.db".to_owned());
    let tokens = std::env::var("OFFGEN_TOKENS").map_err(|_| {
        "set OFFGEN_TOKENS to user=token pairs, e.g. OFFGEN_TOKENS=ana=s3cret".to_owned()
    })?;
    let tokens = StaticTokens::parse(&tokens).map_err(|e| format!("OFFGEN_TOKENS: {e}"))?;
    let retention_days: u32 = match std::env::var("OFFGEN_IDEMPOTENCY_DAYS") {
        Ok(days) => days
            .parse()
            .map_err(|_| "OFFGEN_IDEMPOTENCY_DAYS must be a number of days".to_owned())?,
        Err(_) => 180,
    };

    let db = Database::connect(&url)
        .await
        .map_err(|e| format!("cannot open {url}: {e}"))?;
    db.migrate(&APP)
        .await
        .map_err(|e| format!("migrating {url} failed: {e}"))?;

    let pruning = db.clone();
    tokio::spawn(async move {
        loop {
            if let Err(e) = prune_mutations(&pruning, retention_days).await {
                eprintln!("ranger-server: pruning push results failed: {e}");
            }
            tokio::time::sleep(Duration::from_secs(6 * 3600)).await;
        }
    });

    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    eprintln!(
        "ranger-server: listening on http://{addr} ({})",
        url.split('?').next().unwrap_or(&url)
    );
    axum::serve(listener, router(db, tokens))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| format!("server failed: {e}"))
}
