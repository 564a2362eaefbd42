//! The conflict policies: what one mutation does to its row. Pure, so the whole conflict
//! logic is tested without a database. `lww`'s field-by-field merge is in [`super::lww`].

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::lww;
use super::prepare::{Item, rejected};
use super::{Caller, Mode};
use crate::model::{EntityDef, Policy};
use crate::protocol::{Mutation, Op, PushResult, PushStatus, Record};

/// Each field's stamp (wire key -> epoch ms of its newest write), kept for `lww` rows.
pub type Clock = BTreeMap<String, i64>;

/// A row as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Stored {
    /// Server version.
    pub version: i64,
    /// Epoch ms of the last change.
    pub updated_at: i64,
    /// Epoch ms of the delete, for a tombstone.
    pub deleted_at: Option<i64>,
    /// Every field, by wire key.
    pub data: Map<String, Value>,
    /// `lww` entities: each field's stamp. Empty for other entities, and for rows written
    /// before their entity became `lww` (a field without a stamp counts as written at
    /// `updated_at`).
    pub clock: Clock,
}

impl Stored {
    /// The wire record of this row.
    pub fn record(&self, entity: &EntityDef, id: &str) -> Record {
        Record {
            entity: entity.table.to_owned(),
            id: id.to_owned(),
            version: self.version,
            deleted: self.deleted_at.is_some(),
            updated_at: Some(self.updated_at),
            deleted_at: self.deleted_at,
            data: self.data.clone(),
        }
    }

    pub(super) fn owner(&self, entity: &EntityDef) -> Option<&str> {
        entity
            .owner_field()
            .and_then(|f| self.data.get(f.key))
            .and_then(Value::as_str)
    }

    /// The stamp of the field `key`.
    pub(super) fn stamp(&self, key: &str) -> i64 {
        self.clock.get(key).copied().unwrap_or(self.updated_at)
    }
}

/// What the engine decided for one mutation.
#[derive(Clone, Debug)]
pub(super) struct Decision {
    pub(super) result: PushResult,
    /// The row's new state, if it changes.
    pub(super) write: Option<Stored>,
    /// What lost, kept in `_offgen_audit`.
    pub(super) audits: Vec<Audit>,
    /// Whether the mutation changed the database (and so keeps its result for retries).
    pub(super) keep_result: bool,
}

/// One entry of `_offgen_audit`: values that lost, and why.
#[derive(Clone, Debug)]
pub(super) struct Audit {
    pub(super) reason: &'static str,
    /// `{"op", "baseVersion", "data"}` (and `stamps` under lww): what lost, as a write.
    pub(super) losing: Value,
    pub(super) winning_version: i64,
}

impl Decision {
    /// Nothing written, nothing kept: the mutation is evaluated anew if it comes again.
    pub(super) fn nothing(result: PushResult) -> Decision {
        Decision {
            result,
            write: None,
            audits: Vec::new(),
            keep_result: false,
        }
    }

    /// The row becomes `write`.
    pub(super) fn accepted(m: &Mutation, write: Stored) -> Decision {
        Decision {
            result: answer(m, PushStatus::Accepted, Some(write.version), None),
            write: Some(write),
            audits: Vec::new(),
            keep_result: true,
        }
    }
}

/// A result for `m`.
pub(super) fn answer(
    m: &Mutation,
    status: PushStatus,
    version: Option<i64>,
    record: Option<Record>,
) -> PushResult {
    PushResult {
        mutation_id: m.mutation_id.clone(),
        id: m.id.clone(),
        status,
        version,
        record,
        overridden: None,
        error: None,
    }
}

/// A conflict: the row is as it is, and the device gets it.
pub(super) fn conflict(m: &Mutation, entity: &EntityDef, row: &Stored) -> PushResult {
    answer(
        m,
        PushStatus::Conflict,
        Some(row.version),
        Some(row.record(entity, &m.id)),
    )
}

/// What lost, as the write it was.
pub(super) fn losing(m: &Mutation, data: &Map<String, Value>) -> Value {
    json!({ "op": op_name(m.op), "baseVersion": m.base_version, "data": data })
}

/// Decides one mutation against the row's current state. Pure: the whole conflict logic,
/// tested without a database.
pub(super) fn decide(
    item: &Item,
    current: Option<&Stored>,
    caller: Caller,
    mode: Mode,
    now: i64,
) -> Decision {
    let m = &item.mutation;
    let entity = item.entity;
    let is_lww = entity.policy.is_lww();
    let owner_key = entity.owner_field().map(|f| f.key);
    // Owner scoping: another user's row looks like a missing one, and is never shown. Naming
    // another user as owner is refused the same way, `not-found`, whatever that user holds.
    let theirs = |row: &Stored| owner_key.is_some() && row.owner(entity) != Some(caller.user);
    let foreign_owner = |owner: &str| {
        Decision::nothing(rejected(
            m,
            "not-found",
            format!("{owner} must be your own user id"),
        ))
    };

    if m.op == Op::Insert {
        if let Some(owner) = owner_key
            && item.data.get(owner).and_then(Value::as_str) != Some(caller.user)
        {
            return foreign_owner(owner);
        }
        return match current {
            // An insert cannot hide that the id is in use, but it says no more than that.
            Some(row) if theirs(row) => Decision::nothing(rejected(
                m,
                "not-found",
                format!(
                    "{} row {} cannot be created: the id is in use",
                    entity.table, m.id
                ),
            )),
            // The id is taken: never overwrite, whatever the policy.
            Some(row) => Decision::nothing(conflict(m, entity, row)),
            None => Decision::accepted(
                m,
                Stored {
                    version: 1,
                    updated_at: now,
                    deleted_at: None,
                    data: item.data.clone(),
                    clock: if is_lww {
                        lww::insert_clock(item, now)
                    } else {
                        Clock::new()
                    },
                },
            ),
        };
    }

    let Some(row) = current else {
        return Decision::nothing(rejected(
            m,
            "not-found",
            format!("no {} row {}", entity.table, m.id),
        ));
    };
    if theirs(row) {
        // Another user's row looks exactly like a missing one.
        return Decision::nothing(rejected(
            m,
            "not-found",
            format!("no {} row {}", entity.table, m.id),
        ));
    }
    if entity.policy == Policy::AppendOnly {
        return Decision::nothing(rejected(
            m,
            "append-only",
            format!("{} rows are never changed or deleted", entity.table),
        ));
    }
    if let Some(owner) = owner_key
        && let Some(value) = item.data.get(owner)
        && value.as_str() != Some(caller.user)
    {
        return foreign_owner(owner);
    }
    if row.deleted_at.is_some() {
        // Deleting a deleted row changes nothing and is what was asked; anything else is a
        // conflict whose record is the tombstone. Under lww and server_wins the update lost,
        // and is kept (an update with nothing to apply has nothing to lose).
        return match (m.op, mode, entity.policy) {
            (Op::Delete, _, _) => {
                Decision::nothing(answer(m, PushStatus::Accepted, Some(row.version), None))
            }
            (_, Mode::Policy, Policy::Lww(_) | Policy::ServerWins) => Decision {
                result: conflict(m, entity, row),
                write: None,
                audits: (!item.data.is_empty())
                    .then(|| Audit {
                        reason: if is_lww {
                            "lww: an update of a deleted row (a delete is final)"
                        } else {
                            "server_wins: an update of a deleted row"
                        },
                        losing: losing(m, &item.data),
                        winning_version: row.version,
                    })
                    .into_iter()
                    .collect(),
                keep_result: true,
            },
            _ => Decision::nothing(conflict(m, entity, row)),
        };
    }

    // An update with no field to apply (an older app's, of fields the schema dropped since:
    // `prepare` lets no other through) changes nothing, whatever the policy: accepted at the
    // version it was based on, so the app's later writes to the row are judged on that, with
    // the row as it is, which the app adopts (it may have pulled past newer versions while
    // the update waited in its queue).
    if m.op == Op::Update && item.data.is_empty() {
        return Decision::nothing(answer(
            m,
            PushStatus::Accepted,
            m.base_version,
            Some(row.record(entity, &m.id)),
        ));
    }

    // lww decides field by field, whatever the version the write was based on.
    if mode == Mode::Policy && is_lww {
        return match m.op {
            Op::Delete => lww::delete(item, row, now),
            _ => lww::update(item, row, now),
        };
    }

    if m.base_version == Some(row.version) {
        let write = match m.op {
            Op::Delete => Stored {
                version: row.version + 1,
                updated_at: now,
                deleted_at: Some(now),
                data: row.data.clone(),
                clock: row.clock.clone(),
            },
            _ => {
                let mut data = row.data.clone();
                data.extend(item.data.clone());
                Stored {
                    version: row.version + 1,
                    updated_at: now,
                    deleted_at: None,
                    data,
                    clock: if is_lww {
                        lww::written_clock(item, row, now)
                    } else {
                        row.clock.clone()
                    },
                }
            }
        };
        let mut decision = Decision::accepted(m, write);
        if mode == Mode::Restore {
            // What the restore replaces: the fields it writes, or the whole row it deletes.
            let replaced: Map<String, Value> = row
                .data
                .iter()
                .filter(|(key, _)| m.op == Op::Delete || item.data.contains_key(*key))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect();
            decision.audits.push(Audit {
                reason: "restore: an admin wrote audited values back; these are what they replaced",
                losing: json!({ "op": "update", "baseVersion": null, "data": replaced }),
                winning_version: row.version + 1,
            });
        }
        return decision;
    }

    // Stale: the row moved past the version the device based its write on.
    match (mode, entity.policy) {
        (Mode::Policy, Policy::ServerWins) => Decision {
            result: conflict(m, entity, row),
            write: None,
            audits: vec![Audit {
                reason: "server_wins: a stale write from a device lost to the server's row",
                losing: losing(m, &item.data),
                winning_version: row.version,
            }],
            keep_result: true,
        },
        // Strict (REST: the client named the version it changes), version, and what is left.
        _ => Decision::nothing(conflict(m, entity, row)),
    }
}

pub(super) fn op_name(op: Op) -> &'static str {
    match op {
        Op::Insert => "insert",
        Op::Update => "update",
        Op::Delete => "delete",
    }
}

pub(super) fn reject_decision(mutation: &Mutation, reason: &str) -> Decision {
    Decision::nothing(rejected(mutation, "invalid-data", reason))
}

#[cfg(test)]
mod tests {
    use super::super::fixture::*;
    use super::*;

    #[test]
    fn a_current_write_is_accepted_and_bumps_the_version() {
        let e = entity(Policy::Version, None);
        let d = decide(
            &item(e, Op::Update, Some(3), json!({"note": "b"})),
            Some(&row(
                3,
                json!({"owner": "me", "note": "a", "modifiedAt": 1}),
            )),
            ME,
            Mode::Policy,
            99,
        );
        assert_eq!(d.result.status, PushStatus::Accepted);
        assert_eq!(d.result.version, Some(4));
        let written = d.write.unwrap();
        assert_eq!(
            (written.data["note"].clone(), written.updated_at),
            (json!("b"), 99)
        );
        assert!(d.keep_result && d.audits.is_empty());
    }

    #[test]
    fn a_stale_write_conflicts_under_version_and_changes_nothing() {
        let e = entity(Policy::Version, None);
        let d = decide(
            &item(e, Op::Update, Some(2), json!({"note": "b"})),
            Some(&row(3, json!({"note": "a"}))),
            ME,
            Mode::Policy,
            99,
        );
        assert_eq!(d.result.status, PushStatus::Conflict);
        assert_eq!(d.result.record.unwrap().version, 3);
        assert!(
            d.write.is_none() && d.audits.is_empty() && !d.keep_result,
            "nothing applied, nothing kept"
        );
    }

    #[test]
    fn server_wins_keeps_the_row_and_audits_the_device_write() {
        let e = entity(Policy::ServerWins, None);
        let d = decide(
            &item(e, Op::Delete, Some(1), json!({})),
            Some(&row(2, json!({}))),
            ME,
            Mode::Policy,
            9,
        );
        assert_eq!(d.result.status, PushStatus::Conflict);
        assert!(d.write.is_none() && !d.audits.is_empty() && d.keep_result);
    }

    #[test]
    fn strict_mode_ignores_the_policy() {
        let e = entity(Policy::ServerWins, None);
        let d = decide(
            &item(e, Op::Update, Some(1), json!({"note": "x"})),
            Some(&row(2, json!({}))),
            ME,
            Mode::Strict,
            9,
        );
        assert_eq!(d.result.status, PushStatus::Conflict);
        assert!(d.audits.is_empty() && !d.keep_result);
    }

    #[test]
    fn append_only_refuses_updates_and_deletes() {
        let e = entity(Policy::AppendOnly, None);
        let d = decide(
            &item(e, Op::Update, Some(1), json!({"note": "x"})),
            Some(&row(1, json!({}))),
            ME,
            Mode::Policy,
            9,
        );
        assert_eq!(d.result.error.unwrap().code, "append-only");
    }

    #[test]
    fn another_users_row_looks_missing_and_cannot_be_taken_over() {
        let e = entity(Policy::Version, Some(0));
        let theirs = row(1, json!({"owner": "them"}));
        let d = decide(
            &item(e, Op::Update, Some(1), json!({"note": "x"})),
            Some(&theirs),
            ME,
            Mode::Policy,
            9,
        );
        assert_eq!(d.result.error.unwrap().code, "not-found");
        let mine = row(1, json!({"owner": "me"}));
        let d = decide(
            &item(e, Op::Update, Some(1), json!({"owner": "them"})),
            Some(&mine),
            ME,
            Mode::Policy,
            9,
        );
        assert_eq!(d.result.error.unwrap().code, "not-found");
        let d = decide(
            &item(
                e,
                Op::Insert,
                None,
                json!({"owner": "them", "note": null, "modifiedAt": 1}),
            ),
            None,
            ME,
            Mode::Policy,
            9,
        );
        assert_eq!(d.result.error.unwrap().code, "not-found");
        // An insert over their id: refused, and nothing of their row in the answer.
        let d = decide(
            &item(
                e,
                Op::Insert,
                None,
                json!({"owner": "me", "note": null, "modifiedAt": 1}),
            ),
            Some(&row(3, json!({"owner": "them", "note": "private"}))),
            ME,
            Mode::Policy,
            9,
        );
        assert_eq!(
            (d.result.status, d.result.error.unwrap().code.as_str()),
            (PushStatus::Rejected, "not-found")
        );
        assert!(d.result.record.is_none() && d.result.version.is_none() && d.write.is_none());
    }

    #[test]
    fn an_update_with_nothing_to_apply_is_accepted_at_its_base_with_the_row_as_it_is() {
        // What an older app's update of fields dropped since comes to, under every policy.
        for policy in [
            Policy::Version,
            Policy::ServerWins,
            Policy::Lww(crate::model::LwwClock::Device),
        ] {
            let e = entity(policy, None);
            let d = decide(
                &item(e, Op::Update, Some(2), json!({})),
                Some(&row(5, json!({"note": "newer"}))),
                ME,
                Mode::Policy,
                9,
            );
            assert_eq!(
                (d.result.status, d.result.version),
                (PushStatus::Accepted, Some(2)),
                "{policy:?}: later writes of the app are judged on the version it had"
            );
            let record = d.result.record.unwrap();
            assert_eq!((record.version, &record.data["note"]), (5, &json!("newer")));
            assert!(d.write.is_none() && d.audits.is_empty(), "{policy:?}");
            let mut tomb = row(5, json!({}));
            tomb.deleted_at = Some(4);
            let d = decide(
                &item(e, Op::Update, Some(2), json!({})),
                Some(&tomb),
                ME,
                Mode::Policy,
                9,
            );
            assert_eq!(d.result.status, PushStatus::Conflict, "{policy:?}");
            assert!(d.audits.is_empty(), "{policy:?}: nothing lost to audit");
        }
    }

    #[test]
    fn an_insert_over_an_existing_id_is_a_conflict_and_deleting_a_tombstone_is_accepted() {
        let e = entity(Policy::Lww(crate::model::LwwClock::Device), None);
        let d = decide(
            &item(e, Op::Insert, None, json!({"note": "x"})),
            Some(&row(4, json!({}))),
            ME,
            Mode::Policy,
            9,
        );
        assert_eq!(
            (d.result.status, d.keep_result),
            (PushStatus::Conflict, false)
        );
        let mut tomb = row(4, json!({}));
        tomb.deleted_at = Some(3);
        let d = decide(
            &item(e, Op::Delete, Some(2), json!({})),
            Some(&tomb),
            ME,
            Mode::Policy,
            9,
        );
        assert_eq!(
            (d.result.status, d.result.version),
            (PushStatus::Accepted, Some(4))
        );
        assert!(d.write.is_none());
        let d = decide(
            &item(e, Op::Update, Some(4), json!({"note": "x"})),
            Some(&tomb),
            ME,
            Mode::Policy,
            9,
        );
        assert_eq!(d.result.status, PushStatus::Conflict);
        assert!(d.result.record.unwrap().deleted);
    }
}
