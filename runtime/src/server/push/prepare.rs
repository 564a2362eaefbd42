//! The checks a mutation passes before the database is read: its entity, id and values.

use serde_json::{Map, Value};

use super::Caller;
use super::converted::Converted;
use crate::model::{AppDef, EntityDef};
use crate::protocol::{ItemError, Mutation, Op, PushResult, PushStatus};
use crate::values;

/// A mutation that passed the checks that need no database.
#[derive(Clone, Debug)]
pub(super) struct Item {
    pub(super) index: usize,
    pub(super) mutation: Mutation,
    pub(super) entity: &'static EntityDef,
    /// Insert: the whole record; update: the changed fields (none when every field it wrote
    /// was dropped since, see `converted`); delete: empty.
    pub(super) data: Map<String, Value>,
    /// What the conversion from an older app's schema step changed, if anything.
    pub(super) converted: Option<Converted>,
}

pub(super) fn rejected(mutation: &Mutation, code: &str, message: impl Into<String>) -> PushResult {
    PushResult {
        mutation_id: mutation.mutation_id.clone(),
        id: mutation.id.clone(),
        status: PushStatus::Rejected,
        version: None,
        record: None,
        overridden: None,
        error: Some(ItemError {
            code: code.to_owned(),
            message: message.into(),
        }),
    }
}

/// Why a mutation id cannot be kept in the idempotency record (text, at most 128 characters,
/// and without U+0000, which PostgreSQL cannot store), if it cannot. Such an id was never
/// stored, so it is not looked up either: the lookup would fail on PostgreSQL.
pub(super) fn mutation_id_problem(id: &str) -> Option<&'static str> {
    // The message below spells the limit out.
    const _: () = assert!(crate::limits::MAX_ID_LEN == 128);
    if id.is_empty() || id.len() > crate::limits::MAX_ID_LEN {
        Some("mutationId must be 1 to 128 characters")
    } else if id.contains('\0') {
        Some("mutationId must not contain U+0000")
    } else {
        None
    }
}

/// Checks a mutation without the database: its entity, id, and values. An insert into an
/// owner-scoped entity that leaves the owner out gets the caller's id. An update left with no
/// field by `converted` (an older app wrote only fields dropped since) has nothing to change,
/// and is let through as such.
#[allow(
    clippy::result_large_err,
    reason = "the rejection is the item's result, stored as it is"
)]
pub(super) fn prepare(
    app: &AppDef,
    caller: Caller,
    index: usize,
    mut mutation: Mutation,
    converted: Option<Converted>,
) -> Result<Item, PushResult> {
    if let Some(problem) = mutation_id_problem(&mutation.mutation_id) {
        return Err(rejected(&mutation, "invalid-request", problem));
    }
    let Some(entity) = app.entity(&mutation.entity) else {
        let known: Vec<&str> = app.entities.iter().map(|e| e.table).collect();
        let message = format!(
            "no entity `{}` (known: {})",
            mutation.entity,
            known.join(", ")
        );
        return Err(rejected(&mutation, "unknown-entity", message));
    };
    if !values::is_canonical_uuid(&mutation.id) {
        return Err(rejected(
            &mutation,
            "invalid-id",
            "ids are lowercase hyphenated UUIDs",
        ));
    }
    // Per-field stamps belong to fields the update changes; any other is a device's mistake.
    if entity.policy.is_lww()
        && mutation.op == Op::Update
        && let Some(stamps) = &mutation.field_stamps
        && let Some(key) = stamps.keys().find(|k| !mutation.data.contains_key(*k))
    {
        let message = format!("fieldStamps names `{key}`, which this update does not change");
        return Err(rejected(&mutation, "invalid-request", message));
    }
    let data = match mutation.op {
        Op::Insert => {
            if let Some(owner) = entity.owner_field() {
                mutation
                    .data
                    .entry(owner.key)
                    .or_insert_with(|| Value::String(caller.user.to_owned()));
            }
            values::full_record(entity, &mutation.data)
        }
        Op::Update if mutation.base_version.is_none() => {
            return Err(rejected(
                &mutation,
                "invalid-request",
                "an update needs baseVersion",
            ));
        }
        Op::Update
            if mutation.data.is_empty()
                && converted.as_ref().is_some_and(|c| !c.dropped.is_empty()) =>
        {
            Ok(Map::new())
        }
        Op::Update => values::changes(entity, &mutation.data),
        Op::Delete if mutation.base_version.is_none() => {
            return Err(rejected(
                &mutation,
                "invalid-request",
                "a delete needs baseVersion",
            ));
        }
        Op::Delete => Ok(Map::new()),
    };
    match data {
        Ok(data) => Ok(Item {
            index,
            entity,
            data,
            mutation,
            converted,
        }),
        Err(errors) => Err(rejected(
            &mutation,
            "invalid-data",
            values::describe(&errors),
        )),
    }
}
