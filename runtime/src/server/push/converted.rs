//! Writes of apps at older schema steps that the current schema does not hold as sent (the
//! server's `shapes` converts them): values of fields dropped since, values the schema no
//! longer takes, and whole entities dropped since. Nothing of them is lost: each is kept in
//! the audit, written in the same transaction as the mutation's outcome and its idempotency
//! record, so a retry neither audits it again nor finds it missing after a crash.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::Caller;
use super::decide::{Audit, Decision, Stored, answer, losing};
use super::load::{answer_stored, lock_and_read};
use super::prepare::{Item, mutation_id_problem, rejected};
use super::sql::{AUDIT, KEEP_RESULTS};
use crate::protocol::{Mutation, PushResult, PushStatus};
use crate::server::db::{Arg, Database};
use crate::values;

/// Why an entry is kept, for values of fields dropped since.
pub(crate) const DROPPED_FIELDS: &str =
    "schema: an app at an older step wrote fields this server no longer has";
/// Why an entry is kept, for values converted as the server's step converted stored ones.
pub(crate) const CONVERTED_VALUES: &str = "schema: an app at an older step wrote values this server no longer takes; the row holds them converted";
/// Why an entry is kept, for writes to an entity dropped since.
pub(crate) const DROPPED_ENTITY: &str =
    "schema: an app at an older step wrote an entity this server no longer has";

/// What the conversion of an older app's mutation to the current schema changed.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Converted {
    /// Values of fields dropped since, by the app's keys: not applied.
    pub dropped: Map<String, Value>,
    /// Values the current schema does not take (an enum value removed since), by the current
    /// keys, as the app wrote them: the mutation carries them converted.
    pub converted: Map<String, Value>,
}

impl Converted {
    /// Whether the conversion changed nothing but names.
    pub(crate) fn is_empty(&self) -> bool {
        self.dropped.is_empty() && self.converted.is_empty()
    }
}

/// Completes the decision of a converted mutation: when its outcome is kept (accepted, or a
/// conflict the server decided), what was not applied as sent goes to the audit with it, and
/// the result is kept even if nothing was written (the audit is a change: a retry must get
/// this result, not audit again). An accepted result carries the row as the server holds it:
/// the app holds other values than the ones it sent, or (an update of dropped fields only)
/// may have pulled past newer versions while the update was queued.
pub(super) fn complete(
    item: &Item,
    converted: &Converted,
    decision: &mut Decision,
    current: Option<&Stored>,
) {
    let accepted = decision.result.status == PushStatus::Accepted;
    if converted.is_empty() || !(accepted || decision.keep_result) {
        return;
    }
    let m = &item.mutation;
    let row = decision.write.as_ref().or(current);
    let winning_version = row.map_or(0, |r| r.version);
    for (reason, data) in [
        (DROPPED_FIELDS, &converted.dropped),
        (CONVERTED_VALUES, &converted.converted),
    ] {
        if !data.is_empty() {
            decision.audits.push(Audit {
                reason,
                losing: losing(m, data),
                winning_version,
            });
        }
    }
    decision.keep_result = true;
    if accepted && decision.result.record.is_none() {
        decision.result.record = row.map(|r| r.record(item.entity, &m.id));
    }
}

/// Mutations of entities dropped since (by position in the request): accepted, applied to
/// nothing, kept in the audit. One transaction records each with its audit entry, after the
/// mutation ids are locked and their stored results read: a retry gets its first result and
/// audits nothing again.
pub(crate) async fn accept_dropped_entities(
    db: &Database,
    caller: Caller<'_>,
    mutations: Vec<(usize, Mutation)>,
) -> Result<Vec<(usize, PushResult)>, sqlx::Error> {
    let mut out = Vec::new();
    let mut todo = Vec::new();
    for (index, mutation) in mutations {
        if let Some(problem) = mutation_id_problem(&mutation.mutation_id) {
            out.push((index, rejected(&mutation, "invalid-request", problem)));
        } else if !values::is_canonical_uuid(&mutation.id) {
            out.push((
                index,
                rejected(
                    &mutation,
                    "invalid-id",
                    "ids are lowercase hyphenated UUIDs",
                ),
            ));
        } else {
            todo.push((index, mutation));
        }
    }
    if todo.is_empty() {
        return Ok(out);
    }
    let ids: Vec<&str> = todo.iter().map(|(_, m)| m.mutation_id.as_str()).collect();
    let mut tx = db.begin_write().await?;
    let stored = lock_and_read(&mut tx, &ids).await?;
    let now = crate::server::now_ms();
    let (mut audits, mut kept) = (Vec::new(), Vec::new());
    // The same mutation twice in one request is answered like the first.
    let mut first: HashMap<&str, PushResult> = HashMap::new();
    for (index, m) in &todo {
        if let Some(found) = stored.get(&m.mutation_id) {
            out.push((*index, answer_stored(caller, m, found)));
            continue;
        }
        if let Some(result) = first.get(m.mutation_id.as_str()) {
            out.push((*index, result.clone()));
            continue;
        }
        let version = m.base_version.unwrap_or(0).max(1);
        let result = answer(m, PushStatus::Accepted, Some(version), None);
        audits.push(json!({
            "entity": m.entity, "rowId": m.id, "mutationId": m.mutation_id,
            "userId": caller.user, "clientId": caller.client_id, "reason": DROPPED_ENTITY,
            "losingData": losing(m, &m.data), "winningVersion": version, "createdAt": now,
        }));
        kept.push(json!({
            "mutationId": m.mutation_id, "userId": caller.user, "clientId": caller.client_id,
            "entity": m.entity, "rowId": m.id,
            "result": serde_json::to_string(&result).unwrap_or_default(), "createdAt": now,
        }));
        first.insert(&m.mutation_id, result.clone());
        out.push((*index, result));
    }
    if !audits.is_empty() {
        tx.exec(AUDIT, &[Arg::Text(Value::Array(audits).to_string())])
            .await?;
        tx.exec(KEEP_RESULTS, &[Arg::Text(Value::Array(kept).to_string())])
            .await?;
    }
    tx.commit().await?;
    Ok(out)
}
