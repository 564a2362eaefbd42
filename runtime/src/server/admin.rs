//! `/admin/audit`: what lost a conflict, for admins. Under `lww` and `server_wins` the server
//! decides conflicts itself and keeps every losing value in `_offgen_audit`; here an admin
//! lists those entries (newest first, per entity and row) and restores one, through the same
//! write path as any other write, which is itself audited.
//!
//! Admins only ([`super::Authenticate::is_admin`]): anyone else gets 403 before anything is
//! read, so no user's data reaches another user through these endpoints.

use std::sync::Arc;

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::Shared;
use super::auth;
use super::db::{Arg, Row};
use super::problem::Problem;
use super::push::{Caller, Mode, json_arg, push, stored};
use crate::model::Dialects;
use crate::protocol::{Mutation, Op, PushStatus};
use crate::values::is_canonical_uuid;

pub use crate::limits::{DEFAULT_AUDIT_PAGE, MAX_AUDIT_PAGE};

/// The columns every audit statement reads, as the endpoints need them.
macro_rules! columns {
    (sqlite) => {
        "SELECT \"id\", \"entity\", \"row_id\", \"mutation_id\", \"user_id\", \"client_id\", \"reason\", \"losing_data\", \"winning_version\", \"created_at\" FROM \"_offgen_audit\" "
    };
    (postgres) => {
        "SELECT \"id\", \"entity\", \"row_id\"::text AS \"row_id\", \"mutation_id\", \"user_id\", \"client_id\", \"reason\", \"losing_data\"::text AS \"losing_data\", \"winning_version\", \"created_at\" FROM \"_offgen_audit\" "
    };
}

// Newest first: entries are numbered as they are written, and a page continues below the
// last id of the one before. Each filter has its statement, so each reads an index in order.
const BY_ROW: Dialects<&str> = Dialects {
    sqlite: concat!(
        columns!(sqlite),
        "WHERE \"entity\" = ?1 AND \"row_id\" = ?2 AND \"id\" < ?3 ORDER BY \"id\" DESC LIMIT ?4"
    ),
    postgres: concat!(
        columns!(postgres),
        "WHERE \"entity\" = $1 AND \"row_id\" = $2::uuid AND \"id\" < $3 ORDER BY \"id\" DESC LIMIT $4"
    ),
};
const BY_ENTITY: Dialects<&str> = Dialects {
    sqlite: concat!(
        columns!(sqlite),
        "WHERE \"entity\" = ?1 AND \"id\" < ?2 ORDER BY \"id\" DESC LIMIT ?3"
    ),
    postgres: concat!(
        columns!(postgres),
        "WHERE \"entity\" = $1 AND \"id\" < $2 ORDER BY \"id\" DESC LIMIT $3"
    ),
};
const ALL: Dialects<&str> = Dialects {
    sqlite: concat!(
        columns!(sqlite),
        "WHERE \"id\" < ?1 ORDER BY \"id\" DESC LIMIT ?2"
    ),
    postgres: concat!(
        columns!(postgres),
        "WHERE \"id\" < $1 ORDER BY \"id\" DESC LIMIT $2"
    ),
};
const ONE: Dialects<&str> = Dialects {
    sqlite: concat!(columns!(sqlite), "WHERE \"id\" = ?1"),
    postgres: concat!(columns!(postgres), "WHERE \"id\" = $1"),
};

/// One audit entry, as the endpoints show it.
struct Entry {
    id: i64,
    entity: String,
    row_id: String,
    user_id: String,
    json: Value,
}

fn entry(row: &Row) -> Result<Entry, Problem> {
    let losing: Value = serde_json::from_str(&row.text("losing_data")?)
        .map_err(|_| Problem::internal("an audit entry holds no JSON"))?;
    let (id, entity, row_id, user_id) = (
        row.int("id")?,
        row.text("entity")?,
        row.text("row_id")?,
        row.text("user_id")?,
    );
    let json = json!({
        "id": id, "entity": entity, "rowId": row_id, "mutationId": row.text("mutation_id")?,
        "userId": user_id, "clientId": row.text("client_id")?, "reason": row.text("reason")?,
        "losing": losing, "winningVersion": row.int("winning_version")?,
        "createdAt": row.int("created_at")?,
    });
    Ok(Entry {
        id,
        entity,
        row_id,
        user_id,
        json,
    })
}

/// What an audit page asks for.
#[derive(Debug, Default, PartialEq)]
struct Query {
    entity: Option<String>,
    id: Option<String>,
    /// Entries below this id (the last of the page before).
    before: Option<i64>,
    limit: usize,
}

/// `entity`, `id`, `cursor` and `limit`, strictly: anything else, or a bad value, is a 400.
fn parse_query(query: Option<&str>, shared: &Shared) -> Result<Query, Problem> {
    let mut out = Query {
        limit: DEFAULT_AUDIT_PAGE,
        ..Query::default()
    };
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = super::percent_decode(value)
            .ok_or_else(|| Problem::bad_request(format!("bad escape in `{pair}`")))?;
        match key {
            "entity" => {
                if shared.app.entity(&value).is_none() {
                    let known: Vec<&str> = shared.app.entities.iter().map(|e| e.table).collect();
                    return Err(Problem::bad_request(format!(
                        "no entity `{value}` (known: {})",
                        known.join(", ")
                    )));
                }
                out.entity = Some(value);
            }
            "id" if is_canonical_uuid(&value) => out.id = Some(value),
            "id" => {
                return Err(Problem::bad_request(
                    "id must be a lowercase hyphenated UUID",
                ));
            }
            "cursor" if value.is_empty() => out.before = None,
            "cursor" => {
                out.before = Some(value.parse::<i64>().map_err(|_| {
                    Problem::bad_request(format!("`{value}` is not a cursor this server gave out"))
                })?);
            }
            "limit" => {
                out.limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|l| (1..=MAX_AUDIT_PAGE).contains(l))
                    .ok_or_else(|| {
                        Problem::bad_request(format!("limit must be 1 to {MAX_AUDIT_PAGE}"))
                    })?;
            }
            other => {
                return Err(Problem::bad_request(format!(
                    "unknown parameter `{other}` (entity, id, cursor, limit)"
                )));
            }
        }
    }
    if out.id.is_some() && out.entity.is_none() {
        return Err(Problem::bad_request("id needs entity"));
    }
    Ok(out)
}

/// `GET /admin/audit?entity=&id=&cursor=&limit=`: audit entries, newest first.
pub(crate) async fn list(
    shared: Arc<Shared>,
    query: Option<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    auth::require_admin(&headers, shared.auth.as_ref())?;
    let query = parse_query(query.as_deref(), &shared)?;
    let before = Arg::Int(query.before.unwrap_or(i64::MAX));
    let limit = Arg::Int(query.limit as i64 + 1);
    let (sql, args) = match (&query.entity, &query.id) {
        (Some(entity), Some(id)) => (
            BY_ROW,
            vec![
                Arg::Text(entity.clone()),
                Arg::Text(id.clone()),
                before,
                limit,
            ],
        ),
        (Some(entity), None) => (BY_ENTITY, vec![Arg::Text(entity.clone()), before, limit]),
        _ => (ALL, vec![before, limit]),
    };
    let mut tx = shared.db.begin_read().await?;
    let rows = tx.rows(sql, &args).await?;
    tx.commit().await?;
    let has_more = rows.len() > query.limit;
    let mut entries = Vec::new();
    let mut cursor = query.before.map(|b| b.to_string()).unwrap_or_default();
    for row in rows.iter().take(query.limit) {
        let entry = entry(row)?;
        cursor = entry.id.to_string();
        entries.push(entry.json);
    }
    Ok(
        axum::Json(json!({ "entries": entries, "cursor": cursor, "hasMore": has_more }))
            .into_response(),
    )
}

/// `POST /admin/audit/{auditId}/restore`: writes the entry's losing values again, as an
/// update (or the delete that lost) based on the row's current version. It goes through the
/// push engine like any write: checked, versioned, pulled by devices; and what it replaces is
/// audited in turn (client id `admin:<admin's user id>`), so a restore can be undone.
pub(crate) async fn restore(
    shared: Arc<Shared>,
    audit_id: String,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let admin = auth::require_admin(&headers, shared.auth.as_ref())?;
    let id: i64 = audit_id
        .parse()
        .map_err(|_| Problem::bad_request("audit entry ids are integers"))?;
    let mut tx = shared.db.begin_read().await?;
    let rows = tx.rows(ONE, &[Arg::Int(id)]).await?;
    tx.commit().await?;
    let entry = match rows.first() {
        Some(row) => entry(row)?,
        None => return Err(Problem::not_found(format!("no audit entry {id}"))),
    };
    let cannot =
        |why: String| Problem::conflict(format!("audit entry {id} cannot be restored: {why}"));
    let Some(entity) = shared.app.entity(&entry.entity) else {
        return Err(cannot(format!(
            "entity {} is gone from the app",
            entry.entity
        )));
    };
    let losing = &entry.json["losing"];
    let op = match losing["op"].as_str() {
        Some("update") => Op::Update,
        Some("delete") => Op::Delete,
        other => {
            return Err(cannot(format!(
                "it records {other:?}, not an update or a delete"
            )));
        }
    };
    // The fields the entity still has: a later build may have dropped some.
    let data: Map<String, Value> = losing["data"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(key, _)| entity.field(key).is_some())
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    if op == Op::Update && data.is_empty() {
        return Err(cannot("none of its fields exist any more".to_owned()));
    }
    let mut tx = shared.db.begin_read().await?;
    let current = tx
        .rows(entity.sql.map(|s| s.load), &[json_arg(&[&entry.row_id])])
        .await?;
    tx.commit().await?;
    let row = match current.first() {
        Some(row) => stored(entity, row)?,
        None => {
            return Err(cannot(format!(
                "{} row {} is gone",
                entity.table, entry.row_id
            )));
        }
    };
    if row.deleted_at.is_some() {
        return Err(cannot(format!(
            "{} row {} was deleted since (a delete is final)",
            entity.table, entry.row_id
        )));
    }
    let mutation = Mutation {
        mutation_id: super::rest::unique_mutation_id(&format!("restore-{id}")),
        entity: entity.table.to_owned(),
        id: entry.row_id.clone(),
        op,
        base_version: Some(row.version),
        data,
        stamp: None,
        field_stamps: None,
    };
    // The write is the owner's (owner scoping holds for restores too); the audit says which
    // admin made it.
    let client_id = format!("admin:{admin}");
    let caller = Caller {
        user: &entry.user_id,
        client_id: &client_id,
    };
    let result = push(
        shared.app,
        &shared.db,
        caller,
        vec![mutation],
        Mode::Restore,
    )
    .await?
    .remove(0);
    match result.status {
        PushStatus::Accepted => {
            let mut tx = shared.db.begin_read().await?;
            let now = tx
                .rows(entity.sql.map(|s| s.load), &[json_arg(&[&entry.row_id])])
                .await?;
            tx.commit().await?;
            let record = match now.first() {
                Some(row) => Some(stored(entity, row)?.record(entity, &entry.row_id)),
                None => None,
            };
            Ok(axum::Json(json!({
                "restored": id,
                "version": result.version,
                "record": record,
            }))
            .into_response())
        }
        PushStatus::Conflict => Err(cannot(format!(
            "{} row {} changed meanwhile; restore again",
            entity.table, entry.row_id
        ))),
        PushStatus::Rejected => Err(cannot(
            result
                .error
                .map_or_else(|| "the write was refused".to_owned(), |e| e.message),
        )),
    }
}
