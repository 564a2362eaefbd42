//! The poultry farm's barn app end to end: staff phones (device databases built by the
//! example's generated migrations, synced by the reference client over HTTP on loopback, in
//! pushes of 50) and the office's REST calls against the example server, on SQLite and on
//! PostgreSQL.

use offgen_runtime::client::{Resolution, SyncOptions};
use offgen_testkit::{Env, Example, Fault, Phone, assert_converged, insert, uuid};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Staff user ids and their tokens. Nothing is owner-scoped: all staff see the whole farm.
const GRACE: &str = "00000000-0000-4000-8000-00000000f001";
const TOM: &str = "00000000-0000-4000-8000-00000000f002";
const NADIA: &str = "00000000-0000-4000-8000-00000000f003";
const GRACE_TOKEN: &str = "grace-token";
const TOM_TOKEN: &str = "tom-token";
const NADIA_TOKEN: &str = "nadia-token";

/// Three barns and a flock in each of the first two, as the office set them up.
const BARNS: [u64; 3] = [1, 2, 3];
const FLOCK_1: u64 = 11;
const FLOCK_2: u64 = 12;

/// The batch size the farm's phones push in: the yard's radio link drops long requests.
const PUSH_BATCH: usize = 50;

static FARM: Example = Example {
    app: &farm_server::APP,
    openapi: farm_server::OPENAPI,
    client_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/../client"),
    users: &[(GRACE, GRACE_TOKEN), (TOM, TOM_TOKEN), (NADIA, NADIA_TOKEN)],
    admins: &[],
    seed: the_office,
};

fn the_office() -> Vec<(&'static str, Value)> {
    let mut mutations: Vec<Value> = BARNS
        .iter()
        .map(|&n| {
            insert(
                "barns",
                &uuid(n),
                json!({"name": format!("House {n}"), "capacity": 22_000}),
            )
        })
        .collect();
    for (flock, barn) in [(FLOCK_1, 1), (FLOCK_2, 2)] {
        mutations.push(insert(
            "flocks",
            &uuid(flock),
            json!({"barn": uuid(barn), "breed": "Ross 308", "placedOn": "2026-11-20", "headcount": 20_000}),
        ));
    }
    vec![(GRACE_TOKEN, Value::Array(mutations))]
}

macro_rules! e2e {
    ($name:ident, $body:expr) => {
        offgen_testkit::e2e!(FARM, $name, $body);
    };
}

/// A phone of the farm, pushing in batches of 50.
fn phone(env: &Env, token: &str) -> Phone {
    Phone::new(env, token).with_options(SyncOptions {
        push_batch: PUSH_BATCH,
        ..SyncOptions::default()
    })
}

/// A reading taken in a barn, as the app records it.
fn record(phone: &Phone, id: &str, barn: u64, kind: &str, value: f64, by: &str) {
    phone.sql(&format!(
        "INSERT INTO barn_events (id, barn, flock, kind, value, recorded_at, recorded_by)
         VALUES ('{id}', '{}', NULL, '{kind}', {value}, 1764576000000, '{by}')",
        uuid(barn)
    ));
}

/// Syncs until a sync goes through to the end, as the app does when signal comes and goes.
fn sync_through(phone: &mut Phone) {
    for _ in 0..5 {
        if phone.sync().is_ok() {
            return;
        }
    }
    panic!("five syncs in a row failed");
}

fn count(phone: &Phone, sql: &str) -> i64 {
    phone.value(sql).as_i64().unwrap()
}

e2e!(
    readings_from_every_phone_arrive_once_in_pushes_of_50,
    |env: Env| {
        let mut grace = phone(&env, GRACE_TOKEN);
        let mut tom = phone(&env, TOM_TOKEN);
        let mut nadia = phone(&env, NADIA_TOKEN);
        // A shift of rounds without signal: 120, 75 and 30 readings.
        let kinds = ["feed", "water", "mortality", "temperature"];
        let mut n = 1000;
        for (device, by, readings) in [(&grace, GRACE, 120), (&tom, TOM, 75), (&nadia, NADIA, 30)] {
            for i in 0..readings {
                n += 1;
                record(
                    device,
                    &uuid(n),
                    BARNS[i % 3],
                    kinds[i % 4],
                    i as f64 / 4.0,
                    by,
                );
            }
        }
        let total = 225;
        // In the yard the link comes and goes. Grace's second push is applied and its answer
        // lost; Tom's first push never arrives, and the next is turned away; Nadia's push goes
        // through and the answer to her pull is lost.
        grace.net.plan(&[Fault::Pass, Fault::LoseResponse]);
        tom.net.plan(&[Fault::LoseRequest, Fault::Unavailable]);
        nadia.net.plan(&[Fault::Pass, Fault::LoseResponse]);
        for device in [&mut grace, &mut tom, &mut nadia] {
            assert!(device.sync().is_err(), "the planned fault ends the sync");
        }
        for device in [&mut grace, &mut tom, &mut nadia] {
            sync_through(device);
        }
        for device in [&mut grace, &mut tom, &mut nadia] {
            let report = device.synced();
            assert_eq!((report.pushed, report.conflicts), (0, 0), "{report:?}");
        }

        // Every reading is on the server once, as first written: none was applied twice or
        // turned into a conflict by its retry.
        assert_eq!(env.server_count("SELECT count(*) FROM barn_events"), total);
        assert_eq!(
            env.server_count("SELECT count(*) FROM barn_events WHERE version <> 1"),
            0
        );
        for device in [&grace, &tom, &nadia] {
            assert_eq!(count(device, "SELECT count(*) FROM barn_events"), total);
            assert_eq!(
                count(
                    device,
                    "SELECT count(*) FROM barn_events WHERE sync_status <> 'synced'"
                ),
                0
            );
            let stats = device.device.stats().unwrap();
            assert_eq!(
                (stats.queue_depth, stats.failed, stats.conflicts),
                (0, 0, 0)
            );
            // At most 50 mutations a push, and no mutation in two pushes except a retry of
            // the whole batch whose answer never came.
            let pushes = device.net.pushes();
            assert!(
                pushes
                    .iter()
                    .all(|p| !p.is_empty() && p.len() <= PUSH_BATCH),
                "{:?}",
                pushes.iter().map(Vec::len).collect::<Vec<_>>()
            );
        }
        let sizes = |device: &Phone| device.net.pushes().iter().map(Vec::len).collect::<Vec<_>>();
        // Grace: 50, 50 (answer lost), the same 50 again, 20.
        assert_eq!(sizes(&grace), [50, 50, 50, 20]);
        let pushes = grace.net.pushes();
        assert_eq!(pushes[2], pushes[1], "the retry is the same mutations");
        // Tom: lost, refused (503), then 50 and 25; every time the same first 50.
        assert_eq!(sizes(&tom), [50, 50, 50, 25]);
        let pushes = tom.net.pushes();
        assert!(pushes[1] == pushes[0] && pushes[2] == pushes[0]);
        // Nadia's push went through once; her second sync had nothing to push.
        assert_eq!(sizes(&nadia), [30]);
        for (device, token) in [
            (&grace, GRACE_TOKEN),
            (&tom, TOM_TOKEN),
            (&nadia, NADIA_TOKEN),
        ] {
            assert_converged(&env, device, token);
        }
    }
);

e2e!(
    an_edited_reading_is_refused_and_kept_as_recorded,
    |env: Env| {
        let mut tom = phone(&env, TOM_TOKEN);
        let mut grace = phone(&env, GRACE_TOKEN);
        let reading = uuid(2000);
        record(&tom, &reading, 1, "mortality", 12.0, TOM);
        // Corrected before it was ever sent: still the one reading, as corrected.
        tom.sql(&format!(
            "UPDATE barn_events SET value = 14 WHERE id = '{reading}'"
        ));
        assert_eq!(tom.synced().accepted, 1);
        // Once sent it is a fact: the phone refuses an edit or a delete of it at once, with
        // the reason, before anything is queued (the server would refuse it too, and the
        // phone would be left showing what no one else has).
        for write in [
            format!("UPDATE barn_events SET value = 4, note = 'miscounted' WHERE id = '{reading}'"),
            format!("UPDATE barn_events SET deleted_at = 1 WHERE id = '{reading}'"),
            format!("DELETE FROM barn_events WHERE id = '{reading}'"),
        ] {
            let error = tom
                .device
                .connection()
                .execute_batch(&write)
                .expect_err("an append-only reading the server has is never changed")
                .to_string();
            assert!(error.contains("append-only"), "{write}: {error}");
        }
        assert_eq!(tom.queued(), 0);
        assert_eq!(tom.status("barn_events", &reading), "synced");
        let report = tom.synced();
        assert_eq!((report.pushed, report.rejected), (0, 0), "{report:?}");
        // Sent with its answer lost, a reading may be on the server: the same holds, and the
        // next sync finds it applied once.
        let second = uuid(2001);
        record(&tom, &second, 1, "feed", 300.0, TOM);
        tom.net.plan(&[Fault::LoseResponse]);
        assert!(tom.sync().is_err());
        let delete = format!("DELETE FROM barn_events WHERE id = '{second}'");
        assert!(tom.device.connection().execute_batch(&delete).is_err());
        assert_eq!(tom.synced().accepted, 1);
        // The server, and everyone else, keep the reading as recorded, and so does Tom.
        grace.synced();
        let on = |device: &Phone| {
            device.value(&format!(
                "SELECT json_array(value, note, version) FROM barn_events WHERE id = '{reading}'"
            ))
        };
        assert_eq!(on(&grace), json!("[14.0,null,1]"));
        assert_eq!(on(&tom), json!("[14.0,null,1]"));
        assert_converged(&env, &grace, GRACE_TOKEN);
        assert_converged(&env, &tom, TOM_TOKEN);
        assert_eq!(
            env.server_count("SELECT count(*) FROM barn_events WHERE version <> 1"),
            0
        );
        // A REST client is refused the same way.
        let (status, body) = rest(
            &env,
            Method::PUT,
            &format!("/v1/barn_events/{reading}"),
            Some("\"1\""),
            Some(
                json!({"barn": uuid(1), "kind": "mortality", "value": 4, "recordedAt": 1764576000000i64, "recordedBy": TOM}),
            ),
        );
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(
            body["detail"].as_str().unwrap().contains("never changed"),
            "{body}"
        );
        grace.synced();
        assert_eq!(on(&grace), json!("[14.0,null,1]"));
    }
);

/// Master data of a flock as a phone holds it: headcount, status, notes and version.
fn flock(device: &Phone, id: &str) -> Value {
    device.value(&format!(
        "SELECT json_array(headcount, status, notes, version) FROM flocks WHERE id = '{id}'"
    ))
}

e2e!(
    two_staff_editing_one_flock_must_resolve_the_conflict,
    |env: Env| {
        let mut grace = phone(&env, GRACE_TOKEN);
        let mut tom = phone(&env, TOM_TOKEN);
        grace.synced();
        tom.synced();
        let id = uuid(FLOCK_1);
        // Apart, the manager records a cull and the stockman a count.
        grace.sql(&format!(
            "UPDATE flocks SET headcount = 19850, notes = 'culled 150' WHERE id = '{id}'"
        ));
        tom.sql(&format!(
            "UPDATE flocks SET headcount = 19920, status = 'growing' WHERE id = '{id}'"
        ));
        assert_eq!(grace.synced().accepted, 1);
        // Tom's edit was based on version 1: the server keeps Grace's and tells Tom's phone,
        // which keeps both sides for him and changes nothing of his.
        let report = tom.synced();
        assert_eq!((report.accepted, report.conflicts), (0, 1), "{report:?}");
        assert_eq!(tom.status("flocks", &id), "conflict");
        assert_eq!(flock(&tom, &id), json!("[19920,\"growing\",null,1]"));
        let conflicts = tom.device.list_conflicts().unwrap();
        assert_eq!(conflicts.len(), 1, "{conflicts:?}");
        assert_eq!(tom.device.stats().unwrap().conflicts, 1);
        let server: Value =
            serde_json::from_str(conflicts[0].server_record.as_ref().unwrap()).unwrap();
        assert_eq!(
            (
                server["data"]["headcount"].clone(),
                conflicts[0].server_version
            ),
            (json!(19850), Some(2))
        );
        let local: Value = serde_json::from_str(&conflicts[0].local_payload).unwrap();
        assert_eq!(local["headcount"], 19920);
        // A later sync does not settle it by itself.
        assert_eq!(tom.synced().pushed, 0);
        assert_eq!(tom.device.list_conflicts().unwrap().len(), 1);

        // Tom checked: his count is the right one. Keep it, on top of Grace's version.
        assert!(
            tom.device
                .resolve_conflict("flocks", &id, Resolution::KeepLocal)
                .unwrap()
        );
        let report = tom.synced();
        assert_eq!((report.accepted, report.conflicts), (1, 0), "{report:?}");
        grace.synced();
        // What Tom changed is his; Grace's note, which he did not touch, stays.
        assert_eq!(
            flock(&grace, &id),
            json!("[19920,\"growing\",\"culled 150\",3]")
        );
        assert_eq!(flock(&tom, &id), flock(&grace, &id));
        assert!(tom.device.list_conflicts().unwrap().is_empty());

        // Again, and this time Grace's newer edit is the one to keep.
        grace.sql(&format!(
            "UPDATE flocks SET status = 'thinning' WHERE id = '{id}'"
        ));
        tom.sql(&format!(
            "UPDATE flocks SET headcount = 19000 WHERE id = '{id}'"
        ));
        grace.synced();
        assert_eq!(tom.synced().conflicts, 1);
        assert!(
            tom.device
                .resolve_conflict("flocks", &id, Resolution::TakeServer)
                .unwrap()
        );
        assert_eq!(tom.synced().pushed, 0);
        assert_eq!(
            flock(&tom, &id),
            json!("[19920,\"thinning\",\"culled 150\",4]")
        );
        assert_eq!(tom.status("flocks", &id), "synced");
        grace.synced();
        assert_eq!(flock(&grace, &id), flock(&tom, &id));
        assert_eq!(tom.device.stats().unwrap().conflicts, 0);
        assert_converged(&env, &grace, GRACE_TOKEN);
        assert_converged(&env, &tom, TOM_TOKEN);
    }
);

/// A REST call of the office's system as Grace: (status, body as JSON, or null).
fn rest(
    env: &Env,
    method: Method,
    path: &str,
    if_match: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let (status, _, body) = rest_with_etag(env, method, path, if_match, body);
    (status, body)
}

/// [`rest`], with the answer's `ETag`.
fn rest_with_etag(
    env: &Env,
    method: Method,
    path: &str,
    if_match: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Option<String>, Value) {
    env.rt.block_on(async {
        let mut request = env.server.request(method, path, Some(GRACE_TOKEN));
        if let Some(tag) = if_match {
            request = request.header("If-Match", tag);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let etag = response
            .headers()
            .get("etag")
            .map(|v| v.to_str().unwrap().to_owned());
        let text = response.text().await.unwrap();
        (
            status,
            etag,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    })
}

e2e!(
    the_office_edits_a_flock_over_rest_only_on_the_version_it_read,
    |env: Env| {
        let mut tom = phone(&env, TOM_TOKEN);
        tom.synced();
        let path = format!("/v1/flocks/{}", uuid(FLOCK_2));
        let (status, etag, read) = rest_with_etag(&env, Method::GET, &path, None, None);
        assert_eq!((status, etag.as_deref()), (StatusCode::OK, Some("\"1\"")));
        // Meanwhile Tom, in the barn, moves the flock on.
        tom.sql(&format!(
            "UPDATE flocks SET status = 'growing', headcount = 19990 WHERE id = '{}'",
            uuid(FLOCK_2)
        ));
        tom.synced();
        let mut edit = read.clone();
        for key in ["id", "version", "updatedAt", "deletedAt"] {
            edit.as_object_mut().unwrap().remove(key);
        }
        edit["breed"] = json!("Ross 308 (mixed sex)");
        // The office's write based on what it read is refused, with the current record, and
        // changes nothing of Tom's.
        let (status, problem) = rest(&env, Method::PUT, &path, Some("\"1\""), Some(edit.clone()));
        assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{problem}");
        assert_eq!(problem["record"]["version"], 2, "{problem}");
        assert_eq!(problem["record"]["headcount"], 19990, "{problem}");
        // Without a version at all: refused too.
        let (status, _) = rest(&env, Method::PUT, &path, None, Some(edit.clone()));
        assert_eq!(status, StatusCode::PRECONDITION_REQUIRED);
        // On the version it now holds, the office's edit goes through, and Tom pulls it.
        let mut edit = problem["record"].clone();
        for key in ["id", "version", "updatedAt", "deletedAt"] {
            edit.as_object_mut().unwrap().remove(key);
        }
        edit["breed"] = json!("Ross 308 (mixed sex)");
        let (status, etag, written) =
            rest_with_etag(&env, Method::PUT, &path, Some("\"2\""), Some(edit));
        assert_eq!(
            (status, etag.as_deref()),
            (StatusCode::OK, Some("\"3\"")),
            "{written}"
        );
        assert_eq!(written["headcount"], 19990);
        tom.synced();
        assert_eq!(
            tom.value(&format!(
                "SELECT json_array(breed, headcount, version) FROM flocks WHERE id = '{}'",
                uuid(FLOCK_2)
            )),
            json!("[\"Ross 308 (mixed sex)\",19990,3]")
        );
        assert_converged(&env, &tom, TOM_TOKEN);
    }
);

e2e!(
    a_phones_oldest_unsent_reading_ages_until_it_is_through,
    |env: Env| {
        let mut nadia = phone(&env, NADIA_TOKEN);
        let t0 = nadia.device.now().unwrap();
        nadia.device.set_fixed_clock(Some(t0)).unwrap();
        assert_eq!(nadia.device.stats().unwrap().oldest_pending_age_ms, None);
        // The night round: a reading at the start, another two hours in.
        record(&nadia, &uuid(3000), 1, "temperature", 31.5, NADIA);
        nadia.device.set_fixed_clock(Some(t0 + 2 * HOUR)).unwrap();
        record(&nadia, &uuid(3001), 2, "temperature", 30.0, NADIA);
        nadia.device.set_fixed_clock(Some(t0 + 6 * HOUR)).unwrap();
        let stats = nadia.device.stats().unwrap();
        assert_eq!(
            (stats.queue_depth, stats.oldest_pending_age_ms),
            (2, Some(6 * HOUR))
        );
        // A sync in the barn finds no network: nothing changes, and the age goes on growing.
        nadia.net.plan(&[Fault::LoseRequest]);
        assert!(nadia.sync().is_err());
        nadia.device.set_fixed_clock(Some(t0 + 7 * HOUR)).unwrap();
        let stats = nadia.device.stats().unwrap();
        assert_eq!(
            (stats.queue_depth, stats.oldest_pending_age_ms),
            (2, Some(7 * HOUR))
        );
        // A push whose answer is lost leaves them queued too: the phone cannot know.
        nadia.net.plan(&[Fault::LoseResponse]);
        assert!(nadia.sync().is_err());
        assert_eq!(
            nadia.device.stats().unwrap().oldest_pending_age_ms,
            Some(7 * HOUR)
        );
        // In the office: through, and nothing is waiting.
        nadia.synced();
        let stats = nadia.device.stats().unwrap();
        assert_eq!((stats.queue_depth, stats.oldest_pending_age_ms), (0, None));
        assert_eq!(env.server_count("SELECT count(*) FROM barn_events"), 2);
        assert_converged(&env, &nadia, NADIA_TOKEN);
    }
);

const HOUR: i64 = 3_600_000;

/// The server's counters as the office's Prometheus scrapes them: each sample line's value.
fn scrape(env: &Env) -> std::collections::BTreeMap<String, f64> {
    let text = env.rt.block_on(async {
        let response = env
            .server
            .request(Method::GET, "/metrics", None)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.text().await.unwrap()
    });
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.rsplit_once(' '))
        .map(|(name, value)| (name.to_owned(), value.parse().unwrap()))
        .collect()
}

e2e!(
    the_conflict_ratio_shows_in_the_servers_metrics,
    |env: Env| {
        let before = scrape(&env);
        let mut grace = phone(&env, GRACE_TOKEN);
        let mut tom = phone(&env, TOM_TOKEN);
        grace.synced();
        tom.synced();
        // A day on the farm: 20 readings each, and both edit flock 2's headcount.
        for i in 0..20 {
            record(&grace, &uuid(4000 + i), 1, "feed", 410.0, GRACE);
            record(&tom, &uuid(4100 + i), 2, "water", 900.0, TOM);
        }
        for (device, headcount) in [(&grace, 19_800), (&tom, 19_810)] {
            device.sql(&format!(
                "UPDATE flocks SET headcount = {headcount} WHERE id = '{}'",
                uuid(FLOCK_2)
            ));
        }
        grace.synced();
        assert_eq!(tom.synced().conflicts, 1);
        let after = scrape(&env);
        let delta = |name: &str| after[name] - before.get(name).copied().unwrap_or(0.0);
        let accepted = delta("offgen_push_mutations_total{status=\"accepted\"}");
        let conflicts = delta("offgen_push_mutations_total{status=\"conflict\"}");
        assert_eq!((accepted, conflicts), (41.0, 1.0));
        // By entity: the flock is where staff's edits meet; readings never conflict.
        assert_eq!(delta("offgen_push_conflicts_total{entity=\"flocks\"}"), 1.0);
        assert_eq!(
            delta("offgen_push_conflicts_total{entity=\"barn_events\"}"),
            0.0
        );
        assert_eq!(delta("offgen_push_conflicts_total{entity=\"barns\"}"), 0.0);
        // The ratio the office alerts on: conflicts among the mutations that were decided.
        let ratio = conflicts / (accepted + conflicts);
        assert!((ratio - 1.0 / 42.0).abs() < 1e-12, "{ratio}");
        // Resolving it is one more accepted mutation, not another conflict.
        tom.device
            .resolve_conflict("flocks", &uuid(FLOCK_2), Resolution::KeepLocal)
            .unwrap();
        tom.synced();
        let last = scrape(&env);
        assert_eq!(
            last["offgen_push_mutations_total{status=\"accepted\"}"]
                - after["offgen_push_mutations_total{status=\"accepted\"}"],
            1.0
        );
        assert_eq!(
            last["offgen_push_conflicts_total{entity=\"flocks\"}"],
            after["offgen_push_conflicts_total{entity=\"flocks\"}"]
        );
        grace.synced();
        assert_converged(&env, &grace, GRACE_TOKEN);
        assert_converged(&env, &tom, TOM_TOKEN);
    }
);
