//! Devices for end-to-end tests: databases built from an app's generated migrations, driven
//! by the reference client over real HTTP on loopback against a [`Server`], with transports
//! that lose, cut or refuse requests on cue.

use std::collections::{BTreeMap, VecDeque};
use std::io::{Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use offgen_runtime::client::rusqlite::types::Value as SqlValue;
use offgen_runtime::client::{
    AttachmentOptions, AttachmentReport, ClientSchema, Device, HttpTransport, Request, Response,
    SyncClient, SyncError, SyncOptions, SyncReport, Transport, TransportError,
};
use offgen_runtime::model::{AppDef, EntityDef, Kind};
use offgen_runtime::server::Database;
use serde_json::{Map, Value, json};

use crate::{Backend, Example, Server};

/// A server on its own runtime, so that tests drive the (blocking) client from their own
/// thread as an app would.
pub struct Env {
    pub rt: tokio::runtime::Runtime,
    pub server: Server,
    /// The example the test started (its app is what new phones run).
    pub example: Example,
    /// The device schema of the example's build.
    pub schema: ClientSchema,
    settle: Settle,
}

impl Env {
    /// A fresh server of `example` on `backend`, with the example's seed.
    pub fn start(backend: Backend, example: &Example) -> Env {
        Env::start_with_files(
            backend,
            example,
            offgen_runtime::server::attachments::DEFAULT_MAX_BYTES,
        )
    }

    /// [`Env::start`], the server taking attachment files of at most `max_bytes`.
    pub fn start_with_files(backend: Backend, example: &Example, max_bytes: u64) -> Env {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let server = rt.block_on(Server::start_with_files(backend, example, max_bytes));
        let settle = Settle {
            db: Arc::new(Mutex::new(server.db.clone())),
            tables: example
                .app
                .entities
                .iter()
                .map(|e| e.table.to_owned())
                .collect(),
            rt: rt.handle().clone(),
        };
        Env {
            rt,
            server,
            example: *example,
            schema: example.client_schema(),
            settle,
        }
    }

    /// The server upgraded to `app` (a later build): stopped and started again at the same
    /// address on the same database, which it migrates.
    pub fn upgrade(self, app: &'static AppDef) -> Env {
        let Env {
            rt,
            server,
            example,
            schema,
            settle,
        } = self;
        let server = rt.block_on(server.upgrade(app));
        *settle.db.lock().unwrap() = server.db.clone();
        Env {
            rt,
            server,
            example,
            schema,
            settle,
        }
    }

    /// Every record `token`'s user pulls, by (entity, id).
    pub fn server_state(&self, token: &str) -> BTreeMap<(String, String), Value> {
        self.server_state_at(token, None)
    }

    /// Every record `token`'s user pulls as an app at `step`, in its shape.
    pub fn server_state_at(
        &self,
        token: &str,
        step: Option<u32>,
    ) -> BTreeMap<(String, String), Value> {
        self.settler().wait();
        self.rt
            .block_on(self.server.pull_all_at(token, step))
            .into_iter()
            .map(|r| {
                let key = (
                    r["entity"].as_str().unwrap().to_owned(),
                    r["id"].as_str().unwrap().to_owned(),
                );
                let entity = self.server.app.entities.iter().find(|e| e.table == key.0);
                (key, comparable(&r, entity.copied()))
            })
            .collect()
    }

    /// Every attachment file the server holds: (SHA-256, size).
    pub fn stored_files(&self) -> Vec<(String, u64)> {
        let store = self
            .server
            .files
            .as_ref()
            .expect("the app has attachment fields");
        self.rt.block_on(store.stored()).unwrap()
    }

    /// A count from SQL on the server's database.
    pub fn server_count(&self, sql: &'static str) -> i64 {
        self.rt.block_on(self.server.count(sql))
    }

    /// Waits until everything written to this test's database is pullable. On PostgreSQL a
    /// change is served once every older transaction on the whole server has ended (nothing
    /// is skipped, only delayed; docs/protocol.md), and the suite's other tests share the
    /// server: a test that expects a device to see what another just pushed waits here.
    pub fn settler(&self) -> Settle {
        self.settle.clone()
    }
}

/// See [`Env::settler`].
#[derive(Clone)]
pub struct Settle {
    db: Arc<Mutex<Database>>,
    tables: Vec<String>,
    rt: tokio::runtime::Handle,
}

impl Settle {
    /// Blocks until the newest change is below the oldest running transaction (PostgreSQL);
    /// returns at once on SQLite.
    pub fn wait(&self) {
        let Database::Postgres(pool) = self.db.lock().unwrap().clone() else {
            return;
        };
        let newest: Vec<String> = self
            .tables
            .iter()
            .map(|t| format!("SELECT max(\"_offgen_xid\") AS x FROM \"{t}\""))
            .collect();
        let sql = format!(
            "SELECT coalesce((SELECT max(x) FROM ({}) AS s) < pg_snapshot_xmin(pg_current_snapshot()), true)",
            newest.join(" UNION ALL ")
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let settled: bool = self
                .rt
                .block_on(sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone())).fetch_one(&pool))
                .unwrap();
            if settled {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "writes never became pullable"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}

/// What is compared of a record: version, tombstone, and (for live rows) the fields.
/// A pulled record as [`Phone::state`] gives a device's rows. A real is compared as the double
/// it is: PostgreSQL prints an integral one `1`, SQLite `1.0`, and the device reads a double.
fn comparable(record: &Value, entity: Option<&EntityDef>) -> Value {
    let deleted = record["deleted"].as_bool().unwrap_or(false);
    let mut data = record["data"].clone();
    if let (Some(entity), Some(fields)) = (entity, data.as_object_mut()) {
        offgen_runtime::values::canonicalize(entity, fields);
    }
    json!({
        "version": record["version"],
        "deleted": deleted,
        "data": if deleted { Value::Null } else { data },
    })
}

/// What a transport does with the next request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Nothing: the request goes through.
    Pass,
    /// The request never reaches the server.
    LoseRequest,
    /// The server handles the request, and its response is lost.
    LoseResponse,
    /// The server answers 503 without seeing the request.
    Unavailable,
    /// The server handles the request, and the app dies before it reads the response (the
    /// transport panics; the test catches the unwind and drops the device unfinished).
    Crash,
}

/// One request as a [`FaultyHttp`] saw it: path, fault, and the status if one came back.
pub type Sent = (String, Fault, Option<u16>);

/// What happens to the body of the next upload (an attachment's bytes on their way).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UploadFault {
    /// The link drops after this many bytes: the upload ends without an answer.
    CutAfter(u64),
    /// One bit of the byte at this offset flips on the way.
    Corrupt(u64),
}

/// HTTP to the test server, with a queue of faults for the next requests, and a log.
#[derive(Clone)]
pub struct FaultyHttp {
    inner: HttpTransport,
    plan: Arc<Mutex<VecDeque<Fault>>>,
    upload_plan: Arc<Mutex<VecDeque<UploadFault>>>,
    /// Upload bodies go at most this many bytes a second (a slow field link), when set.
    throttle: Arc<Mutex<Option<u64>>>,
    /// Upload bytes sent so far, over every upload.
    uploaded: Arc<AtomicU64>,
    /// Set: every upload's link drops at once (a phone that lost signal).
    offline: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<Sent>>>,
    pushes: Arc<Mutex<Vec<Vec<String>>>>,
    settle: Settle,
}

impl FaultyHttp {
    /// A transport to `env`'s server whose pulls start once the test's writes are pullable.
    pub fn new(env: &Env) -> FaultyHttp {
        FaultyHttp {
            inner: HttpTransport::new(&env.server.base),
            plan: Arc::default(),
            upload_plan: Arc::default(),
            throttle: Arc::default(),
            uploaded: Arc::default(),
            offline: Arc::default(),
            log: Arc::default(),
            pushes: Arc::default(),
            settle: env.settler(),
        }
    }

    /// The next requests meet these faults, in order (then everything passes).
    pub fn plan(&self, faults: &[Fault]) {
        self.plan.lock().unwrap().extend(faults.iter().copied());
    }

    /// The bodies of the next uploads meet these faults, in order.
    pub fn plan_uploads(&self, faults: &[UploadFault]) {
        self.upload_plan
            .lock()
            .unwrap()
            .extend(faults.iter().copied());
    }

    /// Upload bodies go at most `bytes_per_second` from now on (`None`: as fast as loopback).
    pub fn throttle_uploads(&self, bytes_per_second: Option<u64>) {
        *self.throttle.lock().unwrap() = bytes_per_second;
    }

    /// Upload bytes sent so far.
    pub fn uploaded_bytes(&self) -> u64 {
        self.uploaded.load(Ordering::SeqCst)
    }

    /// From now on every upload's link drops (`true`) or works again (`false`).
    pub fn drop_uploads(&self, offline: bool) {
        self.offline.store(offline, Ordering::SeqCst);
    }

    /// (path, fault, status) of every request so far.
    pub fn log(&self) -> Vec<Sent> {
        self.log.lock().unwrap().clone()
    }

    /// The mutation ids of every push so far, one list per request in the order sent (lost
    /// ones too): how the client batched its queue, and what a retry sent again.
    pub fn pushes(&self) -> Vec<Vec<String>> {
        self.pushes.lock().unwrap().clone()
    }
}

impl Transport for FaultyHttp {
    fn send(&self, request: Request) -> Result<Response, TransportError> {
        let fault = self.plan.lock().unwrap().pop_front().unwrap_or(Fault::Pass);
        let path = request.path.clone();
        if path.starts_with("/sync/pull") {
            self.settle.wait();
        }
        if path.starts_with("/sync/push") {
            let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
            let ids = body["mutations"]
                .as_array()
                .map(|ms| {
                    ms.iter()
                        .map(|m| m["mutationId"].as_str().unwrap_or("").to_owned())
                        .collect()
                })
                .unwrap_or_default();
            self.pushes.lock().unwrap().push(ids);
        }
        let outcome = match fault {
            Fault::Pass => self.inner.send(request),
            Fault::LoseRequest => Err(TransportError {
                message: "request lost".into(),
            }),
            Fault::LoseResponse => self.inner.send(request).and(Err(TransportError {
                message: "response lost".into(),
            })),
            Fault::Crash => {
                let _ = self.inner.send(request);
                panic!("the app was killed mid-sync");
            }
            Fault::Unavailable => Ok(Response {
                status: 503,
                headers: vec![("Retry-After".into(), "7".into())],
                body: br#"{"type":"https://offgen.dev/problems/unavailable","status":503}"#
                    .to_vec(),
            }),
        };
        self.log
            .lock()
            .unwrap()
            .push((path, fault, outcome.as_ref().ok().map(|r| r.status)));
        outcome
    }

    fn upload(
        &self,
        request: Request,
        body: &mut dyn Read,
        len: u64,
    ) -> Result<Response, TransportError> {
        let path = request.path.clone();
        let fault = self.upload_plan.lock().unwrap().pop_front();
        let mut link = Link {
            inner: body,
            fault,
            rate: *self.throttle.lock().unwrap(),
            sent: 0,
            started: Instant::now(),
            total: self.uploaded.clone(),
            offline: self.offline.clone(),
        };
        let outcome = self.inner.upload(request, &mut link, len);
        self.log
            .lock()
            .unwrap()
            .push((path, Fault::Pass, outcome.as_ref().ok().map(|r| r.status)));
        outcome
    }

    fn download(&self, request: Request, sink: &mut dyn Write) -> Result<Response, TransportError> {
        let path = request.path.clone();
        let outcome = self.inner.download(request, sink);
        self.log
            .lock()
            .unwrap()
            .push((path, Fault::Pass, outcome.as_ref().ok().map(|r| r.status)));
        outcome
    }
}

/// An upload's body on its way over a faulty link.
struct Link<'a> {
    inner: &'a mut dyn Read,
    fault: Option<UploadFault>,
    rate: Option<u64>,
    sent: u64,
    started: Instant,
    total: Arc<AtomicU64>,
    offline: Arc<AtomicBool>,
}

impl Read for Link<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let dropped = || std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the link dropped");
        if self.offline.load(Ordering::SeqCst) {
            return Err(dropped());
        }
        let mut want = buf.len();
        if let Some(rate) = self.rate {
            // Small pieces, so the pace is even.
            want = want.min(usize::try_from(rate / 20).unwrap_or(usize::MAX).max(1));
        }
        if let Some(UploadFault::CutAfter(at)) = self.fault {
            if self.sent >= at {
                return Err(dropped());
            }
            want = want.min(usize::try_from(at - self.sent).unwrap_or(usize::MAX));
        }
        let n = self.inner.read(&mut buf[..want])?;
        if let Some(UploadFault::Corrupt(at)) = self.fault
            && (self.sent..self.sent + n as u64).contains(&at)
        {
            buf[usize::try_from(at - self.sent).unwrap_or(0)] ^= 0x10;
        }
        self.sent += n as u64;
        self.total.fetch_add(n as u64, Ordering::SeqCst);
        if let Some(rate) = self.rate {
            let due = Duration::from_secs_f64(self.sent as f64 / rate as f64);
            let elapsed = self.started.elapsed();
            if due > elapsed {
                std::thread::sleep(due - elapsed);
            }
        }
        Ok(n)
    }
}

/// A phone: a device database and a sync client for one user.
pub struct Phone {
    pub device: Device,
    pub client: SyncClient<FaultyHttp>,
    pub net: FaultyHttp,
    /// The app version the phone runs, as the server sees an app (its entities and fields).
    pub app: &'static AppDef,
    token: String,
}

impl Phone {
    /// A fresh in-memory device of `token`'s user, running the example.
    pub fn new(env: &Env, token: &str) -> Phone {
        Phone::with_device(env, token, Device::open_in_memory(&env.schema).unwrap())
    }

    /// A phone running the example around an existing device database.
    pub fn with_device(env: &Env, token: &str, device: Device) -> Phone {
        Phone::running(env, token, device, env.example.app)
    }

    /// A phone around `device`, whose schema is that of `app`'s build.
    pub fn running(env: &Env, token: &str, device: Device, app: &'static AppDef) -> Phone {
        let net = FaultyHttp::new(env);
        let owned = token.to_owned();
        let client = SyncClient::new(net.clone(), move || Some(owned.clone()));
        Phone {
            device,
            client,
            net,
            app,
            token: token.to_owned(),
        }
    }

    /// The same phone with other sync options.
    pub fn with_options(self, options: SyncOptions) -> Phone {
        let Phone {
            device,
            client,
            net,
            app,
            token,
        } = self;
        Phone {
            device,
            client: client.with_options(options),
            net,
            app,
            token,
        }
    }

    /// One sync.
    pub fn sync(&mut self) -> Result<SyncReport, SyncError> {
        self.client.sync(&mut self.device)
    }

    /// Syncs, panicking on failure.
    pub fn synced(&mut self) -> SyncReport {
        self.sync().unwrap_or_else(|e| panic!("sync failed: {e}"))
    }

    /// One run of the attachment loop, fetching into `dir`.
    pub fn sync_files(&mut self, dir: &Path) -> Result<AttachmentReport, SyncError> {
        self.client
            .sync_attachments(&mut self.device, &AttachmentOptions::new(dir))
    }

    /// The app's own SQL.
    pub fn sql(&self, sql: &str) {
        self.device
            .connection()
            .execute_batch(sql)
            .unwrap_or_else(|e| panic!("{e}\n{sql}"));
    }

    /// One value of a query.
    pub fn value(&self, sql: &str) -> Value {
        self.device
            .connection()
            .query_row(sql, [], |r| r.get::<_, SqlValue>(0))
            .map(offgen_runtime::client::sql_to_json)
            .unwrap_or_else(|e| panic!("{e}\n{sql}"))
    }

    /// `sync_status` of a row.
    pub fn status(&self, table: &str, id: &str) -> String {
        self.value(&format!(
            "SELECT sync_status FROM \"{table}\" WHERE id = '{id}'"
        ))
        .as_str()
        .unwrap_or("")
        .to_owned()
    }

    /// Queue entries.
    pub fn queued(&self) -> i64 {
        self.value("SELECT count(*) FROM _offgen_outbox")
            .as_i64()
            .unwrap()
    }

    /// Every row of every entity, in the form [`Env::server_state`] gives, by (entity, id).
    pub fn state(&self) -> BTreeMap<(String, String), Value> {
        let mut out = BTreeMap::new();
        for entity in self.app.entities {
            for (id, row) in rows(&self.device, entity) {
                out.insert((entity.table.to_owned(), id), row);
            }
        }
        out
    }
}

/// A device table's rows as wire records (version, tombstone, fields by wire key).
fn rows(device: &Device, entity: &EntityDef) -> Vec<(String, Value)> {
    let columns: Vec<String> = entity
        .fields
        .iter()
        .map(|f| format!("\"{}\"", f.column))
        .collect();
    let sql = format!(
        "SELECT id, version, deleted_at IS NOT NULL, {} FROM \"{}\" ORDER BY id",
        columns.join(", "),
        entity.table
    );
    let conn = device.connection();
    let mut statement = conn.prepare(&sql).unwrap();
    let mut rows = statement.query([]).unwrap();
    let mut out = Vec::new();
    while let Some(row) = rows.next().unwrap() {
        let id: String = row.get(0).unwrap();
        let version: i64 = row.get(1).unwrap();
        let deleted: bool = row.get(2).unwrap();
        let mut data = Map::new();
        for (i, field) in entity.fields.iter().enumerate() {
            let value: SqlValue = row.get(3 + i).unwrap();
            data.insert(field.key.to_owned(), wire_value(field.kind, value));
        }
        out.push((
            id,
            json!({
                "version": version,
                "deleted": deleted,
                "data": if deleted { Value::Null } else { Value::Object(data) },
            }),
        ));
    }
    out
}

/// A device column value as the wire carries it (docs/protocol.md).
fn wire_value(kind: Kind, value: SqlValue) -> Value {
    match (kind, value) {
        (_, SqlValue::Null) => Value::Null,
        (Kind::Bool, SqlValue::Integer(i)) => Value::Bool(i != 0),
        (Kind::Json | Kind::Attachment, SqlValue::Text(t)) => serde_json::from_str(&t).unwrap(),
        (_, other) => offgen_runtime::client::sql_to_json(other),
    }
}

/// Asserts that a device holds exactly what the server serves its user (rows of entities the
/// user can see, with versions, tombstones and values). A row the device deleted outright
/// (`DELETE`) is a tombstone on the server and absent on the device, which is the same.
pub fn assert_converged(env: &Env, phone: &Phone, token: &str) {
    assert_eq!(token, phone.token, "the phone's own user");
    let step = phone.device.step().unwrap();
    let mut server = env.server_state_at(token, Some(step));
    let mut device = phone.state();
    // A row deleted outright on the device is a tombstone on the server; a row created and
    // deleted before it was ever sent is a local tombstone the server never saw.
    server.retain(|key, record| device.contains_key(key) || record["deleted"] != true);
    device.retain(|key, record| server.contains_key(key) || record["deleted"] != true);
    let only_server: Vec<_> = server.keys().filter(|k| !device.contains_key(*k)).collect();
    let only_device: Vec<_> = device.keys().filter(|k| !server.contains_key(*k)).collect();
    assert!(
        only_server.is_empty() && only_device.is_empty(),
        "{} rows only on the server (first: {:?}); {} only on the device (first: {:?})",
        only_server.len(),
        only_server.first(),
        only_device.len(),
        only_device.first()
    );
    // A device at another step than the server's has fields the server does not send it
    // (added since its step, or dropped since): only the server's are compared.
    let ahead = step != env.server.app.step;
    for (key, expected) in &server {
        let mut actual = device[key].clone();
        if ahead
            && let (Some(fields), Some(sent)) =
                (actual["data"].as_object_mut(), expected["data"].as_object())
        {
            fields.retain(|k, _| sent.contains_key(k));
        }
        assert_eq!(&actual, expected, "row {key:?} differs");
    }
}
