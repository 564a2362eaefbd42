//! The device's queue triggers, one rule per test, on a real SQLite database built by the
//! generated migrations.

mod support;

use std::collections::BTreeSet;

use serde_json::{Value, json};
use support::Device;

/// Every field type, so payload encodings are all exercised.
const SPEC: &str = r#"
offgen: 1
app: field
entities:
  Site:
    fields:
      name: text
  Visit:
    fields:
      site: Site
      notes: text?
      count: { type: int, default: 0 }
      score: real?
      done: { type: bool, default: false }
      at: datetime
      day: date?
      ref: uuid?
      extra: json?
      raw: blob?
      status: { type: enum, values: [open, closed], default: open }
"#;

fn device() -> Device {
    let device = Device::new(SPEC);
    device.sql("INSERT INTO sites (id, name) VALUES ('s1', 'North')");
    device
}

fn insert_visit(device: &Device, id: &str) {
    device.sql(&format!(
        "INSERT INTO visits (id, site, notes, score, done, at, day, ref, extra, raw, status)
         VALUES ('{id}', 's1', 'hi', 2.5, 1, 1700000000123, '2024-01-31',
                 '123e4567-e89b-12d3-a456-426614174000', '{{\"a\":[1,true]}}', x'00ff', 'closed')"
    ));
}

/// Marks every queued entry as sent and accepted, as a sync would.
fn sync_all(device: &Device) {
    device.claim(1000);
    let results: Vec<_> = device
        .outbox()
        .iter()
        .map(|e| support::accepted(e, 1))
        .collect();
    device.push_results(json!(results));
    assert!(device.outbox().is_empty(), "{:?}", device.outbox());
}

/// What the next push sends for `row`.
fn sent_for(device: &Device, row: &str) -> Value {
    device
        .sent()
        .into_iter()
        .find(|e| e["row_id"] == row)
        .unwrap_or_else(|| panic!("nothing is sent for {row}"))
}

#[test]
fn an_insert_queues_the_whole_row_in_wire_encoding() {
    let device = device();
    insert_visit(&device, "v1");
    let sent = sent_for(&device, "v1");
    assert_eq!(
        (sent["entity"].clone(), sent["op"].clone()),
        (json!("visits"), json!("insert"))
    );
    assert_eq!(sent["base_version"], json!(null));
    assert_eq!(
        sent["payload"],
        json!({
            "site": "s1", "notes": "hi", "count": 0, "score": 2.5, "done": true,
            "at": 1700000000123i64, "day": "2024-01-31", "ref": "123e4567-e89b-12d3-a456-426614174000",
            "extra": {"a": [1, true]}, "raw": "00ff", "status": "closed"
        })
    );
    let mutation_id = sent["mutation_id"].as_str().unwrap();
    assert_eq!(mutation_id.len(), 36);
    assert_eq!(&mutation_id[14..15], "4", "a version 4 UUID");
}

#[test]
fn every_queued_write_gets_its_own_mutation_id() {
    let device = device();
    for i in 0..50 {
        insert_visit(&device, &format!("v{i}"));
    }
    let ids: BTreeSet<_> = device
        .sent()
        .into_iter()
        .map(|e| e["mutation_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 51);
}

#[test]
fn an_update_queues_only_the_fields_it_changed() {
    let device = device();
    insert_visit(&device, "v1");
    sync_all(&device);
    device.sql("UPDATE visits SET notes = NULL, done = 0, count = count WHERE id = 'v1'");
    let entries = device.outbox();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        (entries[0].op.as_str(), entries[0].changed.as_deref()),
        ("update", Some(",notes,done,"))
    );
    let sent = sent_for(&device, "v1");
    assert_eq!(sent["payload"], json!({"notes": null, "done": false}));
    assert_eq!(
        sent["base_version"],
        json!(1),
        "based on the version the device last saw"
    );
}

#[test]
fn insert_then_update_folds_into_one_insert_with_the_merged_row() {
    let device = device();
    insert_visit(&device, "v1");
    device.sql("UPDATE visits SET notes = 'later', extra = NULL WHERE id = 'v1'");
    let entries: Vec<_> = device
        .outbox()
        .into_iter()
        .filter(|e| e.entity == "visits")
        .collect();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].op, "insert");
    let sent = sent_for(&device, "v1");
    assert_eq!(sent["payload"]["notes"], "later");
    assert_eq!(sent["payload"]["extra"], json!(null));
    assert_eq!(
        sent["payload"]["score"], 2.5,
        "the rest of the row is still there"
    );
}

#[test]
fn update_then_update_folds_into_one_update_with_both_changes() {
    let device = device();
    insert_visit(&device, "v1");
    sync_all(&device);
    device.sql("UPDATE visits SET notes = 'a', count = 1 WHERE id = 'v1'");
    device.sql("UPDATE visits SET notes = NULL, score = 9 WHERE id = 'v1'");
    let entries = device.outbox();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].changed.as_deref(), Some(",notes,count,score,"));
    let sent = sent_for(&device, "v1");
    assert_eq!(
        sent["payload"],
        json!({"notes": null, "count": 1, "score": 9.0})
    );
}

#[test]
fn insert_then_delete_sends_nothing() {
    let device = device();
    let before = device.outbox().len();
    insert_visit(&device, "hard");
    device.sql("DELETE FROM visits WHERE id = 'hard'");
    insert_visit(&device, "soft");
    device.sql("UPDATE visits SET deleted_at = 5 WHERE id = 'soft'");
    assert_eq!(device.outbox().len(), before, "{:?}", device.outbox());
    assert_eq!(
        device.status("visits", "soft"),
        "synced",
        "nothing left to send for the tombstone"
    );
}

#[test]
fn update_then_delete_becomes_one_delete() {
    let device = device();
    insert_visit(&device, "v1");
    insert_visit(&device, "v2");
    sync_all(&device);
    device.sql("UPDATE visits SET notes = 'x' WHERE id IN ('v1', 'v2')");
    device.sql("DELETE FROM visits WHERE id = 'v1'");
    device.sql("UPDATE visits SET deleted_at = 7 WHERE id = 'v2'");
    let entries = device.outbox();
    assert_eq!(entries.len(), 2);
    for entry in &entries {
        assert_eq!((entry.op.as_str(), entry.base_version), ("delete", Some(1)));
    }
    for sent in device.sent() {
        assert_eq!(
            (sent["op"].clone(), sent["payload"].clone()),
            (json!("delete"), json!({}))
        );
    }
}

#[test]
fn a_delete_of_a_synced_row_queues_a_delete() {
    let device = device();
    insert_visit(&device, "v1");
    sync_all(&device);
    device.sql("DELETE FROM visits WHERE id = 'v1'");
    let entries = device.outbox();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        (entries[0].op.as_str(), entries[0].base_version),
        ("delete", Some(1))
    );
}

#[test]
fn entries_in_flight_are_never_modified_a_new_entry_follows() {
    let device = device();
    insert_visit(&device, "v1");
    let claimed = device.claim(10);
    assert_eq!(claimed.len(), 2, "the site and the visit");
    let before = device.outbox();
    device.sql("UPDATE visits SET notes = 'while sending' WHERE id = 'v1'");
    device.sql("UPDATE visits SET count = 4 WHERE id = 'v1'");
    let after = device.outbox();
    assert_eq!(&after[..2], &before[..], "in-flight entries untouched");
    assert_eq!(after.len(), 3);
    assert_eq!(
        (after[2].op.as_str(), after[2].changed.as_deref()),
        ("update", Some(",notes,count,"))
    );

    device.sql("DELETE FROM visits WHERE id = 'v1'");
    let last = device.outbox().pop().unwrap();
    assert_eq!(
        (last.op.as_str(), last.seq),
        ("delete", after[2].seq),
        "the queued update became the delete"
    );
}

#[test]
fn an_entry_once_sent_is_never_changed_even_back_in_the_queue() {
    // The request may have reached the server before the connection dropped: a retry must be
    // the same mutation, or the server (answering from its record) would drop the new edit.
    let device = device();
    insert_visit(&device, "v1");
    sync_all(&device);
    device.sql("UPDATE visits SET notes = 'first' WHERE id = 'v1'");
    let first = sent_for(&device, "v1");
    device.sql("UPDATE visits SET notes = 'second' WHERE id = 'v1'");
    let entries = device.outbox();
    assert_eq!(
        entries.len(),
        2,
        "a new entry, not a fold into the sent one"
    );
    assert_eq!(entries[0].payload, Some(json!({"notes": "first"})));
    assert_eq!(device.sent()[0]["mutation_id"], first["mutation_id"]);
}

#[test]
fn bookkeeping_only_changes_queue_nothing() {
    let device = device();
    insert_visit(&device, "v1");
    sync_all(&device);
    device.sql("UPDATE visits SET version = 7, updated_at = 5, sync_status = 'failed', sync_error = 'x' WHERE id = 'v1'");
    device.sql("UPDATE visits SET notes = notes WHERE id = 'v1'");
    assert!(device.outbox().is_empty(), "{:?}", device.outbox());
}

#[test]
fn local_writes_mark_the_row_pending_and_sync_marks_it_synced() {
    let device = device();
    insert_visit(&device, "v1");
    assert_eq!(device.status("visits", "v1"), "pending");
    device.claim(10);
    assert_eq!(device.status("visits", "v1"), "syncing");
    sync_all(&device);
    assert_eq!(device.status("visits", "v1"), "synced");
    assert_eq!(
        device.value("SELECT version FROM visits WHERE id = 'v1'"),
        json!(1)
    );
    device.sql("UPDATE visits SET notes = 'again' WHERE id = 'v1'");
    assert_eq!(device.status("visits", "v1"), "pending");
}

#[test]
fn the_guard_silences_the_queue_while_server_rows_are_written() {
    let device = device();
    device.sql("UPDATE _offgen_meta SET value = '1' WHERE key = 'applying_remote'");
    insert_visit(&device, "v1");
    device.sql("UPDATE visits SET notes = 'remote' WHERE id = 'v1'");
    device.sql("DELETE FROM visits WHERE id = 'v1'");
    assert_eq!(
        device.outbox().len(),
        1,
        "only the site written before the guard"
    );
    device.sql("UPDATE _offgen_meta SET value = '0' WHERE key = 'applying_remote'");
    insert_visit(&device, "v2");
    assert_eq!(device.outbox().len(), 2);
}

#[test]
fn a_missing_guard_row_never_silences_the_queue() {
    let device = device();
    device.sql("DELETE FROM _offgen_meta WHERE key = 'applying_remote'");
    insert_visit(&device, "v1");
    assert_eq!(device.outbox().len(), 2);
}

#[test]
fn ids_never_change_and_deleted_rows_cannot_be_changed() {
    let device = device();
    insert_visit(&device, "v1");
    assert!(
        device
            .sql_err("UPDATE visits SET id = 'v9' WHERE id = 'v1'")
            .contains("id of a row never changes")
    );
    sync_all(&device);
    device.sql("UPDATE visits SET deleted_at = 1 WHERE id = 'v1'");
    assert!(
        device
            .sql_err("UPDATE visits SET notes = 'zombie' WHERE id = 'v1'")
            .contains("deleted")
    );
    assert!(
        device
            .sql_err("UPDATE visits SET deleted_at = NULL WHERE id = 'v1'")
            .contains("deleted")
    );
    assert_eq!(
        device.outbox().len(),
        1,
        "the delete, and nothing from the refused writes"
    );
}

#[test]
fn a_json_field_that_is_not_json_is_refused_with_the_write() {
    let device = device();
    let error = device
        .sql_err("INSERT INTO visits (id, site, at, extra) VALUES ('v1', 's1', 1, 'not json')");
    assert!(error.contains("visits.extra must be valid JSON"), "{error}");
    insert_visit(&device, "v2");
    let error = device.sql_err("UPDATE visits SET extra = '{broken' WHERE id = 'v2'");
    assert!(error.contains("must be valid JSON"), "{error}");
    assert_eq!(
        device.count("SELECT count(*) FROM visits WHERE id = 'v1'"),
        0
    );
    assert_eq!(
        device.value("SELECT extra FROM visits WHERE id = 'v2'"),
        json!("{\"a\":[1,true]}")
    );
}

#[test]
fn sql_keywords_work_as_table_and_column_names() {
    let device = Device::new(
        "offgen: 1\napp: shop\nentities:\n  Order:\n    table: order\n    fields:\n      group: text\n      select: int\n      where: text?\n    indexes: [[group, select]]\n",
    );
    device.sql("INSERT INTO \"order\" (id, \"group\", \"select\") VALUES ('o1', 'g', 1)");
    device.sql("UPDATE \"order\" SET \"where\" = 'here' WHERE id = 'o1'");
    assert_eq!(device.outbox().len(), 1);
    assert_eq!(
        sent_for(&device, "o1")["payload"],
        json!({"group": "g", "select": 1, "where": "here"})
    );
    assert_eq!(device.status("order", "o1"), "pending");
}

#[test]
fn entities_wider_than_sqlite_function_arguments_still_queue_every_field() {
    let fields: String = (0..130).map(|i| format!("      f{i}: int?\n")).collect();
    let device = Device::new(&format!(
        "offgen: 1\napp: wide\nentities:\n  Wide:\n    fields:\n{fields}"
    ));
    device.sql("INSERT INTO wides (id, f0, f129) VALUES ('w', 1, 2)");
    let sent = device.claim(10).pop().unwrap();
    assert_eq!(sent["payload"].as_object().unwrap().len(), 130);
    assert_eq!(
        (
            sent["payload"]["f0"].clone(),
            sent["payload"]["f129"].clone()
        ),
        (json!(1), json!(2))
    );
    device.push_results(
        json!([{"mutationId": sent["mutation_id"], "status": "accepted", "version": 1}]),
    );
    device.sql("UPDATE wides SET f128 = 5 WHERE id = 'w'");
    assert_eq!(sent_for(&device, "w")["payload"], json!({"f128": 5}));
}

/// Doubles for the property tests: the edges, GPS fixes, and random bit patterns (every
/// exponent, subnormals included) from a fixed seed, so a failure is reproducible.
fn doubles() -> Vec<f64> {
    let mut out = vec![
        -1.2345678901234567,
        36.71234567890124,
        0.1,
        1e-300,
        5e-324,
        f64::from_bits(0x000f_ffff_ffff_ffff),
        123456789012345680.0,
        f64::MAX,
        f64::MIN,
        1.9995240456382673e-09,
    ];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    while out.len() < 3_000 {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let x = f64::from_bits(state.wrapping_mul(0x2545_f491_4f6c_dd1d));
        if x.is_finite() && x != 0.0 {
            out.push(x);
        }
    }
    out
}

#[test]
fn every_finite_double_is_sent_bit_for_bit() {
    // SQLite's own number printing keeps 15 digits in its JSON functions, and its printf is
    // not correctly rounded for large and small exponents: the payload is made with the
    // runtime's exact conversion. Values are bound as doubles, as an app writes them (a SQL
    // literal is parsed by SQLite, which is not exact either).
    let device = device();
    let values = doubles();
    for (n, score) in values.iter().enumerate() {
        device
            .conn()
            .execute(
                "INSERT INTO visits (id, site, at, score) VALUES (?1, 's1', 1, ?2)",
                offgen_runtime::client::rusqlite::params![format!("v{n}"), score],
            )
            .unwrap();
    }
    let sent = device.sent();
    assert_eq!(sent.len(), values.len() + 1);
    for (n, score) in values.iter().enumerate() {
        let entry = sent
            .iter()
            .find(|e| e["row_id"] == format!("v{n}"))
            .unwrap();
        let got = entry["payload"]["score"].as_f64().unwrap();
        assert_eq!(
            got.to_bits(),
            score.to_bits(),
            "{score:e} was sent as {got:e}"
        );
    }
}

#[test]
fn every_finite_double_is_pulled_bit_for_bit() {
    let device = device();
    let values = doubles();
    let records: Vec<Value> = values
        .iter()
        .enumerate()
        .map(|(n, score)| {
            json!({"entity": "visits", "id": format!("p{n}"), "version": 1, "deleted": false,
                   "data": {"site": "s1", "at": 1, "score": score, "count": 0, "done": false, "status": "open"}})
        })
        .collect();
    device.pull(json!(records), "c1");
    for (n, score) in values.iter().enumerate() {
        let got: f64 = device
            .conn()
            .query_row(
                "SELECT score FROM visits WHERE id = ?1",
                [format!("p{n}")],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            got.to_bits(),
            score.to_bits(),
            "{score:e} was stored as {got:e}"
        );
    }
}

#[test]
fn negative_zero_is_zero_on_a_device() {
    // A REAL column keeps a whole-number double as an integer, and -0.0 as 0: SQLite's
    // storage, which Drift's tables share. The device sends and stores 0 (docs/protocol.md).
    let device = device();
    device
        .conn()
        .execute(
            "INSERT INTO visits (id, site, at, score) VALUES ('z', 's1', 1, ?1)",
            [-0.0f64],
        )
        .unwrap();
    let sent = sent_for(&device, "z")["payload"]["score"].as_f64().unwrap();
    assert_eq!(sent, 0.0);
}

#[test]
fn an_infinite_real_is_refused_with_the_write() {
    let device = device();
    let error =
        device.sql_err("INSERT INTO visits (id, site, at, score) VALUES ('v1', 's1', 1, 9e999)");
    assert!(
        error.contains("visits.score must be a finite number"),
        "{error}"
    );
    insert_visit(&device, "v2");
    let error = device.sql_err("UPDATE visits SET score = -9e999 WHERE id = 'v2'");
    assert!(error.contains("must be a finite number"), "{error}");
    assert_eq!(
        device.value("SELECT score FROM visits WHERE id = 'v2'"),
        json!(2.5)
    );
}

/// Barn readings: facts once recorded (`append_only`).
const READINGS: &str = r#"
offgen: 1
app: farm
entities:
  Reading:
    conflict: append_only
    fields:
      value: real
      note: text?
"#;

fn rejected(entry: &Value) -> Value {
    json!({"mutationId": entry["mutation_id"], "status": "rejected",
           "error": {"code": "invalid-data", "message": "value is out of range"}})
}

#[test]
fn an_append_only_row_changes_only_while_the_server_has_none_of_it() {
    let device = Device::new(READINGS);
    device.sql("INSERT INTO readings (id, value) VALUES ('r1', 12)");
    // Before it is sent, a correction is part of the insert.
    device.sql("UPDATE readings SET value = 14 WHERE id = 'r1'");
    // Rejected (so not applied): the row may still be corrected, and goes again as corrected.
    let sent = device.claim(10);
    assert_eq!(sent[0]["payload"], json!({"value": 14.0, "note": null}));
    device.push_results(json!([rejected(&sent[0])]));
    device.sql("UPDATE readings SET value = 15 WHERE id = 'r1'");
    let ops: Vec<String> = device.outbox().into_iter().map(|e| e.op).collect();
    assert_eq!(
        ops,
        ["insert"],
        "a correction is never an update of its own"
    );
    // Sent, its answer lost: the server may have it now. No change and no delete is taken,
    // soft or outright, and nothing is queued.
    let sent = device.claim(10);
    assert_eq!(sent[0]["payload"], json!({"value": 15.0, "note": null}));
    device.run("release_inflight", &[(":claim", &support::CLAIM)]);
    for write in [
        "UPDATE readings SET note = 'miscounted' WHERE id = 'r1'",
        "UPDATE readings SET deleted_at = 1 WHERE id = 'r1'",
        "DELETE FROM readings WHERE id = 'r1'",
    ] {
        let error = device.sql_err(write);
        assert!(
            error.contains("readings rows are append-only") && error.contains("record a new one"),
            "{write}: {error}"
        );
    }
    assert_eq!(device.outbox().len(), 1);
    // Accepted: the same for good; the server's own bookkeeping and records still apply.
    let sent = device.claim(10);
    device.push_results(
        json!([{"mutationId": sent[0]["mutation_id"], "status": "accepted", "version": 1}]),
    );
    assert!(device.outbox().is_empty());
    assert!(
        device
            .sql_err("UPDATE readings SET value = 1 WHERE id = 'r1'")
            .contains("append-only")
    );
    device.pull(
        json!([{"entity": "readings", "id": "r1", "version": 1, "deleted": false,
                "data": {"value": 15.0, "note": "entered at the office"}}]),
        "c1",
    );
    assert_eq!(
        device.value("SELECT note || ' ' || sync_status FROM readings WHERE id = 'r1'"),
        json!("entered at the office synced")
    );
}

#[test]
fn an_append_only_row_set_aside_may_be_corrected_or_deleted_and_then_sends_nothing_more() {
    let device = Device::new(READINGS);
    device.sql(
        "UPDATE _offgen_meta SET value = '1' WHERE key = 'max_attempts';
         INSERT INTO readings (id, value) VALUES ('r1', 12), ('r2', 13);",
    );
    let sent = device.claim(10);
    let results: Vec<Value> = sent.iter().map(rejected).collect();
    device.push_results(json!(results));
    assert_eq!(device.run("list_failed", &[]).len(), 2);
    // Corrected while set aside: the insert, retried, is made from the corrected row.
    device.sql("UPDATE readings SET value = 12.5 WHERE id = 'r1'");
    let failed = device.run("list_failed", &[]);
    assert_eq!(failed.len(), 2, "no update queued behind the insert");
    device.run(
        "retry_failed",
        &[(":seq", &failed[0]["seq"].as_i64().unwrap())],
    );
    let sent = device.claim(10);
    assert_eq!(
        (sent.len(), &sent[0]["op"], &sent[0]["payload"]),
        (1, &json!("insert"), &json!({"value": 12.5, "note": null}))
    );
    // Deleted while set aside: the server never had it, so nothing is left to send.
    device.sql("DELETE FROM readings WHERE id = 'r2'");
    let left: Vec<String> = device.outbox().into_iter().map(|e| e.row_id).collect();
    assert_eq!(left, ["r1"]);
}

/// A write sent, then its row deleted outright here, then the write rejected (so never
/// applied): nothing is left to make it again from. A rejected insert goes with the delete
/// behind it (the server never had the row); a rejected update goes alone, and the delete
/// after it is sent.
#[test]
fn a_rejected_write_of_a_row_deleted_since_is_not_made_again_from_nothing() {
    let device = device();
    insert_visit(&device, "v2");
    sync_all(&device);
    insert_visit(&device, "v1");
    device.sql("UPDATE visits SET notes = 'edited' WHERE id = 'v2'");
    assert_eq!(device.claim(10).len(), 2, "v1's insert, v2's update");
    // The answer is lost; the app deletes both rows; the same mutations go again.
    device.run("release_inflight", &[(":claim", &support::CLAIM)]);
    device.sql("DELETE FROM visits WHERE id IN ('v1', 'v2')");
    let sent = device.claim(10);
    assert_eq!(sent.len(), 2);
    let results: Vec<Value> = sent
        .iter()
        .map(|e| {
            json!({"mutationId": e["mutation_id"], "status": "rejected",
                        "error": {"code": "invalid-data", "message": "count is out of range"}})
        })
        .collect();
    device.push_results(json!(results));
    let left: Vec<(String, String)> = device
        .outbox()
        .into_iter()
        .map(|e| (e.row_id, e.op))
        .collect();
    assert_eq!(left, [("v2".to_owned(), "delete".to_owned())]);
    // A rejected write of a row that is still here is made again, as before.
    insert_visit(&device, "v3");
    let sent = device.claim(10);
    let v3 = sent.iter().find(|e| e["row_id"] == "v3").unwrap();
    device.push_results(
        json!([{"mutationId": v3["mutation_id"], "status": "rejected",
                                "error": {"code": "invalid-data", "message": "no"}}]),
    );
    assert!(
        device
            .outbox()
            .iter()
            .any(|e| e.row_id == "v3" && e.op == "insert" && e.mutation_id.is_none())
    );
}
