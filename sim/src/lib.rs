//! `offgen-sim`: a seeded, reproducible fault simulation of a fleet of phones syncing with
//! the real offgen server engine.
//!
//! Each phone is a real SQLite database built by the generated migrations of one of the ranger
//! example's versions (built in memory: [`schema`]; phones and the server upgrade midway)
//! and synced by the reference client (`offgen_runtime::client`); the server is the example's
//! router over the runtime's engine, in process, on SQLite or PostgreSQL. Between them a
//! simulated network loses, delays, duplicates, reorders and refuses requests, apps die
//! mid-sync and the server restarts, while the apps insert, edit and delete their own and
//! shared rows under every conflict policy the example has, on clocks hours or days off.
//! Then the faults stop, every phone syncs until nothing moves, and [`checks`] and [`replay`]
//! test what must hold.
//!
//! A run is a list of events generated from its seed ([`events`]), so the same seed runs the
//! same way, and a failing run is shrunk by dropping events to the shortest list that still
//! fails ([`shrink`]).

pub mod checks;
pub mod device;
pub mod events;
pub mod history;
pub mod replay;
pub mod rng;
pub mod schema;
pub mod server;
pub mod workload;
pub mod world;

use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use checks::Findings;
use events::Step;
use rng::Rng;
use server::Backend;
use world::{Tally, World};

/// How a run is set up (the seed chooses everything else).
#[derive(Clone, Debug)]
pub struct Config {
    /// Events per run, before the end.
    pub events: usize,
    /// Phones.
    pub devices: usize,
    /// The server's database.
    pub backend: Backend,
    /// Whether to check that lww rows end the same whatever order their writes arrive in.
    pub order_check: bool,
    /// How many of the app's versions the fleet mixes (the oldest ones; 1: everyone runs the
    /// example as it is).
    pub versions: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            events: 300,
            devices: 5,
            backend: Backend::Sqlite,
            order_check: true,
            versions: usize::MAX,
        }
    }
}

impl Config {
    /// The versions phones and the server run in this setup, oldest first.
    pub fn versions(&self) -> Result<Vec<schema::SchemaVersion>, String> {
        let mut versions = schema::versions()?;
        versions.truncate(self.versions.max(1));
        Ok(versions)
    }
}

/// What one run found.
#[derive(Debug)]
pub struct Outcome {
    /// Its seed.
    pub seed: u64,
    /// The invariants' findings.
    pub findings: Findings,
    /// The run could not go on (a client or server error, a panic): why.
    pub error: Option<String>,
    /// Counts.
    pub tally: Tally,
    /// What happened, one line each.
    pub trace: Vec<String>,
}

impl Outcome {
    /// Whether everything held.
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.findings.passed()
    }

    /// What failed: the invariants, and `error` when the run broke off.
    pub fn kinds(&self) -> BTreeSet<&'static str> {
        let mut kinds = self.findings.kinds();
        if self.error.is_some() {
            kinds.insert("error");
        }
        kinds
    }
}

/// The steps of a seed's run.
pub fn steps(config: &Config, seed: u64) -> Result<Vec<Step>, String> {
    let versions = config.versions()?;
    let entities = versions.iter().map(|v| v.entities.len()).max().unwrap_or(1);
    let mut rng = Rng::new(seed);
    let _setup = rng.fork();
    let mut events = rng.fork();
    Ok(events::generate(
        &mut events,
        config.events,
        config.devices,
        entities,
        versions.len() > 1,
    ))
}

/// Runs a seed; with `keep`, only the steps with those indices (a shrunk trace).
pub fn run(config: &Config, seed: u64, keep: Option<&BTreeSet<usize>>) -> Outcome {
    let mut outcome = Outcome {
        seed,
        findings: Findings::default(),
        error: None,
        tally: Tally::default(),
        trace: Vec::new(),
    };
    let result = catch_unwind(AssertUnwindSafe(|| {
        run_inner(config, seed, keep, &mut outcome)
    }));
    match result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => outcome.error = Some(e),
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "a panic".to_owned());
            outcome.error = Some(format!("panic: {message}"));
        }
    }
    offgen_runtime::server::set_fixed_clock(None);
    outcome
}

fn run_inner(
    config: &Config,
    seed: u64,
    keep: Option<&BTreeSet<usize>>,
    outcome: &mut Outcome,
) -> Result<(), String> {
    let versions = config.versions()?;
    let steps = steps(config, seed)?;
    // In memory where the system has it: a run's databases live for seconds, and what a
    // killed app leaves behind is SQLite's to recover whatever the disk (fsyncs do not
    // matter to a process crash, only to a power cut).
    let shm = std::path::Path::new("/dev/shm");
    let mut builder = tempfile::Builder::new();
    builder.prefix("offgen-sim-");
    let dir = if shm.is_dir() {
        builder.tempdir_in(shm)
    } else {
        builder.tempdir()
    }
    .map_err(|e| e.to_string())?;
    let mut rng = Rng::new(seed);
    let mut setup = rng.fork();
    let _events = rng.fork();
    let mut checks_rng = rng.fork();
    let mut world = World::new(
        &mut setup,
        &config.backend,
        dir.path(),
        config.devices,
        versions,
    )?;

    let mut result = Ok(());
    for (i, step) in steps.iter().enumerate() {
        if keep.is_some_and(|k| !k.contains(&i)) {
            continue;
        }
        if let Err(e) = world.step(i, step) {
            result = Err(format!("step #{i}: {e}"));
            break;
        }
    }
    if result.is_ok() {
        result = world.quiesce();
    }

    if result.is_ok() {
        result = checks::check(&mut world).map(|f| outcome.findings = f);
    }
    if result.is_ok() && config.order_check {
        let rows = checks::server_rows(&world).map(|(_, all)| all);
        result = rows.and_then(|rows| {
            replay::order_dependence(&world, &rows, &config.backend, dir.path(), &mut checks_rng)
                .map(|o| outcome.findings.order = o)
        });
    }
    world.count_outcomes();
    outcome.tally = world.tally.clone();
    outcome.trace = std::mem::take(&mut world.trace);
    drop(world);
    result
}

/// The shortest list of a failing seed's steps found that still fails the same way (at least
/// one of `kinds`), by dropping ever smaller chunks of steps while the failure stays; it gives
/// up refining after `budget`.
pub fn shrink(
    config: &Config,
    seed: u64,
    kinds: &BTreeSet<&'static str>,
    budget: Duration,
) -> BTreeSet<usize> {
    let started = Instant::now();
    let mut current: Vec<usize> = (0..config.events).collect();
    let fails = |keep: &[usize]| {
        let keep: BTreeSet<usize> = keep.iter().copied().collect();
        !run(config, seed, Some(&keep)).kinds().is_disjoint(kinds)
    };
    let mut chunks = 2;
    while current.len() > 1 && started.elapsed() < budget {
        let size = current.len().div_ceil(chunks);
        let mut removed = false;
        for start in (0..current.len()).step_by(size) {
            if started.elapsed() >= budget {
                break;
            }
            let candidate: Vec<usize> = current[..start]
                .iter()
                .chain(current[(start + size).min(current.len())..].iter())
                .copied()
                .collect();
            if fails(&candidate) {
                current = candidate;
                chunks = (chunks - 1).max(2);
                removed = true;
                break;
            }
        }
        if !removed {
            if size == 1 {
                break;
            }
            chunks = (chunks * 2).min(current.len());
        }
    }
    current.into_iter().collect()
}
