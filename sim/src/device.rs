//! A simulated phone: a device database file, written by the app through a connection of its
//! own, and synced by the reference client on a thread of its own whose every request waits
//! for the simulation to deliver it. Only one of them runs at a time (the simulation waits for
//! the sync thread to stop at its next request or at its end), so a seed replays exactly.
//!
//! A crash is SQLite's view of a killed process: from the crash point on, every write of the
//! sync's connection is refused (temporary triggers over every table), whatever it was doing
//! is rolled back, and both connections are dropped unfinished. The lease and the in-flight
//! entries stay as the crash left them; the phone reopens its file later.

use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use offgen_runtime::client::rusqlite::functions::FunctionFlags;
use offgen_runtime::client::rusqlite::{self, Connection};
use offgen_runtime::client::{
    Device, Request, Response, SyncClient, SyncErrorKind, SyncOptions, SyncReport, Transport,
    TransportError,
};

use crate::schema::SchemaVersion;

/// Where a sync's connection stands with respect to a simulated crash.
#[derive(Debug, Default)]
pub struct CrashSwitch {
    crashed: AtomicBool,
    /// Writes left before the crash, when armed (0: not armed).
    countdown: AtomicI64,
}

impl CrashSwitch {
    /// The process dies now: no write of the sync's connection goes through any more.
    pub fn crash(&self) {
        self.crashed.store(true, Ordering::SeqCst);
    }

    /// The process dies at the `writes`-th row write from now (inside whatever transaction
    /// that is, e.g. the apply of a pulled page).
    pub fn arm(&self, writes: i64) {
        self.countdown.store(writes.max(1), Ordering::SeqCst);
    }

    /// Nothing pending any more (a sync ended before the armed write).
    pub fn disarm(&self) {
        self.countdown.store(0, Ordering::SeqCst);
    }

    /// Whether the process died.
    pub fn crashed(&self) -> bool {
        self.crashed.load(Ordering::SeqCst)
    }

    /// Called by the triggers before every row write: whether to refuse it.
    fn refuse_write(&self) -> bool {
        if self.crashed() {
            return true;
        }
        let left = self.countdown.load(Ordering::SeqCst);
        if left > 0 {
            self.countdown.store(left - 1, Ordering::SeqCst);
            if left == 1 {
                self.crash();
                return true;
            }
        }
        false
    }
}

/// How a sync ended.
#[derive(Clone, Debug)]
pub enum SyncEnd {
    /// Pushed everything it could and pulled to the end.
    Done(SyncReport),
    /// Stopped early.
    Stopped {
        /// What it did before.
        report: SyncReport,
        /// Why, for the trace.
        why: String,
        /// The server refused the token (the app signs in again).
        unauthorized: bool,
    },
}

impl SyncEnd {
    /// What the sync did, however it ended.
    pub fn report(&self) -> &SyncReport {
        match self {
            SyncEnd::Done(report) | SyncEnd::Stopped { report, .. } => report,
        }
    }
}

/// Where the sync thread stopped.
pub enum Parked {
    /// Waiting for the answer to this request.
    Sending(Request),
    /// Not syncing (the sync ended this way).
    Ended(SyncEnd),
}

enum ToWorker {
    Sync,
    Reply(Result<Response, TransportError>),
    Close,
}

struct Worker {
    to: Sender<ToWorker>,
    from: Receiver<Parked>,
    thread: JoinHandle<()>,
}

/// The transport of the sync thread: every request goes to the simulation, which answers it
/// when (and how) it delivers it.
struct Wire {
    to_sim: Sender<Parked>,
    replies: Rc<Receiver<ToWorker>>,
}

impl Transport for Wire {
    fn send(&self, request: Request) -> Result<Response, TransportError> {
        let closed = || TransportError {
            message: "the simulation closed the device".to_owned(),
        };
        self.to_sim
            .send(Parked::Sending(request))
            .map_err(|_| closed())?;
        match self.replies.recv() {
            Ok(ToWorker::Reply(reply)) => reply,
            _ => Err(closed()),
        }
    }
}

/// How a phone is set up for a run (chosen from the seed, never changed by events).
#[derive(Clone, Debug)]
pub struct Profile {
    /// Index in the run's users.
    pub user: usize,
    /// Its clock minus the simulation's (ms): hours or days off on some phones.
    pub skew_ms: i64,
    /// Batch and page sizes.
    pub options: SyncOptions,
    /// The schema version it starts on (index in `schema::versions()`).
    pub version: usize,
    /// How the app settles a `version` conflict.
    pub keep_local: bool,
}

/// A phone of the fleet.
pub struct SimDevice {
    /// `d0`, `d1`, ...
    pub index: usize,
    /// Its setup.
    pub profile: Profile,
    /// The schema version it runs now.
    pub version: usize,
    path: PathBuf,
    app: Option<Device>,
    worker: Option<Worker>,
    /// What the token provider hands the client.
    token: Arc<Mutex<String>>,
    good_token: String,
    crash: Arc<CrashSwitch>,
    /// The request the sync thread waits on, if it is syncing.
    pub pending: Option<Request>,
    /// Whether a sync is running (then `pending` holds its request).
    pub syncing: bool,
    /// Whether it is down (crashed, not yet reopened).
    pub down: bool,
}

impl SimDevice {
    /// A phone with a fresh database at `path`, opened on `versions[profile.version]`.
    pub fn new(
        index: usize,
        profile: Profile,
        path: PathBuf,
        token: String,
        versions: &[SchemaVersion],
    ) -> Result<SimDevice, String> {
        let mut device = SimDevice {
            index,
            version: profile.version,
            profile,
            path,
            app: None,
            worker: None,
            token: Arc::new(Mutex::new(token.clone())),
            good_token: token,
            crash: Arc::default(),
            pending: None,
            syncing: false,
            down: true,
        };
        device.open(versions)?;
        Ok(device)
    }

    /// The app's connection (opens the phone first if it is down).
    pub fn app(&mut self, versions: &[SchemaVersion]) -> Result<&Device, String> {
        if self.down {
            self.open(versions)?;
        }
        Ok(self
            .app
            .as_ref()
            .expect("an open phone has its app connection"))
    }

    /// The app's connection of a phone known to be up.
    pub fn app_open(&self) -> Option<&Device> {
        self.app.as_ref()
    }

    /// Sets the phone's clock to the simulation's time plus its skew.
    pub fn set_clock(&self, sim_now: i64) -> Result<(), String> {
        if let Some(app) = &self.app {
            app.set_fixed_clock(Some(sim_now + self.profile.skew_ms))
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// The token expires: the next request is answered 401.
    pub fn expire_token(&self) {
        *self.token.lock().expect("token lock") = format!("expired-{}", self.good_token);
    }

    /// The app signs in again.
    pub fn renew_token(&self) {
        *self.token.lock().expect("token lock") = self.good_token.clone();
    }

    /// Whether the token is expired.
    pub fn token_expired(&self) -> bool {
        *self.token.lock().expect("token lock") != self.good_token
    }

    /// Opens both connections and starts the sync thread (after a crash: the app restarts).
    fn open(&mut self, versions: &[SchemaVersion]) -> Result<(), String> {
        let schema = &versions[self.version].client;
        let app = Device::open(&self.path, schema).map_err(|e| format!("d{}: {e}", self.index))?;
        let crash: Arc<CrashSwitch> = Arc::default();
        let (to, replies) = channel();
        let (to_sim, from) = channel();
        let path = self.path.clone();
        let schema = schema.clone();
        let options = self.profile.options.clone();
        let token = self.token.clone();
        let switch = crash.clone();
        let (ready_tx, ready) = channel();
        let thread = std::thread::Builder::new()
            .name(format!("sim-d{}", self.index))
            .spawn(move || {
                let device = Device::open(&path, &schema)
                    .map_err(|e| e.to_string())
                    .and_then(|d| {
                        install_crash_triggers(d.connection(), switch)
                            .map_err(|e| e.to_string())?;
                        Ok(d)
                    });
                let mut device = match device {
                    Ok(device) => {
                        let _ = ready_tx.send(Ok(()));
                        device
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let replies = Rc::new(replies);
                let wire = Wire {
                    to_sim: to_sim.clone(),
                    replies: replies.clone(),
                };
                let client = SyncClient::new(wire, move || {
                    Some(token.lock().expect("token lock").clone())
                })
                .with_options(options);
                loop {
                    match replies.recv() {
                        Ok(ToWorker::Sync) => {
                            let end = match client.sync(&mut device) {
                                Ok(report) => SyncEnd::Done(report),
                                Err(e) => SyncEnd::Stopped {
                                    unauthorized: e.is_unauthorized(),
                                    why: describe(&e.kind),
                                    report: *e.report,
                                },
                            };
                            if to_sim.send(Parked::Ended(end)).is_err() {
                                return;
                            }
                        }
                        Ok(ToWorker::Reply(_)) => {}
                        Ok(ToWorker::Close) | Err(_) => return,
                    }
                }
            })
            .map_err(|e| e.to_string())?;
        ready
            .recv()
            .map_err(|_| format!("d{}: the sync thread died", self.index))?
            .map_err(|e| format!("d{}: {e}", self.index))?;
        self.app = Some(app);
        self.worker = Some(Worker { to, from, thread });
        self.crash = crash;
        self.down = false;
        Ok(())
    }

    /// Starts a sync; returns where the sync thread stopped.
    pub fn start_sync(&mut self) -> Result<Parked, String> {
        debug_assert!(!self.syncing && !self.down);
        self.syncing = true;
        self.command(ToWorker::Sync)
    }

    /// Answers the pending request; returns where the sync thread stopped next.
    pub fn reply(&mut self, reply: Result<Response, TransportError>) -> Result<Parked, String> {
        debug_assert!(self.pending.is_some());
        self.pending = None;
        self.command(ToWorker::Reply(reply))
    }

    fn command(&mut self, command: ToWorker) -> Result<Parked, String> {
        let worker = self.worker.as_ref().ok_or("the phone is down")?;
        worker
            .to
            .send(command)
            .map_err(|_| format!("d{}: the sync thread is gone", self.index))?;
        let parked = worker.from.recv().map_err(|_| {
            format!(
                "d{}: the sync thread died (a panic in the client?)",
                self.index
            )
        })?;
        match &parked {
            Parked::Sending(request) => self.pending = Some(request.clone()),
            Parked::Ended(_) => {
                self.syncing = false;
                self.crash.disarm();
            }
        }
        Ok(parked)
    }

    /// The crash switch of the running sync thread.
    pub fn crash_switch(&self) -> &CrashSwitch {
        &self.crash
    }

    /// The process is killed: both connections are dropped as they are.
    pub fn go_down(&mut self) {
        self.crash.crash();
        if let Some(worker) = self.worker.take() {
            let _ = worker.to.send(ToWorker::Close);
            // A sync waiting on a request gets "closed" and fails (its writes are refused
            // already), and whatever it does next is answered the same way, until the thread
            // waits for a command and takes the close.
            while worker.from.recv().is_ok() {
                let _ = worker.to.send(ToWorker::Close);
            }
            let _ = worker.thread.join();
        }
        self.app = None;
        self.pending = None;
        self.syncing = false;
        self.down = true;
    }

    /// Upgrades the app to `version` (a later schema): the process restarts on the new build,
    /// whose migration steps run on open.
    pub fn upgrade(&mut self, version: usize, versions: &[SchemaVersion]) -> Result<(), String> {
        self.go_down();
        self.version = version;
        self.open(versions)
    }
}

impl Drop for SimDevice {
    fn drop(&mut self) {
        self.go_down();
    }
}

/// A temporary trigger before every write to every table of the sync's connection, asking the
/// crash switch whether the process is still alive.
fn install_crash_triggers(conn: &Connection, switch: Arc<CrashSwitch>) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "sim_crash_point",
        0,
        FunctionFlags::SQLITE_UTF8,
        move |_| Ok(switch.refuse_write()),
    )?;
    let tables: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for (t, table) in tables.iter().enumerate() {
        for op in ["INSERT", "UPDATE", "DELETE"] {
            conn.execute_batch(&format!(
                "CREATE TEMP TRIGGER \"sim_crash_{t}_{op}\" BEFORE {op} ON \"{table}\" \
                 WHEN sim_crash_point() BEGIN SELECT RAISE(ABORT, 'simulated crash'); END;",
                table = table.replace('"', "\"\"")
            ))?;
        }
    }
    Ok(())
}

fn describe(kind: &SyncErrorKind) -> String {
    match kind {
        SyncErrorKind::Busy => "busy: another sync holds the lease".to_owned(),
        SyncErrorKind::Transport(e) => e.to_string(),
        SyncErrorKind::Refused { status, .. } => format!("refused {status}"),
        SyncErrorKind::Protocol(m) => format!("protocol error: {m}"),
        SyncErrorKind::Client(e) => format!("device error: {e}"),
    }
}
