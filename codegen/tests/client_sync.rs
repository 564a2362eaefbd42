//! The named statements of `client/sync.sql`, run verbatim against a device database: the
//! whole client algorithm except the HTTP calls.

mod support;

use serde_json::{Value, json};
use support::{Device, accepted};

/// A `version` entity, an `lww` entity and a `server_wins` entity.
const SPEC: &str = r#"
offgen: 1
app: field
entities:
  Note:
    fields:
      text_body: text
      stars: int?
  Reading:
    conflict: lww
    fields:
      value: real
      modifiedAt: datetime
  Plan:
    conflict: server_wins
    fields:
      title: text
"#;

fn note(device: &Device, id: &str, body: &str) {
    device.sql(&format!(
        "INSERT INTO notes (id, text_body) VALUES ('{id}', '{body}')"
    ));
}

fn record(entity: &str, id: &str, version: i64, data: Value) -> Value {
    json!({"entity": entity, "id": id, "version": version, "deleted": false, "data": data})
}

fn sync_all(device: &Device) {
    device.claim(1000);
    let results: Vec<_> = device.outbox().iter().map(|e| accepted(e, 1)).collect();
    device.push_results(json!(results));
}

#[test]
fn claim_takes_the_oldest_entries_and_only_one_per_row() {
    let device = Device::new(SPEC);
    note(&device, "a", "1");
    note(&device, "b", "2");
    device.sql("UPDATE notes SET stars = 1 WHERE id = 'a'");
    note(&device, "c", "3");
    let claimed = device.claim(2);
    let rows: Vec<_> = claimed
        .iter()
        .map(|c| c["row_id"].as_str().unwrap())
        .collect();
    assert_eq!(rows, ["a", "b"]);
    let in_flight: Vec<_> = device
        .claim(10)
        .iter()
        .map(|c| c["row_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        in_flight,
        ["a", "b", "c"],
        "c joins; a's update waits behind a's insert, which is in flight"
    );
    let claimed_cols = claimed[0].as_object().unwrap();
    for col in [
        "seq",
        "mutation_id",
        "entity",
        "row_id",
        "op",
        "payload",
        "base_version",
        "attempts",
    ] {
        assert!(claimed_cols.contains_key(col), "claim_batch returns {col}");
    }
}

#[test]
fn an_accepted_result_retires_the_entry_and_rebases_later_writes() {
    let device = Device::new(SPEC);
    note(&device, "a", "1");
    device.claim(10);
    device.sql("UPDATE notes SET stars = 5 WHERE id = 'a'");
    let insert = device.outbox()[0].clone();
    device.push_results(json!([accepted(&insert, 1)]));
    let rest = device.outbox();
    assert_eq!(rest.len(), 1);
    assert_eq!(
        (rest[0].op.as_str(), rest[0].base_version),
        ("update", Some(1)),
        "the update now builds on version 1"
    );
    assert_eq!(
        device.value("SELECT version FROM notes WHERE id = 'a'"),
        json!(1)
    );
    assert_eq!(device.status("notes", "a"), "pending");
}

#[test]
fn a_lost_response_is_harmless_the_retry_sends_the_same_mutation() {
    let device = Device::new(SPEC);
    note(&device, "a", "1");
    let first = device.claim(10);
    // No response: the client releases the batch (or the app dies and recovers on start).
    device.run("release_inflight", &[(":claim", &support::CLAIM)]);
    let second = device.claim(10);
    assert_eq!(first[0]["mutation_id"], second[0]["mutation_id"]);
    assert_eq!(
        second[0]["attempts"],
        json!(0),
        "transport failures never count as attempts"
    );
}

#[test]
fn entries_a_killed_sync_left_in_flight_return_to_the_queue_unchanged() {
    let device = Device::new(SPEC);
    note(&device, "a", "1");
    let sent = device.claim(10);
    assert_eq!(device.status("notes", "a"), "syncing");
    // The app dies here; the next sync takes the lease and recovers first.
    device.run("recover_inflight", &[]);
    let entry = &device.outbox()[0];
    assert_eq!(entry.state, "pending");
    assert_eq!(
        entry.mutation_id.as_deref(),
        sent[0]["mutation_id"].as_str(),
        "the same mutation: the server may have applied it"
    );
    assert_eq!(device.status("notes", "a"), "pending");
}

#[test]
fn rejected_entries_retry_then_are_set_aside_without_blocking_other_rows() {
    let device = Device::new(SPEC);
    device.sql("UPDATE _offgen_meta SET value = '2' WHERE key = 'max_attempts'");
    note(&device, "bad", "1");
    note(&device, "good", "2");
    let reject = |device: &Device| {
        let entry = device
            .outbox()
            .into_iter()
            .find(|e| e.row_id == "bad")
            .unwrap();
        device.push_results(json!([{
            "mutationId": entry.mutation_id, "id": "bad", "status": "rejected",
            "error": {"code": "invalid-data", "message": "textBody is too long"}
        }]));
    };
    device.claim(1);
    reject(&device);
    assert_eq!(
        device.outbox()[0].state,
        "pending",
        "one rejection is retried"
    );
    device.claim(1);
    reject(&device);
    let bad = device
        .outbox()
        .into_iter()
        .find(|e| e.row_id == "bad")
        .unwrap();
    assert_eq!((bad.state.as_str(), bad.attempts), ("failed", 2));
    assert_eq!(
        bad.last_error.as_deref(),
        Some("invalid-data: textBody is too long")
    );
    assert_eq!(device.status("notes", "bad"), "failed");
    assert_eq!(
        device.value("SELECT sync_error FROM notes WHERE id = 'bad'"),
        json!("invalid-data: textBody is too long")
    );

    device.sql("UPDATE notes SET stars = 1 WHERE id = 'bad'");
    let claimed = device.claim(10);
    let rows: Vec<_> = claimed
        .iter()
        .map(|c| c["row_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        rows,
        ["good"],
        "the failed entry holds back only its own row"
    );

    let failed = device.run("list_failed", &[]);
    assert_eq!(failed.len(), 1);
    device.run("retry_failed", &[(":seq", &bad.seq)]);
    assert_eq!(
        device
            .outbox()
            .into_iter()
            .find(|e| e.seq == bad.seq)
            .unwrap()
            .state,
        "pending"
    );
}

#[test]
fn discarding_a_failed_entry_unblocks_its_row() {
    let device = Device::new(SPEC);
    device.sql("UPDATE _offgen_meta SET value = '1' WHERE key = 'max_attempts'");
    note(&device, "a", "1");
    device.claim(1);
    let entry = device.outbox()[0].clone();
    device.push_results(json!([{"mutationId": entry.mutation_id, "id": "a", "status": "rejected", "error": {"code": "x", "message": "y"}}]));
    device.run("discard_failed", &[(":seq", &entry.seq)]);
    assert!(device.outbox().is_empty());
    assert_eq!(device.status("notes", "a"), "synced");
}

#[test]
fn a_version_conflict_keeps_both_sides_and_blocks_the_row_until_resolved() {
    let device = Device::new(SPEC);
    note(&device, "a", "mine");
    sync_all(&device);
    device.sql("UPDATE notes SET text_body = 'my edit' WHERE id = 'a'");
    device.sql("UPDATE notes SET stars = 3 WHERE id = 'a'");
    device.claim(10);
    let entry = device.outbox()[0].clone();
    let server = record(
        "notes",
        "a",
        4,
        json!({"textBody": "their edit", "stars": null}),
    );
    device.push_results(json!([{"mutationId": entry.mutation_id, "id": "a", "status": "conflict", "version": 4, "record": server}]));

    assert_eq!(device.status("notes", "a"), "conflict");
    assert_eq!(
        device.value("SELECT text_body FROM notes WHERE id = 'a'"),
        json!("my edit"),
        "local data kept"
    );
    let conflicts = device.run("list_conflicts", &[]);
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0]["server_version"], json!(4));
    let stats = &device.run("sync_stats", &[(":now", &0i64)])[0];
    assert_eq!(
        (stats["conflicts"].clone(), stats["failed"].clone()),
        (json!(1), json!(0))
    );

    device.sql("UPDATE notes SET stars = 4 WHERE id = 'a'");
    assert!(
        device.claim(10).is_empty(),
        "later writes to the row wait for the resolution"
    );

    device.run(
        "resolve_conflict",
        &[
            (":entity", &"notes"),
            (":row_id", &"a"),
            (":resolution", &"keep_local"),
        ],
    );
    let entries = device.outbox();
    assert!(
        entries.iter().all(|e| e.base_version == Some(4)),
        "{entries:?}"
    );
    assert_eq!(device.status("notes", "a"), "pending");
    assert!(device.run("list_conflicts", &[]).is_empty());
    let claimed = device.claim(10);
    assert_eq!(
        claimed[0]["payload"],
        json!({"textBody": "my edit", "stars": 3})
    );
    assert_eq!(claimed[0]["base_version"], json!(4));
}

#[test]
fn taking_the_server_side_of_a_conflict_drops_the_local_writes() {
    let device = Device::new(SPEC);
    note(&device, "a", "mine");
    sync_all(&device);
    device.sql("UPDATE notes SET text_body = 'my edit' WHERE id = 'a'");
    device.claim(10);
    let entry = device.outbox()[0].clone();
    let server = record(
        "notes",
        "a",
        4,
        json!({"textBody": "their edit", "stars": 2}),
    );
    device.push_results(json!([{"mutationId": entry.mutation_id, "id": "a", "status": "conflict", "version": 4, "record": server}]));
    device.run(
        "resolve_conflict",
        &[
            (":entity", &"notes"),
            (":row_id", &"a"),
            (":resolution", &"take_server"),
        ],
    );
    assert!(device.outbox().is_empty());
    assert_eq!(
        device.value("SELECT text_body FROM notes WHERE id = 'a'"),
        json!("their edit")
    );
    assert_eq!(
        device.value("SELECT version FROM notes WHERE id = 'a'"),
        json!(4)
    );
    assert_eq!(device.status("notes", "a"), "synced");
}

#[test]
fn lww_and_server_wins_conflicts_are_settled_by_the_server_record() {
    let device = Device::new(SPEC);
    device.sql("INSERT INTO readings (id, value, modified_at) VALUES ('r', 1.0, 10)");
    device.sql("INSERT INTO plans (id, title) VALUES ('p', 'mine')");
    sync_all(&device);
    device.sql("UPDATE readings SET value = 2.0, modified_at = 11 WHERE id = 'r'");
    device.sql("UPDATE plans SET title = 'my plan' WHERE id = 'p'");
    device.claim(10);
    let results: Vec<Value> = device
        .outbox()
        .iter()
        .map(|e| {
            let server = if e.entity == "readings" {
                record("readings", "r", 3, json!({"value": 7.5, "modifiedAt": 20}))
            } else {
                record("plans", "p", 3, json!({"title": "station plan"}))
            };
            json!({"mutationId": e.mutation_id, "id": e.row_id, "status": "conflict", "version": 3, "record": server})
        })
        .collect();
    device.push_results(json!(results));
    assert!(device.outbox().is_empty());
    assert!(device.run("list_conflicts", &[]).is_empty());
    assert_eq!(
        device.value("SELECT value FROM readings WHERE id = 'r'"),
        json!(7.5)
    );
    assert_eq!(
        device.value("SELECT title FROM plans WHERE id = 'p'"),
        json!("station plan")
    );
    assert_eq!(device.status("plans", "p"), "synced");
}

#[test]
fn results_for_entries_no_longer_in_flight_are_ignored() {
    let device = Device::new(SPEC);
    note(&device, "a", "1");
    device.claim(10);
    let entry = device.outbox()[0].clone();
    device.run("release_inflight", &[(":claim", &support::CLAIM)]);
    device.push_results(json!([accepted(&entry, 1)]));
    assert_eq!(
        device.outbox().len(),
        1,
        "the entry is sent again and answered again"
    );
    assert_eq!(device.count("SELECT count(*) FROM _offgen_push_results"), 0);
}

#[test]
fn a_pull_applies_server_rows_and_advances_the_cursor() {
    let device = Device::new(SPEC);
    device.pull(
        json!([record(
            "notes",
            "n1",
            3,
            json!({"textBody": "from server", "stars": 2})
        )]),
        "c1",
    );
    assert_eq!(device.value("SELECT text_body || ':' || stars || ':' || version || ':' || sync_status FROM notes WHERE id = 'n1'"), json!("from server:2:3:synced"));
    assert!(
        device.outbox().is_empty(),
        "applying server rows queues nothing"
    );
    assert_eq!(device.run("get_pull_cursor", &[])[0]["cursor"], json!("c1"));
    device.pull(
        json!([record(
            "notes",
            "n1",
            4,
            json!({"textBody": "edited", "stars": null})
        )]),
        "c2",
    );
    assert_eq!(
        device.value("SELECT text_body FROM notes WHERE id = 'n1'"),
        json!("edited")
    );
    device.pull(
        json!([record(
            "notes",
            "n1",
            2,
            json!({"textBody": "old", "stars": null})
        )]),
        "c3",
    );
    assert_eq!(
        device.value("SELECT text_body FROM notes WHERE id = 'n1'"),
        json!("edited"),
        "an older version never wins"
    );
}

#[test]
fn a_pull_never_overwrites_a_row_with_pending_local_writes() {
    let device = Device::new(SPEC);
    device.pull(
        json!([record(
            "notes",
            "n1",
            1,
            json!({"textBody": "v1", "stars": null})
        )]),
        "c1",
    );
    device.sql("UPDATE notes SET text_body = 'local' WHERE id = 'n1'");
    device.pull(
        json!([
            record("notes", "n1", 2, json!({"textBody": "server", "stars": 9})),
            {"entity": "notes", "id": "n1", "version": 3, "deleted": true, "data": {}}
        ]),
        "c2",
    );
    assert_eq!(
        device.value("SELECT text_body || ':' || version FROM notes WHERE id = 'n1'"),
        json!("local:1")
    );
    assert_eq!(
        device.value("SELECT deleted_at IS NULL FROM notes WHERE id = 'n1'"),
        json!(1),
        "nor a tombstone"
    );
    assert_eq!(device.outbox().len(), 1);
    assert_eq!(
        device.run("get_pull_cursor", &[])[0]["cursor"],
        json!("c2"),
        "the cursor still moves on"
    );
}

#[test]
fn a_pulled_tombstone_marks_a_row_deleted_and_never_creates_one() {
    let device = Device::new(SPEC);
    device.pull(
        json!([record(
            "notes",
            "n1",
            1,
            json!({"textBody": "x", "stars": null})
        )]),
        "c1",
    );
    device.pull(json!([
        {"entity": "notes", "id": "n1", "version": 2, "deleted": true, "deletedAt": 1234, "data": {"textBody": "x", "stars": null}},
        {"entity": "notes", "id": "never-seen", "version": 5, "deleted": true, "data": {}}
    ]), "c2");
    assert_eq!(
        device.value("SELECT deleted_at FROM notes WHERE id = 'n1'"),
        json!(1234)
    );
    assert_eq!(
        device.count("SELECT count(*) FROM notes WHERE id = 'never-seen'"),
        0
    );
    assert!(device.outbox().is_empty());
}

#[test]
fn records_of_unknown_entities_are_reported_not_applied() {
    let device = Device::new(SPEC);
    let text = json!([
        record("gadgets", "g1", 1, json!({})),
        record("notes", "n", 1, json!({"textBody": "t", "stars": null}))
    ])
    .to_string();
    device.run("apply_pulled_records", &[(":records", &text)]);
    let unknown = device.run("unknown_pulled_records", &[]);
    assert_eq!(unknown, vec![json!({"entity": "gadgets", "records": 1})]);
    device.run("clear_inbox", &[]);
    assert_eq!(device.count("SELECT count(*) FROM notes"), 1);
}

#[test]
fn sync_stats_report_queue_depth_age_and_what_needs_the_user() {
    let device = Device::new(SPEC);
    let empty = &device.run("sync_stats", &[(":now", &0i64)])[0];
    assert_eq!(empty["queue_depth"], json!(0));
    assert_eq!(empty["oldest_pending_age_ms"], json!(null));
    note(&device, "a", "1");
    note(&device, "b", "2");
    let created = device
        .value("SELECT min(created_at) FROM _offgen_outbox")
        .as_i64()
        .unwrap();
    let stats = &device.run("sync_stats", &[(":now", &(created + 5_000))])[0];
    assert_eq!(stats["queue_depth"], json!(2));
    assert_eq!(stats["oldest_pending_age_ms"], json!(5_000));
}

#[test]
fn every_device_gets_its_own_client_id() {
    let a = Device::new(SPEC).run("get_client_id", &[])[0]["client_id"].clone();
    let b = Device::new(SPEC).run("get_client_id", &[])[0]["client_id"].clone();
    assert_eq!(a.as_str().unwrap().len(), 36);
    assert_ne!(a, b);
}

#[test]
fn a_pulled_record_lacking_fields_blanks_nothing_and_new_rows_take_defaults() {
    // A server on another schema step sends records without the fields it does not know.
    let device = Device::new(
        r#"
offgen: 1
app: field
entities:
  Visit:
    fields:
      notes: text?
      count: { type: int, default: 3 }
      done: { type: bool, default: false }
"#,
    );
    let visit = |id: &str, version: i64, data: Value| record("visits", id, version, data);
    device.pull(
        json!([visit(
            "a",
            1,
            json!({"notes": "seen", "count": 5, "done": true})
        )]),
        "c1",
    );
    device.pull(
        json!([
            visit("a", 2, json!({"count": 6})),
            visit("b", 1, json!({"notes": "new"})),
            visit("c", 1, json!({"notes": null, "count": 1, "done": false}))
        ]),
        "c2",
    );
    let row = |id: &str| {
        device.value(&format!(
            "SELECT json_array(notes, count, done, version) FROM visits WHERE id = '{id}'"
        ))
    };
    assert_eq!(
        row("a"),
        json!("[\"seen\",6,1,2]"),
        "absent keys keep the device's values"
    );
    assert_eq!(
        row("b"),
        json!("[\"new\",3,0,1]"),
        "a new row takes the column defaults"
    );
    assert_eq!(
        row("c"),
        json!("[null,1,0,1]"),
        "a null that is sent is a null"
    );
    assert!(device.outbox().is_empty());
}
