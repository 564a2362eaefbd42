//! `offgen-bench`: the end-to-end benchmarks of docs/BENCHMARKS.md, each a ratio or a goal
//! measured in one run against the example server running as its own process (release
//! build), over HTTP on loopback. `scripts/bench.sh` runs them all.

mod apply_cost;
mod fleet;
mod initial_sync;
mod process;
mod server_api;
mod week;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "offgen-bench",
    version,
    about = "End-to-end benchmarks of offgen"
)]
struct Args {
    #[command(subcommand)]
    command: Bench,
}

#[derive(Subcommand, Debug)]
enum Bench {
    /// A fresh device pulls every observation, against a raw SQLite bulk insert of the same
    /// rows and PouchDB replicating the same documents.
    InitialSync {
        /// Observations on the server.
        #[arg(long, default_value_t = 100_000)]
        rows: usize,
        /// Run the server on PostgreSQL (an admin URL ending in /<database>).
        #[arg(long)]
        postgres: Option<String>,
        /// A folder with pouchdb-server and pouchdb-node in node_modules (default:
        /// $OFFGEN_BENCH_NODE_DIR).
        #[arg(long)]
        node_dir: Option<PathBuf>,
    },
    /// 10,000 writes made offline converge in one sync.
    WeekOffline {
        /// Run the server on PostgreSQL (an admin URL ending in /<database>).
        #[arg(long)]
        postgres: Option<String>,
        /// Devices measured (the median is reported).
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// Many devices' offline work against a server on PostgreSQL.
    Fleet {
        /// The PostgreSQL server (an admin URL ending in /<database>; default:
        /// $OFFGEN_TEST_DATABASE_URL).
        #[arg(long)]
        postgres: Option<String>,
        /// Devices.
        #[arg(long, default_value_t = 10_000)]
        devices: usize,
        /// Observations per device.
        #[arg(long, default_value_t = 50)]
        mutations: usize,
        /// Users the devices belong to.
        #[arg(long, default_value_t = 1_000)]
        users: usize,
        /// Devices syncing at once.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Each device first syncs once with nothing queued (untimed), to tell a fresh
        /// connection's first-sync cost apart.
        #[arg(long)]
        warm_up: bool,
    },
    /// The initial sync's page apply alone, in process: the general path, the client's, and a
    /// raw insert, on records saved from a pull (a JSON array of records).
    ApplyCost {
        /// The records.
        #[arg(long)]
        records: PathBuf,
        /// Where the device files go.
        #[arg(long)]
        dir: PathBuf,
        /// One variant only (general, page, raw; setup: only the reading), for callgrind.
        #[arg(long)]
        only: Option<String>,
        /// Rounds of each (the median is reported).
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
    /// (Internal) the measured client of initial-sync.
    #[command(hide = true)]
    PullClient {
        #[arg(long)]
        base: String,
        #[arg(long)]
        token: String,
        #[arg(long)]
        db: PathBuf,
    },
    /// (Internal) the baseline of initial-sync.
    #[command(hide = true)]
    RawInsert {
        #[arg(long)]
        records: PathBuf,
        #[arg(long)]
        db: PathBuf,
    },
}

fn main() {
    match Args::parse().command {
        Bench::InitialSync {
            rows,
            postgres,
            node_dir,
        } => initial_sync::run(
            rows,
            postgres.as_deref(),
            node_dir.or_else(|| std::env::var_os("OFFGEN_BENCH_NODE_DIR").map(PathBuf::from)),
        ),
        Bench::WeekOffline { postgres, runs } => week::run(postgres.as_deref(), runs.max(1)),
        Bench::Fleet {
            postgres,
            devices,
            mutations,
            users,
            concurrency,
            warm_up,
        } => fleet::run(
            &postgres
                .or_else(|| std::env::var("OFFGEN_TEST_DATABASE_URL").ok())
                .expect("--postgres or OFFGEN_TEST_DATABASE_URL: the fleet runs on PostgreSQL"),
            fleet::Fleet {
                devices,
                mutations,
                users: users.max(1),
                concurrency: concurrency.max(1),
                warm_up,
            },
        ),
        Bench::ApplyCost {
            records,
            dir,
            only,
            rounds,
        } => apply_cost::run(&records, &dir, only.as_deref(), rounds.max(1)),
        Bench::PullClient { base, token, db } => initial_sync::pull_client(&base, &token, &db),
        Bench::RawInsert { records, db } => initial_sync::raw_insert(&records, &db),
    }
}
