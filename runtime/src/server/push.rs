//! `POST /sync/push`: applying a batch of device mutations.
//!
//! A batch runs as one transaction of set-based statements (one per entity and kind of write,
//! each taking its rows as one JSON parameter), so its cost hardly grows with its size. Should
//! the database refuse that transaction (a unique index, two servers racing on one new id), the
//! batch is replayed one mutation per transaction, so only the offending mutation is rejected.
//!
//! Idempotency: a batch first locks its mutation ids (PostgreSQL advisory locks; SQLite runs
//! one writer at a time), so a retry arriving while the first attempt runs waits for it, and
//! then looks for their stored results. A mutation that changed the database keeps its result
//! in `_offgen_mutations`, in the same transaction as the change; one that changed nothing
//! (rejected, or a `version` conflict) keeps nothing and is evaluated anew if it comes again.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Map, Value, json};

use super::db::{Arg, Database, Dialect, Tx, constraint_violation};
use super::problem::Problem;
use crate::model::{AppDef, Dialects, EntityDef, Kind, Policy};
use crate::protocol::{ItemError, Mutation, Op, PushResult, PushStatus, Record};
use crate::values;

/// Who sends the batch.
#[derive(Clone, Copy, Debug)]
pub struct Caller<'a> {
    /// The authenticated user.
    pub user: &'a str,
    /// The device's id from the request.
    pub client_id: &'a str,
}

/// How stale writes are judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// By the entity's conflict policy (device pushes).
    Policy,
    /// Always a conflict (REST writes with `If-Match`: the client named the version it changes).
    Strict,
}

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

    fn owner(&self, entity: &EntityDef) -> Option<&str> {
        entity
            .owner_field()
            .and_then(|f| self.data.get(f.key))
            .and_then(Value::as_str)
    }
}

/// A mutation that passed the checks that need no database.
#[derive(Clone, Debug)]
struct Item {
    index: usize,
    mutation: Mutation,
    entity: &'static EntityDef,
    /// Insert: the whole record; update: the changed fields; delete: empty.
    data: Map<String, Value>,
}

/// What the engine decided for one mutation.
#[derive(Clone, Debug)]
struct Decision {
    result: PushResult,
    /// The row's new state, if it changes.
    write: Option<Stored>,
    /// The losing side, kept in `_offgen_audit`.
    audit: Option<Audit>,
    /// Whether the mutation changed the database (and so keeps its result for retries).
    keep_result: bool,
}

#[derive(Clone, Debug)]
struct Audit {
    reason: &'static str,
    losing: Value,
    winning_version: i64,
}

fn rejected(mutation: &Mutation, code: &str, message: impl Into<String>) -> PushResult {
    PushResult {
        mutation_id: mutation.mutation_id.clone(),
        id: mutation.id.clone(),
        status: PushStatus::Rejected,
        version: None,
        record: None,
        error: Some(ItemError {
            code: code.to_owned(),
            message: message.into(),
        }),
    }
}

/// Checks a mutation without the database: its entity, id, and values. An insert into an
/// owner-scoped entity that leaves the owner out gets the caller's id.
#[allow(
    clippy::result_large_err,
    reason = "the rejection is the item's result, stored as it is"
)]
fn prepare(
    app: &AppDef,
    caller: Caller,
    index: usize,
    mut mutation: Mutation,
) -> Result<Item, PushResult> {
    if mutation.mutation_id.is_empty() || mutation.mutation_id.len() > 128 {
        return Err(rejected(
            &mutation,
            "invalid-request",
            "mutationId must be 1 to 128 characters",
        ));
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
        }),
        Err(errors) => Err(rejected(
            &mutation,
            "invalid-data",
            values::describe(&errors),
        )),
    }
}

/// Decides one mutation against the row's current state. Pure: the whole conflict logic,
/// tested without a database.
fn decide(item: &Item, current: Option<&Stored>, caller: Caller, mode: Mode, now: i64) -> Decision {
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

    if m.op == Op::Insert {
        if let Some(owner) = owner_key
            && item.data.get(owner).and_then(Value::as_str) != Some(caller.user)
        {
            return nothing(rejected(
                m,
                "invalid-data",
                format!("{owner} must be your own user id"),
            ));
        }
        return match current {
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
    if owner_key.is_some() && row.owner(entity) != Some(caller.user) {
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
        return nothing(rejected(
            m,
            "invalid-data",
            format!("{owner} must stay your own user id"),
        ));
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

fn op_name(op: Op) -> &'static str {
    match op {
        Op::Insert => "insert",
        Op::Update => "update",
        Op::Delete => "delete",
    }
}

/// Whether `changes` carries a newer `field` than `row`.
fn newer(changes: &Map<String, Value>, row: &Map<String, Value>, field: Option<&str>) -> bool {
    let Some(field) = field else { return false };
    let device = changes.get(field).and_then(Value::as_i64);
    let server = row.get(field).and_then(Value::as_i64);
    matches!((device, server), (Some(d), Some(s)) if d > s)
}

/// Applies a batch; one result per mutation, in order.
pub async fn push(
    app: &'static AppDef,
    db: &Database,
    caller: Caller<'_>,
    mutations: Vec<Mutation>,
    mode: Mode,
) -> Result<Vec<PushResult>, Problem> {
    let mut results: Vec<Option<PushResult>> = vec![None; mutations.len()];
    let mut items = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut duplicates = Vec::new();
    for (index, mutation) in mutations.into_iter().enumerate() {
        // The same mutation twice in one batch: answered like the first.
        if let Some(first) = seen.get(&mutation.mutation_id) {
            duplicates.push((index, *first));
            continue;
        }
        seen.insert(mutation.mutation_id.clone(), index);
        match prepare(app, caller, index, mutation) {
            Ok(item) => items.push(item),
            Err(result) => results[index] = Some(result),
        }
    }
    if !items.is_empty() {
        let decided = match run(app, db, caller, &items, mode).await {
            Ok(decided) => decided,
            Err(Failure::Retry) => one_by_one(app, db, caller, &items, mode).await?,
            Err(Failure::Database(e)) => return Err(e.into()),
        };
        for (index, result) in decided {
            results[index] = Some(result);
        }
    }
    for (index, first) in duplicates {
        results[index] = results[first].clone();
    }
    Ok(results
        .into_iter()
        .map(|r| r.expect("every mutation is answered"))
        .collect())
}

/// Why a transaction did not go through.
enum Failure {
    /// The database refused the data, or two transactions collided: try again item by item.
    Retry,
    /// The database itself failed.
    Database(sqlx::Error),
}

impl From<sqlx::Error> for Failure {
    fn from(error: sqlx::Error) -> Failure {
        if constraint_violation(&error).is_some() || is_transient(&error) {
            Failure::Retry
        } else {
            Failure::Database(error)
        }
    }
}

/// PostgreSQL serialization failure and deadlock: retrying helps.
fn is_transient(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("40001" | "40P01")))
}

async fn one_by_one(
    app: &'static AppDef,
    db: &Database,
    caller: Caller<'_>,
    items: &[Item],
    mode: Mode,
) -> Result<Vec<(usize, PushResult)>, Problem> {
    let mut out = Vec::new();
    for item in items {
        let mut attempts = 0;
        loop {
            attempts += 1;
            match run_once(app, db, caller, std::slice::from_ref(item), mode).await {
                Ok(decided) => {
                    out.extend(decided);
                    break;
                }
                Err(error) => {
                    if let Some(message) = constraint_violation(&error) {
                        out.push((
                            item.index,
                            rejected(&item.mutation, "invalid-data", message),
                        ));
                        break;
                    }
                    if !(is_transient(&error) && attempts < 5) {
                        return Err(error.into());
                    }
                }
            }
        }
    }
    Ok(out)
}

async fn run(
    app: &'static AppDef,
    db: &Database,
    caller: Caller<'_>,
    items: &[Item],
    mode: Mode,
) -> Result<Vec<(usize, PushResult)>, Failure> {
    run_once(app, db, caller, items, mode)
        .await
        .map_err(Failure::from)
}

async fn run_once(
    app: &'static AppDef,
    db: &Database,
    caller: Caller<'_>,
    items: &[Item],
    mode: Mode,
) -> Result<Vec<(usize, PushResult)>, sqlx::Error> {
    let now = super::now_ms();
    let mut tx = db.begin_write().await?;
    let ids: Vec<&str> = items
        .iter()
        .map(|i| i.mutation.mutation_id.as_str())
        .collect();
    // One transaction at a time per mutation id: a retry arriving while the first attempt is
    // still running waits for it, then finds its result. (SQLite runs one writer at a time.)
    if tx.dialect() == Dialect::Postgres {
        tx.rows(LOCK, &[json_arg(&ids)]).await?;
    }
    // A statement of its own, after the locks: under READ COMMITTED it sees what the
    // transactions it waited for committed.
    let mut stored_results = HashMap::new();
    for row in tx.rows(STORED, &[json_arg(&ids)]).await? {
        stored_results.insert(
            row.text("mutation_id")?,
            (row.text("user_id")?, row.opt_text("result")?),
        );
    }
    let mut out = Vec::new();
    for item in items
        .iter()
        .filter(|i| stored_results.contains_key(&i.mutation.mutation_id))
    {
        let answer = match stored_results.get(&item.mutation.mutation_id) {
            Some((user, Some(result))) if user == caller.user => serde_json::from_str(result).ok(),
            _ => None,
        };
        let result = answer.unwrap_or_else(|| {
            rejected(
                &item.mutation,
                "invalid-request",
                "this mutationId belongs to another mutation",
            )
        });
        out.push((item.index, result));
    }
    let todo: Vec<&Item> = items
        .iter()
        .filter(|i| !stored_results.contains_key(&i.mutation.mutation_id))
        .collect();

    // Current rows, per entity, locked where the database can; then the references.
    let mut state: HashMap<(&str, String), Option<Stored>> = HashMap::new();
    let mut by_entity: BTreeMap<&str, (&'static EntityDef, Vec<&str>)> = BTreeMap::new();
    for item in &todo {
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
    let missing = missing_references(app, &mut tx, &todo).await?;

    let mut decisions: Vec<(&Item, Decision)> = Vec::new();
    for item in todo.iter().copied() {
        let key = (item.entity.table, item.mutation.id.clone());
        if let Some(reason) = missing.get(&item.index) {
            decisions.push((item, reject_decision(&item.mutation, reason)));
            continue;
        }
        let decision = decide(
            item,
            state.get(&key).and_then(Option::as_ref),
            caller,
            mode,
            now,
        );
        if let Some(write) = &decision.write {
            state.insert(key, Some(write.clone()));
        }
        decisions.push((item, decision));
    }

    write(&mut tx, caller, &decisions, &state, now).await?;
    tx.commit().await?;
    out.extend(
        decisions
            .into_iter()
            .map(|(item, d)| (item.index, d.result)),
    );
    Ok(out)
}

fn reject_decision(mutation: &Mutation, reason: &str) -> Decision {
    Decision {
        result: rejected(mutation, "invalid-data", reason),
        write: None,
        audit: None,
        keep_result: false,
    }
}

/// Items whose references name rows that exist neither in the database nor among the
/// batch's inserts, with the reason.
async fn missing_references(
    app: &'static AppDef,
    tx: &mut Tx,
    items: &[&Item],
) -> Result<HashMap<usize, String>, sqlx::Error> {
    let mut wanted: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let inserted: HashSet<(&str, &str)> = items
        .iter()
        .filter(|i| i.mutation.op == Op::Insert)
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
        for row in tx
            .rows(entity.sql.map(|s| s.existing), &[json_arg(ids)])
            .await?
        {
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

/// Writes the batch's outcome: rows (per entity: one insert and one update statement), audit
/// entries, and the idempotency records.
async fn write(
    tx: &mut Tx,
    caller: Caller<'_>,
    decisions: &[(&Item, Decision)],
    state: &HashMap<(&str, String), Option<Stored>>,
    now: i64,
) -> Result<(), sqlx::Error> {
    // The final state of every row written, once, in the order first written.
    let mut rows: Vec<(&'static EntityDef, &str, bool)> = Vec::new();
    let mut seen = HashSet::new();
    let mut created: HashSet<(&str, &str)> = HashSet::new();
    for (item, decision) in decisions {
        if decision.write.is_some() {
            if item.mutation.op == Op::Insert {
                created.insert((item.entity.table, item.mutation.id.as_str()));
            }
            if seen.insert((item.entity.table, item.mutation.id.as_str())) {
                rows.push((
                    item.entity,
                    &item.mutation.id,
                    created.contains(&(item.entity.table, item.mutation.id.as_str())),
                ));
            }
        }
    }
    let mut seq = next_sequence(tx, rows.len() as i64).await?;
    // Grouped per entity in the order entities first appear in the batch: the device's queue
    // order, so a pull lists a ranger before the observation that references it.
    let mut inserts: Vec<(&EntityDef, Vec<Value>)> = Vec::new();
    let mut updates: Vec<(&EntityDef, Vec<Value>)> = Vec::new();
    for (entity, id, is_new) in &rows {
        let Some(Some(row)) = state.get(&(entity.table, (*id).to_owned())) else {
            continue;
        };
        let mut flat = row.data.clone();
        flat.insert("id".into(), json!(id));
        flat.insert("version".into(), json!(row.version));
        flat.insert("updatedAt".into(), json!(row.updated_at));
        flat.insert("deletedAt".into(), json!(row.deleted_at));
        flat.insert("_seq".into(), json!(seq));
        seq += 1;
        let target = if *is_new { &mut inserts } else { &mut updates };
        match target.iter_mut().find(|(e, _)| e.table == entity.table) {
            Some((_, records)) => records.push(Value::Object(flat)),
            None => target.push((entity, vec![Value::Object(flat)])),
        }
    }
    for (entity, records) in inserts {
        tx.exec(
            entity.sql.map(|s| s.insert),
            &[Arg::Text(Value::Array(records).to_string())],
        )
        .await?;
    }
    for (entity, records) in updates {
        tx.exec(
            entity.sql.map(|s| s.update),
            &[Arg::Text(Value::Array(records).to_string())],
        )
        .await?;
    }
    let audits: Vec<Value> = decisions
        .iter()
        .filter_map(|(item, d)| {
            d.audit.as_ref().map(|a| {
                json!({
                    "entity": item.entity.table, "rowId": item.mutation.id, "mutationId": item.mutation.mutation_id,
                    "userId": caller.user, "clientId": caller.client_id, "reason": a.reason,
                    "losingData": a.losing, "winningVersion": a.winning_version, "createdAt": now,
                })
            })
        })
        .collect();
    if !audits.is_empty() {
        tx.exec(AUDIT, &[Arg::Text(Value::Array(audits).to_string())])
            .await?;
    }
    let kept: Vec<Value> = decisions
        .iter()
        .filter(|(_, d)| d.keep_result)
        .map(|(item, d)| {
            json!({
                "mutationId": item.mutation.mutation_id, "userId": caller.user, "clientId": caller.client_id,
                "entity": item.entity.table, "rowId": item.mutation.id,
                "result": serde_json::to_string(&d.result).unwrap_or_default(), "createdAt": now,
            })
        })
        .collect();
    if !kept.is_empty() {
        tx.exec(KEEP_RESULTS, &[Arg::Text(Value::Array(kept).to_string())])
            .await?;
    }
    Ok(())
}

/// The first of `count` change-sequence values. On SQLite writes are serialised, so a
/// counter bumped in the writing transaction orders changes by commit; on PostgreSQL the
/// statements draw from a sequence themselves and stamp the transaction id beside it.
async fn next_sequence(tx: &mut Tx, count: i64) -> Result<i64, sqlx::Error> {
    if count == 0 || tx.dialect() == Dialect::Postgres {
        return Ok(0);
    }
    let row = tx
        .rows(
            Dialects {
                sqlite: "UPDATE \"_offgen_counter\" SET \"value\" = \"value\" + ?1 WHERE \"id\" = 1 RETURNING \"value\"",
                postgres: "",
            },
            &[Arg::Int(count)],
        )
        .await?;
    let last = row
        .first()
        .map(|r| r.int("value"))
        .transpose()?
        .unwrap_or(count);
    Ok(last - count + 1)
}

/// A row of `entity` from its `load` or `list` statement, its values in canonical form.
pub(crate) fn stored(entity: &EntityDef, row: &super::db::Row) -> Result<Stored, sqlx::Error> {
    let data: Value =
        serde_json::from_str(&row.text("data")?).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    let mut data = match data {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    values::canonicalize(entity, &mut data);
    Ok(Stored {
        version: row.int("version")?,
        updated_at: row.int("updated_at")?,
        deleted_at: row.opt_int("deleted_at")?,
        data,
    })
}

/// A JSON array of strings, as one bound parameter.
pub(crate) fn json_arg(values: &[&str]) -> Arg {
    Arg::Text(Value::from(values.to_vec()).to_string())
}

impl<T: Copy> Dialects<T> {
    /// Applies `f` to both.
    pub fn map<U>(self, f: impl Fn(T) -> U) -> Dialects<U> {
        Dialects {
            sqlite: f(self.sqlite),
            postgres: f(self.postgres),
        }
    }
}

/// Transaction-scoped advisory locks on the batch's mutation ids, in a fixed order (so two
/// batches sharing ids cannot deadlock). Only run on PostgreSQL.
const LOCK: Dialects<&str> = Dialects {
    sqlite: "",
    postgres: "SELECT count(pg_advisory_xact_lock(hashtextextended(ids.v, 0))) AS \"locked\" FROM (SELECT jsonb_array_elements_text($1::jsonb) AS v ORDER BY 1) AS ids",
};

const STORED: Dialects<&str> = Dialects {
    sqlite: "SELECT \"mutation_id\", \"user_id\", \"result\" FROM \"_offgen_mutations\" WHERE \"mutation_id\" IN (SELECT \"value\" FROM json_each(?1))",
    postgres: "SELECT \"mutation_id\", \"user_id\", \"result\" FROM \"_offgen_mutations\" WHERE \"mutation_id\" = ANY(ARRAY(SELECT jsonb_array_elements_text($1::jsonb)))",
};

const KEEP_RESULTS: Dialects<&str> = Dialects {
    sqlite: "INSERT INTO \"_offgen_mutations\" (\"mutation_id\", \"user_id\", \"client_id\", \"entity\", \"row_id\", \"result\", \"created_at\") SELECT json_extract(\"value\", '$.mutationId'), json_extract(\"value\", '$.userId'), json_extract(\"value\", '$.clientId'), json_extract(\"value\", '$.entity'), json_extract(\"value\", '$.rowId'), json_extract(\"value\", '$.result'), json_extract(\"value\", '$.createdAt') FROM jsonb_each(?1)",
    postgres: "INSERT INTO \"_offgen_mutations\" (\"mutation_id\", \"user_id\", \"client_id\", \"entity\", \"row_id\", \"result\", \"created_at\") SELECT r.\"mutationId\", r.\"userId\", r.\"clientId\", r.\"entity\", r.\"rowId\", r.\"result\", r.\"createdAt\" FROM json_to_recordset($1::json) AS r(\"mutationId\" text, \"userId\" text, \"clientId\" text, \"entity\" text, \"rowId\" text, \"result\" text, \"createdAt\" bigint)",
};

const AUDIT: Dialects<&str> = Dialects {
    sqlite: "INSERT INTO \"_offgen_audit\" (\"entity\", \"row_id\", \"mutation_id\", \"user_id\", \"client_id\", \"reason\", \"losing_data\", \"winning_version\", \"created_at\") SELECT json_extract(\"value\", '$.entity'), json_extract(\"value\", '$.rowId'), json_extract(\"value\", '$.mutationId'), json_extract(\"value\", '$.userId'), json_extract(\"value\", '$.clientId'), json_extract(\"value\", '$.reason'), json(json_extract(\"value\", '$.losingData')), json_extract(\"value\", '$.winningVersion'), json_extract(\"value\", '$.createdAt') FROM jsonb_each(?1)",
    postgres: "INSERT INTO \"_offgen_audit\" (\"entity\", \"row_id\", \"mutation_id\", \"user_id\", \"client_id\", \"reason\", \"losing_data\", \"winning_version\", \"created_at\") SELECT r.\"entity\", r.\"rowId\"::uuid, r.\"mutationId\", r.\"userId\", r.\"clientId\", r.\"reason\", r.\"losingData\", r.\"winningVersion\", r.\"createdAt\" FROM json_to_recordset($1::json) AS r(\"entity\" text, \"rowId\" text, \"mutationId\" text, \"userId\" text, \"clientId\" text, \"reason\" text, \"losingData\" jsonb, \"winningVersion\" bigint, \"createdAt\" bigint)",
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EntitySql, FieldDef};

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
        assert_eq!(d.result.error.unwrap().code, "invalid-data");
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
        assert_eq!(d.result.error.unwrap().code, "invalid-data");
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
