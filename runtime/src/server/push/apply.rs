//! Writing a decided batch: the rows, the audit entries and the idempotency records, in one
//! statement on PostgreSQL (per entity one insert and one update statement, then the audit and
//! the results, on SQLite).

use std::collections::HashSet;

use serde_json::{Value, json};

use super::Caller;
use super::decide::Decision;
use super::load::State;
use super::order::next_sequence;
use super::prepare::Item;
use super::sql::{AUDIT, KEEP_RESULTS};
use crate::bookkeeping::{DELETED_AT, ID, UPDATED_AT, VERSION};
use crate::model::{AppDef, EntityDef};
use crate::protocol::Op;
use crate::server::db::{Arg, Dialect, Tx};

/// Writes the batch's outcome: rows, audit entries, and the idempotency records (PostgreSQL:
/// one statement; SQLite: per entity one insert and one update statement, then the audit and
/// the results).
pub(super) async fn apply(
    app: &'static AppDef,
    tx: &mut Tx,
    caller: Caller<'_>,
    decisions: &[(&Item, Decision)],
    state: &State<'_>,
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
    // Grouped per entity in the order entities first appear in the batch; each row's `_seq`
    // keeps its place in the batch: the device's queue order, so a pull lists a ranger before
    // the observation that references it.
    let mut inserts: Vec<(&EntityDef, Vec<Value>)> = Vec::new();
    let mut updates: Vec<(&EntityDef, Vec<Value>)> = Vec::new();
    for (entity, id, is_new) in &rows {
        let Some(Some(row)) = state.get(&(entity.table, (*id).to_owned())) else {
            continue;
        };
        let mut flat = row.data.clone();
        flat.insert(ID.key.into(), json!(id));
        flat.insert(VERSION.key.into(), json!(row.version));
        flat.insert(UPDATED_AT.key.into(), json!(row.updated_at));
        flat.insert(DELETED_AT.key.into(), json!(row.deleted_at));
        flat.insert("_seq".into(), json!(seq));
        // Only lww rows keep their fields' stamps.
        let clock = entity.policy.is_lww().then(|| json!(row.clock));
        flat.insert("_clock".into(), clock.unwrap_or(Value::Null));
        seq += 1;
        let target = if *is_new { &mut inserts } else { &mut updates };
        match target.iter_mut().find(|(e, _)| e.table == entity.table) {
            Some((_, records)) => records.push(Value::Object(flat)),
            None => target.push((entity, vec![Value::Object(flat)])),
        }
    }
    let audits: Vec<Value> = decisions
        .iter()
        .flat_map(|(item, d)| {
            d.audits.iter().map(|a| {
                json!({
                    "entity": item.entity.table, "rowId": item.mutation.id, "mutationId": item.mutation.mutation_id,
                    "userId": caller.user, "clientId": caller.client_id, "reason": a.reason,
                    "losingData": a.losing, "winningVersion": a.winning_version, "createdAt": now,
                })
            })
        })
        .collect();
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
    if tx.dialect() == Dialect::Postgres {
        if rows.is_empty() && audits.is_empty() && kept.is_empty() {
            return Ok(());
        }
        let records = |writes: &[(&EntityDef, Vec<Value>)], entity: &EntityDef| {
            let found = writes.iter().find(|(e, _)| e.table == entity.table);
            Arg::OptText(found.map(|(_, records)| Value::from(records.as_slice()).to_string()))
        };
        let mut args = vec![Arg::Int(rows.len() as i64)];
        for entity in app.by_table() {
            args.push(records(&inserts, entity));
            args.push(records(&updates, entity));
        }
        args.push(Arg::Text(Value::Array(audits).to_string()));
        args.push(Arg::Text(Value::Array(kept).to_string()));
        tx.exec(app.push.map(|p| p.write), &args).await?;
        return Ok(());
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
    if !audits.is_empty() {
        tx.exec(AUDIT, &[Arg::Text(Value::Array(audits).to_string())])
            .await?;
    }
    if !kept.is_empty() {
        tx.exec(KEEP_RESULTS, &[Arg::Text(Value::Array(kept).to_string())])
            .await?;
    }
    Ok(())
}
