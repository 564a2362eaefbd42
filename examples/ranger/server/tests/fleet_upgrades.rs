//! A fleet that never upgrades in lockstep (issue 13): three versions of the example in one
//! fleet, against a server of the middle version that is upgraded mid-way, on SQLite and on
//! PostgreSQL. The versions are builds of the example's spec made here, each on the one
//! before, as a team would make them; the servers are the runtime serving those builds.
//!
//! - v1: the example as it is.
//! - v2: `notes` renamed to `remarks`; `weather` (nullable) and `verified` (default false)
//!   added; the enum value `snare` added; a new entity `Camera`.
//! - v3: `photoPath` dropped; `other` removed from `kind` (which gets a default); `battery`
//!   added to `Camera`.

mod support;

use std::path::Path;

use offgen_runtime::client::{Device, SyncErrorKind};
use offgen_testkit::builds::{Version, build_on};
use serde_json::{Value, json};
use support::fleet::{Env, Fault, Phone, assert_converged};
use support::{ANA, ANA_TOKEN, Backend, RANGER, uuid};

fn v1() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../offgen.yaml")).unwrap()
}

fn v2() -> String {
    let spec = v1()
        .replace(
            "      notes: text?\n",
            "      remarks: { type: text, nullable: true, renamed_from: notes }\n      weather: text?\n      verified: { type: bool, default: false }\n",
        )
        .replace(
            "values: [wildlife, tracks, poaching, fire, damage, other] }",
            "values: [wildlife, tracks, poaching, fire, damage, other, snare] }",
        );
    format!(
        "{spec}\n  Camera:\n    doc: A camera trap.\n    fields:\n      name: text\n      sector: text?\n"
    )
}

fn v3() -> String {
    v2().replace(
        "remarks: { type: text, nullable: true, renamed_from: notes }",
        "remarks: text?",
    )
    .replace(
        "      photoPath: { type: text, nullable: true, doc: Path of the photo on the device. }\n",
        "",
    )
    .replace(
        "values: [wildlife, tracks, poaching, fire, damage, other, snare] }",
        "values: [wildlife, tracks, poaching, fire, damage, snare], default: wildlife }",
    )
    .replace(
        "      sector: text?\n",
        "      sector: text?\n      battery: int?\n",
    )
    .replacen(
        "app: ranger\n",
        "app: ranger\nmigrate:\n  drop: [Observation.photoPath]\n  retype: [Observation.kind]\n",
        1,
    )
}

fn versions() -> [Version; 3] {
    let one = build_on(None, &v1());
    let two = build_on(Some(&one), &v2());
    let three = build_on(Some(&two), &v3());
    [Version::of(&one), Version::of(&two), Version::of(&three)]
}

fn phone(env: &Env, v: &Version) -> Phone {
    Phone::running(
        env,
        ANA_TOKEN,
        Device::open_in_memory(&v.client).unwrap(),
        v.app,
    )
}

fn field(phone: &Phone, column: &str, id: &str) -> Value {
    phone.value(&format!(
        "SELECT {column} FROM observations WHERE id = '{id}'"
    ))
}

fn server_field(env: &Env, column: &str, id: &str) -> Value {
    let id = id.to_owned();
    let column = column.to_owned();
    let db = env.server.db.clone();
    env.rt.block_on(async move {
        let sql = format!("SELECT CAST({column} AS TEXT) FROM observations WHERE id = '{id}'");
        let value: Option<String> = match &db {
            offgen_runtime::server::Database::Sqlite(pool) => {
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_one(pool)
                    .await
                    .unwrap()
            }
            offgen_runtime::server::Database::Postgres(pool) => {
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_one(pool)
                    .await
                    .unwrap()
            }
        };
        value.map_or(Value::Null, Value::String)
    })
}

fn add_observation(phone: &Phone, id: &str, kind: &str, notes_column: &str, notes: &str) {
    phone.sql(&format!(
        "INSERT INTO observations (id, ranger, kind, latitude, longitude, {notes_column}, recorded_at, modified_at)
         VALUES ('{id}', '{ANA}', '{kind}', -1.25, 36.75, '{notes}', 1700000000000, 1700000000000)"
    ));
}

fn mixed_fleet(backend: Backend) {
    let [one, two, three] = versions();
    let env = Env::start(backend, &RANGER.serving(two.app));
    let (mut old, mut current, mut ahead) =
        (phone(&env, &one), phone(&env, &two), phone(&env, &three));
    for p in [&mut old, &mut current, &mut ahead] {
        p.synced();
    }
    let (o1, o2, o3, o4) = (uuid(1001), uuid(1002), uuid(1003), uuid(1004));

    // The old app writes in its own shape; its first push's answer is lost.
    add_observation(&old, &o1, "tracks", "notes", "seen from the old app");
    old.sql(&format!(
        "UPDATE observations SET photo_path = 'p1.jpg' WHERE id = '{o1}'"
    ));
    old.net.plan(&[Fault::LoseResponse]);
    assert!(matches!(
        old.sync().unwrap_err().kind,
        SyncErrorKind::Transport(_)
    ));
    let retry = old.synced();
    assert_eq!(
        (retry.accepted, retry.rejected),
        (1, 0),
        "the retry gets its first result"
    );
    assert_eq!(
        server_field(&env, "remarks", &o1),
        json!("seen from the old app"),
        "notes is remarks now"
    );
    assert_eq!(
        server_field(&env, "verified", &o1)
            .as_str()
            .map(|v| v == "0" || v == "false"),
        Some(true)
    );

    // The current app edits that row, and writes what the old one cannot hold.
    current.synced();
    assert_eq!(
        field(&current, "remarks", &o1),
        json!("seen from the old app")
    );
    current.sql(&format!(
        "UPDATE observations SET remarks = 'edited on the new app', verified = 1, weather = 'rain' WHERE id = '{o1}'"
    ));
    add_observation(&current, &o2, "snare", "remarks", "a snare");
    current.sql(&format!(
        "INSERT INTO cameras (id, name, sector) VALUES ('{}', 'Trap 1', 'north')",
        uuid(1100)
    ));
    assert_eq!(current.synced().rejected, 0);

    // The old app gets the edit under its own name and keeps its other values; what it
    // cannot hold (a snare, a camera) is not sent to it.
    old.synced();
    assert_eq!(
        field(&old, "notes", &o1),
        json!("edited on the new app"),
        "renamed back, not blanked"
    );
    assert_eq!(field(&old, "photo_path", &o1), json!("p1.jpg"));
    assert_eq!(
        old.value(&format!(
            "SELECT count(*) FROM observations WHERE id = '{o2}'"
        )),
        json!(0)
    );
    assert_eq!(
        old.value("SELECT count(*) FROM sqlite_master WHERE name = 'cameras'"),
        json!(0)
    );
    // Its next push is applied, and the answer lost.
    add_observation(&old, &o4, "other", "notes", "an old kind of thing");
    old.net.plan(&[Fault::LoseResponse]);
    assert!(matches!(
        old.sync().unwrap_err().kind,
        SyncErrorKind::Transport(_)
    ));

    // The app ahead of the server keeps its changes waiting, uncounted, and pulls on.
    add_observation(&ahead, &o3, "wildlife", "remarks", "from the newest app");
    ahead.sql(&format!(
        "INSERT INTO cameras (id, name, battery) VALUES ('{}', 'Trap 2', 80)",
        uuid(1101)
    ));
    let report = ahead.synced();
    assert!(report.server_behind, "{report:?}");
    assert_eq!(report.server_step, Some(2));
    assert_eq!(
        ahead.value("SELECT max(attempts) FROM _offgen_outbox"),
        json!(0)
    );
    assert_eq!(ahead.queued(), 2);
    assert_eq!(
        field(&ahead, "remarks", &o1),
        json!("edited on the new app")
    );
    assert_eq!(
        ahead.value(&format!(
            "SELECT battery FROM cameras WHERE id = '{}'",
            uuid(1101)
        )),
        json!(80),
        "a column the server does not send keeps its value"
    );

    // The server is upgraded to v3 under the fleet.
    let env = env.upgrade(three.app);
    // The old app's retried push (its answer was lost before the upgrade) gets its first
    // result, although `other` is no longer a kind: a stored result comes before any check.
    let retry = old.synced();
    assert_eq!((retry.accepted, retry.rejected), (1, 0), "{retry:?}");
    // What the old app writes to a field dropped since is accepted and kept in the audit.
    old.sql(&format!(
        "UPDATE observations SET photo_path = 'p2.jpg', notes = 'late note' WHERE id = '{o1}'"
    ));
    assert_eq!(old.synced().accepted, 1);
    assert_eq!(server_field(&env, "remarks", &o1), json!("late note"));
    let audited = env.server_count(
        "SELECT count(*) FROM _offgen_audit WHERE reason LIKE 'schema:%' AND CAST(losing_data AS TEXT) LIKE '%p2.jpg%'",
    );
    assert_eq!(audited, 1);
    // The newest app's changes go through by themselves.
    let report = ahead.synced();
    assert!(!report.server_behind);
    assert_eq!((report.accepted, report.rejected), (2, 0), "{report:?}");
    assert_eq!(
        server_field(&env, "remarks", &o3),
        json!("from the newest app")
    );

    // Every device converges on its own shape.
    for _ in 0..2 {
        for p in [&mut old, &mut current, &mut ahead] {
            p.synced();
        }
    }
    for p in [&old, &current, &ahead] {
        assert_eq!(p.queued(), 0);
        assert_converged(&env, p, ANA_TOKEN);
    }
    assert_eq!(
        current.value(&format!(
            "SELECT name FROM cameras WHERE id = '{}'",
            uuid(1101)
        )),
        json!("Trap 2"),
        "the newest app's camera reached the middle one, without the battery it cannot hold"
    );
    assert_eq!(
        old.value(&format!("SELECT kind FROM observations WHERE id = '{o4}'")),
        json!("wildlife"),
        "the value the upgrade converted reached the old app too"
    );
}

#[test]
fn a_mixed_fleet_syncs_through_a_server_upgrade_on_sqlite() {
    mixed_fleet(Backend::Sqlite);
}

#[test]
fn a_mixed_fleet_syncs_through_a_server_upgrade_on_postgres() {
    mixed_fleet(Backend::Postgres);
}

/// An app two steps behind the server writes what its own schema allows and the server's no
/// longer holds as sent: a kind the server removed, and a field it dropped. Each write is
/// accepted (never set aside on the phone), answered alike when it comes again after a lost
/// answer, and what was not applied as sent is in the audit once, as the write it was.
fn an_old_app_s_writes_the_schema_no_longer_holds_are_accepted_and_audited_once(backend: Backend) {
    let [one, _, three] = versions();
    let env = Env::start(backend, &RANGER.serving(three.app));
    let mut old = phone(&env, &one);
    let mut current = phone(&env, &three);
    old.synced();
    let o1 = uuid(1401);
    add_observation(&old, &o1, "other", "notes", "an old kind of thing");
    old.sql(&format!(
        "UPDATE observations SET photo_path = 'p1.jpg' WHERE id = '{o1}'"
    ));
    old.net.plan(&[Fault::LoseResponse]);
    assert!(old.sync().is_err());
    let retry = old.synced();
    assert_eq!((retry.accepted, retry.rejected), (1, 0), "{retry:?}");
    assert_eq!(server_field(&env, "kind", &o1), json!("wildlife"));
    assert_eq!(
        field(&old, "kind", &o1),
        json!("wildlife"),
        "the app holds what the server made of its value"
    );
    let audit = |env: &Env| -> Vec<Value> {
        let db = env.server.db.clone();
        env.rt.block_on(async move {
            let sql = "SELECT CAST(losing_data AS TEXT) FROM _offgen_audit WHERE reason LIKE 'schema:%' ORDER BY id";
            let rows: Vec<String> = match &db {
                offgen_runtime::server::Database::Sqlite(pool) => {
                    sqlx::query_scalar(sql).fetch_all(pool).await.unwrap()
                }
                offgen_runtime::server::Database::Postgres(pool) => {
                    sqlx::query_scalar(sql).fetch_all(pool).await.unwrap()
                }
            };
            rows.iter().map(|r| serde_json::from_str(r).unwrap()).collect()
        })
    };
    let mut entries = audit(&env);
    entries.sort_by_key(Value::to_string);
    assert_eq!(
        entries,
        [
            json!({"op": "insert", "baseVersion": null, "data": {"kind": "other"}}),
            json!({"op": "insert", "baseVersion": null, "data": {"photoPath": "p1.jpg"}}),
        ],
        "each once, as the write it was"
    );

    // An edit of the dropped field alone: nothing to apply, accepted at the version it was
    // based on, with the row as the server has it (a newer app changed it meanwhile).
    current.synced();
    current.sql(&format!(
        "UPDATE observations SET remarks = 'edited on the newest app' WHERE id = '{o1}'"
    ));
    current.synced();
    old.sql(&format!(
        "UPDATE observations SET photo_path = 'p2.jpg' WHERE id = '{o1}'"
    ));
    old.net.plan(&[Fault::LoseResponse]);
    assert!(old.sync().is_err());
    let retry = old.synced();
    assert_eq!((retry.accepted, retry.rejected), (1, 0), "{retry:?}");
    assert_eq!(old.queued(), 0);
    assert_eq!(old.status("observations", &o1), "synced");
    assert_eq!(field(&old, "notes", &o1), json!("edited on the newest app"));
    assert_eq!(field(&old, "photo_path", &o1), json!("p2.jpg"));
    let entries = audit(&env);
    assert_eq!(entries.len(), 3, "{entries:?}");
    assert_eq!(
        entries[2],
        json!({"op": "update", "baseVersion": 1, "data": {"photoPath": "p2.jpg"}})
    );
    for p in [&old, &current] {
        assert_converged(&env, p, ANA_TOKEN);
    }
}

#[test]
fn an_old_app_s_writes_the_schema_no_longer_holds_are_accepted_and_audited_once_on_sqlite() {
    an_old_app_s_writes_the_schema_no_longer_holds_are_accepted_and_audited_once(Backend::Sqlite);
}

#[test]
fn an_old_app_s_writes_the_schema_no_longer_holds_are_accepted_and_audited_once_on_postgres() {
    an_old_app_s_writes_the_schema_no_longer_holds_are_accepted_and_audited_once(Backend::Postgres);
}

#[test]
fn an_app_older_than_the_window_is_told_to_upgrade_and_keeps_its_changes() {
    let [one, two, _] = versions();
    // A build of v2 serving only step 2 on.
    let one_files = build_on(None, &v1());
    let windowed = v2().replacen(
        "app: ranger\n",
        "app: ranger\nclients:\n  oldest_step: 2\n",
        1,
    );
    let app = Version::of(&build_on(Some(&one_files), &windowed)).app;
    assert_eq!(app.oldest_step(), 2);
    let env = Env::start(Backend::Sqlite, &RANGER.serving(app));
    let mut old = phone(&env, &one);
    add_observation(&old, &uuid(1201), "tracks", "notes", "kept on the device");
    let error = old.sync().unwrap_err();
    assert!(error.is_upgrade_required(), "{error}");
    assert_eq!(old.queued(), 1, "nothing set aside");
    assert_eq!(old.value("SELECT attempts FROM _offgen_outbox"), json!(0));
    let mut current = phone(&env, &two);
    current.synced();
}

/// A device with a week of queued work (one batch applied with its answer lost, others never
/// sent) is updated to the next app version offline, then syncs: every change arrives once,
/// under the new names.
fn an_app_update_carries_the_queue(backend: Backend) {
    let [one, two, _] = versions();
    let env = Env::start(backend, &RANGER.serving(two.app));
    let mut phone = phone(&env, &one);
    phone.synced();
    let (a, b) = (uuid(1301), uuid(1302));
    add_observation(&phone, &a, "tracks", "notes", "sent, answer lost");
    phone.net.plan(&[Fault::LoseResponse]);
    assert!(phone.sync().is_err());
    phone.sql(&format!(
        "UPDATE observations SET notes = 'edited after the lost answer' WHERE id = '{a}'"
    ));
    add_observation(&phone, &b, "fire", "notes", "never sent");
    let queued = phone.queued();
    // The app update: the same database opened with the new version's schema.
    let Phone { device, .. } = phone;
    let device = Device::with_connection(device.into_connection(), &two.client).unwrap();
    let mut phone = Phone::running(&env, ANA_TOKEN, device, two.app);
    assert_eq!(
        phone.queued(),
        queued,
        "the migration kept every queued change"
    );
    assert_eq!(
        field(&phone, "remarks", &a),
        json!("edited after the lost answer")
    );
    let report = phone.synced();
    assert_eq!(
        report.rejected + report.conflicts,
        0,
        "{report:?} {}",
        phone.value("SELECT group_concat(op || ': ' || last_error) FROM _offgen_outbox")
    );
    assert_eq!(phone.queued(), 0);
    assert_eq!(
        server_field(&env, "remarks", &a),
        json!("edited after the lost answer")
    );
    assert_eq!(server_field(&env, "remarks", &b), json!("never sent"));
    assert_eq!(
        env.server_count("SELECT count(*) FROM observations"),
        2,
        "the batch whose answer was lost applied once"
    );
    assert_converged(&env, &phone, ANA_TOKEN);
}

#[test]
fn an_app_update_carries_the_queue_on_sqlite() {
    an_app_update_carries_the_queue(Backend::Sqlite);
}

#[test]
fn an_app_update_carries_the_queue_on_postgres() {
    an_app_update_carries_the_queue(Backend::Postgres);
}
