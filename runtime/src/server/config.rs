//! A server process's settings, read from the environment (twelve-factor style: the same build
//! runs on a laptop, in CI and in production, told apart only by its variables).
//!
//! Every variable is listed, with its default, in docs/operations.md; a value that does not
//! parse stops the server at start with the variable's name, never a silent default.

use std::time::Duration;

use super::{Limits, PoolOptions};

/// How the server runs: where it listens, its database, its limits and its schedules.
#[derive(Clone)]
pub struct Settings {
    /// `OFFGEN_ADDR`: the address to listen on.
    pub addr: String,
    /// `DATABASE_URL`: `sqlite:<file>` or `postgres://...`.
    pub database_url: String,
    /// `OFFGEN_IDEMPOTENCY_DAYS`: how long push results are kept for retries.
    pub idempotency_days: u32,
    /// `OFFGEN_PRUNE_INTERVAL_SECS`: how often expired push results are deleted.
    pub prune_interval: Duration,
    /// `OFFGEN_SHUTDOWN_GRACE_SECS`: how long in-flight requests may take to finish after
    /// SIGTERM or Ctrl-C before the server exits anyway.
    pub shutdown_grace: Duration,
    /// `OFFGEN_MAX_BODY_BYTES`, `OFFGEN_MAX_BATCH`, `OFFGEN_MAX_IN_FLIGHT` and
    /// `OFFGEN_REQUEST_TIMEOUT_SECS`.
    pub limits: Limits,
    /// `OFFGEN_DB_MAX_CONNECTIONS` and `OFFGEN_DB_ACQUIRE_TIMEOUT_SECS`.
    pub pool: PoolOptions,
    /// `OFFGEN_METRICS_TOKEN`: the bearer token `/metrics` asks for; open when unset.
    pub metrics_token: Option<String>,
    /// `OFFGEN_ATTACHMENT_STORE`: where attachment bytes go (`file:<dir>`, `s3://<bucket>`);
    /// unset, `file:<app>-attachments` beside the server.
    pub attachment_store: Option<String>,
    /// `OFFGEN_ATTACHMENT_MAX_BYTES`: the largest file taken; beyond it 413.
    pub attachment_max_bytes: u64,
    /// `OFFGEN_ATTACHMENT_MAX_IN_FLIGHT`: most file transfers at once.
    pub attachment_max_in_flight: usize,
    /// `OFFGEN_ATTACHMENT_STALL_SECS`: how long an upload's body may stop arriving.
    pub attachment_stall: Duration,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The database password and the metrics token stay out of any log.
        f.debug_struct("Settings")
            .field("addr", &self.addr)
            .field("database_url", &self.database_for_logs())
            .field("idempotency_days", &self.idempotency_days)
            .field("prune_interval", &self.prune_interval)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("limits", &self.limits)
            .field("pool", &self.pool)
            .field(
                "metrics_token",
                &self.metrics_token.as_ref().map(|_| "(set)"),
            )
            .field("attachment_store", &self.attachment_store)
            .field("attachment_max_bytes", &self.attachment_max_bytes)
            .field("attachment_max_in_flight", &self.attachment_max_in_flight)
            .field("attachment_stall", &self.attachment_stall)
            .finish()
    }
}

impl Settings {
    /// Settings from this process's environment; `default_database` is used when
    /// `DATABASE_URL` is unset (a generated server passes `sqlite:<app>.db`).
    pub fn from_env(default_database: &str) -> Result<Settings, String> {
        Settings::from_lookup(default_database, |name| std::env::var(name).ok())
    }

    /// Settings from any variable lookup (the environment, or a map in a test).
    pub fn from_lookup(
        default_database: &str,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, String> {
        let vars = Vars(&get);
        let defaults = Limits::default();
        let pool = PoolOptions::default();
        Ok(Settings {
            addr: vars.text("OFFGEN_ADDR", "127.0.0.1:8080"),
            database_url: vars.text("DATABASE_URL", default_database),
            idempotency_days: vars.number("OFFGEN_IDEMPOTENCY_DAYS", 180, 1..=36_500)?,
            prune_interval: Duration::from_secs(vars.number(
                "OFFGEN_PRUNE_INTERVAL_SECS",
                6 * 3600,
                1..=30 * 86_400,
            )?),
            shutdown_grace: Duration::from_secs(vars.number(
                "OFFGEN_SHUTDOWN_GRACE_SECS",
                30,
                0..=3600,
            )?),
            limits: Limits {
                max_body_bytes: vars.number(
                    "OFFGEN_MAX_BODY_BYTES",
                    defaults.max_body_bytes,
                    1024..=1 << 30,
                )?,
                max_batch: vars.number("OFFGEN_MAX_BATCH", defaults.max_batch, 1..=100_000)?,
                max_in_flight: vars.number(
                    "OFFGEN_MAX_IN_FLIGHT",
                    defaults.max_in_flight,
                    1..=1_000_000,
                )?,
                request_timeout: Duration::from_secs(vars.number(
                    "OFFGEN_REQUEST_TIMEOUT_SECS",
                    defaults.request_timeout.as_secs(),
                    1..=86_400,
                )?),
            },
            pool: PoolOptions {
                max_connections: vars.number(
                    "OFFGEN_DB_MAX_CONNECTIONS",
                    pool.max_connections,
                    1..=10_000,
                )?,
                acquire_timeout: Duration::from_secs(vars.number(
                    "OFFGEN_DB_ACQUIRE_TIMEOUT_SECS",
                    pool.acquire_timeout.as_secs(),
                    1..=600,
                )?),
            },
            metrics_token: vars.opt("OFFGEN_METRICS_TOKEN"),
            attachment_store: vars.opt("OFFGEN_ATTACHMENT_STORE"),
            attachment_max_bytes: vars.number(
                "OFFGEN_ATTACHMENT_MAX_BYTES",
                super::attachments::DEFAULT_MAX_BYTES,
                1..=crate::attachments::MAX_SIZE,
            )?,
            attachment_max_in_flight: vars.number(
                "OFFGEN_ATTACHMENT_MAX_IN_FLIGHT",
                64,
                1..=100_000,
            )?,
            attachment_stall: Duration::from_secs(vars.number(
                "OFFGEN_ATTACHMENT_STALL_SECS",
                60,
                1..=3600,
            )?),
        })
    }

    /// The database URL without its password, for logs.
    pub fn database_for_logs(&self) -> String {
        redact_url(&self.database_url)
    }
}

/// Variables read through a lookup, each parsed strictly.
pub(crate) struct Vars<'a>(pub(crate) &'a dyn Fn(&str) -> Option<String>);

impl Vars<'_> {
    /// The variable, or `default` when it is unset or empty.
    pub(crate) fn text(&self, name: &str, default: &str) -> String {
        self.opt(name).unwrap_or_else(|| default.to_owned())
    }

    /// The variable when it is set to something other than blanks.
    pub(crate) fn opt(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// A whole number within `range`, or `default` when unset.
    pub(crate) fn number<T>(
        &self,
        name: &str,
        default: T,
        range: std::ops::RangeInclusive<T>,
    ) -> Result<T, String>
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
    {
        let Some(text) = self.opt(name) else {
            return Ok(default);
        };
        text.parse::<T>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                format!(
                    "{name}={text} is not a whole number from {} to {}",
                    range.start(),
                    range.end()
                )
            })
    }
}

/// `scheme://user:secret@host/db` without the secret; other URLs as they are.
pub(crate) fn redact_url(url: &str) -> String {
    let without_query = url.split('?').next().unwrap_or(url);
    if let Some((scheme, rest)) = without_query.split_once("://")
        && let Some((credentials, host)) = rest.rsplit_once('@')
    {
        let user = credentials.split(':').next().unwrap_or("");
        return format!("{scheme}://{user}@{host}");
    }
    without_query.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup("sqlite:app.db", |name| map.get(name).cloned())
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.addr, "127.0.0.1:8080");
        assert_eq!(s.database_url, "sqlite:app.db");
        assert_eq!(s.idempotency_days, 180);
        assert_eq!(s.prune_interval, Duration::from_secs(6 * 3600));
        assert_eq!(s.limits.max_batch, 1000);
        // Blank counts as unset: `OFFGEN_ADDR= cmd` in a shell must not mean "listen nowhere".
        assert_eq!(settings(&[("OFFGEN_ADDR", " ")]).unwrap().addr, s.addr);
    }

    #[test]
    fn bad_numbers_name_their_variable() {
        for (name, value) in [
            ("OFFGEN_IDEMPOTENCY_DAYS", "0"),
            ("OFFGEN_IDEMPOTENCY_DAYS", "ten"),
            ("OFFGEN_MAX_BATCH", "-1"),
            ("OFFGEN_SHUTDOWN_GRACE_SECS", "1.5"),
        ] {
            let error = settings(&[(name, value)]).unwrap_err();
            assert!(error.starts_with(&format!("{name}={value} ")), "{error}");
        }
        assert_eq!(
            settings(&[("OFFGEN_IDEMPOTENCY_DAYS", "30")])
                .unwrap()
                .idempotency_days,
            30
        );
    }

    #[test]
    fn passwords_stay_out_of_logs() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/app?sslmode=require"),
            "postgres://app@db:5432/app"
        );
        assert_eq!(redact_url("sqlite:ranger.db"), "sqlite:ranger.db");
        assert_eq!(
            redact_url("postgres://a:b@c@host/db"),
            "postgres://a@host/db"
        );
    }
}
