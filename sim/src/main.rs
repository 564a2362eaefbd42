//! `offgen-sim --seeds N [--first-seed S]`: runs seeds, prints what failed with the shortest
//! trace that reproduces it, and ends with one summary line.

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use offgen_sim::server::Backend;
use offgen_sim::{Config, Outcome, run, shrink};

/// A seeded fault simulation of a fleet of phones against the ranger example's server.
#[derive(Parser, Debug)]
#[command(name = "offgen-sim", version)]
struct Args {
    /// How many seeds to run.
    #[arg(long, default_value_t = 20)]
    seeds: u64,
    /// The first seed (the run uses first-seed .. first-seed + seeds).
    #[arg(long, default_value_t = 1)]
    first_seed: u64,
    /// Events per seed.
    #[arg(long, default_value_t = 300)]
    events: usize,
    /// Phones per seed.
    #[arg(long, default_value_t = 5)]
    devices: usize,
    /// Run the server on PostgreSQL: a fresh database per seed on the server at URL (an admin
    /// URL ending in /<database>), by default $OFFGEN_TEST_DATABASE_URL.
    #[arg(long, num_args = 0..=1, default_missing_value = "")]
    postgres: Option<String>,
    /// How many of the app's versions the fleet mixes (1: everyone runs the example as it
    /// is; by default all three: phones and the server start on any, and upgrade midway).
    #[arg(long, default_value_t = 3)]
    versions: usize,
    /// Skip the check that lww rows end the same in any order of arrival.
    #[arg(long)]
    no_order_check: bool,
    /// Run only these steps of the seed (a shrunk trace, as printed for a failure).
    #[arg(long, value_delimiter = ',')]
    keep: Option<Vec<usize>>,
    /// Print every seed's trace, not only failing ones.
    #[arg(long)]
    trace: bool,
    /// How long to spend shrinking each failing seed, in seconds (0: do not shrink).
    #[arg(long, default_value_t = 120)]
    shrink_secs: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let backend = match &args.postgres {
        None => Backend::Sqlite,
        Some(url) if !url.is_empty() => Backend::Postgres(url.clone()),
        Some(_) => match std::env::var("OFFGEN_TEST_DATABASE_URL") {
            Ok(url) => Backend::Postgres(url),
            Err(_) => {
                eprintln!(
                    "--postgres needs a URL, or OFFGEN_TEST_DATABASE_URL (scripts/pg.sh start prints one)"
                );
                return ExitCode::from(2);
            }
        },
    };
    let config = Config {
        events: args.events,
        devices: args.devices.max(1),
        backend,
        order_check: !args.no_order_check,
        versions: args.versions.max(1),
    };
    let keep: Option<BTreeSet<usize>> = args.keep.as_ref().map(|k| k.iter().copied().collect());
    let started = Instant::now();
    let mut totals = Totals::default();
    for seed in args.first_seed..args.first_seed + args.seeds {
        let outcome = run(&config, seed, keep.as_ref());
        totals.add(&outcome);
        if outcome.passed() {
            println!(
                "seed {seed}: ok ({} operations, {} requests, {} app kills, {} restarts, {} rounds to quiet)",
                outcome.tally.operations,
                outcome.tally.delivered,
                outcome.tally.crashes,
                outcome.tally.restarts,
                outcome.tally.rounds
            );
            if args.trace {
                print_trace(&outcome.trace);
            }
            continue;
        }
        report_failure(&config, &outcome, keep.is_some(), args.shrink_secs);
    }
    println!();
    println!(
        "faults injected: {}",
        totals
            .faults
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "mutations decided: {}",
        totals
            .outcomes
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "requests delivered: {}, app kills: {}, server restarts: {}, version conflicts settled: {}, lww order-dependent rows: {}, runs broken off: {}, {:.1} s",
        totals.delivered,
        totals.crashes,
        totals.restarts,
        totals.resolved,
        totals.order,
        totals.errors,
        started.elapsed().as_secs_f64()
    );
    println!(
        "seeds: {}, operations: {}, lost: {}, duplicated: {}, divergent: {}, stuck: {}",
        totals.seeds,
        totals.operations,
        totals.lost,
        totals.duplicated,
        totals.divergent,
        totals.stuck
    );
    if totals.failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

#[derive(Default)]
struct Totals {
    seeds: u64,
    failed: u64,
    operations: u64,
    delivered: u64,
    crashes: u64,
    restarts: u64,
    resolved: u64,
    lost: usize,
    duplicated: usize,
    divergent: usize,
    stuck: usize,
    order: usize,
    errors: usize,
    faults: BTreeMap<&'static str, u64>,
    outcomes: BTreeMap<String, u64>,
}

impl Totals {
    fn add(&mut self, o: &Outcome) {
        self.seeds += 1;
        self.failed += u64::from(!o.passed());
        self.operations += o.tally.operations;
        self.delivered += o.tally.delivered;
        self.crashes += o.tally.crashes;
        self.restarts += o.tally.restarts;
        self.resolved += o.tally.resolved;
        self.lost += o.findings.lost.len();
        self.duplicated += o.findings.duplicated.len();
        self.divergent += o.findings.divergent.len();
        self.stuck += o.findings.stuck.len();
        self.order += o.findings.order.len();
        self.errors += usize::from(o.error.is_some());
        for (k, v) in &o.tally.faults {
            *self.faults.entry(k).or_default() += v;
        }
        for (k, v) in &o.tally.outcomes {
            *self.outcomes.entry(k.clone()).or_default() += v;
        }
    }
}

fn report_failure(config: &Config, outcome: &Outcome, already_kept: bool, shrink_secs: u64) {
    let seed = outcome.seed;
    let kinds = outcome.kinds();
    println!(
        "seed {seed}: FAILED ({})",
        kinds.iter().copied().collect::<Vec<_>>().join(", ")
    );
    print_findings(outcome);
    if already_kept || shrink_secs == 0 {
        print_trace(&outcome.trace);
        return;
    }
    let keep = shrink(config, seed, &kinds, Duration::from_secs(shrink_secs));
    let shrunk = run(config, seed, Some(&keep));
    let list: Vec<String> = keep.iter().map(usize::to_string).collect();
    println!(
        "  shortest trace found: {} of {} steps; reproduce with\n  cargo run --release -p offgen-sim -- --seeds 1 --first-seed {seed} --events {} --devices {} --versions {}{} --keep {}",
        keep.len(),
        config.events,
        config.events,
        config.devices,
        config.versions,
        match &config.backend {
            Backend::Sqlite => String::new(),
            Backend::Postgres(_) => " --postgres".to_owned(),
        },
        list.join(",")
    );
    if !shrunk.passed() {
        print_findings(&shrunk);
    }
    print_trace(&shrunk.trace);
}

fn print_findings(outcome: &Outcome) {
    if let Some(error) = &outcome.error {
        println!("  error: {error}");
    }
    let f = &outcome.findings;
    for (kind, lines) in [
        ("lost", &f.lost),
        ("duplicated", &f.duplicated),
        ("divergent", &f.divergent),
        ("stuck", &f.stuck),
        ("order-dependent", &f.order),
    ] {
        for line in lines.iter().take(8) {
            println!("  {kind}: {line}");
        }
        if lines.len() > 8 {
            println!("  {kind}: ... and {} more", lines.len() - 8);
        }
    }
}

fn print_trace(trace: &[String]) {
    for line in trace {
        println!("    {line}");
    }
}
