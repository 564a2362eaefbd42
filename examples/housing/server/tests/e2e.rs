//! The housing officers' app end to end: officers' phones and laptops (device databases built
//! by the example's generated migrations, synced by the reference client over HTTP on
//! loopback) against the example server, on SQLite and on PostgreSQL.

use offgen_testkit::{Env, Example, Fault, Phone, assert_converged, insert, uuid};
use serde_json::{Value, json};

/// Officers' ids, which are also their user ids (applicants, inspections and occupancy
/// reports are owner-scoped by their officer).
const OLU: &str = "00000000-0000-4000-8000-0000000001a1";
const PRIYA: &str = "00000000-0000-4000-8000-0000000002b2";
const OLU_TOKEN: &str = "olu-token";
const PRIYA_TOKEN: &str = "priya-token";

/// Two regions, an officer in each, and a unit in each, as the office set them up.
const NORTH: u64 = 1;
const SOUTH: u64 = 2;
const NORTH_UNIT: u64 = 11;
const SOUTH_UNIT: u64 = 12;

static HOUSING: Example = Example {
    app: &housing_server::APP,
    openapi: housing_server::OPENAPI,
    client_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/../client"),
    users: &[(OLU, OLU_TOKEN), (PRIYA, PRIYA_TOKEN)],
    admins: &[],
    seed: the_office,
};

fn the_office() -> Vec<(&'static str, Value)> {
    let unit = |region: u64, address: &str| json!({"region": uuid(region), "address": address, "postcode": "N1 1AA", "bedrooms": 2});
    vec![(
        OLU_TOKEN,
        json!([
            insert("regions", &uuid(NORTH), json!({"name": "North"})),
            insert("regions", &uuid(SOUTH), json!({"name": "South"})),
            insert(
                "officers",
                OLU,
                json!({"name": "Olu", "region": uuid(NORTH)})
            ),
            insert(
                "officers",
                PRIYA,
                json!({"name": "Priya", "region": uuid(SOUTH)})
            ),
            insert("units", &uuid(NORTH_UNIT), unit(NORTH, "1 Hill Road")),
            insert("units", &uuid(SOUTH_UNIT), unit(SOUTH, "9 Shore Lane")),
        ]),
    )]
}

macro_rules! e2e {
    ($name:ident, $body:expr) => {
        offgen_testkit::e2e!(HOUSING, $name, $body);
    };
}

fn register(device: &Phone, id: &str, officer: &str, name: &str) {
    device.sql(&format!(
        "INSERT INTO applicants (id, officer, full_name, phone, registered_on)
         VALUES ('{id}', '{officer}', '{name}', '0700 000000', '2026-11-30')"
    ));
}

fn inspect(device: &Phone, id: &str, officer: &str, unit: u64) {
    device.sql(&format!(
        "INSERT INTO inspections (id, officer, unit, inspected_at, outcome, damp, repairs)
         VALUES ('{id}', '{officer}', '{}', 1764460800000, 'minor-repairs', 1,
                 '[{{\"room\":\"bathroom\",\"item\":\"extractor fan\",\"urgency\":\"high\"}}]')",
        uuid(unit)
    ));
}

fn count(device: &Phone, sql: &str) -> i64 {
    device.value(sql).as_i64().unwrap()
}

e2e!(an_officer_syncs_only_their_own_caseload, |env: Env| {
    let mut olu = Phone::new(&env, OLU_TOKEN);
    let mut priya = Phone::new(&env, PRIYA_TOKEN);
    // A day of visits each, without signal.
    for n in 0..3 {
        register(&olu, &uuid(100 + n), OLU, &format!("North household {n}"));
        register(
            &priya,
            &uuid(200 + n),
            PRIYA,
            &format!("South household {n}"),
        );
    }
    inspect(&olu, &uuid(110), OLU, NORTH_UNIT);
    inspect(&priya, &uuid(210), PRIYA, SOUTH_UNIT);
    assert_eq!(olu.synced().accepted, 4);
    assert_eq!(priya.synced().accepted, 4);
    olu.synced();
    // Each holds their own caseload and the authority's shared regions, officers and units.
    for (device, own) in [(&olu, OLU), (&priya, PRIYA)] {
        assert_eq!(count(device, "SELECT count(*) FROM applicants"), 3);
        assert_eq!(
            count(
                device,
                &format!("SELECT count(*) FROM applicants WHERE officer <> '{own}'")
            ),
            0,
            "no other officer's applicants"
        );
        assert_eq!(count(device, "SELECT count(*) FROM inspections"), 1);
        assert_eq!(count(device, "SELECT count(*) FROM units"), 2);
        assert_eq!(count(device, "SELECT count(*) FROM officers"), 2);
    }
    // Priya's device learns the id of one of Olu's applicants and writes to it: the server
    // answers as if no such applicant existed, and Olu's record is untouched.
    let olus = uuid(100);
    priya.sql(&format!(
        "INSERT INTO applicants (id, officer, full_name, registered_on)
         VALUES ('{olus}', '{PRIYA}', 'Taken over', '2026-12-01')"
    ));
    let report = priya.synced();
    assert_eq!((report.rejected, report.conflicts), (1, 0), "{report:?}");
    // Rejected as not found, to be retried later like any rejection; nothing of Olu's in it.
    assert_eq!(priya.status("applicants", &olus), "pending");
    let error = priya.value("SELECT last_error FROM _offgen_outbox");
    let error = error.as_str().unwrap();
    assert!(error.starts_with("not-found"), "{error}");
    assert!(!error.contains("North household"), "{error}");
    olu.synced();
    assert_eq!(
        olu.value(&format!(
            "SELECT full_name FROM applicants WHERE id = '{olus}'"
        )),
        json!("North household 0")
    );
    assert_converged(&env, &olu, OLU_TOKEN);
    // Apart from the rejected row, which her device keeps for her to see, Priya's device
    // equals what the server serves her.
    priya.sql(&format!("DELETE FROM applicants WHERE id = '{olus}'"));
    assert_converged(&env, &priya, PRIYA_TOKEN);
});

e2e!(an_officers_laptop_and_phone_keep_both_fixes, |env: Env| {
    let mut phone = Phone::new(&env, OLU_TOKEN);
    let mut laptop = Phone::new(&env, OLU_TOKEN);
    let t0 = phone.device.now().unwrap();
    for device in [&phone, &laptop] {
        device.device.set_fixed_clock(Some(t0)).unwrap();
    }
    let id = uuid(300);
    register(&phone, &id, OLU, "Ada Obi");
    phone.synced();
    laptop.synced();
    // Offline: on the laptop the phone number and the notes are corrected; ten seconds later,
    // on the phone, the household size and the notes.
    laptop.device.set_fixed_clock(Some(t0 + 10_000)).unwrap();
    laptop.sql(&format!(
        "UPDATE applicants SET phone = '0711 111111', notes = 'call after 5' WHERE id = '{id}'"
    ));
    phone.device.set_fixed_clock(Some(t0 + 20_000)).unwrap();
    phone.sql(&format!(
        "UPDATE applicants SET household_size = 4, notes = 'twins born in May' WHERE id = '{id}'"
    ));
    // The phone reaches signal first; the laptop, back at the office, last.
    phone.synced();
    let report = laptop.synced();
    assert_eq!(report.accepted, 1, "its phone number was taken: {report:?}");
    phone.synced();
    let row = |device: &Phone| {
        device.value(&format!(
            "SELECT json_array(phone, household_size, notes) FROM applicants WHERE id = '{id}'"
        ))
    };
    assert_eq!(
        row(&phone),
        json!("[\"0711 111111\",4,\"twins born in May\"]")
    );
    assert_eq!(row(&laptop), row(&phone));
    // The laptop's older notes lost, and the laptop says so.
    let notices = laptop.device.list_notices().unwrap();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0].overridden, ["notes"]);
    assert!(phone.device.list_notices().unwrap().is_empty());
    assert_converged(&env, &phone, OLU_TOKEN);
    assert_converged(&env, &laptop, OLU_TOKEN);
});

e2e!(
    two_officers_editing_a_shared_unit_keep_each_others_fields,
    |env: Env| {
        let mut olu = Phone::new(&env, OLU_TOKEN);
        let mut priya = Phone::new(&env, PRIYA_TOKEN);
        olu.synced();
        priya.synced();
        let unit = uuid(NORTH_UNIT);
        olu.sql(&format!(
            "UPDATE units SET status = 'under-repair' WHERE id = '{unit}'"
        ));
        priya.sql(&format!(
            "UPDATE units SET weekly_rent = 112.5, accessible = 1 WHERE id = '{unit}'"
        ));
        priya.synced();
        olu.synced();
        priya.synced();
        for device in [&olu, &priya] {
            assert_eq!(
            device.value(&format!(
                "SELECT json_array(status, weekly_rent, accessible) FROM units WHERE id = '{unit}'"
            )),
            json!("[\"under-repair\",112.5,1]")
        );
        }
        assert_converged(&env, &olu, OLU_TOKEN);
        assert_converged(&env, &priya, PRIYA_TOKEN);
    }
);

e2e!(
    last_synced_says_when_everything_last_went_through,
    |env: Env| {
        let mut phone = Phone::new(&env, OLU_TOKEN);
        assert_eq!(phone.device.stats().unwrap().last_synced_at, None);
        register(&phone, &uuid(400), OLU, "Bea Cole");
        // The push goes through and the answer to the pull is lost: the applicant is on the
        // server, but the sync did not reach the end, so the badge must not say "synced".
        phone.net.plan(&[Fault::Pass, Fault::LoseResponse]);
        assert!(phone.sync().is_err());
        assert_eq!(phone.status("applicants", &uuid(400)), "synced");
        assert_eq!(phone.device.stats().unwrap().last_synced_at, None);
        let before = phone.device.now().unwrap();
        phone.synced();
        let stats = phone.device.stats().unwrap();
        assert!(stats.last_synced_at.unwrap() >= before, "{stats:?}");
        assert_eq!(stats.queue_depth, 0);
        assert_converged(&env, &phone, OLU_TOKEN);
    }
);
