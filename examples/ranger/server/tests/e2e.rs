//! End to end: device databases built from the example's generated migrations, driven by the
//! reference client (`offgen_runtime::client`) over real HTTP on loopback, against the example
//! server on SQLite and on PostgreSQL. Every test ends with the devices holding exactly what
//! the server serves them.

mod support;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::Instant;

use offgen_runtime::client::{Device, Resolution, SyncErrorKind, SyncOptions};
use serde_json::{Value, json};
use support::fleet::{Env, Fault, Phone, assert_converged, schema};
use support::{ANA, ANA_TOKEN, BEN, BEN_TOKEN, uuid};

fn add_observation(phone: &Phone, id: &str, notes: &str) {
    phone.sql(&format!(
        "INSERT INTO observations (id, ranger, kind, latitude, longitude, notes, recorded_at, modified_at)
         VALUES ('{id}', '{ANA}', 'wildlife', -1.2863890000000001, 36.817223, '{notes}', 1700000000000, 1700000000000)"
    ));
}

fn add_route(phone: &Phone, id: &str, name: &str) {
    phone.sql(&format!(
        "INSERT INTO patrol_routes (id, name, sector, geometry) VALUES ('{id}', '{name}', 'north', '{{\"type\":\"LineString\"}}')"
    ));
}

e2e!(
    a_first_sync_brings_a_new_device_everything_its_user_may_see,
    |env: Env| {
        let mut phone = Phone::new(&env, ANA_TOKEN);
        add_route(&phone, &uuid(100), "Ridge");
        add_observation(&phone, &uuid(101), "elephants at the river");
        add_observation(&phone, &uuid(102), "fresh tracks");
        let report = phone.synced();
        assert_eq!((report.pushed, report.accepted), (3, 3));
        assert_eq!(phone.status("observations", &uuid(101)), "synced");
        assert_eq!(phone.queued(), 0);
        assert_converged(&env, &phone, ANA_TOKEN);

        // A second device of Ana's gets all of it; Ben's gets the shared rows, not Ana's own.
        let mut tablet = Phone::new(&env, ANA_TOKEN);
        let report = tablet.synced();
        assert_eq!(report.pulled, 5, "two rangers, a route, two observations");
        assert_converged(&env, &tablet, ANA_TOKEN);
        let mut ben = Phone::new(&env, BEN_TOKEN);
        ben.synced();
        assert_converged(&env, &ben, BEN_TOKEN);
        assert_eq!(ben.value("SELECT count(*) FROM observations"), json!(0));
        assert_eq!(ben.value("SELECT count(*) FROM patrol_routes"), json!(1));
    }
);

e2e!(a_week_offline_converges_in_one_sync, |env: Env| {
    let mut phone = Phone::new(&env, ANA_TOKEN);
    let id = |n: u64| uuid(10_000 + n);
    // Each write its own transaction, through prepared statements, as an app makes them.
    let insert = |phone: &Phone, n: u64| {
        phone
            .device
            .connection()
            .prepare_cached(
                "INSERT INTO observations (id, ranger, kind, latitude, longitude, notes, recorded_at, modified_at)
                 VALUES (?1, ?2, 'wildlife', ?3, 36.817223, ?4, 1700000000000, 1700000000000)",
            )
            .unwrap()
            .execute(offgen_runtime::client::rusqlite::params![
                id(n),
                ANA,
                -1.286_389 + n as f64 * 1.000_000_1e-7,
                format!("note {n}")
            ])
            .unwrap();
    };
    // Last week's 1,000 observations are on the server already.
    for n in 0..1_000 {
        insert(&phone, n);
    }
    phone.synced();
    // Then a week without signal: 10,000 writes: 3,000 new observations, 5,000 edits spread
    // over old and new, 2,000 deletes.
    let conn = phone.device.connection();
    let mut writes = 0;
    for n in 1_000..4_000 {
        insert(&phone, n);
        writes += 1;
    }
    let mut edit = conn
        .prepare(
            "UPDATE observations SET count = ?1, notes = ?2 WHERE id = ?3 AND deleted_at IS NULL",
        )
        .unwrap();
    for n in 0..5_000u64 {
        edit.execute(offgen_runtime::client::rusqlite::params![
            (n % 40 + 2) as i64,
            format!("edit {n}"),
            id((n * 7_919) % 4_000)
        ])
        .unwrap();
        writes += 1;
    }
    let mut delete = conn
        .prepare("UPDATE observations SET deleted_at = 1700000000000 WHERE id = ?1")
        .unwrap();
    for n in 0..2_000u64 {
        delete.execute([id(n * 2)]).unwrap();
        writes += 1;
    }
    drop((edit, delete));
    assert_eq!(writes, 10_000);
    let queued = phone.queued();
    let started = Instant::now();
    let report = phone.synced();
    let took = started.elapsed();
    eprintln!(
        "week offline ({:?}): {writes} writes queued as {queued} entries, synced in {took:?} with {} requests, {} bytes up, {} bytes down",
        env.server.backend, report.requests, report.bytes_sent, report.bytes_received
    );
    assert!(
        queued > 2_000,
        "{queued} entries: edits to synced rows and deletes queue too"
    );
    assert_eq!(phone.queued(), 0);
    assert_eq!(
        (report.pushed, report.accepted),
        (queued as u64, queued as u64)
    );
    assert_converged(&env, &phone, ANA_TOKEN);
    // And a fresh device of Ana's gets the same.
    let mut tablet = Phone::new(&env, ANA_TOKEN);
    tablet.synced();
    assert_converged(&env, &tablet, ANA_TOKEN);
});

e2e!(
    every_finite_double_goes_device_to_server_to_device_bit_for_bit,
    |env: Env| {
        // Edges and random bit patterns (every exponent) from a fixed seed. -0.0 is left out: a
        // device's REAL column stores it as 0 (docs/protocol.md).
        let mut values = vec![
            5e-324,
            f64::from_bits(0x000f_ffff_ffff_ffff),
            f64::MAX,
            f64::MIN,
            1.9995240456382673e-09,
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        while values.len() < 600 {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let x = f64::from_bits(state.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            if x.is_finite() && x != 0.0 {
                values.push(x);
            }
        }
        let mut phone = Phone::new(&env, ANA_TOKEN);
        for (n, x) in values.iter().enumerate() {
            phone
            .device
            .connection()
            .execute(
                "INSERT INTO observations (id, ranger, kind, latitude, longitude, accuracy_m, recorded_at, modified_at)
                 VALUES (?1, ?2, 'other', ?3, ?3, ?3, 1, 1)",
                offgen_runtime::client::rusqlite::params![uuid(20_000 + n as u64), ANA, x],
            )
            .unwrap();
        }
        phone.synced();
        let mut tablet = Phone::new(&env, ANA_TOKEN);
        tablet.synced();
        for (n, x) in values.iter().enumerate() {
            let got: (f64, f64) = tablet
                .device
                .connection()
                .query_row(
                    "SELECT latitude, accuracy_m FROM observations WHERE id = ?1",
                    [uuid(20_000 + n as u64)],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap();
            assert_eq!(
                (got.0.to_bits(), got.1.to_bits()),
                (x.to_bits(), x.to_bits()),
                "{x:e} came back as {got:?}"
            );
        }
        assert_converged(&env, &tablet, ANA_TOKEN);
    }
);

e2e!(
    a_lost_response_is_retried_with_the_same_mutations_and_applied_once,
    |env: Env| {
        let mut phone = Phone::new(&env, ANA_TOKEN);
        add_observation(&phone, &uuid(1), "first");
        add_route(&phone, &uuid(2), "Ridge");
        phone.net.plan(&[Fault::LoseResponse]);
        let error = phone.sync().unwrap_err();
        assert!(matches!(error.kind, SyncErrorKind::Transport(_)), "{error}");
        assert_eq!(error.report.pushed, 2);
        assert_eq!(
            env.server_count("SELECT count(*) FROM observations"),
            1,
            "the server applied the batch before the response was lost"
        );
        assert_eq!(phone.queued(), 2, "the device does not know it yet");
        assert_eq!(phone.status("observations", &uuid(1)), "pending");

        let report = phone.synced();
        assert_eq!(
            (report.pushed, report.accepted),
            (2, 2),
            "answered with the first results"
        );
        assert_eq!(env.server_count("SELECT count(*) FROM observations"), 1);
        assert_eq!(env.server_count("SELECT count(*) FROM patrol_routes"), 1);
        assert_eq!(
            env.server_count("SELECT max(version) FROM observations"),
            1,
            "applied once"
        );
        assert_converged(&env, &phone, ANA_TOKEN);
    }
);

e2e!(
    requests_that_never_arrive_or_are_refused_cost_no_attempts,
    |env: Env| {
        let mut phone = Phone::new(&env, ANA_TOKEN);
        add_observation(&phone, &uuid(1), "first");
        phone.net.plan(&[Fault::LoseRequest]);
        assert!(matches!(
            phone.sync().unwrap_err().kind,
            SyncErrorKind::Transport(_)
        ));
        phone.net.plan(&[Fault::Unavailable]);
        let error = phone.sync().unwrap_err();
        assert!(
            matches!(
                error.kind,
                SyncErrorKind::Refused {
                    status: 503,
                    retry_after: Some(7),
                    ..
                }
            ),
            "{error:?}"
        );
        let mut stranger = Phone::with_device(
            &env,
            "not-a-token",
            std::mem::replace(
                &mut phone.device,
                Device::open_in_memory(&schema()).unwrap(),
            ),
        );
        let error = stranger.sync().unwrap_err();
        assert!(error.is_unauthorized(), "{error}");
        assert_eq!(
            stranger.value("SELECT attempts FROM _offgen_outbox"),
            json!(0),
            "no answer, 503 and 401 never count against the change"
        );
        let mut phone = Phone::with_device(&env, ANA_TOKEN, stranger.device);
        phone.synced();
        assert_converged(&env, &phone, ANA_TOKEN);
    }
);

e2e!(
    an_app_killed_between_the_push_and_its_result_recovers_on_restart,
    |env: Env| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("phone.db");
        let open = |path: &Path| Device::open(path, &schema()).unwrap();
        let mut phone = Phone::with_device(&env, ANA_TOKEN, open(&path));
        add_observation(&phone, &uuid(1), "before the crash");
        let mutation_id_before = {
            phone.net.plan(&[Fault::Crash]);
            let crashed = catch_unwind(AssertUnwindSafe(|| phone.sync()));
            assert!(crashed.is_err(), "the app died mid-sync");
            phone.value("SELECT mutation_id FROM _offgen_outbox")
        };
        assert_eq!(
            phone.value("SELECT state FROM _offgen_outbox"),
            json!("inflight")
        );
        drop(phone);

        // The app starts again: the dead sync's lease blocks others until it runs out.
        let mut phone = Phone::with_device(&env, ANA_TOKEN, open(&path));
        let now = phone.device.now().unwrap();
        phone.device.set_fixed_clock(Some(now)).unwrap();
        assert!(matches!(
            phone.sync().unwrap_err().kind,
            SyncErrorKind::Busy
        ));
        phone.device.set_fixed_clock(Some(now + 61_000)).unwrap();
        let report = phone.synced();
        assert_eq!(report.accepted, 1);
        assert_eq!(
            phone.net.log().len(),
            2,
            "the same mutation went again (one push, one pull)"
        );
        assert_eq!(env.server_count("SELECT count(*) FROM observations"), 1);
        assert_eq!(
            env.server_count(
                "SELECT count(*) FROM _offgen_mutations WHERE entity = 'observations'"
            ),
            1,
            "one mutation: {mutation_id_before}"
        );
        assert_converged(&env, &phone, ANA_TOKEN);
    }
);

e2e!(
    a_pull_that_fails_half_way_leaves_nothing_half_applied,
    |env: Env| {
        let mut writer = Phone::new(&env, ANA_TOKEN);
        for n in 0..30 {
            add_observation(&writer, &uuid(200 + n), &format!("n{n}"));
        }
        writer.synced();
        // A device on a file, as an app's: WAL, each commit waiting for the disk by default.
        let dir = tempfile::tempdir().unwrap();
        let device = Device::open(dir.path().join("reader.db"), &env.schema).unwrap();
        let mut reader = Phone::with_device(&env, ANA_TOKEN, device).with_options(SyncOptions {
            pull_page: 10,
            ..SyncOptions::default()
        });
        // The device fails while applying the second page (as if the app died in the middle of the
        // transaction: SQLite rolls it back).
        reader.sql(&format!(
            "CREATE TEMP TRIGGER crash BEFORE INSERT ON main.observations WHEN NEW.id = '{}'
         BEGIN SELECT RAISE(ABORT, 'killed'); END",
            uuid(215)
        ));
        assert_eq!(reader.value("PRAGMA journal_mode"), json!("wal"));
        assert_eq!(reader.value("PRAGMA synchronous"), json!(2), "FULL");
        let error = reader.sync().unwrap_err();
        assert!(matches!(error.kind, SyncErrorKind::Client(_)), "{error}");
        // Pulled pages commit without waiting for the disk (a page a power cut takes back is
        // pulled again); the failed one still gave the connection its default back.
        assert_eq!(reader.value("PRAGMA synchronous"), json!(2), "FULL again");
        // Page one (the two rangers and eight observations) applied; page two not at all.
        assert_eq!(reader.value("SELECT count(*) FROM observations"), json!(8));
        let cursor_after_failure =
            reader.value("SELECT value FROM _offgen_meta WHERE key = 'pull_cursor'");
        reader.sql("DROP TRIGGER temp.crash");
        reader.synced();
        assert_ne!(
            reader.value("SELECT value FROM _offgen_meta WHERE key = 'pull_cursor'"),
            cursor_after_failure
        );
        assert_converged(&env, &reader, ANA_TOKEN);
    }
);

e2e!(
    a_conflict_is_settled_against_the_newest_server_version_pulled_since,
    |env: Env| {
        // offgen-sim seed 21: a row in conflict skipped the newer versions pulled meanwhile, and
        // take_server then applied the conflict's older record for good.
        for resolution in [Resolution::TakeServer, Resolution::KeepLocal] {
            let mut ana = Phone::new(&env, ANA_TOKEN);
            let mut ben = Phone::new(&env, BEN_TOKEN);
            ana.synced();
            ben.synced();
            let station = |who: &str| {
                format!("UPDATE rangers SET station = '{who} {resolution:?}' WHERE id = '{BEN}'")
            };
            ben.sql(&station("ben 1"));
            ben.synced();
            ana.sql(&station("ana"));
            assert_eq!(ana.synced().conflicts, 1);
            // While Ana's phone holds the conflict, Ben changes the row again, and her next
            // sync pulls that newer version.
            ben.sql(&station("ben 2"));
            ben.synced();
            ana.synced();
            let conflicts = ana.device.list_conflicts().unwrap();
            let server: Value =
                serde_json::from_str(conflicts[0].server_record.as_deref().unwrap()).unwrap();
            assert_eq!(server["data"]["station"], format!("ben 2 {resolution:?}"));
            assert_eq!(
                Some(server["version"].as_i64().unwrap()),
                conflicts[0].server_version
            );
            ana.device
                .resolve_conflict("rangers", BEN, resolution)
                .unwrap();
            let report = ana.synced();
            assert_eq!(report.conflicts, 0, "settled once: {report:?}");
            ben.synced();
            let kept = match resolution {
                Resolution::TakeServer => format!("ben 2 {resolution:?}"),
                Resolution::KeepLocal => format!("ana {resolution:?}"),
            };
            for phone in [&ana, &ben] {
                assert_eq!(
                    phone.value(&format!("SELECT station FROM rangers WHERE id = '{BEN}'")),
                    json!(kept)
                );
            }
            assert_converged(&env, &ana, ANA_TOKEN);
            assert_converged(&env, &ben, BEN_TOKEN);
        }
    }
);

e2e!(
    version_conflicts_keep_both_sides_in_either_order,
    |env: Env| {
        for ana_first in [true, false] {
            let mut ana = Phone::new(&env, ANA_TOKEN);
            let mut ben = Phone::new(&env, BEN_TOKEN);
            ana.synced();
            ben.synced();
            let station = |who: &str| {
                format!(
                    "UPDATE rangers SET station = '{who} station {ana_first}' WHERE id = '{BEN}'"
                )
            };
            ana.sql(&station("ana"));
            ben.sql(&station("ben"));
            let (first, second) = if ana_first {
                (&mut ana, &mut ben)
            } else {
                (&mut ben, &mut ana)
            };
            first.synced();
            let report = second.synced();
            assert_eq!(report.conflicts, 1, "{report:?}");
            assert_eq!(second.status("rangers", BEN), "conflict");
            let conflicts = second.device.list_conflicts().unwrap();
            assert_eq!(conflicts.len(), 1);
            let server: Value =
                serde_json::from_str(conflicts[0].server_record.as_deref().unwrap()).unwrap();
            let winner = if ana_first {
                "ana station true"
            } else {
                "ben station false"
            };
            assert_eq!(server["data"]["station"], winner, "the server's side");
            assert!(
                conflicts[0].local_payload.contains("station"),
                "the local side"
            );
            // The second writer keeps its own change: it goes again on top of the server's.
            assert!(
                second
                    .device
                    .resolve_conflict("rangers", BEN, Resolution::KeepLocal)
                    .unwrap()
            );
            second.synced();
            first.synced();
            let loser = if ana_first {
                "ben station true"
            } else {
                "ana station false"
            };
            for phone in [&ana, &ben] {
                assert_eq!(
                    phone.value(&format!("SELECT station FROM rangers WHERE id = '{BEN}'")),
                    json!(loser)
                );
            }
            assert_converged(&env, &ana, ANA_TOKEN);
            assert_converged(&env, &ben, BEN_TOKEN);
        }
    }
);

e2e!(
    server_wins_keeps_the_first_write_and_tells_the_loser_in_either_order,
    |env: Env| {
        for ana_first in [true, false] {
            let route = uuid(if ana_first { 300 } else { 301 });
            let mut ana = Phone::new(&env, ANA_TOKEN);
            add_route(&ana, &route, &format!("Ridge {ana_first}"));
            ana.synced();
            let mut ben = Phone::new(&env, BEN_TOKEN);
            ben.synced();
            ana.sql(&format!(
                "UPDATE patrol_routes SET difficulty = 'hard' WHERE id = '{route}'"
            ));
            ben.sql(&format!(
                "UPDATE patrol_routes SET name = 'Ridge (closed)' WHERE id = '{route}'"
            ));
            let (first, second) = if ana_first {
                (&mut ana, &mut ben)
            } else {
                (&mut ben, &mut ana)
            };
            first.synced();
            let report = second.synced();
            assert_eq!(report.conflicts, 1);
            assert_eq!(
                second.status("patrol_routes", &route),
                "synced",
                "the server's row, adopted"
            );
            let notices = second.device.list_notices().unwrap();
            assert_eq!(notices.len(), 1, "the loser is told");
            let lost = if ana_first { "Ridge (closed)" } else { "hard" };
            assert!(notices[0].local_payload.contains(lost), "{:?}", notices[0]);
            assert_eq!(second.device.stats().unwrap().notices, 1);
            assert!(second.device.dismiss_notice(notices[0].id).unwrap());
            assert_eq!(second.device.stats().unwrap().notices, 0);
            first.synced();
            let row = |p: &Phone| {
                p.value(&format!(
                    "SELECT json_array(name, difficulty) FROM patrol_routes WHERE id = '{route}'"
                ))
            };
            let kept = if ana_first {
                format!("[\"Ridge {ana_first}\",\"hard\"]")
            } else {
                "[\"Ridge (closed)\",\"moderate\"]".to_owned()
            };
            assert_eq!(row(&ana), json!(kept), "the first write to arrive is kept");
            assert_eq!(row(&ben), row(&ana));
            assert_converged(&env, &ana, ANA_TOKEN);
            assert_converged(&env, &ben, BEN_TOKEN);
        }
        assert_eq!(
            env.server_count("SELECT count(*) FROM _offgen_audit WHERE entity = 'patrol_routes'"),
            2,
            "and the server keeps what lost, both times"
        );
    }
);

e2e!(
    a_delete_against_an_update_is_settled_in_either_order,
    |env: Env| {
        for delete_first in [true, false] {
            let mut ana = Phone::new(&env, ANA_TOKEN);
            let id = uuid(if delete_first { 401 } else { 402 });
            ana.sql(&format!(
                "INSERT INTO rangers (id, name, badge_number) VALUES ('{id}', 'Cai', 'B-{id}')"
            ));
            ana.synced();
            let mut ben = Phone::new(&env, BEN_TOKEN);
            ben.synced();
            ana.sql(&format!("DELETE FROM rangers WHERE id = '{id}'"));
            ben.sql(&format!(
                "UPDATE rangers SET station = 'east' WHERE id = '{id}'"
            ));
            if delete_first {
                ana.synced();
                assert_eq!(ben.synced().conflicts, 1, "the update met the tombstone");
                let conflicts = ben.device.list_conflicts().unwrap();
                assert!(conflicts[0].server_deleted);
                // The change cannot be kept: sent again it would meet the tombstone again, on
                // every sync (found by offgen-sim, seed 16).
                assert!(
                    !ben.device
                        .resolve_conflict("rangers", &id, Resolution::KeepLocal)
                        .unwrap()
                );
                assert_eq!(
                    ben.device.list_conflicts().unwrap().len(),
                    1,
                    "still waiting"
                );
                assert!(
                    ben.device
                        .resolve_conflict("rangers", &id, Resolution::TakeServer)
                        .unwrap()
                );
                ben.synced();
                assert_eq!(
                    ben.value(&format!(
                        "SELECT deleted_at IS NOT NULL FROM rangers WHERE id = '{id}'"
                    )),
                    json!(1)
                );
            } else {
                ben.synced();
                assert_eq!(ana.synced().conflicts, 1, "the delete met a newer version");
                // Ana still wants it gone: her delete goes again on top of Ben's edit.
                assert!(
                    ana.device
                        .resolve_conflict("rangers", &id, Resolution::KeepLocal)
                        .unwrap()
                );
                ana.synced();
                ben.synced();
            }
            assert_eq!(
                ana.value(&format!(
                    "SELECT count(*) FROM rangers WHERE id = '{id}' AND deleted_at IS NULL"
                )),
                json!(0)
            );
            assert_converged(&env, &ana, ANA_TOKEN);
            assert_converged(&env, &ben, BEN_TOKEN);
        }
    }
);

e2e!(
    a_change_too_large_to_send_is_set_aside_and_blocks_nothing,
    |env: Env| {
        for client_limit in [None, Some(64 * 1024 * 1024)] {
            let options = SyncOptions {
                max_push_bytes: client_limit.unwrap_or(SyncOptions::default().max_push_bytes),
                ..SyncOptions::default()
            };
            let mut phone = Phone::new(&env, ANA_TOKEN).with_options(options);
            let big = uuid(if client_limit.is_some() { 501 } else { 500 });
            // A 4.5 MB thumbnail travels as 9 MB of hex: over the server's 8 MiB body limit.
            phone.sql(&format!(
            "INSERT INTO observations (id, ranger, kind, latitude, longitude, thumbnail, recorded_at, modified_at)
             VALUES ('{big}', '{ANA}', 'other', 1, 2, zeroblob(4500000), 1, 1)"
        ));
            for n in 0..3 {
                add_observation(
                    &phone,
                    &uuid(510 + n + if client_limit.is_some() { 10 } else { 0 }),
                    "small",
                );
            }
            let report = phone.synced();
            assert_eq!(report.set_aside, 1, "{report:?}");
            let failed = phone.device.list_failed().unwrap();
            assert_eq!(failed.len(), 1);
            assert_eq!(failed[0].row_id, big);
            assert!(
                failed[0]
                    .last_error
                    .as_deref()
                    .unwrap()
                    .starts_with("too-large"),
                "{failed:?}"
            );
            assert_eq!(phone.device.stats().unwrap().failed, 1);
            assert_eq!(phone.status("observations", &big), "failed");
            assert_eq!(phone.queued(), 1, "the three small ones went");
            if client_limit.is_some() {
                assert!(
                    phone
                        .net
                        .log()
                        .iter()
                        .any(|(_, _, status)| *status == Some(413)),
                    "the server refused the first batch and the client split it"
                );
            }
        }
    }
);

e2e!(
    a_pulled_row_that_clashes_with_a_local_unique_value_waits_and_the_pull_goes_on,
    |env: Env| {
        let mut ana = Phone::new(&env, ANA_TOKEN);
        let mut ben = Phone::new(&env, BEN_TOKEN);
        ben.synced();
        let (ana_cai, ben_cai) = (uuid(601), uuid(602));
        ana.sql(&format!(
            "INSERT INTO rangers (id, name, badge_number) VALUES ('{ana_cai}', 'Cai', 'B-7')"
        ));
        add_route(&ana, &uuid(603), "Ridge");
        ana.synced();
        // Ben, offline, registers the same new ranger with the same badge.
        ben.sql(&format!(
            "INSERT INTO rangers (id, name, badge_number) VALUES ('{ben_cai}', 'Cai D.', 'B-7')"
        ));
        let report = ben.synced();
        assert_eq!(report.rejected, 1, "the server has B-7 already");
        assert_eq!(
            ben.value(&format!(
                "SELECT count(*) FROM patrol_routes WHERE id = '{}'",
                uuid(603)
            )),
            json!(1),
            "the pull went on past the clash"
        );
        let clashes = ben.device.list_clashes().unwrap();
        assert_eq!(clashes.len(), 1);
        assert_eq!(
            (clashes[0].id.as_str(), clashes[0].local_row_id.as_str()),
            (ana_cai.as_str(), ben_cai.as_str())
        );
        assert_eq!(ben.status("rangers", &ben_cai), "conflict");
        assert!(
            ben.value(&format!(
                "SELECT sync_error FROM rangers WHERE id = '{ben_cai}'"
            ))
            .as_str()
            .unwrap()
            .contains("badgeNumber")
        );
        assert_eq!(ben.device.stats().unwrap().clashes, 1);
        // More changes keep arriving while the clash waits.
        ana.sql(&format!(
            "UPDATE patrol_routes SET retired = 1 WHERE id = '{}'",
            uuid(603)
        ));
        ana.synced();
        ben.synced();
        assert_eq!(
            ben.value(&format!(
                "SELECT retired FROM patrol_routes WHERE id = '{}'",
                uuid(603)
            )),
            json!(1)
        );
        // Ben fixes his row: it goes at once (the edit ends its retry delay), and the waiting
        // record applies.
        ben.sql(&format!(
            "UPDATE rangers SET badge_number = 'B-8' WHERE id = '{ben_cai}'"
        ));
        assert_eq!(ben.synced().accepted, 1);
        ben.synced();
        assert_eq!(ben.device.stats().unwrap().clashes, 0);
        assert_eq!(ben.status("rangers", &ben_cai), "synced");
        ana.synced();
        assert_converged(&env, &ana, ANA_TOKEN);
        assert_converged(&env, &ben, BEN_TOKEN);
    }
);

e2e!(
    a_rejected_change_waits_longer_after_each_attempt_then_is_set_aside,
    |env: Env| {
        let mut phone = Phone::new(&env, ANA_TOKEN);
        let t0 = 1_800_000_000_000i64;
        phone.device.set_fixed_clock(Some(t0)).unwrap();
        // A reference the server does not know: rejected every time.
        phone.sql(&format!(
        "INSERT INTO observations (id, ranger, route, kind, latitude, longitude, recorded_at, modified_at)
         VALUES ('{}', '{ANA}', '{}', 'fire', 1, 2, 1, 1)",
        uuid(700),
        uuid(799)
    ));
        add_observation(&phone, &uuid(701), "fine");
        let mut pushes = Vec::new();
        let mut clock = t0;
        for _ in 0..12 {
            let report = phone.synced();
            pushes.push(report.pushed);
            clock += 60_000;
            phone.device.set_fixed_clock(Some(clock)).unwrap();
        }
        // Due at t0, +1 min, +2, +4, +8 (the fifth rejection sets it aside); synced once, the
        // good one never waited for it.
        assert_eq!(pushes, [2, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0]);
        assert_eq!(phone.value("SELECT attempts FROM _offgen_outbox"), json!(4));
        for _ in 0..10 {
            clock += 600_000;
            phone.device.set_fixed_clock(Some(clock)).unwrap();
            phone.synced();
        }
        let failed = phone.device.list_failed().unwrap();
        assert_eq!((failed.len(), failed[0].attempts), (1, 5));
        assert!(
            failed[0]
                .last_error
                .as_deref()
                .unwrap()
                .starts_with("invalid-data"),
            "{failed:?}"
        );
        assert_eq!(phone.status("observations", &uuid(701)), "synced");
    }
);

e2e!(
    sync_now_sends_changes_waiting_out_a_retry_delay,
    |env: Env| {
        let mut phone = Phone::new(&env, ANA_TOKEN);
        let t0 = 1_800_000_000_000i64;
        phone.device.set_fixed_clock(Some(t0)).unwrap();
        // Ana's route is missing on the server, so her observation on it is rejected...
        let route = uuid(798);
        phone.sql(&format!(
            "INSERT INTO observations (id, ranger, route, kind, latitude, longitude, recorded_at, modified_at)
             VALUES ('{}', '{ANA}', '{route}', 'fire', 1, 2, 1, 1)",
            uuid(702)
        ));
        assert_eq!(phone.synced().rejected, 1);
        assert_eq!(phone.synced().pushed, 0, "waiting out its delay");
        assert!(phone.device.stats().unwrap().next_attempt_at.unwrap() > t0);
        // ... until the route arrives (another phone of hers pushes it) and she taps "Sync now".
        let mut tablet = Phone::new(&env, ANA_TOKEN);
        add_route(&tablet, &route, "north ridge");
        tablet.synced();
        assert_eq!(phone.device.retry_waiting().unwrap(), 1);
        assert_eq!(
            phone.device.retry_waiting().unwrap(),
            0,
            "nothing left waiting"
        );
        let report = phone.synced();
        assert_eq!((report.pushed, report.accepted), (1, 1), "{report:?}");
        assert_eq!(phone.status("observations", &uuid(702)), "synced");
        assert_converged(&env, &phone, ANA_TOKEN);
    }
);

e2e!(one_sync_at_a_time_per_database, |env: Env| {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db");
    let mut first = Phone::with_device(&env, ANA_TOKEN, Device::open(&path, &schema()).unwrap());
    let mut second = Phone::with_device(&env, ANA_TOKEN, Device::open(&path, &schema()).unwrap());
    add_observation(&first, &uuid(800), "one");
    // The first sync dies holding the lease; a second process cannot sync over it.
    first.net.plan(&[Fault::Crash]);
    assert!(catch_unwind(AssertUnwindSafe(|| first.sync())).is_err());
    assert!(matches!(
        second.sync().unwrap_err().kind,
        SyncErrorKind::Busy
    ));
    assert_eq!(
        second.value("SELECT state FROM _offgen_outbox"),
        json!("inflight"),
        "untouched"
    );
});

e2e!(
    another_rangers_observations_stay_out_of_reach,
    |env: Env| {
        let mut ana = Phone::new(&env, ANA_TOKEN);
        let secret = uuid(900);
        add_observation(&ana, &secret, "den site: keep private");
        ana.synced();
        // Ben's device learned the id somehow and writes over it, as an insert and as an update.
        let mut ben = Phone::new(&env, BEN_TOKEN);
        ben.synced();
        assert_eq!(
            ben.value("SELECT count(*) FROM observations"),
            json!(0),
            "nothing of Ana's pulled"
        );
        ben.sql(&format!(
        "INSERT INTO observations (id, ranger, kind, latitude, longitude, notes, recorded_at, modified_at)
         VALUES ('{secret}', '{BEN}', 'other', 0, 0, 'mine now', 1, 1)"
    ));
        let report = ben.synced();
        assert_eq!((report.rejected, report.conflicts), (1, 0), "{report:?}");
        let error = ben.value(&format!(
            "SELECT sync_error FROM observations WHERE id = '{secret}'"
        ));
        assert_eq!(
            ben.status("observations", &secret),
            "pending",
            "retried later, like any rejection"
        );
        let row = ben.value(&format!(
            "SELECT notes FROM observations WHERE id = '{secret}'"
        ));
        assert_eq!(
            row,
            json!("mine now"),
            "Ana's record never reached Ben's device"
        );
        let last_error = ben.value("SELECT last_error FROM _offgen_outbox");
        assert!(
            last_error.as_str().unwrap().starts_with("not-found"),
            "{last_error} / {error}"
        );
        assert!(!last_error.as_str().unwrap().contains("den site"));
        // Ana's row is untouched, and her devices still see only what she wrote.
        let mut tablet = Phone::new(&env, ANA_TOKEN);
        tablet.synced();
        assert_eq!(
            tablet.value(&format!(
                "SELECT notes FROM observations WHERE id = '{secret}'"
            )),
            json!("den site: keep private")
        );
        assert_converged(&env, &tablet, ANA_TOKEN);
    }
);

e2e!(
    lww_gives_the_same_row_whatever_order_the_devices_sync_in,
    |env: Env| {
        let mut outcomes = Vec::new();
        for phone_first in [true, false] {
            let id = uuid(if phone_first { 950 } else { 951 });
            let mut phone = Phone::new(&env, ANA_TOKEN);
            let mut tablet = Phone::new(&env, ANA_TOKEN);
            let t0 = phone.device.now().unwrap();
            for device in [&phone, &tablet] {
                device.device.set_fixed_clock(Some(t0)).unwrap();
            }
            add_observation(&phone, &id, "first notes");
            phone.synced();
            tablet.synced();
            // Offline, neither touching modifiedAt: the phone edits notes and species, then the
            // tablet, ten seconds later, edits notes and count.
            phone.device.set_fixed_clock(Some(t0 + 10_000)).unwrap();
            phone.sql(&format!(
                "UPDATE observations SET notes = 'phone notes', species = 'lion' WHERE id = '{id}'"
            ));
            tablet.device.set_fixed_clock(Some(t0 + 20_000)).unwrap();
            tablet.sql(&format!(
                "UPDATE observations SET notes = 'tablet notes', count = 7 WHERE id = '{id}'"
            ));
            let (first, second) = if phone_first {
                (&mut phone, &mut tablet)
            } else {
                (&mut tablet, &mut phone)
            };
            first.synced();
            second.synced();
            first.synced();
            let row = |p: &Phone| {
                p.value(&format!(
                "SELECT json_array(notes, species, count, modified_at) FROM observations WHERE id = '{id}'"
            ))
            };
            assert_eq!(row(&phone), row(&tablet), "the devices agree");
            assert_converged(&env, &phone, ANA_TOKEN);
            assert_converged(&env, &tablet, ANA_TOKEN);
            // The phone's older notes lost, whenever it synced; its species survived.
            let notices = phone.device.list_notices().unwrap();
            if !phone_first {
                assert_eq!(notices.len(), 1, "the phone is told its notes lost");
                assert_eq!(notices[0].overridden, ["notes"]);
            }
            outcomes.push(row(&phone));
        }
        assert_eq!(
            outcomes[0],
            json!("[\"tablet notes\",\"lion\",7,1700000000000]")
        );
        assert_eq!(outcomes[0], outcomes[1], "the same row in either order");
    }
);

e2e!(
    a_device_clock_days_ahead_does_not_win_once_it_has_synced,
    |env: Env| {
        let mut fast = Phone::new(&env, ANA_TOKEN);
        let mut honest = Phone::new(&env, ANA_TOKEN);
        let now = honest.device.now().unwrap();
        // The fast device's clock is three days ahead; it learns the server's time at its sync.
        fast.device
            .set_fixed_clock(Some(now + 3 * 86_400_000))
            .unwrap();
        honest.device.set_fixed_clock(Some(now)).unwrap();
        let id = uuid(960);
        add_observation(&honest, &id, "start");
        honest.synced();
        fast.synced();
        // The fast device edits first, the honest one a minute later (on true time).
        fast.device
            .set_fixed_clock(Some(now + 3 * 86_400_000 + 1_000))
            .unwrap();
        fast.sql(&format!(
            "UPDATE observations SET notes = 'fast' WHERE id = '{id}'"
        ));
        honest.device.set_fixed_clock(Some(now + 60_000)).unwrap();
        honest.sql(&format!(
            "UPDATE observations SET notes = 'honest, later' WHERE id = '{id}'"
        ));
        fast.synced();
        honest.synced();
        fast.synced();
        for phone in [&fast, &honest] {
            assert_eq!(
                phone.value(&format!("SELECT notes FROM observations WHERE id = '{id}'")),
                json!("honest, later")
            );
        }
    }
);
