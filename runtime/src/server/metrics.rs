//! `/metrics` in Prometheus' text exposition format (version 0.0.4): what the server counted
//! since it started, and a few gauges read from the database at scrape time.
//!
//! Counted in-process with a mutex per family: the handful of label sets (routes, statuses,
//! entities) are bounded by the app, never by what a client sends, so memory stays flat.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::model::{AppDef, Dialects};
use crate::protocol::{PushResult, PushStatus};

use super::db::{Database, Dialect};

/// Upper bounds of the request duration histogram, in seconds.
const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// How long a scrape waits for each database gauge; a slow or absent database must not make
/// the scrape itself time out (it then reports `offgen_database_up 0`).
const GAUGE_TIMEOUT: Duration = Duration::from_millis(300);

/// Below this many rows the idempotency table is counted exactly; above it PostgreSQL's own
/// estimate is reported, because counting millions of rows at every scrape costs seconds.
const EXACT_COUNT_BELOW: i64 = 100_000;

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Everything counted since start.
#[derive(Default)]
pub(crate) struct Metrics {
    requests: Mutex<BTreeMap<(String, &'static str, u16), u64>>,
    durations: Mutex<BTreeMap<String, Histogram>>,
    push_results: Mutex<BTreeMap<&'static str, u64>>,
    rejections: Mutex<BTreeMap<String, u64>>,
    conflicts: Mutex<BTreeMap<String, u64>>,
    in_flight: AtomicU64,
    shed: AtomicU64,
    timeouts: AtomicU64,
}

/// A request being answered, counted in `offgen_http_requests_in_flight` until dropped.
pub(crate) struct InFlight<'a>(&'a Metrics);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    /// Counts a request as running until the guard is dropped.
    pub(crate) fn start(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self)
    }

    /// Requests answered right now.
    pub(crate) fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Counts an answered request. `route` is the matched route template (`/v1/x/{id}`), so
    /// ids never become labels.
    pub(crate) fn request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        let method = match method {
            "GET" => "GET",
            "POST" => "POST",
            "PUT" => "PUT",
            "DELETE" => "DELETE",
            "HEAD" => "HEAD",
            "OPTIONS" => "OPTIONS",
            "PATCH" => "PATCH",
            // Any other method string is the client's invention: one label for all of them.
            _ => "other",
        };
        *lock(&self.requests)
            .entry((route.to_owned(), method, status))
            .or_default() += 1;
        let seconds = elapsed.as_secs_f64();
        let mut durations = lock(&self.durations);
        let histogram = durations.entry(route.to_owned()).or_default();
        for (bucket, bound) in histogram.counts.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        histogram.count += 1;
        histogram.sum += seconds;
    }

    /// Counts a push's results: by status, rejections by code, conflicts by entity.
    pub(crate) fn push_results(&self, results: &[PushResult]) {
        let mut statuses = lock(&self.push_results);
        for result in results {
            let status = match result.status {
                PushStatus::Accepted => "accepted",
                PushStatus::Conflict => "conflict",
                PushStatus::Rejected => "rejected",
            };
            *statuses.entry(status).or_default() += 1;
            match result.status {
                PushStatus::Conflict => {
                    let entity = result
                        .record
                        .as_ref()
                        .map_or("unknown", |r| r.entity.as_str());
                    *lock(&self.conflicts).entry(entity.to_owned()).or_default() += 1;
                }
                PushStatus::Rejected => {
                    let code = result.error.as_ref().map_or("unknown", |e| e.code.as_str());
                    *lock(&self.rejections).entry(code.to_owned()).or_default() += 1;
                }
                PushStatus::Accepted => {}
            }
        }
    }

    /// The request counts, for tests.
    #[cfg(test)]
    pub(crate) fn requests_for_tests(&self) -> BTreeMap<(String, &'static str, u16), u64> {
        lock(&self.requests).clone()
    }

    /// A request turned away at the concurrency limit.
    pub(crate) fn shed(&self) {
        self.shed.fetch_add(1, Ordering::Relaxed);
    }

    /// A request cut off at the request timeout.
    pub(crate) fn timed_out(&self) {
        self.timeouts.fetch_add(1, Ordering::Relaxed);
    }

    /// The exposition: the counters, then the database's gauges.
    pub(crate) async fn render(&self, app: &AppDef, db: &Database) -> String {
        let mut out = String::new();
        family(
            &mut out,
            "offgen_build_info",
            "gauge",
            "The app and the offgen runtime version serving it.",
        );
        let _ = writeln!(
            out,
            "offgen_build_info{{app=\"{}\",version=\"{}\"}} 1",
            escape(app.name),
            env!("CARGO_PKG_VERSION")
        );

        family(
            &mut out,
            "offgen_http_requests_total",
            "counter",
            "HTTP requests answered, by route template, method and status.",
        );
        for ((route, method, status), n) in lock(&self.requests).iter() {
            let _ = writeln!(
                out,
                "offgen_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        family(
            &mut out,
            "offgen_http_request_duration_seconds",
            "histogram",
            "Time to answer an HTTP request, by route template.",
        );
        for (route, h) in lock(&self.durations).iter() {
            let route = escape(route);
            for (bound, n) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(
                    out,
                    "offgen_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "offgen_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "offgen_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "offgen_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count
            );
        }
        family(
            &mut out,
            "offgen_http_requests_in_flight",
            "gauge",
            "HTTP requests being answered now.",
        );
        let _ = writeln!(out, "offgen_http_requests_in_flight {}", self.in_flight());
        family(
            &mut out,
            "offgen_http_requests_shed_total",
            "counter",
            "Requests answered 503 at once because the concurrency limit was reached.",
        );
        let _ = writeln!(
            out,
            "offgen_http_requests_shed_total {}",
            self.shed.load(Ordering::Relaxed)
        );
        family(
            &mut out,
            "offgen_http_request_timeouts_total",
            "counter",
            "Requests cut off at the request timeout (answered 503).",
        );
        let _ = writeln!(
            out,
            "offgen_http_request_timeouts_total {}",
            self.timeouts.load(Ordering::Relaxed)
        );

        family(
            &mut out,
            "offgen_push_mutations_total",
            "counter",
            "Pushed mutations answered, by result status (retries answered from the idempotency record included).",
        );
        let statuses = lock(&self.push_results).clone();
        for status in ["accepted", "conflict", "rejected"] {
            let n = statuses.get(status).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "offgen_push_mutations_total{{status=\"{status}\"}} {n}"
            );
        }
        family(
            &mut out,
            "offgen_push_rejections_total",
            "counter",
            "Pushed mutations rejected, by error code.",
        );
        for (code, n) in lock(&self.rejections).iter() {
            let _ = writeln!(
                out,
                "offgen_push_rejections_total{{code=\"{}\"}} {n}",
                escape(code)
            );
        }
        family(
            &mut out,
            "offgen_push_conflicts_total",
            "counter",
            "Pushed mutations answered `conflict`, by entity (table).",
        );
        let conflicts = lock(&self.conflicts).clone();
        for entity in app.entities {
            let n = conflicts.get(entity.table).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "offgen_push_conflicts_total{{entity=\"{}\"}} {n}",
                escape(entity.table)
            );
        }

        self.render_database(&mut out, db).await;
        out
    }

    async fn render_database(&self, out: &mut String, db: &Database) {
        let (idle, size) = db.pool_state();
        family(
            out,
            "offgen_db_connections",
            "gauge",
            "Database connections held by the pool, by state.",
        );
        let _ = writeln!(out, "offgen_db_connections{{state=\"idle\"}} {idle}");
        let _ = writeln!(
            out,
            "offgen_db_connections{{state=\"in_use\"}} {}",
            (size as usize).saturating_sub(idle)
        );

        let gauges = tokio::time::timeout(GAUGE_TIMEOUT, database_gauges(db)).await;
        family(
            out,
            "offgen_database_up",
            "gauge",
            "1 when the database answered this scrape's queries in time, else 0 (and the gauges that need it are left out).",
        );
        let Ok(Ok(gauges)) = gauges else {
            let _ = writeln!(out, "offgen_database_up 0");
            return;
        };
        let _ = writeln!(out, "offgen_database_up 1");
        family(
            out,
            "offgen_pull_lag_seconds",
            "gauge",
            "How long committed changes can be held back from pulls right now: the age of the oldest transaction that holds back the pull horizon (PostgreSQL; always 0 on SQLite, whose writes are serialised).",
        );
        let _ = writeln!(out, "offgen_pull_lag_seconds {}", gauges.pull_lag_seconds);
        family(
            out,
            "offgen_idempotency_records",
            "gauge",
            "Push results kept for retries (exact below 100,000; PostgreSQL's estimate above).",
        );
        let _ = writeln!(
            out,
            "offgen_idempotency_records {}",
            gauges.idempotency_records
        );
        family(
            out,
            "offgen_idempotency_oldest_age_seconds",
            "gauge",
            "Age of the oldest push result kept; above the retention period, pruning is not keeping up.",
        );
        let _ = writeln!(
            out,
            "offgen_idempotency_oldest_age_seconds {}",
            gauges.oldest_record_age_seconds
        );
    }
}

struct DatabaseGauges {
    pull_lag_seconds: f64,
    idempotency_records: i64,
    oldest_record_age_seconds: f64,
}

async fn database_gauges(db: &Database) -> Result<DatabaseGauges, sqlx::Error> {
    let mut tx = db.begin_read().await?;
    let estimate = tx
        .rows(
            Dialects {
                sqlite: "SELECT -1 AS \"n\"",
                postgres: "SELECT coalesce((SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass('\"_offgen_mutations\"')), -1) AS \"n\"",
            },
            &[],
        )
        .await?;
    let estimate = estimate.first().map_or(Ok(-1), |r| r.int("n"))?;
    let idempotency_records = if estimate >= EXACT_COUNT_BELOW {
        estimate
    } else {
        let rows = tx
            .rows(
                Dialects {
                    sqlite: "SELECT count(*) AS \"n\" FROM \"_offgen_mutations\"",
                    postgres: "SELECT count(*) AS \"n\" FROM \"_offgen_mutations\"",
                },
                &[],
            )
            .await?;
        rows.first().map_or(Ok(0), |r| r.int("n"))?
    };
    let oldest = tx
        .rows(
            Dialects {
                sqlite: "SELECT min(\"created_at\") AS \"n\" FROM \"_offgen_mutations\"",
                postgres: "SELECT min(\"created_at\") AS \"n\" FROM \"_offgen_mutations\"",
            },
            &[],
        )
        .await?;
    let oldest = oldest.first().map_or(Ok(None), |r| r.opt_int("n"))?;
    let oldest_record_age_seconds =
        oldest.map_or(0.0, |at| (super::now_ms() - at).max(0) as f64 / 1000.0);
    let pull_lag_seconds = match tx.dialect() {
        Dialect::Sqlite => 0.0,
        Dialect::Postgres => {
            // A pull page holds only changes of transactions below the oldest running one
            // (pg_snapshot_xmin): the oldest transaction holding an id is how long changes
            // committed after it have waited. Sessions of other roles show no start time to a
            // non-superuser; the app's own transactions are the ones that matter here.
            let rows = tx
                .rows(
                    Dialects {
                        sqlite: "SELECT 0 AS \"ms\"",
                        postgres: "SELECT coalesce((extract(epoch FROM clock_timestamp() - min(xact_start)) * 1000)::bigint, 0) AS \"ms\" FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()",
                    },
                    &[],
                )
                .await?;
            rows.first().map_or(Ok(0), |r| r.int("ms"))?.max(0) as f64 / 1000.0
        }
    };
    tx.commit().await?;
    Ok(DatabaseGauges {
        pull_lag_seconds,
        idempotency_records,
        oldest_record_age_seconds,
    })
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A label value as the exposition format quotes it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A poisoned counter mutex still holds valid counts: keep counting.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped_and_methods_bounded() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        let metrics = Metrics::default();
        metrics.request("/x", "BREW", 400, Duration::from_millis(3));
        metrics.request("/x", "GET", 200, Duration::from_millis(30));
        let requests = lock(&metrics.requests);
        assert_eq!(requests.get(&("/x".to_owned(), "other", 400)), Some(&1));
        let durations = lock(&metrics.durations);
        let h = &durations["/x"];
        assert_eq!(h.count, 2);
        assert_eq!(h.counts[0], 1, "3 ms is within 5 ms");
        assert_eq!(h.counts[2], 1, "30 ms is not within 25 ms");
        assert_eq!(h.counts[3], 2, "both are within 50 ms");
    }
}
