//! What a batch reads before it is decided, in one statement after its mutation ids are
//! locked: the results of mutations seen before, the rows it touches, and whether the rows its
//! references name exist.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Map, Value, json};

use super::Caller;
use super::decide::{Clock, Stored};
use super::prepare::{Item, rejected};
use super::sql::{LOCK, STORED};
use crate::bookkeeping::{DELETED_AT, ID, UPDATED_AT, VERSION};
use crate::model::{AppDef, EntityDef, Kind};
use crate::protocol::{Op, PushResult};
use crate::server::db::{Arg, Dialect, Row, Tx};
use crate::values;

/// The current state of the rows a batch touches, by (table, id): `None` for no row.
pub(super) type State<'a> = HashMap<(&'a str, String), Option<Stored>>;

/// A stored result: the user who sent the mutation, and its result.
pub(super) type StoredResult = (String, Option<String>);

/// What a batch finds in the database before it is decided.
pub(super) struct Found {
    /// The results of mutations seen before, by mutation id.
    pub(super) stored: HashMap<String, StoredResult>,
    /// The rows the batch touches, locked where the database can.
    pub(super) state: State<'static>,
    /// The referenced rows that exist for the caller, by (table, id).
    pub(super) existing: HashSet<(&'static str, String)>,
}

/// Locks `ids` (one transaction at a time per mutation id: a retry arriving while its first
/// attempt is still running waits for it, then finds its result; SQLite runs one writer at a
/// time). Its own statement, before [`read`]: under READ COMMITTED a statement sees what was
/// committed when it began, so the read must begin after the wait for the locks ended.
pub(super) async fn lock(tx: &mut Tx, ids: &[&str]) -> Result<(), sqlx::Error> {
    if tx.dialect() == Dialect::Postgres {
        tx.rows(LOCK, &[json_arg(ids)]).await?;
    }
    Ok(())
}

/// Reads, in one statement, the stored results of `mutation_ids`, the rows `items` touch
/// (locked where the database can) and which of the rows they reference exist for the caller.
pub(super) async fn read(
    app: &'static AppDef,
    tx: &mut Tx,
    caller: Caller<'_>,
    mutation_ids: &[&str],
    items: &[Item],
) -> Result<Found, sqlx::Error> {
    let mut rows: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut refs: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for item in items {
        rows.entry(item.entity.table)
            .or_default()
            .push(&item.mutation.id);
        for field in item.entity.fields {
            if let Kind::Reference(target) = field.kind
                && let Some(id) = item.data.get(field.key).and_then(Value::as_str)
            {
                refs.entry(target).or_default().push(id);
            }
        }
    }
    for ids in rows.values_mut().chain(refs.values_mut()) {
        ids.sort_unstable();
        ids.dedup();
    }
    let entities = app.by_table();
    let list = |ids: Option<&Vec<&str>>| Arg::OptText(ids.map(|ids| json!(ids).to_string()));
    let mut args = vec![
        json_arg(mutation_ids),
        Arg::Text(caller.user.to_owned()),
        Arg::OptText(values::is_canonical_uuid(caller.user).then(|| caller.user.to_owned())),
    ];
    args.extend(entities.iter().map(|e| list(rows.get(e.table))));
    args.extend(entities.iter().map(|e| list(refs.get(e.table))));
    let mut found = Found {
        stored: HashMap::new(),
        state: HashMap::new(),
        existing: HashSet::new(),
    };
    for row in tx.rows(app.push.map(|p| p.read), &args).await? {
        let part = row.text("part")?;
        if part == "stored" {
            found.stored.insert(row.text(ID.sql)?, stored_result(&row)?);
            continue;
        }
        let name = row.text("entity")?;
        let Some(entity) = app.entity(&name) else {
            continue;
        };
        if part == "row" {
            found.state.insert(
                (entity.table, row.text(ID.sql)?),
                Some(stored(entity, &row)?),
            );
        } else {
            found.existing.insert((entity.table, row.text(ID.sql)?));
        }
    }
    for (table, ids) in &rows {
        let Some(entity) = app.entity(table) else {
            continue;
        };
        for id in ids {
            found
                .state
                .entry((entity.table, (*id).to_owned()))
                .or_insert(None);
        }
    }
    Ok(found)
}

/// The sender and result of a stored result, from either statement that reads them.
fn stored_result(row: &Row) -> Result<StoredResult, sqlx::Error> {
    Ok((row.text("user_id")?, row.opt_text("result")?))
}

/// A stored result as the caller gets it: another user's mutation id is not theirs to replay.
pub(super) fn answer_stored(
    caller: Caller<'_>,
    mutation: &crate::protocol::Mutation,
    stored: &StoredResult,
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

/// Locks the batch's mutation ids and reads what it needs (see [`read`]); splits the batch:
/// the results of mutations seen before (in the batch's terms: index and result), and the
/// items still to decide.
pub(super) async fn batch<'i>(
    app: &'static AppDef,
    tx: &mut Tx,
    caller: Caller<'_>,
    items: &'i [Item],
) -> Result<(Vec<(usize, PushResult)>, Vec<&'i Item>, Found), sqlx::Error> {
    let ids: Vec<&str> = items
        .iter()
        .map(|i| i.mutation.mutation_id.as_str())
        .collect();
    lock(tx, &ids).await?;
    let found = read(app, tx, caller, &ids, items).await?;
    let out = items
        .iter()
        .filter_map(|item| {
            let first = found.stored.get(&item.mutation.mutation_id)?;
            Some((item.index, answer_stored(caller, &item.mutation, first)))
        })
        .collect();
    let todo: Vec<&Item> = items
        .iter()
        .filter(|i| !found.stored.contains_key(&i.mutation.mutation_id))
        .collect();
    Ok((out, todo, found))
}

/// Locks `ids` and reads their stored results only (for mutations that are not decided:
/// refused by the checks, or writing an entity dropped since).
pub(super) async fn lock_and_read(
    tx: &mut Tx,
    ids: &[&str],
) -> Result<HashMap<String, StoredResult>, sqlx::Error> {
    lock(tx, ids).await?;
    let mut stored = HashMap::new();
    for row in tx.rows(STORED, &[json_arg(ids)]).await? {
        stored.insert(row.text("mutation_id")?, stored_result(&row)?);
    }
    Ok(stored)
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
            let first = stored.get(&mutation.mutation_id)?;
            Some((*index, answer_stored(caller, mutation, first)))
        })
        .collect())
}

/// Items whose references name rows that exist neither among the caller's rows (another
/// user's owner-scoped row does not exist for them) nor among the batch's inserts of new ids,
/// with the reason.
pub(super) fn missing_references(
    items: &[&Item],
    state: &State<'_>,
    existing: &HashSet<(&'static str, String)>,
) -> HashMap<usize, String> {
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
    missing
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
        version: row.int(VERSION.sql)?,
        updated_at: row.int(UPDATED_AT.sql)?,
        deleted_at: row.opt_int(DELETED_AT.sql)?,
        data,
        clock,
    })
}

/// A JSON array of strings, as one bound parameter.
pub(crate) fn json_arg(values: &[&str]) -> Arg {
    Arg::Text(Value::from(values.to_vec()).to_string())
}
