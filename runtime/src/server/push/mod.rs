//! `POST /sync/push`: applying a batch of device mutations.
//!
//! A batch runs as one transaction of a few set-based statements, each taking its rows as one
//! JSON parameter, so its cost hardly grows with its size: the locks, one read over every
//! entity, and one write (PostgreSQL; SQLite, without data-modifying CTEs, one per entity and
//! kind of write, then the audit and the results). Should the database refuse that
//! transaction (a unique index, two servers racing on one new id), the batch is replayed one
//! mutation per transaction, so only the offending mutation is rejected.
//!
//! Idempotency: a batch first locks its mutation ids (PostgreSQL advisory locks; SQLite runs
//! one writer at a time), so a retry arriving while the first attempt runs waits for it, and
//! then, in a statement begun after the locks, looks for their stored results. A mutation
//! that changed the database keeps its result in `_offgen_mutations`, in the same transaction
//! as the change; one that changed nothing (rejected, or a `version` conflict) keeps nothing
//! and is evaluated anew if it comes again.
//!
//! The engine in steps, one module each: [`prepare`] checks mutations without the database;
//! [`load`] reads what a batch needs (stored results, current rows, referenced rows);
//! [`decide`] applies the conflict policies, purely; [`apply`] writes the outcome; [`order`]
//! gives writes their place in the change stream; [`sql`] holds the engine's own statements;
//! [`converted`] keeps what an older app wrote that the schema no longer holds (`shapes`
//! converts its pushes) in the audit, with the mutation's outcome.

mod apply;
mod converted;
mod decide;
#[cfg(test)]
mod fixture;
mod load;
mod lww;
mod order;
mod prepare;
mod sql;

use std::collections::HashMap;

use super::db::{Database, constraint_violation};
use super::problem::Problem;
use crate::model::AppDef;
use crate::protocol::{Mutation, PushResult};

pub(crate) use converted::{Converted, accept_dropped_entities};
pub use decide::Stored;
pub(crate) use load::{json_arg, stored};
pub use lww::MAX_STAMP_AHEAD_MS;

use decide::{Decision, decide, reject_decision};
use prepare::{Item, prepare, rejected};

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
    /// As `Strict`, and what the write replaces is audited (an admin restoring audited values:
    /// a restore can be undone in turn).
    Restore,
}

/// Applies a batch; one result per mutation, in order.
pub async fn push(
    app: &'static AppDef,
    db: &Database,
    caller: Caller<'_>,
    mutations: Vec<Mutation>,
    mode: Mode,
) -> Result<Vec<PushResult>, Problem> {
    let mutations = mutations.into_iter().map(|m| (m, None)).collect();
    push_converted(app, db, caller, mutations, mode).await
}

/// [`push`] of mutations an older app sent, each with what its conversion to the current
/// schema changed (kept in the audit with its outcome, see [`converted`]).
pub(crate) async fn push_converted(
    app: &'static AppDef,
    db: &Database,
    caller: Caller<'_>,
    mutations: Vec<(Mutation, Option<Converted>)>,
    mode: Mode,
) -> Result<Vec<PushResult>, Problem> {
    let mut results: Vec<Option<PushResult>> = vec![None; mutations.len()];
    let mut items = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut duplicates = Vec::new();
    let mut refused: Vec<(usize, Mutation)> = Vec::new();
    for (index, (mutation, converted)) in mutations.into_iter().enumerate() {
        // The same mutation twice in one batch: answered like the first.
        if let Some(first) = seen.get(&mutation.mutation_id) {
            duplicates.push((index, *first));
            continue;
        }
        seen.insert(mutation.mutation_id.clone(), index);
        match prepare(app, caller, index, mutation.clone(), converted) {
            Ok(item) => items.push(item),
            Err(result) => {
                results[index] = Some(result);
                refused.push((index, mutation));
            }
        }
    }
    // A retry gets its first result whatever changed since (the schema, a limit): a mutation
    // the checks refuse now may have been applied before, so its stored result comes first.
    if !refused.is_empty() {
        for (index, result) in load::first_results(db, caller, &refused).await? {
            results[index] = Some(result);
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

/// One attempt at `items` in one transaction: the mutation ids locked; the stored results,
/// rows and references read in one statement; the decisions in batch order (each seeing the
/// ones before); and the writes (on PostgreSQL one statement). A push of new rows or edits is
/// five statements on PostgreSQL, each a round trip: `BEGIN`, the locks, the read, the write,
/// `COMMIT` (tests/round_trips.rs of the ranger example counts them on the wire).
async fn run_once(
    app: &'static AppDef,
    db: &Database,
    caller: Caller<'_>,
    items: &[Item],
    mode: Mode,
) -> Result<Vec<(usize, PushResult)>, sqlx::Error> {
    let now = super::now_ms();
    let mut tx = db.begin_write().await?;
    let (mut out, todo, found) = load::batch(app, &mut tx, caller, items).await?;
    let mut state = found.state;
    let missing = load::missing_references(&todo, &state, &found.existing);

    let mut decisions: Vec<(&Item, Decision)> = Vec::new();
    for item in todo.iter().copied() {
        let key = (item.entity.table, item.mutation.id.clone());
        if let Some(reason) = missing.get(&item.index) {
            decisions.push((item, reject_decision(&item.mutation, reason)));
            continue;
        }
        let current = state.get(&key).and_then(Option::as_ref);
        let mut decision = decide(item, current, caller, mode, now);
        if let Some(converted) = &item.converted {
            converted::complete(item, converted, &mut decision, current);
        }
        if let Some(write) = &decision.write {
            state.insert(key, Some(write.clone()));
        }
        decisions.push((item, decision));
    }

    apply::apply(app, &mut tx, caller, &decisions, &state, now).await?;
    tx.commit().await?;
    out.extend(
        decisions
            .into_iter()
            .map(|(item, d)| (item.index, d.result)),
    );
    Ok(out)
}
