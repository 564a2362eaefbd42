//! The sync loop: push the queue, then pull to the end, running only `sync.sql` statements.
//!
//! Every decision about the queue is made by the generated SQL and triggers; this loop only
//! moves JSON between them and the server and decides what each HTTP answer means
//! (docs/client.md lists every status and what the loop does).

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde::Serialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

use super::transport::{Method, Request, Response, Transport, TransportError};
use super::{ClientError, Device};
use crate::protocol::{SCHEMA_AHEAD_PROBLEM, SCHEMA_STEP_HEADER, UPGRADE_REQUIRED_PROBLEM};

/// How a sync sizes its requests.
#[derive(Clone, Debug)]
pub struct SyncOptions {
    /// Most mutations per push (the server takes at most 1,000).
    pub push_batch: usize,
    /// Most bytes per push body. Keep it at or below the server's body limit (8 MiB unless
    /// the server was configured otherwise); a change larger than this alone is set aside as
    /// failed. On a 413 the loop halves its batches by itself.
    pub max_push_bytes: usize,
    /// Records per pull page (the server serves at most 1,000).
    pub pull_page: usize,
    /// How long a sync may hold the database's sync lease without renewing it (it renews
    /// before every request). A sync killed mid-way blocks others for at most this long.
    pub lease: Duration,
}

impl Default for SyncOptions {
    fn default() -> SyncOptions {
        SyncOptions {
            push_batch: 500,
            max_push_bytes: 8 * 1024 * 1024,
            pull_page: 500,
            lease: Duration::from_secs(60),
        }
    }
}

/// What one sync did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Mutations sent (a retry of a batch counts again).
    pub pushed: u64,
    /// Results `accepted`.
    pub accepted: u64,
    /// Results `conflict`.
    pub conflicts: u64,
    /// Results `rejected`.
    pub rejected: u64,
    /// Changes newly set aside as failed (rejected too often, or too large).
    pub set_aside: u64,
    /// Records pulled and handed to the database.
    pub pulled: u64,
    /// Pulled records of entities this schema does not have (a newer server), by table.
    pub unknown: Vec<(String, u64)>,
    /// Request bodies sent, in bytes.
    pub bytes_sent: u64,
    /// Response bodies received, in bytes.
    pub bytes_received: u64,
    /// HTTP requests made (answered or not).
    pub requests: u64,
    /// The server runs an older schema step than this app: the changes wait on the device,
    /// uncounted, and go through by themselves once the server is upgraded. Pulls go on
    /// meanwhile (in the server's shape; fields it does not send keep their values).
    pub server_behind: bool,
    /// The server's schema step, when it said (with `server_behind`).
    pub server_step: Option<u64>,
}

/// Why a sync stopped early. Whatever it did before is in `report` and committed: a sync can
/// stop at any point and the next one carries on.
#[derive(Debug)]
pub struct SyncError {
    /// What went wrong.
    pub kind: SyncErrorKind,
    /// What the sync did before.
    pub report: Box<SyncReport>,
}

/// The kinds of [`SyncError`].
#[derive(Debug)]
pub enum SyncErrorKind {
    /// Another sync holds this database (in this process or another); try again later.
    Busy,
    /// No response (no network, timeout, connection lost). Nothing is lost: unanswered changes
    /// go again with the same mutation ids.
    Transport(TransportError),
    /// The server answered the whole request with an error status (401, 403, 429, 5xx, ...);
    /// no change counted an attempt.
    Refused {
        /// The HTTP status.
        status: u16,
        /// The problem's `type`, if the body was problem+json.
        problem: Option<String>,
        /// The problem's `detail`.
        detail: Option<String>,
        /// `Retry-After`, in seconds, when the server said when to come back.
        retry_after: Option<u64>,
    },
    /// The server's answer was not the protocol's (a proxy's page, a wrong URL, ...).
    Protocol(String),
    /// The device database failed.
    Client(ClientError),
}

impl SyncError {
    /// Whether the server refused the credentials (401) or the caller (403): the token
    /// provider should get a new token before the next sync.
    pub fn is_unauthorized(&self) -> bool {
        matches!(
            self.kind,
            SyncErrorKind::Refused {
                status: 401 | 403,
                ..
            }
        )
    }

    /// Whether the server no longer serves this app's schema step: the app must be updated
    /// (its queued changes stay on the device and migrate with it).
    pub fn is_upgrade_required(&self) -> bool {
        matches!(
            &self.kind,
            SyncErrorKind::Refused { problem: Some(p), .. } if p == UPGRADE_REQUIRED_PROBLEM
        )
    }
}

impl fmt::Display for SyncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            SyncErrorKind::Busy => write!(f, "another sync is running on this database"),
            SyncErrorKind::Transport(e) => write!(f, "{e}"),
            SyncErrorKind::Refused {
                status,
                problem,
                detail,
                ..
            } => {
                write!(f, "the server answered {status}")?;
                if let Some(problem) = problem {
                    write!(f, " ({problem})")?;
                }
                if let Some(detail) = detail {
                    write!(f, ": {detail}")?;
                }
                Ok(())
            }
            SyncErrorKind::Protocol(m) => write!(f, "unexpected answer from the server: {m}"),
            SyncErrorKind::Client(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SyncError {}

type TokenProvider = Box<dyn Fn() -> Option<String> + Send + Sync>;

/// Syncs device databases with one server through a [`Transport`].
pub struct SyncClient<T> {
    pub(super) transport: T,
    pub(super) token: TokenProvider,
    pub(super) options: SyncOptions,
}

impl<T> fmt::Debug for SyncClient<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncClient")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// A claimed outbox entry, as `claimed_entries` returns it.
struct Claimed {
    mutation_id: String,
    entity: String,
    row_id: String,
    op: String,
    payload: String,
    base_version: Option<i64>,
    stamp: Option<i64>,
    field_stamps: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OutMutation<'a> {
    mutation_id: &'a str,
    entity: &'a str,
    id: &'a str,
    op: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    base_version: Option<i64>,
    data: &'a RawValue,
    #[serde(skip_serializing_if = "Option::is_none")]
    stamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    field_stamps: Option<&'a RawValue>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OutPush<'a> {
    client_id: &'a str,
    mutations: Vec<OutMutation<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PushAnswer<'a> {
    #[serde(borrow)]
    results: &'a RawValue,
    #[serde(default)]
    server_time: Option<i64>,
}

#[derive(Deserialize)]
struct ResultStatus {
    status: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PullPage<'a> {
    #[serde(borrow)]
    records: &'a RawValue,
    cursor: String,
    has_more: bool,
    #[serde(default)]
    server_time: Option<i64>,
}

#[derive(Deserialize)]
struct ProblemBody {
    #[serde(default, rename = "type")]
    problem: Option<String>,
    #[serde(default)]
    detail: Option<String>,
    #[serde(default, rename = "serverStep")]
    server_step: Option<u64>,
}

/// One sync in progress: the device, its lease and what it did so far.
struct Run<'d, 'c, T> {
    client: &'c SyncClient<T>,
    device: &'d mut Device,
    holder: String,
    report: SyncReport,
}

impl<T: Transport> SyncClient<T> {
    /// A client over `transport`; `token` is asked for the bearer token before every request
    /// (return `None` to send none). Tokens are never stored.
    pub fn new(
        transport: T,
        token: impl Fn() -> Option<String> + Send + Sync + 'static,
    ) -> SyncClient<T> {
        SyncClient {
            transport,
            token: Box::new(token),
            options: SyncOptions::default(),
        }
    }

    /// The same client with other options.
    pub fn with_options(mut self, options: SyncOptions) -> SyncClient<T> {
        self.options = options;
        self
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// One sync of `device`: push every change that is due, then pull to the end. Stops at
    /// the first request the server does not answer with success; what was done until then
    /// stays done.
    pub fn sync(&self, device: &mut Device) -> Result<SyncReport, SyncError> {
        let fail = |kind| SyncError {
            kind,
            report: Box::default(),
        };
        let holder = random_id(device).map_err(|e| fail(SyncErrorKind::Client(e)))?;
        let mut run = Run {
            client: self,
            device,
            holder,
            report: SyncReport::default(),
        };
        match run.renew_lease() {
            Ok(true) => {}
            Ok(false) => return Err(fail(SyncErrorKind::Busy)),
            Err(e) => return Err(fail(SyncErrorKind::Client(e))),
        }
        let outcome = run.run();
        let released = run
            .device
            .execute("release_sync_lease", &[(":holder", &run.holder)]);
        let report = std::mem::take(&mut run.report);
        match (outcome, released) {
            (Ok(()), Ok(_)) => Ok(report),
            (Err(kind), _) => Err(SyncError {
                kind,
                report: Box::new(report),
            }),
            (Ok(()), Err(e)) => Err(SyncError {
                kind: SyncErrorKind::Client(e),
                report: Box::new(report),
            }),
        }
    }
}

impl<T: Transport> Run<'_, '_, T> {
    fn run(&mut self) -> Result<(), SyncErrorKind> {
        self.device
            .execute("recover_inflight", &[])
            .map_err(SyncErrorKind::Client)?;
        let failed_before = self.device.stats().map_err(SyncErrorKind::Client)?.failed;
        let pushed = self.push();
        let failed_after = self.device.stats().map_err(SyncErrorKind::Client)?.failed;
        self.report.set_aside = u64::try_from(failed_after - failed_before).unwrap_or(0);
        pushed?;
        self.pull()?;
        let now = self.now()?;
        self.device
            .execute("set_last_synced", &[(":now", &now)])
            .map_err(SyncErrorKind::Client)?;
        Ok(())
    }

    fn now(&self) -> Result<i64, SyncErrorKind> {
        self.device.now().map_err(SyncErrorKind::Client)
    }

    /// Takes or renews the lease; false when another sync holds it.
    fn renew_lease(&mut self) -> Result<bool, ClientError> {
        let now = self.device.now()?;
        let lease_ms = i64::try_from(self.client.options.lease.as_millis()).unwrap_or(i64::MAX);
        let until = now.saturating_add(lease_ms);
        let changed = self.device.execute(
            "acquire_sync_lease",
            &[
                (":holder", &self.holder),
                (":now", &now),
                (":until", &until),
            ],
        )?;
        Ok(changed == 1)
    }

    fn keep_lease(&mut self) -> Result<(), SyncErrorKind> {
        match self.renew_lease() {
            Ok(true) => Ok(()),
            // The lease ran out and another sync took it: stop, leaving the queue to it.
            Ok(false) => Err(SyncErrorKind::Busy),
            Err(e) => Err(SyncErrorKind::Client(e)),
        }
    }

    fn push(&mut self) -> Result<(), SyncErrorKind> {
        let options = &self.client.options;
        let mut limit = options.push_batch.max(1);
        let mut max_bytes = options.max_push_bytes;
        loop {
            self.keep_lease()?;
            let claim = random_id(self.device).map_err(SyncErrorKind::Client)?;
            let entries = self.claim(&claim, limit, max_bytes)?;
            if entries.is_empty() {
                return Ok(());
            }
            let client_id = self.device.client_id().map_err(SyncErrorKind::Client)?;
            let body = push_body(&client_id, &entries)?;
            self.report.pushed += entries.len() as u64;
            let response = match self.send(Method::Post, "/sync/push".to_owned(), body) {
                Ok(response) => response,
                Err(e) => {
                    self.release(&claim)?;
                    return Err(SyncErrorKind::Transport(e));
                }
            };
            match response.status {
                200 => self.apply_results(&response)?,
                413 if entries.len() > 1 => {
                    // The server's limit is below ours: halve the batches and go on.
                    self.release(&claim)?;
                    limit = (entries.len() / 2).max(1);
                    max_bytes = (max_bytes / 2).max(1024);
                }
                409 if problem_type(&response).as_deref() == Some(SCHEMA_AHEAD_PROBLEM) => {
                    // The server does not know this app's schema step yet: nothing is
                    // counted against the changes; they wait for the server's upgrade.
                    self.release(&claim)?;
                    self.report.server_behind = true;
                    self.report.server_step = serde_json::from_slice::<ProblemBody>(&response.body)
                        .ok()
                        .and_then(|p| p.server_step);
                    return Ok(());
                }
                413 => {
                    let error = format!(
                        "too-large: the server refused this change as too large ({} bytes in one push)",
                        response_len(&entries)
                    );
                    self.device
                        .execute(
                            "set_aside_claimed",
                            &[(":claim", &claim), (":error", &error)],
                        )
                        .map_err(SyncErrorKind::Client)?;
                }
                _ => {
                    self.release(&claim)?;
                    return Err(refused(&response));
                }
            }
        }
    }

    /// Prepares, sets aside what can never be sent, and claims a batch, in one transaction.
    fn claim(
        &mut self,
        claim: &str,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<Claimed>, SyncErrorKind> {
        let now = self.now()?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let max_bytes = i64::try_from(max_bytes).unwrap_or(i64::MAX);
        self.in_transaction(|device| {
            device.execute("prepare_batch", &[(":now", &now), (":limit", &limit)])?;
            device.execute("set_aside_oversized", &[(":max_bytes", &max_bytes)])?;
            device.execute(
                "claim_batch",
                &[
                    (":now", &now),
                    (":limit", &limit),
                    (":max_bytes", &max_bytes),
                    (":claim", &claim),
                ],
            )?;
            device.query("claimed_entries", &[(":claim", &claim)], |r| {
                Ok(Claimed {
                    mutation_id: r.get("mutation_id")?,
                    entity: r.get("entity")?,
                    row_id: r.get("row_id")?,
                    op: r.get("op")?,
                    payload: r.get("payload")?,
                    base_version: r.get("base_version")?,
                    stamp: r.get("stamp")?,
                    field_stamps: r.get("field_stamps")?,
                })
            })
        })
    }

    fn release(&mut self, claim: &str) -> Result<(), SyncErrorKind> {
        self.device
            .execute("release_inflight", &[(":claim", &claim)])
            .map(|_| ())
            .map_err(SyncErrorKind::Client)
    }

    fn apply_results(&mut self, response: &Response) -> Result<(), SyncErrorKind> {
        let answer: PushAnswer<'_> = serde_json::from_slice(&response.body)
            .map_err(|e| SyncErrorKind::Protocol(format!("push response: {e}")))?;
        let statuses: Vec<ResultStatus> = serde_json::from_str(answer.results.get())
            .map_err(|e| SyncErrorKind::Protocol(format!("push results: {e}")))?;
        for result in &statuses {
            match result.status.as_str() {
                "accepted" => self.report.accepted += 1,
                "conflict" => self.report.conflicts += 1,
                "rejected" => self.report.rejected += 1,
                other => {
                    return Err(SyncErrorKind::Protocol(format!(
                        "push result status `{other}`"
                    )));
                }
            }
        }
        let now = self.now()?;
        let results = answer.results.get();
        let server_time = answer.server_time;
        self.in_transaction(|device| {
            device.execute(
                "apply_push_results",
                &[(":results", &results), (":now", &now)],
            )?;
            device.execute("clear_push_results", &[])?;
            if let Some(server_time) = server_time {
                device.execute(
                    "set_clock",
                    &[(":server_time", &server_time), (":now", &now)],
                )?;
            }
            Ok(())
        })
    }

    fn pull(&mut self) -> Result<(), SyncErrorKind> {
        loop {
            self.keep_lease()?;
            let cursor: String = self
                .device
                .query("get_pull_cursor", &[], |r| r.get(0))
                .map_err(SyncErrorKind::Client)?
                .into_iter()
                .next()
                .unwrap_or_default();
            let path = format!(
                "/sync/pull?cursor={}&limit={}",
                percent_encode(&cursor),
                self.client.options.pull_page.clamp(1, 1000)
            );
            let response = self
                .send(Method::Get, path, Vec::new())
                .map_err(SyncErrorKind::Transport)?;
            if response.status != 200 {
                return Err(refused(&response));
            }
            let page: PullPage<'_> = serde_json::from_slice(&response.body)
                .map_err(|e| SyncErrorKind::Protocol(format!("pull page: {e}")))?;
            let count = serde_json::from_str::<Vec<IgnoredAny>>(page.records.get())
                .map_err(|e| SyncErrorKind::Protocol(format!("pull records: {e}")))?
                .len();
            let now = self.now()?;
            let records = page.records.get();
            let next = page.cursor.as_str();
            let server_time = page.server_time;
            let unknown = self.in_transaction(|device| {
                device.execute("apply_pulled_records", &[(":records", &records)])?;
                // Records waiting for a unique clash are tried again after every page: the
                // page may have changed the local row that held them back.
                let held: Vec<String> = device.query("take_clashes", &[], |r| r.get(0))?;
                device.execute("clear_clashes", &[])?;
                for held in &held {
                    device.execute("apply_pulled_records", &[(":records", held)])?;
                }
                let unknown: Vec<(String, i64)> =
                    device.query("unknown_pulled_records", &[], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })?;
                device.execute("clear_inbox", &[])?;
                device.execute("set_pull_cursor", &[(":cursor", &next)])?;
                if let Some(server_time) = server_time {
                    device.execute(
                        "set_clock",
                        &[(":server_time", &server_time), (":now", &now)],
                    )?;
                }
                Ok(unknown)
            })?;
            self.report.pulled += count as u64;
            for (entity, n) in unknown {
                let n = u64::try_from(n).unwrap_or(0);
                match self.report.unknown.iter_mut().find(|(e, _)| *e == entity) {
                    Some((_, total)) => *total += n,
                    None => self.report.unknown.push((entity, n)),
                }
            }
            if !page.has_more {
                return Ok(());
            }
        }
    }

    /// Runs `work` in one transaction of the device's connection: all of it or none. (The
    /// named statements run on the device, so the transaction is plain BEGIN and COMMIT
    /// rather than a rusqlite `Transaction`, which would borrow the connection.)
    fn in_transaction<R>(
        &mut self,
        work: impl FnOnce(&Device) -> Result<R, ClientError>,
    ) -> Result<R, SyncErrorKind> {
        let client = SyncErrorKind::Client;
        self.device
            .connection()
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| client(e.into()))?;
        match work(self.device) {
            Ok(value) => {
                self.device
                    .connection()
                    .execute_batch("COMMIT")
                    .map_err(|e| client(e.into()))?;
                Ok(value)
            }
            Err(e) => {
                // The work's error is what matters; a failed rollback leaves SQLite to roll
                // back when the connection closes.
                let _ = self.device.connection().execute_batch("ROLLBACK");
                Err(client(e))
            }
        }
    }

    fn send(
        &mut self,
        method: Method,
        path: String,
        body: Vec<u8>,
    ) -> Result<Response, TransportError> {
        let mut headers = vec![("Accept".to_owned(), "application/json".to_owned())];
        if method == Method::Post {
            headers.push(("Content-Type".to_owned(), "application/json".to_owned()));
        }
        let step = self.device.schema().step().to_string();
        headers.push((SCHEMA_STEP_HEADER.to_owned(), step));
        if let Some(token) = (self.client.token)() {
            headers.push(("Authorization".to_owned(), format!("Bearer {token}")));
        }
        self.report.requests += 1;
        self.report.bytes_sent += body.len() as u64;
        let response = self.client.transport.send(Request {
            method,
            path,
            headers,
            body,
        })?;
        self.report.bytes_received += response.body.len() as u64;
        Ok(response)
    }
}

fn push_body(client_id: &str, entries: &[Claimed]) -> Result<Vec<u8>, SyncErrorKind> {
    fn raw<'t>(text: &'t str, what: &str) -> Result<&'t RawValue, SyncErrorKind> {
        serde_json::from_str::<&RawValue>(text)
            .map_err(|e| SyncErrorKind::Protocol(format!("a queued {what} is not JSON: {e}")))
    }
    let mut mutations = Vec::with_capacity(entries.len());
    for entry in entries {
        mutations.push(OutMutation {
            mutation_id: &entry.mutation_id,
            entity: &entry.entity,
            id: &entry.row_id,
            op: &entry.op,
            base_version: entry.base_version,
            data: raw(&entry.payload, "payload")?,
            stamp: entry.stamp,
            field_stamps: entry
                .field_stamps
                .as_deref()
                .map(|f| raw(f, "field stamp list"))
                .transpose()?,
        });
    }
    serde_json::to_vec(&OutPush {
        client_id,
        mutations,
    })
    .map_err(|e| SyncErrorKind::Protocol(e.to_string()))
}

fn response_len(entries: &[Claimed]) -> usize {
    entries
        .iter()
        .map(|e| e.payload.len() + e.field_stamps.as_ref().map_or(0, String::len))
        .sum()
}

fn problem_type(response: &Response) -> Option<String> {
    serde_json::from_slice::<ProblemBody>(&response.body)
        .ok()
        .and_then(|p| p.problem)
}

pub(super) fn refused(response: &Response) -> SyncErrorKind {
    let problem: Option<ProblemBody> = serde_json::from_slice(&response.body).ok();
    SyncErrorKind::Refused {
        status: response.status,
        problem: problem.as_ref().and_then(|p| p.problem.clone()),
        detail: problem.and_then(|p| p.detail),
        retry_after: response
            .header("retry-after")
            .and_then(|v| v.trim().parse().ok()),
    }
}

/// A random id from SQLite's generator (no dependency of our own for randomness).
pub(super) fn random_id(device: &Device) -> Result<String, ClientError> {
    Ok(device
        .connection()
        .query_row("SELECT lower(hex(randomblob(16)))", [], |r| r.get(0))?)
}

/// Percent-encodes a cursor for the query string (unreserved characters stay as they are).
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_travel_percent_encoded() {
        assert_eq!(percent_encode("a1.b-c_d~"), "a1.b-c_d~");
        assert_eq!(percent_encode("x/y z+é"), "x%2Fy%20z%2B%C3%A9");
    }
}
