//! `lww`, field by field. Every field keeps its newest write: a field of an update is taken
//! when its (stamp, JSON text) is greater than the stored field's, compared in that order.
//! That is a maximum per field, so the row ends the same whatever order writes arrive in; the
//! text only breaks ties between equal stamps, the same way on every server.
//!
//! A delete is final: it wins whatever its stamp, and an update of a tombstone is a conflict.
//!
//! An entity whose clock is [`LwwClock::Received`] stamps every write with the time the server
//! received it, whatever its device sent: the last write to arrive wins each field it writes,
//! and what it replaced without having seen it is audited like any stale lww write.

use std::cmp::Ordering;

use serde_json::{Map, Value, json};

use super::decide::{Audit, Clock, Decision, Stored, answer, conflict};
use super::prepare::Item;
use crate::model::{LwwClock, Policy};
use crate::protocol::PushStatus;
use crate::values::order_text;

pub use crate::limits::MAX_STAMP_AHEAD_MS;

/// A stamp as the server takes it: clamped to the receive time `now` when it is more than
/// [`MAX_STAMP_AHEAD_MS`] ahead of it.
fn clamped(stamp: i64, now: i64) -> i64 {
    if stamp > now.saturating_add(MAX_STAMP_AHEAD_MS) {
        now
    } else {
        stamp
    }
}

/// Whether the device's stamps count for `item`'s entity (else the receive time does).
fn by_device_clock(item: &Item) -> bool {
    item.entity.policy != Policy::Lww(LwwClock::Received)
}

/// The stamp of field `key` of an update: its own, else the mutation's, else the receive time.
fn stamp(item: &Item, key: &str, now: i64) -> i64 {
    if !by_device_clock(item) {
        return now;
    }
    let m = &item.mutation;
    let own = m.field_stamps.as_ref().and_then(|s| s.get(key)).copied();
    clamped(own.or(m.stamp).unwrap_or(now), now)
}

/// The clock of a new row: every field at the insert's stamp.
pub(super) fn insert_clock(item: &Item, now: i64) -> Clock {
    let stamp = match item.mutation.stamp {
        Some(stamp) if by_device_clock(item) => clamped(stamp, now),
        _ => now,
    };
    item.data.keys().map(|k| (k.clone(), stamp)).collect()
}

/// The clock after a write applied as it is (a REST write at the current version): the fields
/// it changes are stamped, never backwards.
pub(super) fn written_clock(item: &Item, row: &Stored, now: i64) -> Clock {
    let mut clock = row.clock.clone();
    for (key, value) in &item.data {
        let Some(field) = item.entity.field(key) else {
            continue;
        };
        let stored = row.data.get(key).unwrap_or(&Value::Null);
        if order_text(field, value) != order_text(field, stored) {
            clock.insert(key.clone(), row.stamp(key).max(stamp(item, key, now)));
        }
    }
    clock
}

/// An update of a live row, field by field, whatever version it was based on.
pub(super) fn update(item: &Item, row: &Stored, now: i64) -> Decision {
    let m = &item.mutation;
    let entity = item.entity;
    let stale = m.base_version != Some(row.version);
    let mut data = row.data.clone();
    let mut clock = row.clock.clone();
    let mut taken = false;
    // The device's values that lost, and, when it wrote based on an older version (so it may
    // not have seen them), the stored values its newer ones replaced: both are audited.
    let (mut lost, mut lost_stamps) = (Map::new(), Map::new());
    let (mut replaced, mut replaced_stamps) = (Map::new(), Map::new());
    for (key, value) in &item.data {
        let Some(field) = entity.field(key) else {
            continue;
        };
        let stored = row.data.get(key).unwrap_or(&Value::Null);
        let ours = (stamp(item, key, now), order_text(field, value));
        let theirs = (row.stamp(key), order_text(field, stored));
        match ours.cmp(&theirs) {
            Ordering::Greater => {
                if stale && ours.1 != theirs.1 {
                    replaced.insert(key.clone(), stored.clone());
                    replaced_stamps.insert(key.clone(), json!(theirs.0));
                }
                data.insert(key.clone(), value.clone());
                clock.insert(key.clone(), ours.0);
                taken = true;
            }
            // The same value at the same time: nothing to do, nothing lost.
            Ordering::Equal => {}
            Ordering::Less => {
                lost.insert(key.clone(), value.clone());
                lost_stamps.insert(key.clone(), json!(ours.0));
            }
        }
    }
    let overridden: Vec<String> = lost.keys().cloned().collect();
    let merged = stale || !lost.is_empty();
    let mut audits = Vec::new();
    let winning_version = if taken { row.version + 1 } else { row.version };
    if !lost.is_empty() {
        audits.push(Audit {
            reason: "lww: older than the values stored",
            losing: json!({ "op": "update", "baseVersion": m.base_version, "data": lost, "stamps": lost_stamps }),
            winning_version,
        });
    }
    if !replaced.is_empty() {
        audits.push(Audit {
            reason: "lww: replaced by a newer write based on an older version of the row",
            losing: json!({ "op": "update", "baseVersion": null, "data": replaced, "stamps": replaced_stamps }),
            winning_version,
        });
    }
    if taken {
        let write = Stored {
            version: row.version + 1,
            updated_at: now,
            deleted_at: None,
            data,
            clock,
        };
        let mut decision = Decision::accepted(m, write);
        if merged {
            let write = decision.write.as_ref().expect("accepted with a write");
            decision.result.record = Some(write.record(entity, &m.id));
            decision.result.overridden = Some(overridden);
        }
        decision.audits = audits;
        return decision;
    }
    if !lost.is_empty() {
        // Every field lost: the row stays as it is, and the device adopts it.
        let mut result = conflict(m, entity, row);
        result.overridden = Some(overridden);
        return Decision {
            result,
            write: None,
            audits,
            keep_result: true,
        };
    }
    // Every value was already there, at the same stamps: accepted, nothing to write.
    let mut result = answer(m, PushStatus::Accepted, Some(row.version), None);
    if stale {
        result.record = Some(row.record(entity, &m.id));
        result.overridden = Some(Vec::new());
    }
    Decision::nothing(result)
}

/// A delete of a live row: it wins, stale or not; a stale one keeps the state it replaced.
pub(super) fn delete(item: &Item, row: &Stored, now: i64) -> Decision {
    let m = &item.mutation;
    let write = Stored {
        version: row.version + 1,
        updated_at: now,
        deleted_at: Some(now),
        data: row.data.clone(),
        clock: row.clock.clone(),
    };
    let winning_version = write.version;
    let mut decision = Decision::accepted(m, write);
    if m.base_version != Some(row.version) {
        let stamps: Map<String, Value> = row
            .data
            .keys()
            .map(|k| (k.clone(), json!(row.stamp(k))))
            .collect();
        decision.audits.push(Audit {
            reason: "lww: a delete based on an older version of the row replaced this state",
            losing: json!({ "op": "update", "baseVersion": null, "data": row.data, "stamps": stamps }),
            winning_version,
        });
    }
    decision
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::Mode;
    use super::super::decide::decide;
    use super::super::fixture::*;
    use super::*;
    use crate::model::Policy;
    use crate::protocol::Op;

    const NOW: i64 = 1_000_000;

    fn lww() -> &'static crate::model::EntityDef {
        entity(Policy::Lww(LwwClock::Device), None)
    }

    fn run(item: &Item, row: &Stored) -> Decision {
        decide(item, Some(row), ME, Mode::Policy, NOW)
    }

    #[test]
    fn each_field_keeps_its_newest_write_and_what_lost_is_kept() {
        let row = clocked(
            3,
            json!({"owner": "me", "note": "server", "modifiedAt": 100, "count": 1}),
            &[
                ("owner", 10),
                ("note", 300),
                ("modifiedAt", 100),
                ("count", 100),
            ],
        );
        // Based on version 1: the note is older than the server's, the count newer.
        let edit = stamped(
            item(
                lww(),
                Op::Update,
                Some(1),
                json!({"note": "device", "count": 2}),
            ),
            200,
            &[],
        );
        let d = run(&edit, &row);
        assert_eq!(d.result.status, PushStatus::Accepted);
        assert_eq!(d.result.version, Some(4));
        assert_eq!(d.result.overridden, Some(vec!["note".to_owned()]));
        let record = d
            .result
            .record
            .clone()
            .expect("a merged result carries the row");
        assert_eq!(
            (&record.data["note"], &record.data["count"]),
            (&json!("server"), &json!(2))
        );
        let written = d.write.unwrap();
        assert_eq!((written.clock["note"], written.clock["count"]), (300, 200));
        assert_eq!(
            d.audits.len(),
            2,
            "the lost note, and the count it replaced unseen"
        );
        assert_eq!(d.audits[0].losing["data"], json!({"note": "device"}));
        assert_eq!(d.audits[0].losing["stamps"], json!({"note": 200}));
        assert_eq!(d.audits[1].losing["data"], json!({"count": 1}));
        assert!(d.keep_result);
    }

    #[test]
    fn by_the_received_clock_the_last_write_to_arrive_wins_whatever_its_stamps() {
        let by_arrival = entity(Policy::Lww(LwwClock::Received), None);
        let row = clocked(
            3,
            json!({"owner": "me", "note": "server", "modifiedAt": 100, "count": 1}),
            &[
                ("owner", 10),
                ("note", 300),
                ("modifiedAt", 100),
                ("count", 100),
            ],
        );
        // Stamped long before the stored note (and one field stamp far in the future): by the
        // device's clock the note would lose; received now, both fields win.
        let edit = stamped(
            item(
                by_arrival,
                Op::Update,
                Some(1),
                json!({"note": "device", "count": 2}),
            ),
            200,
            &[("count", NOW + 3_600_000)],
        );
        let d = run(&edit, &row);
        assert_eq!(d.result.status, PushStatus::Accepted);
        assert_eq!(d.result.overridden, Some(Vec::new()), "nothing of it lost");
        let written = d.write.unwrap();
        assert_eq!(
            (&written.data["note"], &written.data["count"]),
            (&json!("device"), &json!(2))
        );
        assert_eq!((written.clock["note"], written.clock["count"]), (NOW, NOW));
        // It was based on version 1: what it replaced unseen is audited.
        assert_eq!(d.audits.len(), 1);
        assert_eq!(
            d.audits[0].losing["data"],
            json!({"note": "server", "count": 1})
        );
        // An insert is stamped with the receive time too, not the device's stamp.
        let insert = stamped(
            item(
                by_arrival,
                Op::Insert,
                None,
                json!({"owner": "me", "note": "n"}),
            ),
            5,
            &[],
        );
        assert!(insert_clock(&insert, NOW).values().all(|&t| t == NOW));
        // The same edit by the device's clock loses its note.
        let by_device = stamped(
            item(
                lww(),
                Op::Update,
                Some(1),
                json!({"note": "device", "count": 2}),
            ),
            200,
            &[],
        );
        assert_eq!(
            run(&by_device, &row).result.overridden,
            Some(vec!["note".to_owned()])
        );
    }

    #[test]
    fn the_same_set_of_writes_ends_the_same_in_every_order() {
        let start = clocked(
            1,
            json!({"owner": "me", "note": "first", "modifiedAt": 1, "count": 0}),
            &[("owner", 1), ("note", 1), ("modifiedAt", 1), ("count", 1)],
        );
        let edits = [
            stamped(
                item(
                    lww(),
                    Op::Update,
                    Some(1),
                    json!({"note": "a", "modifiedAt": 10}),
                ),
                10,
                &[],
            ),
            stamped(
                item(
                    lww(),
                    Op::Update,
                    Some(1),
                    json!({"count": 5, "modifiedAt": 20}),
                ),
                20,
                &[],
            ),
            stamped(
                item(lww(), Op::Update, Some(1), json!({"note": "b", "count": 9})),
                30,
                &[("note", 5)],
            ),
            // A background change that leaves modifiedAt alone.
            stamped(
                item(lww(), Op::Update, Some(1), json!({"count": 7})),
                25,
                &[],
            ),
            // Equal stamps: the greater JSON text wins.
            stamped(
                item(lww(), Op::Update, Some(1), json!({"note": "z"})),
                10,
                &[],
            ),
        ];
        let mut outcomes = std::collections::BTreeSet::new();
        let mut order: Vec<usize> = (0..edits.len()).collect();
        // Every permutation (Heap's algorithm).
        let mut c = vec![0; order.len()];
        let mut apply = |order: &[usize]| {
            let mut row = start.clone();
            for &i in order {
                if let Some(write) = run(&edits[i], &row).write {
                    row = write;
                }
            }
            outcomes.insert(json!(row.data).to_string());
        };
        apply(&order);
        let mut i = 0;
        while i < order.len() {
            if c[i] < i {
                order.swap(if i % 2 == 0 { 0 } else { c[i] }, i);
                apply(&order);
                c[i] += 1;
                i = 0;
            } else {
                c[i] = 0;
                i += 1;
            }
        }
        assert_eq!(outcomes.len(), 1, "{outcomes:#?}");
        let end: Value = serde_json::from_str(outcomes.first().unwrap()).unwrap();
        assert_eq!(
            end,
            json!({"owner": "me", "note": "z", "modifiedAt": 20, "count": 9})
        );
    }

    #[test]
    fn equal_values_at_equal_stamps_change_nothing() {
        let row = clocked(2, json!({"owner": "me", "note": "x"}), &[("note", 50)]);
        let d = run(
            &stamped(
                item(lww(), Op::Update, Some(2), json!({"note": "x"})),
                50,
                &[],
            ),
            &row,
        );
        assert_eq!(
            (d.result.status, d.result.version),
            (PushStatus::Accepted, Some(2))
        );
        assert!(d.write.is_none() && d.audits.is_empty() && !d.keep_result);
        assert!(d.result.record.is_none(), "not stale, nothing merged");
        // An older write of every field is a conflict with the row, and is kept.
        let d = run(
            &stamped(
                item(lww(), Op::Update, Some(2), json!({"note": "old"})),
                40,
                &[],
            ),
            &row,
        );
        assert_eq!(d.result.status, PushStatus::Conflict);
        assert_eq!(d.result.overridden, Some(vec!["note".to_owned()]));
        assert!(d.write.is_none() && d.audits.len() == 1 && d.keep_result);
    }

    #[test]
    fn a_clock_far_ahead_is_taken_as_the_receive_time() {
        let row = clocked(
            1,
            json!({"owner": "me", "note": "x"}),
            &[("note", NOW - 10)],
        );
        let ahead = |by: i64| {
            let d = run(
                &stamped(
                    item(lww(), Op::Update, Some(1), json!({"note": "y"})),
                    NOW + by,
                    &[],
                ),
                &row,
            );
            d.write.map(|w| w.clock["note"])
        };
        assert_eq!(
            ahead(MAX_STAMP_AHEAD_MS),
            Some(NOW + MAX_STAMP_AHEAD_MS),
            "within the limit"
        );
        assert_eq!(ahead(MAX_STAMP_AHEAD_MS + 1), Some(NOW), "clamped");
        assert_eq!(
            ahead(86_400_000 * 3),
            Some(NOW),
            "days ahead wins no more than now"
        );
        // No stamp at all: the receive time; a field without a stored stamp: `updated_at`.
        let unstamped = run(&item(lww(), Op::Update, Some(1), json!({"count": 3})), &row);
        assert_eq!(unstamped.write.unwrap().clock["count"], NOW);
        let d = run(
            &stamped(
                item(lww(), Op::Update, Some(1), json!({"count": 3})),
                4,
                &[],
            ),
            &row,
        );
        assert_eq!(
            d.result.status,
            PushStatus::Conflict,
            "older than updated_at (5)"
        );
    }

    #[test]
    fn a_delete_is_final_and_a_stale_one_keeps_what_it_replaced() {
        let row = clocked(
            3,
            json!({"owner": "me", "note": "newest"}),
            &[("note", 900)],
        );
        let d = run(
            &stamped(item(lww(), Op::Delete, Some(1), json!({})), 1, &[]),
            &row,
        );
        assert_eq!(d.result.status, PushStatus::Accepted);
        let tomb = d.write.unwrap();
        assert_eq!((tomb.version, tomb.deleted_at), (4, Some(NOW)));
        assert_eq!(d.audits.len(), 1);
        assert_eq!(d.audits[0].losing["data"]["note"], "newest");
        let current = run(&item(lww(), Op::Delete, Some(3), json!({})), &row);
        assert!(
            current.audits.is_empty(),
            "it had seen the state it deletes"
        );
        // An update of the tombstone, however new, is a conflict, and is kept.
        let d = run(
            &stamped(
                item(lww(), Op::Update, Some(4), json!({"note": "later"})),
                NOW,
                &[],
            ),
            &tomb,
        );
        assert_eq!(d.result.status, PushStatus::Conflict);
        assert!(d.result.record.unwrap().deleted);
        assert_eq!(d.audits[0].losing["data"]["note"], "later");
    }

    #[test]
    fn inserts_and_rest_writes_keep_the_clock_too() {
        let insert = stamped(
            item(
                lww(),
                Op::Insert,
                None,
                json!({"owner": "me", "note": "n", "modifiedAt": 1, "count": null}),
            ),
            70,
            &[("note", 3)],
        );
        let d = decide(&insert, None, ME, Mode::Policy, NOW);
        let clock = d.write.unwrap().clock;
        assert!(
            clock.values().all(|s| *s == 70),
            "every field at the insert's stamp: {clock:?}"
        );
        // A REST write at the current version: what it changes is stamped now, never back.
        let row = clocked(
            2,
            json!({"owner": "me", "note": "a", "count": 1}),
            &[("note", 50), ("count", NOW + 30_000)],
        );
        let put = item(
            lww(),
            Op::Update,
            Some(2),
            json!({"owner": "me", "note": "b", "count": 2}),
        );
        let d = decide(&put, Some(&row), ME, Mode::Strict, NOW);
        let clock = d.write.unwrap().clock;
        assert_eq!((clock["note"], clock["count"]), (NOW, NOW + 30_000));
        assert!(
            !clock.contains_key("owner"),
            "unchanged: no stamp of its own"
        );
    }
}
