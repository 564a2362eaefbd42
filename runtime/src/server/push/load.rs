//! What a batch reads before it is decided: the results of mutations seen before, the rows
//! it touches, and whether the rows its references name exist.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Map, Value};

use super::Caller;
use super::decide::{Clock, Stored};
use super::prepare::{Item, rejected};
use super::sql::{LOCK, STORED};
use crate::model::{AppDef, EntityDef, Kind};
use crate::protocol::{Op, PushResult};
use crate::server::db::{Arg, Dialect, Row, Tx};
use crate::values;

/// The current state of the rows a batch touches, by (table, id): `None` for no row.
pub(super) type State<'a> = HashMap<(&'a str, String), Option<Stored>>;

/// Locks `ids` (one transaction at a time per mutation id: a retry arriving while its first
/// attempt is still running waits for it, then finds its result; SQLite runs one writer at a
/// time) and reads their stored results: by mutation id, the user who sent it and the result.
pub(super) async fn lock_and_read(
    tx: &mut Tx,
    ids: &[&str],
) -> Result<HashMap<String, (String, Option<String>)>, sqlx::Error> {
    if tx.dialect() == Dialect::Postgres {
        tx.rows(LOCK, &[json_arg(ids)]).await?;
    }
    // A statement of its own, after the locks: under READ COMMITTED it sees what the
    // transactions it waited for committed.
    let mut stored = HashMap::new();
    for row in tx.rows(STORED, &[json_arg(ids)]).await? {
        stored.insert(
            row.text("mutation_id")?,
            (row.text("user_id")?, row.opt_text("result")?),
        );
    }
    Ok(stored)
}

/// A stored result as the caller gets it: another user's mutation id is not theirs to replay.
pub(super) fn answer_stored(
    caller: Caller<'_>,
    mutation: &crate::protocol::Mutation,
    stored: &(String, Option<String>),
) -> PushResult {
    let (user, result) = stored;
    let first = match result {
        Some(result) if user == caller.user => serde_json::from_str(result).ok(),
        _ => None,
    };
    first.unwrap_or_else(|| {
        rejected(
            mutation,
            "invalid-request",
            "this mutationId belongs to another mutation",
        )
    })
}

/// Locks the batch's mutation ids, then splits it: the results of mutations seen before (in
/// the batch's terms: index and result), and the items still to decide.
pub(super) async fn stored_results<'i>(
    tx: &mut Tx,
    caller: Caller<'_>,
    items: &'i [Item],
) -> Result<(Vec<(usize, PushResult)>, Vec<&'i Item>), sqlx::Error> {
    let ids: Vec<&str> = items
        .iter()
        .map(|i| i.mutation.mutation_id.as_str())
        .collect();
    let stored = lock_and_read(tx, &ids).await?;
    let out = items
        .iter()
        .filter_map(|item| {
            let found = stored.get(&item.mutation.mutation_id)?;
            Some((item.index, answer_stored(caller, &item.mutation, found)))
        })
        .collect();
    let todo: Vec<&Item> = items
        .iter()
        .filter(|i| !stored.contains_key(&i.mutation.mutation_id))
        .collect();
    Ok((out, todo))
}

/// The first results of mutations the checks refuse now, where there are any: a retried
/// mutation gets the answer it got the first time, whatever changed since.
pub(super) async fn first_results(
    db: &crate::server::db::Database,
    caller: Caller<'_>,
    refused: &[(usize, crate::protocol::Mutation)],
) -> Result<Vec<(usize, PushResult)>, sqlx::Error> {
    let ids: Vec<&str> = refused
        .iter()
        .map(|(_, m)| m.mutation_id.as_str())
        .filter(|id| super::prepare::mutation_id_problem(id).is_none())
        .collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = db.begin_write().await?;
    let stored = lock_and_read(&mut tx, &ids).await?;
    tx.commit().await?;
    Ok(refused
        .iter()
        .filter_map(|(index, mutation)| {
            let found = stored.get(&mutation.mutation_id)?;
            Some((*index, answer_stored(caller, mutation, found)))
        })
        .collect())
}

/// The current rows of the items, per entity, locked where the database can.
pub(super) async fn rows<'i>(tx: &mut Tx, items: &[&'i Item]) -> Result<State<'i>, sqlx::Error> {
    let mut state: State = HashMap::new();
    let mut by_entity: BTreeMap<&str, (&'static EntityDef, Vec<&str>)> = BTreeMap::new();
    for item in items {
        by_entity
            .entry(item.entity.table)
            .or_insert((item.entity, Vec::new()))
            .1
            .push(&item.mutation.id);
    }
    for (table, (entity, ids)) in &mut by_entity {
        ids.sort_unstable();
        ids.dedup();
        for row in tx
            .rows(entity.sql.map(|s| s.load), &[json_arg(ids)])
            .await?
        {
            let id = row.text("id")?;
            state.insert((table, id), Some(stored(entity, &row)?));
        }
        for id in ids.iter() {
            state.entry((table, (*id).to_owned())).or_insert(None);
        }
    }
    Ok(state)
}

/// Items whose references name rows that exist neither among the caller's rows (another
/// user's owner-scoped row does not exist for them) nor among the batch's inserts of new ids,
/// with the reason.
pub(super) async fn missing_references(
    app: &'static AppDef,
    tx: &mut Tx,
    caller: Caller<'_>,
    items: &[&Item],
    state: &State<'_>,
) -> Result<HashMap<usize, String>, sqlx::Error> {
    let mut wanted: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    // An insert over an id in use is never applied: a reference to it must find the row.
    let inserted: HashSet<(&str, &str)> = items
        .iter()
        .filter(|i| i.mutation.op == Op::Insert)
        .filter(|i| {
            matches!(
                state.get(&(i.entity.table, i.mutation.id.clone())),
                Some(None)
            )
        })
        .map(|i| (i.entity.table, i.mutation.id.as_str()))
        .collect();
    for item in items {
        for field in item.entity.fields {
            if let Kind::Reference(target) = field.kind
                && let Some(id) = item.data.get(field.key).and_then(Value::as_str)
                && !inserted.contains(&(target, id))
            {
                wanted.entry(target).or_default().push(id);
            }
        }
    }
    let mut existing: HashSet<(&str, String)> = HashSet::new();
    for (target, ids) in &wanted {
        let Some(entity) = app.entity(target) else {
            continue;
        };
        let owner = [
            json_arg(ids),
            Arg::Text(caller.user.to_owned()),
            Arg::OptText(values::is_canonical_uuid(caller.user).then(|| caller.user.to_owned())),
        ];
        for row in tx.rows(entity.sql.map(|s| s.existing), &owner).await? {
            existing.insert((target, row.text("id")?));
        }
    }
    let mut missing = HashMap::new();
    for item in items {
        for field in item.entity.fields {
            if let Kind::Reference(target) = field.kind
                && let Some(id) = item.data.get(field.key).and_then(Value::as_str)
                && !inserted.contains(&(target, id))
                && !existing.contains(&(target, id.to_owned()))
            {
                missing.insert(
                    item.index,
                    format!("{} refers to {id}, which is no {target} row", field.key),
                );
            }
        }
    }
    Ok(missing)
}

/// A row of `entity` from its `load` or `list` statement, its values in canonical form.
pub(crate) fn stored(entity: &EntityDef, row: &Row) -> Result<Stored, sqlx::Error> {
    let data: Value =
        serde_json::from_str(&row.text("data")?).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    let mut data = match data {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    values::canonicalize(entity, &mut data);
    let clock = match row.opt_text("clock")? {
        Some(text) => serde_json::from_str(&text).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        None => Clock::new(),
    };
    Ok(Stored {
        version: row.int("version")?,
        updated_at: row.int("updated_at")?,
        deleted_at: row.opt_int("deleted_at")?,
        data,
        clock,
    })
}

/// A JSON array of strings, as one bound parameter.
pub(crate) fn json_arg(values: &[&str]) -> Arg {
    Arg::Text(Value::from(values.to_vec()).to_string())
}
