//! Schema evolution on devices: spec revisions under `fixtures/evolution/` are built one on top
//! of the other, exactly as `offgen build` does after each edit, and a device that holds rows
//! and unsynced writes is upgraded through every step.

mod support;

use std::collections::BTreeSet;

use offgen_codegen::backend::Previous;
use offgen_codegen::backend::snapshot::Snapshot;
use offgen_codegen::output::FileSet;
use serde_json::{Value, json};
use support::{Device, accepted, build_on, builds, drift, previous_of, revision};

fn wire_keys(files: &FileSet, table: &str) -> BTreeSet<String> {
    let snapshot: Snapshot =
        serde_json::from_str(files.get("client/schema.json").unwrap()).unwrap();
    let entity = snapshot
        .schema
        .entities
        .into_iter()
        .find(|e| e.table.snake == table)
        .unwrap();
    entity.fields.into_iter().map(|f| f.name.camel).collect()
}

#[test]
fn each_revision_adds_one_numbered_step_and_keeps_the_earlier_ones() {
    let builds = builds(&(1..=4).map(revision).collect::<Vec<_>>());
    let names: Vec<Vec<String>> = builds
        .iter()
        .map(|f| {
            f.iter()
                .map(|(p, _)| p.to_owned())
                .filter(|p| p.starts_with("client/migrations/"))
                .collect()
        })
        .collect();
    assert_eq!(names[0], ["client/migrations/0001_init.sql"]);
    for pair in names.windows(2) {
        assert_eq!(pair[1].len(), pair[0].len() + 1);
        assert_eq!(
            &pair[1][..pair[0].len()],
            &pair[0][..],
            "earlier steps never change"
        );
    }
    assert!(
        names[1][1].starts_with("client/migrations/0002_"),
        "{:?}",
        names[1]
    );
    for step in 1..4 {
        let path = &names[step][step];
        assert_eq!(
            builds[step].get(path),
            builds[3].get(path),
            "{path} is identical in later builds"
        );
    }
}

#[test]
fn a_device_with_a_week_of_unsynced_work_upgrades_through_every_revision() {
    let builds = builds(&(1..=4).map(revision).collect::<Vec<_>>());
    let mut device = Device::from_build(&builds[0]);

    // Revision 1, synced state: two rangers, a route, two observations.
    device.sql(
        "INSERT INTO rangers (id, name, badge_number) VALUES ('r1', 'Ana', 'B-1');
         INSERT INTO patrol_routes (id, name, sector) VALUES ('p1', 'Ridge', 'north');
         INSERT INTO observations (id, ranger, kind, latitude, longitude, notes, photo_url, count, recorded_at, modified_at)
           VALUES ('o1', 'r1', 'other', -1.5, 36.5, NULL, 'file:///a.jpg', 2, 1000, 1000),
                  ('o2', 'r1', 'tracks', -1.6, 36.6, 'fresh', NULL, 1, 2000, 2000);",
    );
    device.claim(100);
    let results: Vec<Value> = device.outbox().iter().map(|e| accepted(e, 1)).collect();
    device.push_results(json!(results));
    assert!(device.outbox().is_empty());

    // A week offline: an update in flight when the app died, queued writes, a write the server
    // rejected for good, and a conflict waiting for the user.
    device.sql("UPDATE observations SET notes = 'in flight' WHERE id = 'o2'");
    device.claim(1);
    device.sql("UPDATE observations SET photo_url = 'file:///a2.jpg' WHERE id = 'o1'");
    device.sql(
        "INSERT INTO observations (id, ranger, kind, latitude, longitude, photo_url, recorded_at, modified_at)
           VALUES ('o3', 'r1', 'other', -1.7, 36.7, 'file:///c.jpg', 3000, 3000)",
    );
    device.sql("UPDATE _offgen_meta SET value = '1' WHERE key = 'max_attempts'");
    device.sql("INSERT INTO rangers (id, name, badge_number) VALUES ('r2', 'Ben', '')");
    device.sql("UPDATE patrol_routes SET sector = 'south' WHERE id = 'p1'");
    let batch = device.claim(100);
    let results: Vec<Value> = batch
        .iter()
        .filter_map(|e| match e["row_id"].as_str().unwrap() {
            "r2" => Some(json!({"mutationId": e["mutation_id"], "status": "rejected", "error": {"code": "invalid-data", "message": "badgeNumber is empty"}})),
            "p1" => Some(json!({"mutationId": e["mutation_id"], "status": "conflict", "version": 2,
                "record": {"entity": "patrol_routes", "id": "p1", "version": 2, "deleted": false, "data": {"name": "Ridge trail", "sector": "north"}}})),
            _ => None,
        })
        .collect();
    device.push_results(json!(results));
    device.run("release_inflight", &[(":claim", &support::CLAIM)]);
    device.claim(1); // o2's update is in flight again when the upgrade happens
    let before = device.outbox();
    assert_eq!(before.len(), 5, "{before:#?}");
    assert_eq!(before.iter().filter(|e| e.state == "failed").count(), 2);

    // Revision 2: new columns, a new enum value, an index, a new entity.
    device.upgrade(&builds[1]);
    assert_eq!(
        device.outbox(),
        before,
        "adding columns leaves every queued write as it was"
    );
    assert_eq!(
        device.run("get_pull_cursor", &[])[0]["cursor"],
        json!(""),
        "pull again for the new columns"
    );
    device.sql("UPDATE observations SET accuracy_m = 4.5, altitude_m = 1800 WHERE id = 'o1'");
    device.sql("INSERT INTO stations (id, name) VALUES ('s1', 'Camp')");
    let entries = |device: &Device, row: &str| -> Vec<support::Entry> {
        device
            .outbox()
            .into_iter()
            .filter(|e| e.row_id == row)
            .collect()
    };
    let entry = |device: &Device, row: &str| entries(device, row).remove(0);
    // o1's update was sent before the upgrade (its answer never came): it is frozen, and the
    // new edit queues a second update that lists the fields it changed.
    let o1 = entries(&device, "o1");
    assert_eq!(o1[0].payload, Some(json!({"photoUrl": "file:///a2.jpg"})));
    assert_eq!(o1[1].changed.as_deref(), Some(",accuracyM,altitudeM,"));
    let in_flight = entry(&device, "o2");
    assert_eq!(in_flight.payload, Some(json!({"notes": "in flight"})));

    // Revision 3: a renamed column, a widened type, a field made required, a new enum field.
    device.upgrade(&builds[2]);
    assert_eq!(
        device.value("SELECT photo_path FROM observations WHERE id = 'o1'"),
        json!("file:///a2.jpg")
    );
    assert_eq!(
        device.value("SELECT typeof(count) || ':' || count FROM observations WHERE id = 'o1'"),
        json!("real:2.0")
    );
    assert_eq!(
        device.value("SELECT notes FROM observations WHERE id = 'o1'"),
        json!(""),
        "null notes took the default"
    );
    assert_eq!(
        device.value("SELECT status FROM observations WHERE id = 'o3'"),
        json!("draft")
    );
    assert_eq!(
        entry(&device, "o1").payload,
        Some(json!({"photoPath": "file:///a2.jpg"})),
        "a sent payload's key follows the column's new name"
    );

    // Revision 4: a dropped column, removed enum values, a renamed table, a unique index,
    // a new reference.
    device.upgrade(&builds[3]);
    assert_eq!(device.count("SELECT count(*) FROM rangers"), 2);
    assert_eq!(device.count("SELECT count(*) FROM routes"), 1);
    assert_eq!(device.count("SELECT count(*) FROM observations"), 3);
    assert_eq!(device.count("SELECT count(*) FROM stations"), 1);
    assert_eq!(
        device.value("SELECT group_concat(id || '=' || kind, ' ') FROM (SELECT * FROM observations ORDER BY id)"),
        json!("o1=wildlife o2=tracks o3=wildlife"),
        "the removed value `other` became the default"
    );
    let after = device.outbox();
    assert_eq!(
        after.len(),
        before.len() + 2,
        "every write survived, plus o1's new edit and the station"
    );
    for old in &before {
        let now = after.iter().find(|e| e.seq == old.seq).unwrap();
        assert_eq!(
            now.mutation_id, old.mutation_id,
            "a sent mutation keeps its id"
        );
    }
    assert_eq!(
        entries(&device, "o1")[1].changed.as_deref(),
        Some(",accuracyM,"),
        "the dropped field left the list"
    );
    assert_eq!(
        entry(&device, "o2").payload,
        in_flight.payload,
        "a sent payload never changes"
    );
    assert_eq!(
        entry(&device, "p1").entity,
        "routes",
        "queued writes follow the table's new name"
    );
    assert_eq!(
        device.run("list_conflicts", &[])[0]["entity"],
        json!("routes")
    );

    // Triggers know the new columns, and everything queued is still sendable.
    device.sql("UPDATE observations SET route = 'p1' WHERE id = 'o2'");
    let o2_entries: Vec<_> = device
        .outbox()
        .into_iter()
        .filter(|e| e.row_id == "o2")
        .collect();
    assert_eq!(
        o2_entries.last().unwrap().changed.as_deref(),
        Some(",route,")
    );
    device.run("recover_inflight", &[]);
    device.run(
        "resolve_conflict",
        &[
            (":entity", &"routes"),
            (":row_id", &"p1"),
            (":resolution", &"keep_local"),
        ],
    );
    let failed = device.run("list_failed", &[]);
    device.run(
        "retry_failed",
        &[(":seq", &failed[0]["seq"].as_i64().unwrap())],
    );
    let mut sent: Vec<Value> = Vec::new();
    loop {
        let batch = device.claim(100);
        if batch.is_empty() {
            break;
        }
        let results: Vec<Value> = batch
            .iter()
            .map(|e| json!({"mutationId": e["mutation_id"], "status": "accepted", "version": 9}))
            .collect();
        sent.extend(batch);
        device.push_results(json!(results));
    }
    assert!(device.outbox().is_empty(), "{:#?}", device.outbox());
    for old in &before {
        assert!(
            sent.iter().any(|e| e["seq"] == json!(old.seq)),
            "every write of the week was sent: {old:?}"
        );
    }
    for mutation in &sent {
        let entity = mutation["entity"].as_str().unwrap();
        let keys: BTreeSet<String> = mutation["payload"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        let allowed = wire_keys(&builds[3], entity);
        assert!(
            keys.is_subset(&allowed),
            "{entity} payload {keys:?} has keys outside {allowed:?}"
        );
    }
    let o3 = sent.iter().find(|e| e["row_id"] == "o3").unwrap();
    assert_eq!(
        (
            o3["payload"]["kind"].clone(),
            o3["payload"]["photoPath"].clone(),
            o3["payload"]["notes"].clone()
        ),
        (json!("wildlife"), json!("file:///c.jpg"), json!("")),
        "the insert sent before the upgrade carries the migrated values"
    );
    assert!(o3["payload"].get("photoUrl").is_none());
    let o1: Vec<&Value> = sent
        .iter()
        .filter(|e| e["row_id"] == "o1")
        .map(|e| &e["payload"])
        .collect();
    assert_eq!(
        o1,
        [
            &json!({"photoPath": "file:///a2.jpg"}),
            &json!({"accuracyM": 4.5})
        ]
    );

    // Drift sees exactly the schema it expects from revision 4's Dart.
    drift::check_database_matches_drift(&builds[3], &device);
    // ... the same one a device installed fresh on revision 4 gets.
    let fresh = Device::from_build(&builds[3]);
    let upgraded = drift::sqlite_master(&device);
    for (name, sql) in drift::sqlite_master(&fresh) {
        if sql.starts_with("CREATE TABLE") {
            assert_eq!(
                drift::table_parts(&upgraded[&name]),
                drift::table_parts(&sql),
                "{name}"
            );
        } else {
            assert_eq!(
                drift::normalize(&upgraded[&name]),
                drift::normalize(&sql),
                "{name}"
            );
        }
    }
}

/// A write sent before an app update, whose answer never came, is carried over as the write
/// it was: its own values converted as the step converts the rows' (not the row's values,
/// which may be newer, or gone). An insert whose row the app then deleted outright goes whole,
/// and the delete after it (the server may have applied the insert), so nothing waits behind
/// a write that can no longer be made.
#[test]
fn a_sent_write_keeps_its_own_values_through_a_step_that_converts_them_even_when_its_row_is_gone() {
    let builds = builds(&(1..=4).map(revision).collect::<Vec<_>>());
    let mut device = Device::from_build(&builds[2]);
    device.sql(
        "INSERT INTO rangers (id, name, badge_number) VALUES ('r1', 'Ana', 'B-1');
         INSERT INTO observations (id, ranger, kind, latitude, longitude, recorded_at, modified_at)
           VALUES ('o2', 'r1', 'tracks', -1.6, 36.6, 2000, 2000);",
    );
    let sent = device.claim(100);
    let results: Vec<Value> = sent
        .iter()
        .map(|e| json!({"mutationId": e["mutation_id"], "status": "accepted", "version": 1}))
        .collect();
    device.push_results(json!(results));
    assert!(device.outbox().is_empty());
    // In flight when the answer was lost: a new observation of a kind the next step removes,
    // and an edit of o2 to that kind.
    device.sql(
        "INSERT INTO observations (id, ranger, kind, latitude, longitude, notes, count, recorded_at, modified_at)
           VALUES ('o1', 'r1', 'other', -1.5, 36.5, 'seen', 2.5, 1000, 1000);
         UPDATE observations SET kind = 'other' WHERE id = 'o2';",
    );
    assert_eq!(device.claim(100).len(), 2);
    device.run("release_inflight", &[(":claim", &support::CLAIM)]);
    // Then the app deleted o1 outright, and edited o2 again.
    device.sql(
        "DELETE FROM observations WHERE id = 'o1';
         UPDATE observations SET kind = 'fire' WHERE id = 'o2';",
    );
    device.upgrade(&builds[3]);
    let outbox = device.outbox();
    let o1: Vec<_> = outbox.iter().filter(|e| e.row_id == "o1").collect();
    assert_eq!(
        o1.iter().map(|e| e.op.as_str()).collect::<Vec<_>>(),
        ["insert", "delete"]
    );
    assert_eq!(
        o1[0].payload,
        Some(json!({
            "ranger": "r1", "kind": "wildlife", "latitude": -1.5, "longitude": 36.5,
            "accuracyM": null, "notes": "seen", "photoPath": null, "count": 2.5,
            "status": "draft", "recordedAt": 1000, "modifiedAt": 1000
        })),
        "the insert goes whole, its removed kind converted, although its row is gone"
    );
    let o2: Vec<_> = outbox.iter().filter(|e| e.row_id == "o2").collect();
    assert_eq!(
        o2[0].payload,
        Some(json!({"kind": "wildlife"})),
        "the edit as it was sent, converted; not the row's later value"
    );
    assert_eq!(o2[1].changed.as_deref(), Some(",kind,"));
    // The server applied neither: the insert and then its delete reach it, and the queue empties.
    let mut pushed = Vec::new();
    loop {
        let batch = device.claim(100);
        if batch.is_empty() {
            break;
        }
        let results: Vec<Value> = batch
            .iter()
            .map(|e| json!({"mutationId": e["mutation_id"], "status": "accepted", "version": 2}))
            .collect();
        pushed.extend(batch.iter().map(|e| {
            format!(
                "{} {}",
                e["op"].as_str().unwrap(),
                e["row_id"].as_str().unwrap()
            )
        }));
        device.push_results(json!(results));
    }
    assert_eq!(
        pushed,
        ["insert o1", "update o2", "delete o1", "update o2"],
        "{:#?}",
        device.outbox()
    );
}

fn refused(old: &str, new: &str) -> String {
    let (files, _) = build_on(&Previous::default(), old).unwrap();
    build_on(&previous_of(&files), new).expect_err("the change must be refused")
}

fn accepted_with_warnings(old: &str, new: &str) -> String {
    let (files, _) = build_on(&Previous::default(), old).unwrap();
    build_on(&previous_of(&files), new)
        .map(|(_, warnings)| warnings)
        .unwrap_or_else(|e| panic!("{e}"))
}

const BASE: &str = "offgen: 1\napp: a\nentities:\n  Note:\n    fields:\n      title: text\n      stars: int?\n      mood: { type: enum, values: [calm, busy], default: calm }\n  Tag:\n    fields:\n      label: text\n";

/// `spec` with `migrate: { <key>: [<path>] }` added.
fn with_migrate(spec: &str, key: &str, path: &str) -> String {
    spec.replacen(
        "entities:",
        &format!("migrate:\n  {key}: [{path}]\nentities:"),
        1,
    )
}

#[test]
fn changes_that_lose_data_are_refused_unless_the_spec_names_them() {
    let cases = [
        (
            BASE.replace("      stars: int?\n", ""),
            "field `Note.stars` was removed, but rows hold its values",
            "drop",
            "Note.stars",
        ),
        (
            BASE.replace("  Tag:\n    fields:\n      label: text\n", ""),
            "entity `Tag` was removed",
            "drop",
            "Tag",
        ),
        (
            BASE.replace("stars: int?", "stars: bool?"),
            "`Note.stars` changes from int to bool, which can lose values",
            "retype",
            "Note.stars",
        ),
        (
            BASE.replace("values: [calm, busy]", "values: [calm]"),
            "`Note.mood` no longer lists `busy`",
            "retype",
            "Note.mood",
        ),
    ];
    for (spec, message, key, path) in cases {
        let problems = refused(BASE, &spec);
        assert!(problems.contains(message), "{problems}");
        let way_out = format!("migrate: {{ {key}: [{path}] }}");
        assert!(
            problems.contains(&way_out),
            "the help names the way out: {problems}"
        );
        accepted_with_warnings(BASE, &with_migrate(&spec, key, path));
    }
}

#[test]
fn changes_that_need_values_rows_do_not_have_are_refused_with_what_to_write() {
    let required = BASE.replace(
        "      stars: int?\n",
        "      stars: int?\n      color: text\n",
    );
    assert!(
        refused(BASE, &required).contains("new field `Note.color` is required but has no default")
    );
    let tightened = BASE.replace("stars: int?", "stars: int");
    assert!(
        refused(BASE, &tightened)
            .contains("`Note.stars` is no longer nullable, but rows may hold null")
    );
    accepted_with_warnings(
        BASE,
        &BASE.replace("stars: int?", "stars: { type: int, default: 0 }"),
    );
}

#[test]
fn a_renamed_field_keeps_its_data_and_a_removed_one_without_hint_is_not_taken_for_a_rename() {
    let renamed = BASE.replace(
        "      title: text\n",
        "      heading: { type: text, renamed_from: title }\n",
    );
    let (v1, _) = build_on(&Previous::default(), BASE).unwrap();
    let (v2, _) = build_on(&previous_of(&v1), &renamed).unwrap();
    let mut device = Device::from_build(&v1);
    device.sql("INSERT INTO notes (id, title) VALUES ('n', 'kept')");
    device.upgrade(&v2);
    assert_eq!(device.value("SELECT heading FROM notes"), json!("kept"));
    assert_eq!(device.sent()[0]["payload"]["heading"], json!("kept"));
    let unhinted = BASE.replace(
        "      title: text\n",
        "      heading: { type: text, default: x }\n",
    );
    assert!(refused(BASE, &unhinted).contains("field `Note.title` was removed"));
}

#[test]
fn a_change_no_database_sees_adds_no_step() {
    let (v1, _) = build_on(&Previous::default(), BASE).unwrap();
    let documented = BASE.replace(
        "      title: text\n",
        "      title: { type: text, doc: The note's title. }\n",
    );
    for spec in [BASE.to_owned(), documented] {
        let (next, _) = build_on(&previous_of(&v1), &spec).unwrap();
        assert_eq!(support::migrations(&next).len(), 1, "{spec}");
    }
}

#[test]
fn a_change_only_the_server_sees_adds_a_device_step_that_changes_nothing() {
    // Device and server steps share their numbers; the server checks enum values, the
    // device does not (as Drift does not).
    let (v1, _) = build_on(&Previous::default(), BASE).unwrap();
    let more_values = BASE.replace("values: [calm, busy]", "values: [calm, busy, tired]");
    let (v2, _) = build_on(&previous_of(&v1), &more_values).unwrap();
    let steps = support::migrations(&v2);
    assert_eq!(steps.len(), 2);
    assert_eq!(
        steps[1].statements,
        vec!["PRAGMA user_version = 2;".to_owned()]
    );
    let server = v2
        .get("server/migrations/postgres/0002_server_change_notes.sql")
        .unwrap_or_else(|| panic!("{:?}", v2.iter().map(|(p, _)| p).collect::<Vec<_>>()));
    assert!(server.contains("'tired'"), "{server}");
    let mut device = Device::from_build(&v1);
    device.sql("INSERT INTO notes (id, title) VALUES ('n', 'kept')");
    device.upgrade(&v2);
    assert_eq!(device.value("SELECT title FROM notes"), json!("kept"));
}

#[test]
fn stale_migration_hints_are_warnings_not_errors() {
    let hinted = with_migrate(BASE, "drop", "Gone.field");
    let warnings = accepted_with_warnings(BASE, &hinted);
    assert!(
        warnings.contains("`Gone.field` is not dropped by this build"),
        "{warnings}"
    );
    assert!(warnings.contains("warning"), "{warnings}");
}

#[test]
fn device_tables_hold_the_runtime_s_bookkeeping_columns_in_its_order() {
    // The bookkeeping is declared once (offgen_runtime::bookkeeping); the device tables are
    // built from that declaration: `id`, the declared fields, then the rest in its order.
    let files = support::build(&support::ranger_spec());
    let device = Device::from_build(&files);
    let names: Vec<String> = device
        .conn()
        .prepare("SELECT name FROM pragma_table_info('rangers')")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let columns = offgen_runtime::bookkeeping::COLUMNS.map(|c| c.sql);
    let mut expected = vec![columns[0].to_owned()];
    expected.extend(["name", "badge_number", "station", "active"].map(String::from));
    expected.extend(columns[1..].iter().map(|c| (*c).to_owned()));
    assert_eq!(names, expected);
}

#[test]
fn triggers_an_older_offgen_wrote_are_recreated_by_a_step_of_their_own() {
    // A shipped step never changes, so a fix to the triggers reaches devices that ran it only
    // through a new step. Here the shipped step 1 holds an older push_result trigger of notes.
    let (v1, _) = build_on(&Previous::default(), BASE).unwrap();
    let path = "client/migrations/0001_init.sql";
    let current = v1.get(path).unwrap().to_owned();
    let marker = "  -- Rejected: not applied, so the entry may change again";
    let trigger_start = current
        .find("CREATE TRIGGER \"_offgen_notes_push_result\"")
        .unwrap();
    let at = trigger_start + current[trigger_start..].find(marker).unwrap();
    let shipped_text = format!(
        "{}  -- as an older offgen wrote it\n{}",
        &current[..at],
        &current[at..]
    );
    let mut shipped = v1.clone();
    shipped.retain(|p| p != path);
    shipped.insert(path, shipped_text);

    let (v2, _) = build_on(&previous_of(&shipped), BASE).unwrap();
    let steps = support::migrations(&v2);
    assert_eq!(steps.len(), 2, "a step recreates the outdated triggers");
    assert_eq!(
        steps[1].summary,
        vec!["recreate the sync triggers of notes, as this offgen writes them".to_owned()]
    );
    let recreated = &steps[1].statements;
    assert!(
        recreated
            .iter()
            .any(|s| s.starts_with("CREATE TRIGGER \"_offgen_notes_push_result\""))
    );
    // Only the entity whose triggers are outdated.
    assert!(
        !recreated.iter().any(|s| s.contains("\"_offgen_tag_")),
        "{recreated:#?}"
    );

    // A device that ran the shipped step holds the current triggers after the new one: what
    // its Dart declares (the check Drift's validateDatabaseSchema() makes).
    let mut v2_shipped = v2.clone();
    v2_shipped.retain(|p| p != path);
    v2_shipped.insert(path, shipped.get(path).unwrap());
    let device = Device::from_build(&v2_shipped);
    drift::check_database_matches_drift(&v2_shipped, &device);

    // And the next build, with nothing outdated any more, adds nothing.
    let (v3, _) = build_on(&previous_of(&v2_shipped), BASE).unwrap();
    assert_eq!(support::migrations(&v3).len(), 2);
}
