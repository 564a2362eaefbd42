//! The simulation in CI: a bounded number of seeds on SQLite, and on PostgreSQL when the suite
//! runs one (scripts/test.sh does). More seeds by command:
//! `cargo run --release -p offgen-sim -- --seeds 200`.

use std::collections::BTreeSet;

use offgen_sim::events::{Event, Step};
use offgen_sim::rng::Rng;
use offgen_sim::server::Backend;
use offgen_sim::world::World;
use offgen_sim::{Config, Outcome, checks, run, schema};

/// Events per seed in CI: enough for every fault to happen in most seeds.
const EVENTS: usize = 200;

fn assert_passes(config: &Config, seeds: std::ops::RangeInclusive<u64>) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    let mut failed = Vec::new();
    for seed in seeds {
        let outcome = run(config, seed, None);
        if !outcome.passed() {
            failed.push(explain(&outcome));
        }
        outcomes.push(outcome);
    }
    assert!(
        failed.is_empty(),
        "{}\n(shrink and reproduce with `cargo run --release -p offgen-sim -- --seeds 1 --first-seed S --events {EVENTS}`)",
        failed.join("\n\n")
    );
    outcomes
}

fn explain(outcome: &Outcome) -> String {
    let f = &outcome.findings;
    let mut lines = vec![format!(
        "seed {} failed: {:?} {}",
        outcome.seed,
        outcome.kinds(),
        outcome.error.clone().unwrap_or_default()
    )];
    for line in f
        .lost
        .iter()
        .chain(&f.duplicated)
        .chain(&f.divergent)
        .chain(&f.stuck)
        .chain(&f.order)
        .take(20)
    {
        lines.push(format!("  {line}"));
    }
    lines.extend(outcome.trace.iter().map(|l| format!("    {l}")));
    lines.join("\n")
}

#[test]
fn seeds_hold_every_invariant_on_sqlite() {
    let config = Config {
        events: EVENTS,
        ..Config::default()
    };
    let outcomes = assert_passes(&config, 1..=6);
    let operations: u64 = outcomes.iter().map(|o| o.tally.operations).sum();
    assert!(operations > 200, "the seeds wrote only {operations} rows");
    // The fleet mixes the example's versions: phones start on different ones, and phones
    // and the server upgrade midway, with writes queued.
    let traces: Vec<&String> = outcomes.iter().flat_map(|o| &o.trace).collect();
    let count = |what: &str| traces.iter().filter(|l| l.contains(what)).count();
    for version in ["on v1,", "on v2,", "on v3,"] {
        assert!(count(version) > 0, "no phone started {version}");
    }
    assert!(count("upgrades to v") > 0, "no phone upgraded");
    assert!(
        count("the server is upgraded to v") > 0,
        "the server never upgraded"
    );
}

#[test]
fn seeds_hold_every_invariant_on_postgres() {
    let Ok(url) = std::env::var("OFFGEN_TEST_DATABASE_URL") else {
        eprintln!("OFFGEN_TEST_DATABASE_URL is not set: scripts/test.sh starts a PostgreSQL");
        return;
    };
    let config = Config {
        events: EVENTS,
        backend: Backend::Postgres(url),
        ..Config::default()
    };
    assert_passes(&config, 101..=102);
}

#[test]
fn a_seed_runs_the_same_way_every_time() {
    let config = Config {
        events: 120,
        ..Config::default()
    };
    let first = run(&config, 42, None);
    let second = run(&config, 42, None);
    assert!(first.trace.len() > 100, "{:?}", first.trace);
    assert_eq!(first.trace, second.trace);
    // A shrunk trace is the seed's steps minus some: it runs the same way too.
    let keep: BTreeSet<usize> = (0..120).filter(|i| i % 3 != 0).collect();
    assert_eq!(
        run(&config, 42, Some(&keep)).trace,
        run(&config, 42, Some(&keep)).trace
    );
}

/// A short run brought to quiescence, for the tests below to tamper with.
fn quiet_world(dir: &std::path::Path) -> World {
    // The example as it is: the tests below tamper with its tables by their names.
    let mut versions = schema::versions().unwrap();
    versions.truncate(1);
    let mut rng = Rng::new(5);
    let mut world = World::new(&mut rng, &Backend::Sqlite, dir, 2, versions).unwrap();
    let steps = [
        Event::Insert {
            device: 0,
            entity: 2,
            row: 1,
            values: 11,
        },
        Event::Insert {
            device: 0,
            entity: 0,
            row: 2,
            values: 12,
        },
        Event::Sync { device: 0 },
    ];
    for (i, event) in steps.into_iter().enumerate() {
        world
            .step(
                i,
                &Step {
                    gap_ms: 1000,
                    event,
                },
            )
            .unwrap();
    }
    world.quiesce().unwrap();
    assert!(checks::check(&mut world).unwrap().passed());
    world
}

#[test]
fn the_checks_see_a_change_the_server_lost() {
    let dir = tempfile::tempdir().unwrap();
    let mut world = quiet_world(dir.path());
    // The observation's notes vanish from the server behind the engine's back.
    world
        .server
        .exec("UPDATE observations SET notes = 'overwritten'")
        .unwrap();
    let findings = checks::check(&mut world).unwrap();
    assert!(
        findings
            .lost
            .iter()
            .any(|l| l.contains("observations#1: notes")),
        "{findings:?}"
    );
    assert!(!findings.divergent.is_empty(), "{findings:?}");
}

#[test]
fn the_checks_see_a_write_applied_twice() {
    let dir = tempfile::tempdir().unwrap();
    let mut world = quiet_world(dir.path());
    world
        .server
        .exec("UPDATE rangers SET version = version + 1 WHERE badge_number LIKE 'badgeNumber-%'")
        .unwrap();
    let findings = checks::check(&mut world).unwrap();
    assert!(
        findings.duplicated.iter().any(|l| l.contains("rangers#2")),
        "{findings:?}"
    );
}

#[test]
fn the_checks_see_a_change_stuck_in_a_queue() {
    let dir = tempfile::tempdir().unwrap();
    let mut world = quiet_world(dir.path());
    world
        .step(
            10,
            &Step {
                gap_ms: 1000,
                event: Event::Edit {
                    device: 1,
                    entity: 0,
                    pick: 0,
                    values: 3,
                },
            },
        )
        .unwrap();
    let findings = checks::check(&mut world).unwrap();
    assert!(
        findings
            .stuck
            .iter()
            .any(|l| l.contains("still in the queue")),
        "{findings:?}"
    );
    assert!(
        findings.divergent.iter().any(|l| l.starts_with("d1 holds")),
        "{findings:?}"
    );
}

#[test]
fn the_checks_compare_a_phone_behind_the_server_in_its_shape() {
    let dir = tempfile::tempdir().unwrap();
    let mut versions = schema::versions().unwrap();
    versions.truncate(2);
    // A setup with a phone on v1 (the seed chooses each phone's version).
    let (mut world, old) = (1..100)
        .find_map(|seed| {
            let sub = dir.path().join(format!("s{seed}"));
            std::fs::create_dir_all(&sub).unwrap();
            let world = World::new(
                &mut Rng::new(seed),
                &Backend::Sqlite,
                &sub,
                2,
                versions.clone(),
            )
            .unwrap();
            let old = world.devices.iter().position(|d| d.version == 0)?;
            Some((world, old))
        })
        .expect("a setup with a phone on v1");
    let steps = [
        Event::UpgradeServer,
        Event::Insert {
            device: old as u8,
            entity: 2,
            row: 1,
            values: 11,
        },
        Event::Sync { device: old as u8 },
    ];
    for (i, event) in steps.into_iter().enumerate() {
        let step = Step {
            gap_ms: 1000,
            event,
        };
        world.step(i, &step).unwrap();
    }
    world.quiesce().unwrap();
    assert_eq!(world.server.step(), 2);
    let findings = checks::check(&mut world).unwrap();
    assert!(findings.passed(), "{findings:?}");
    // What the v1 phone calls `notes` is `remarks` on the server now.
    world
        .server
        .exec("UPDATE observations SET remarks = 'overwritten'")
        .unwrap();
    let findings = checks::check(&mut world).unwrap();
    assert!(
        findings
            .divergent
            .iter()
            .any(|l| l.starts_with(&format!("d{old} holds observations#1")) && l.contains("notes")),
        "{findings:?}"
    );
    assert!(
        findings
            .lost
            .iter()
            .any(|l| l.contains("observations#1: notes")),
        "{findings:?}"
    );
}

/// Seed 3196 (300 events), shrunk to its 8 steps: a v1 app's lww edit of `notes` timed out,
/// the app was upgraded to v2 (its migration renamed the queued edit's data and field stamps
/// to `remarks`), and the late v1 copy and the v2 retry both reached the v3 server. The two
/// are the same mutation in the server's names, stamps included; the check compared the
/// stamps by the app's names and called the retry a different mutation under the same id.
#[test]
fn a_retry_renamed_by_an_app_upgrade_is_the_same_mutation_stamps_included() {
    let config = Config {
        events: 300,
        ..Config::default()
    };
    let keep: BTreeSet<usize> = [77, 82, 133, 134, 217, 219, 223, 227].into();
    let outcome = run(&config, 3196, Some(&keep));
    assert!(outcome.passed(), "{}", explain(&outcome));
    let trace = outcome.trace.join("\n");
    assert!(
        trace.contains("upgrades to v2") && trace.contains("late copy of push [update"),
        "the seed no longer walks this path:\n{trace}"
    );
}
