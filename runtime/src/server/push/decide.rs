//! The conflict policies: what one mutation does to its row. Pure, so the whole conflict
//! logic is tested without a database.

use serde_json::{Map, Value, json};

use super::prepare::{Item, rejected};
use super::{Caller, Mode};
use crate::model::{EntityDef, Policy};
use crate::protocol::{Mutation, Op, PushResult, PushStatus, Record};

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
}

/// What the engine decided for one mutation.
#[derive(Clone, Debug)]
pub(super) struct Decision {
    pub(super) result: PushResult,
    /// The row's new state, if it changes.
    pub(super) write: Option<Stored>,
    /// The losing side, kept in `_offgen_audit`.
    pub(super) audit: Option<Audit>,
    /// Whether the mutation changed the database (and so keeps its result for retries).
    pub(super) keep_result: bool,
}

#[derive(Clone, Debug)]
pub(super) struct Audit {
    pub(super) reason: &'static str,
    pub(super) losing: Value,
    pub(super) winning_version: i64,
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
    let accepted = |version: i64, write: Stored| Decision {
        result: PushResult {
            mutation_id: m.mutation_id.clone(),
            id: m.id.clone(),
            status: PushStatus::Accepted,
            version: Some(version),
            record: None,
            error: None,
        },
        write: Some(write),
        audit: None,
        keep_result: true,
    };
    let conflict = |row: &Stored| PushResult {
        mutation_id: m.mutation_id.clone(),
        id: m.id.clone(),
        status: PushStatus::Conflict,
        version: Some(row.version),
        record: Some(row.record(entity, &m.id)),
        error: None,
    };
    let nothing = |result: PushResult| Decision {
        result,
        write: None,
        audit: None,
        keep_result: false,
    };
    let owner_key = entity.owner_field().map(|f| f.key);
    // Owner scoping: another user's row looks like a missing one, and is never shown. Naming
    // another user as owner is refused the same way, `not-found`, whatever that user holds.
    let theirs = |row: &Stored| owner_key.is_some() && row.owner(entity) != Some(caller.user);
    let foreign_owner = |owner: &str| {
        nothing(rejected(
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
            Some(row) if theirs(row) => nothing(rejected(
                m,
                "not-found",
                format!(
                    "{} row {} cannot be created: the id is in use",
                    entity.table, m.id
                ),
            )),
            // The id is taken: never overwrite, whatever the policy.
            Some(row) => nothing(conflict(row)),
            None => accepted(
                1,
                Stored {
                    version: 1,
                    updated_at: now,
                    deleted_at: None,
                    data: item.data.clone(),
                },
            ),
        };
    }

    let Some(row) = current else {
        return nothing(rejected(
            m,
            "not-found",
            format!("no {} row {}", entity.table, m.id),
        ));
    };
    if theirs(row) {
        // Another user's row looks exactly like a missing one.
        return nothing(rejected(
            m,
            "not-found",
            format!("no {} row {}", entity.table, m.id),
        ));
    }
    if entity.policy == Policy::AppendOnly {
        return nothing(rejected(
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
        // conflict whose record is the tombstone.
        return if m.op == Op::Delete {
            nothing(PushResult {
                mutation_id: m.mutation_id.clone(),
                id: m.id.clone(),
                status: PushStatus::Accepted,
                version: Some(row.version),
                record: None,
                error: None,
            })
        } else {
            nothing(conflict(row))
        };
    }

    let next = |data: Map<String, Value>, deleted_at: Option<i64>| Stored {
        version: row.version + 1,
        updated_at: now,
        deleted_at,
        data,
    };
    let merged = || {
        let mut data = row.data.clone();
        data.extend(item.data.clone());
        data
    };
    let apply = || match m.op {
        Op::Delete => next(row.data.clone(), Some(now)),
        _ => next(merged(), None),
    };
    if m.base_version == Some(row.version) {
        let write = apply();
        return accepted(write.version, write);
    }

    // Stale: the row moved past the version the device based its write on.
    let lww_field = match entity.policy {
        Policy::Lww { field } => Some(entity.fields[field].key),
        _ => None,
    };
    match (mode, entity.policy) {
        (Mode::Strict, _) | (Mode::Policy, Policy::Version | Policy::AppendOnly) => {
            nothing(conflict(row))
        }
        (Mode::Policy, Policy::Lww { .. })
            if m.op == Op::Update && newer(&item.data, &row.data, lww_field) =>
        {
            // The device's edit is newer: it wins, and what it overwrote is kept.
            let write = apply();
            let overwritten: Map<String, Value> = item
                .data
                .keys()
                .filter_map(|k| row.data.get(k).map(|v| (k.clone(), v.clone())))
                .collect();
            Decision {
                audit: Some(Audit {
                    reason: "lww: a newer write from a device replaced these values",
                    losing: Value::Object(overwritten),
                    winning_version: write.version,
                }),
                ..accepted(write.version, write)
            }
        }
        (Mode::Policy, _) => Decision {
            result: conflict(row),
            write: None,
            audit: Some(Audit {
                reason: match (entity.policy, m.op) {
                    (Policy::ServerWins, _) => {
                        "server_wins: a stale write from a device lost to the server's row"
                    }
                    (_, Op::Delete) => {
                        "lww: a stale delete carries no timestamp and lost to the server's row"
                    }
                    _ => "lww: an older write from a device lost to the server's row",
                },
                losing: json!({ "op": op_name(m.op), "baseVersion": m.base_version, "data": item.data }),
                winning_version: row.version,
            }),
            keep_result: true,
        },
    }
}

pub(super) fn op_name(op: Op) -> &'static str {
    match op {
        Op::Insert => "insert",
        Op::Update => "update",
        Op::Delete => "delete",
    }
}

/// Whether `changes` carries a newer `field` than `row`.
pub(super) fn newer(
    changes: &Map<String, Value>,
    row: &Map<String, Value>,
    field: Option<&str>,
) -> bool {
    let Some(field) = field else { return false };
    let device = changes.get(field).and_then(Value::as_i64);
    let server = row.get(field).and_then(Value::as_i64);
    matches!((device, server), (Some(d), Some(s)) if d > s)
}

pub(super) fn reject_decision(mutation: &Mutation, reason: &str) -> Decision {
    Decision {
        result: rejected(mutation, "invalid-data", reason),
        write: None,
        audit: None,
        keep_result: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Dialects, EntitySql, FieldDef, Kind};

    const SQL: EntitySql = EntitySql {
        load: "",
        insert: "",
        update: "",
        existing: "",
        list: "",
    };
    const FIELDS: &[FieldDef] = &[
        FieldDef {
            key: "owner",
            column: "owner",
            kind: Kind::Text,
            nullable: false,
            default: None,
        },
        FieldDef {
            key: "note",
            column: "note",
            kind: Kind::Text,
            nullable: true,
            default: None,
        },
        FieldDef {
            key: "modifiedAt",
            column: "modified_at",
            kind: Kind::DateTime,
            nullable: false,
            default: None,
        },
    ];
    fn entity(policy: Policy, owner: Option<usize>) -> &'static EntityDef {
        Box::leak(Box::new(EntityDef {
            table: "notes",
            type_name: "Note",
            fields: FIELDS,
            policy,
            owner,
            sql: Dialects {
                sqlite: SQL,
                postgres: SQL,
            },
        }))
    }
    const ME: Caller = Caller {
        user: "me",
        client_id: "c",
    };

    fn item(entity: &'static EntityDef, op: Op, base: Option<i64>, data: Value) -> Item {
        Item {
            index: 0,
            mutation: Mutation {
                mutation_id: "m".into(),
                entity: "notes".into(),
                id: "r".into(),
                op,
                base_version: base,
                data: Map::new(),
                stamp: None,
                field_stamps: None,
            },
            entity,
            data: data.as_object().unwrap().clone(),
        }
    }

    fn row(version: i64, data: Value) -> Stored {
        Stored {
            version,
            updated_at: 5,
            deleted_at: None,
            data: data.as_object().unwrap().clone(),
        }
    }

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
        assert!(d.keep_result && d.audit.is_none());
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
            d.write.is_none() && d.audit.is_none() && !d.keep_result,
            "nothing applied, nothing kept"
        );
    }

    #[test]
    fn lww_lets_the_newer_timestamp_win_and_audits_the_loser() {
        let e = entity(Policy::Lww { field: 2 }, None);
        let server = row(3, json!({"note": "server", "modifiedAt": 100}));
        let newer = decide(
            &item(
                e,
                Op::Update,
                Some(1),
                json!({"note": "device", "modifiedAt": 200}),
            ),
            Some(&server),
            ME,
            Mode::Policy,
            9,
        );
        assert_eq!(newer.result.status, PushStatus::Accepted);
        assert_eq!(newer.write.unwrap().data["note"], "device");
        assert_eq!(
            newer.audit.unwrap().losing,
            json!({"note": "server", "modifiedAt": 100})
        );
        let older = decide(
            &item(
                e,
                Op::Update,
                Some(1),
                json!({"note": "device", "modifiedAt": 50}),
            ),
            Some(&server),
            ME,
            Mode::Policy,
            9,
        );
        assert_eq!(older.result.status, PushStatus::Conflict);
        assert!(older.write.is_none() && older.keep_result);
        assert_eq!(older.audit.unwrap().losing["data"]["note"], "device");
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
        assert!(d.write.is_none() && d.audit.is_some() && d.keep_result);
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
        assert!(d.audit.is_none() && !d.keep_result);
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
    fn an_insert_over_an_existing_id_is_a_conflict_and_deleting_a_tombstone_is_accepted() {
        let e = entity(Policy::Lww { field: 2 }, None);
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
