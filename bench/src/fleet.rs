//! A fleet: devices x mutations against the example server on PostgreSQL, many devices at
//! once. Each device is a real device database (in memory) driven by the reference client over
//! HTTP on loopback: it was set up with the fleet (its pull cursor is where the setup left the
//! change order, so it does not pull every other user's ranger row), makes its observations
//! offline, then syncs. One device in twenty loses its first push's response and syncs again,
//! so the check for duplicates means something. Reported: total time, push latency p50/p99
//! (each HTTP push, retries included), duplicates found on the server, server memory.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use offgen_runtime::client::rusqlite::params;
use offgen_runtime::client::{
    Device, HttpTransport, Method, Request, Response, SyncClient, SyncErrorKind, SyncOptions,
    Transport, TransportError,
};

use crate::initial_sync::client_schema;
use crate::process;
use crate::server_api::{self, Api, row_id, user};

/// How the fleet is made.
#[derive(Clone, Copy, Debug)]
pub struct Fleet {
    /// Devices.
    pub devices: usize,
    /// Observations each device makes offline.
    pub mutations: usize,
    /// Users (devices are spread over them; a user's devices see each other's observations).
    pub users: usize,
    /// Devices syncing at once.
    pub concurrency: usize,
    /// Each device syncs once with nothing queued before it writes (not timed as its
    /// sync): what the first sync of a fresh database connection costs apart.
    pub warm_up: bool,
}

/// HTTP that times pushes and, when told, loses the first push's response.
struct Timed {
    inner: HttpTransport,
    lose_first_push: Mutex<bool>,
    latencies: Arc<Mutex<Vec<Duration>>>,
    pulls: Arc<Mutex<Duration>>,
}

impl Transport for Timed {
    fn send(&self, request: Request) -> Result<Response, TransportError> {
        let push = request.method == Method::Post;
        let started = Instant::now();
        let response = self.inner.send(request)?;
        if !push {
            *self.pulls.lock().expect("lock") += started.elapsed();
        }
        if push {
            self.latencies.lock().expect("lock").push(started.elapsed());
            let mut lose = self.lose_first_push.lock().expect("lock");
            if *lose {
                *lose = false;
                return Err(TransportError {
                    message: "response lost (on purpose)".to_owned(),
                });
            }
        }
        Ok(response)
    }
}

/// Runs the fleet against a server on the PostgreSQL server at `admin`.
pub fn run(admin: &str, fleet: Fleet) {
    let url = server_api::fresh_postgres(admin, "offgen_bench_fleet");
    let server = process::ranger_server(&url, &server_api::tokens(fleet.users));
    let api = Api::new(&server.base);
    api.seed_rangers(fleet.users);
    let (_, cursor) = api.pull_all(&user(0).1);
    let schema = client_schema();
    let latencies: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let phases: Arc<Mutex<Phases>> = Arc::default();
    let next = AtomicUsize::new(0);
    let failures = AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..fleet.concurrency {
            scope.spawn(|| {
                let transport_base = server.base.clone();
                loop {
                    let d = next.fetch_add(1, Ordering::Relaxed);
                    if d >= fleet.devices {
                        return;
                    }
                    if !device(
                        d,
                        fleet,
                        &schema,
                        &cursor,
                        &transport_base,
                        &latencies,
                        &phases,
                    ) {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let total = started.elapsed().as_secs_f64();
    let mut latencies = latencies.lock().expect("lock").clone();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize].as_secs_f64() * 1000.0;
    let (peak, now) = server.memory_kib();
    let rows = server_api::postgres_count(&url, "SELECT count(*) FROM observations");
    let twice =
        server_api::postgres_count(&url, "SELECT count(*) FROM observations WHERE version <> 1");
    let mutations = (fleet.devices * fleet.mutations) as f64;
    let phases = phases.lock().expect("lock").clone();
    let per_device = |d: Duration| d.as_secs_f64() * 1000.0 / fleet.devices as f64;
    println!(
        "fleet on PostgreSQL: {} devices x {} observations ({} users, {} syncing at once): {total:.1} s, {:.0} mutations/s; \
         push latency p50 {:.1} ms, p99 {:.1} ms ({} pushes); {rows} rows, duplicates {twice}, devices that failed {}; \
         server memory peak {:.0} MiB (now {:.0} MiB); per device: {:.1} ms creating its database, {:.1} ms writing, \
         {:.1} ms syncing ({:.1} ms of it waiting for pulls); syncs stopped and tried again: {:?}",
        fleet.devices,
        fleet.mutations,
        fleet.users,
        fleet.concurrency,
        mutations / total,
        at(0.5),
        at(0.99),
        latencies.len(),
        failures.load(Ordering::Relaxed),
        peak as f64 / 1024.0,
        now as f64 / 1024.0,
        per_device(phases.create),
        per_device(phases.write),
        per_device(phases.sync),
        per_device(*phases.pulls.lock().expect("lock")),
        phases.stops,
    );
    assert_eq!(
        rows as usize,
        fleet.devices * fleet.mutations,
        "every observation arrived once"
    );
    assert_eq!(twice, 0, "no observation was written twice");
}

/// Where the devices' time went, added up over all of them.
#[derive(Clone, Debug, Default)]
struct Phases {
    create: Duration,
    write: Duration,
    sync: Duration,
    pulls: Arc<Mutex<Duration>>,
    /// Why syncs stopped before the end, and how often (each is tried again).
    stops: std::collections::BTreeMap<String, usize>,
}

/// One device: offline observations, then a sync (twice if its first push's answer is lost).
fn device(
    d: usize,
    fleet: Fleet,
    schema: &offgen_runtime::client::ClientSchema,
    cursor: &str,
    base: &str,
    latencies: &Arc<Mutex<Vec<Duration>>>,
    phases: &Arc<Mutex<Phases>>,
) -> bool {
    let (ranger, token) = user(d % fleet.users);
    let started = Instant::now();
    let mut device = Device::open_in_memory(schema).expect("a device");
    let created = started.elapsed();
    device
        .connection()
        .execute(
            "UPDATE _offgen_meta SET value = ?1 WHERE key = 'pull_cursor'",
            [cursor],
        )
        .expect("cursor set");
    let pulls = phases.lock().expect("lock").pulls.clone();
    let transport = Timed {
        inner: HttpTransport::new(base),
        lose_first_push: Mutex::new(d.is_multiple_of(20)),
        latencies: latencies.clone(),
        pulls,
    };
    let client =
        SyncClient::new(transport, move || Some(token.clone())).with_options(SyncOptions {
            pull_page: 1000,
            ..SyncOptions::default()
        });
    if fleet.warm_up {
        client.sync(&mut device).expect("a warm-up sync");
    }
    let writing = Instant::now();
    for m in 0..fleet.mutations {
        let n = d * fleet.mutations + m;
        device
            .connection()
            .prepare_cached(
                "INSERT INTO observations (id, ranger, kind, latitude, longitude, notes, recorded_at, modified_at)
                 VALUES (?1, ?2, 'wildlife', ?3, 36.817223, 'fleet', 1700000000000, 1700000000000)",
            )
            .and_then(|mut s| s.execute(params![row_id(n), ranger, -1.28 + m as f64 * 1e-6]))
            .expect("inserted");
    }
    let written = writing.elapsed();
    let syncing = Instant::now();
    let mut done = false;
    // As an app does: a sync that stops (no answer, a 503 under load) is tried again, later
    // each time, until everything is through.
    for attempt in 0..30u32 {
        match client.sync(&mut device) {
            Ok(_) if device.stats().is_ok_and(|s| s.queue_depth == 0) => {
                done = true;
                break;
            }
            Ok(_) => {}
            Err(e) => {
                let why = match &e.kind {
                    SyncErrorKind::Refused { status, .. } => format!("answered {status}"),
                    SyncErrorKind::Transport(_) => "no answer".to_owned(),
                    other => format!("{other:?}"),
                };
                *phases.lock().expect("lock").stops.entry(why).or_default() += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(50 << attempt.min(5)));
    }
    let mut p = phases.lock().expect("lock");
    p.create += created;
    p.write += written;
    p.sync += syncing.elapsed();
    done
}
