//! The community health visits app end to end: health workers' phones (device databases built
//! by the example's generated migrations, synced by the reference client over HTTP on
//! loopback) against the example server, on SQLite and on PostgreSQL.

use offgen_runtime::client::SyncOptions;
use offgen_testkit::{Env, Example, Phone, assert_converged, insert, uuid};
use serde_json::{Value, json};

/// Workers' user ids, which households and visits are owner-scoped by.
const AMINA: &str = "00000000-0000-4000-8000-00000000c1c1";
const JOSEPH: &str = "00000000-0000-4000-8000-00000000d2d2";
const AMINA_TOKEN: &str = "amina-token";
const JOSEPH_TOKEN: &str = "joseph-token";

const CLINIC: u64 = 1;
const HOSPITAL: u64 = 2;

static VISITS: Example = Example {
    app: &visits_server::APP,
    openapi: visits_server::OPENAPI,
    client_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/../client"),
    users: &[(AMINA, AMINA_TOKEN), (JOSEPH, JOSEPH_TOKEN)],
    admins: &[],
    seed: the_facilities,
};

/// The programme office's list of facilities.
fn the_facilities() -> Vec<(&'static str, Value)> {
    let facility =
        |name: &str, level: &str| json!({"name": name, "district": "Kilifi", "level": level});
    vec![(
        AMINA_TOKEN,
        json!([
            insert(
                "facilities",
                &uuid(CLINIC),
                facility("Mtwapa health centre", "health-centre")
            ),
            insert(
                "facilities",
                &uuid(HOSPITAL),
                facility("Kilifi county hospital", "hospital")
            ),
        ]),
    )]
}

macro_rules! e2e {
    ($name:ident, $body:expr) => {
        offgen_testkit::e2e!(VISITS, $name, $body);
    };
}

/// The app's sync settings: pushes of 100, pulls of 500.
fn the_apps_options() -> SyncOptions {
    SyncOptions {
        push_batch: 100,
        pull_page: 500,
        ..SyncOptions::default()
    }
}

fn worker_phone(env: &Env, token: &str) -> Phone {
    Phone::new(env, token).with_options(the_apps_options())
}

fn register(phone: &Phone, id: &str, worker: &str, head: &str) {
    phone.sql(&format!(
        "INSERT INTO households (id, worker, head_name, village, members, registered_on)
         VALUES ('{id}', '{worker}', '{head}', 'Majengo', 5, '2026-11-02')"
    ));
}

fn visit(phone: &Phone, id: &str, worker: &str, household: &str) {
    phone.sql(&format!(
        "INSERT INTO visits (id, worker, household, visited_at, purpose, muac_mm, referred_to)
         VALUES ('{id}', '{worker}', '{household}', 1764547200000, 'child-growth', 118, '{}')",
        uuid(CLINIC)
    ));
}

/// The device clock's now, as the app would set `deleted_at` with it.
fn soft_delete(phone: &Phone, table: &str, id: &str) {
    let now = phone.device.now().unwrap();
    phone.sql(&format!(
        "UPDATE {table} SET deleted_at = {now} WHERE id = '{id}'"
    ));
}

fn count(phone: &Phone, sql: &str) -> i64 {
    phone.value(sql).as_i64().unwrap()
}

e2e!(
    a_visit_recorded_for_a_household_removed_meanwhile_is_kept,
    |env: Env| {
        for removal_first in [true, false] {
            let household = uuid(if removal_first { 100 } else { 101 });
            let visit_id = uuid(if removal_first { 200 } else { 201 });
            let mut phone = worker_phone(&env, AMINA_TOKEN);
            let mut tablet = worker_phone(&env, AMINA_TOKEN);
            register(&phone, &household, AMINA, "Zawadi Mwangi");
            phone.synced();
            tablet.synced();
            // Offline, on the tablet the household is removed (it moved away), while on the
            // phone a visit to it is recorded, with a referral.
            soft_delete(&tablet, "households", &household);
            visit(&phone, &visit_id, AMINA, &household);
            let (first, second) = if removal_first {
                (&mut tablet, &mut phone)
            } else {
                (&mut phone, &mut tablet)
            };
            let a = first.synced();
            let b = second.synced();
            first.synced();
            assert_eq!(
                (a.rejected + b.rejected, a.conflicts + b.conflicts),
                (0, 0),
                "{a:?} {b:?}"
            );
            for device in [&phone, &tablet] {
                // The visit is there, with its referral, on both devices and the server; the
                // household is a tombstone that still holds what was known of it.
                assert_eq!(
                    device.value(&format!(
                        "SELECT json_array(household, muac_mm, referred_to, deleted_at IS NULL) FROM visits WHERE id = '{visit_id}'"
                    )),
                    json!(format!("[\"{household}\",118,\"{}\",1]", uuid(CLINIC)))
                );
                assert_eq!(
                    device.value(&format!(
                        "SELECT json_array(head_name, deleted_at IS NOT NULL) FROM households WHERE id = '{household}'"
                    )),
                    json!("[\"Zawadi Mwangi\",1]")
                );
                assert_converged(&env, device, AMINA_TOKEN);
            }
        }
    }
);

e2e!(
    a_visit_recorded_by_mistake_is_deleted_softly_everywhere,
    |env: Env| {
        let mut phone = worker_phone(&env, AMINA_TOKEN);
        let mut tablet = worker_phone(&env, AMINA_TOKEN);
        let household = uuid(110);
        register(&phone, &household, AMINA, "Baraka Otieno");
        visit(&phone, &uuid(210), AMINA, &household);
        visit(&phone, &uuid(211), AMINA, &household);
        phone.synced();
        tablet.synced();
        soft_delete(&phone, "visits", &uuid(211));
        assert_eq!(phone.queued(), 1, "the soft delete is a change to send");
        assert_eq!(phone.synced().accepted, 1);
        tablet.synced();
        // The tablet keeps the row, marked deleted: the app's lists leave it out, the history
        // has it.
        for device in [&phone, &tablet] {
            assert_eq!(count(device, "SELECT count(*) FROM visits"), 2);
            assert_eq!(
                count(
                    device,
                    "SELECT count(*) FROM visits WHERE deleted_at IS NULL"
                ),
                1
            );
            assert_converged(&env, device, AMINA_TOKEN);
        }
        // A tombstone is final: bringing the visit back on the tablet is refused on the device.
        let undo = tablet.device.connection().execute(
            &format!(
                "UPDATE visits SET deleted_at = NULL WHERE id = '{}'",
                uuid(211)
            ),
            [],
        );
        assert!(undo.is_err(), "{undo:?}");
    }
);

e2e!(
    a_catchment_moves_in_pushes_of_100_and_pages_of_500,
    |env: Env| {
        let mut phone = worker_phone(&env, AMINA_TOKEN);
        phone.synced();
        // A fortnight without signal: 150 households registered and 450 visits recorded.
        for h in 0..150 {
            let household = uuid(1_000 + h);
            register(&phone, &household, AMINA, &format!("Household {h}"));
            for v in 0..3 {
                visit(&phone, &uuid(10_000 + h * 3 + v), AMINA, &household);
            }
        }
        let pushes = |phone: &Phone| {
            phone
                .net
                .log()
                .iter()
                .filter(|(path, _, _)| path.starts_with("/sync/push"))
                .count()
        };
        let before = pushes(&phone);
        let report = phone.synced();
        assert_eq!((report.pushed, report.accepted), (600, 600), "{report:?}");
        assert_eq!(pushes(&phone) - before, 6, "six pushes of 100");
        // Her replacement phone brings the whole catchment down in pages of 500: 600 of hers
        // and the 2 facilities.
        let mut replacement = worker_phone(&env, AMINA_TOKEN);
        let report = replacement.synced();
        assert_eq!(report.pulled, 602, "{report:?}");
        let pulls: Vec<_> = replacement
            .net
            .log()
            .into_iter()
            .filter(|(path, _, _)| path.starts_with("/sync/pull"))
            .collect();
        assert_eq!(pulls.len(), 2, "{pulls:?}");
        assert_converged(&env, &replacement, AMINA_TOKEN);
        // Joseph's phone pulls the facilities and nothing of Amina's catchment.
        let mut joseph = worker_phone(&env, JOSEPH_TOKEN);
        assert_eq!(joseph.synced().pulled, 2);
        assert_eq!(count(&joseph, "SELECT count(*) FROM households"), 0);
        assert_converged(&env, &joseph, JOSEPH_TOKEN);
    }
);
