//! `/v1/<table>`: records one at a time, with entity tags and RFC 9110 preconditions. Writes
//! go through the push engine in strict mode, so they are validated, versioned, owner-scoped
//! and recorded exactly like device pushes.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::Shared;
use super::auth;
use super::db::Arg;
use super::problem::Problem;
use super::push::{Caller, Mode, Stored, json_arg, push, stored};
use crate::bookkeeping::{DELETED_AT, ID, UPDATED_AT, VERSION};
use crate::etag::{Precondition, version_tag};
use crate::model::EntityDef;
use crate::protocol::{Mutation, Op, PushStatus};
use crate::values::{self, is_canonical_uuid};

/// The flat REST form of a row: `id`, the fields, then the bookkeeping.
fn flat(id: &str, row: &Stored) -> Value {
    let mut out = Map::new();
    out.insert(ID.key.into(), json!(id));
    out.extend(row.data.clone());
    out.insert(VERSION.key.into(), json!(row.version));
    out.insert(UPDATED_AT.key.into(), json!(row.updated_at));
    out.insert(DELETED_AT.key.into(), json!(row.deleted_at));
    Value::Object(out)
}

fn with_etag(status: StatusCode, version: i64, body: Value) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    if let Ok(tag) = HeaderValue::from_str(&version_tag(version)) {
        response.headers_mut().insert(header::ETAG, tag);
    }
    response
}

/// The row with this id as the caller may see it: `None` when it does not exist or belongs
/// to another user (the two must look the same).
pub(super) async fn visible(
    shared: &Shared,
    entity: &'static EntityDef,
    id: &str,
    user: &str,
) -> Result<Option<Stored>, Problem> {
    if !is_canonical_uuid(id) {
        return Ok(None);
    }
    let mut tx = shared.db.begin_read().await?;
    let rows = tx
        .rows(entity.sql.map(|s| s.load), &[json_arg(&[id])])
        .await?;
    tx.commit().await?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let row = stored(entity, row)?;
    if let Some(owner) = entity.owner_field()
        && row.data.get(owner.key).and_then(Value::as_str) != Some(user)
    {
        return Ok(None);
    }
    Ok(Some(row))
}

fn precondition(
    headers: &HeaderMap,
    name: header::HeaderName,
) -> Result<Option<Precondition>, Problem> {
    let lines: Vec<&str> = headers
        .get_all(&name)
        .iter()
        .map(|v| {
            v.to_str()
                .map_err(|_| Problem::bad_request(format!("{name} is not text")))
        })
        .collect::<Result<_, _>>()?;
    if lines.is_empty() {
        return Ok(None);
    }
    Precondition::parse(lines)
        .map(Some)
        .map_err(|e| Problem::bad_request(format!("malformed {name}: {}", e.0)))
}

/// `GET /v1/<table>/<id>`.
pub(crate) async fn get(
    shared: Arc<Shared>,
    entity: &'static EntityDef,
    id: String,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let user = auth::user(&headers, shared.auth.as_ref())?;
    // A malformed header is the request's fault whatever is stored: 400 before the lookup.
    let none_match = precondition(&headers, header::IF_NONE_MATCH)?;
    let row = visible(&shared, entity, &id, &user)
        .await?
        .ok_or_else(|| Problem::not_found(format!("no {} row {id}", entity.table)))?;
    if row.deleted_at.is_some() {
        return Err(Problem::gone(format!(
            "{} row {id} was deleted",
            entity.table
        )));
    }
    if let Some(none_match) = none_match
        && none_match.matches_weak(row.version)
    {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        if let Ok(tag) = HeaderValue::from_str(&version_tag(row.version)) {
            response.headers_mut().insert(header::ETAG, tag);
        }
        return Ok(response);
    }
    Ok(with_etag(StatusCode::OK, row.version, flat(&id, &row)))
}

/// `GET /v1/<table>?cursor=&limit=`: live rows by id.
pub(crate) async fn list(
    shared: Arc<Shared>,
    entity: &'static EntityDef,
    query: Option<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let user = auth::user(&headers, shared.auth.as_ref())?;
    let (after, limit) = super::page_query(query.as_deref())?;
    // The cursor is the last id of the page before: nothing else was ever given out.
    if !after.is_empty() && !is_canonical_uuid(&after) {
        return Err(Problem::bad_request(format!(
            "`{after}` is not a cursor this server gave out"
        )));
    }
    let user_uuid = is_canonical_uuid(&user).then(|| user.clone());
    let mut tx = shared.db.begin_read().await?;
    let rows = tx
        .rows(
            entity.sql.map(|s| s.list),
            &[
                Arg::Text(after.clone()),
                Arg::Int(limit as i64 + 1),
                Arg::Text(user.clone()),
                Arg::OptText(user_uuid),
            ],
        )
        .await?;
    tx.commit().await?;
    let has_more = rows.len() > limit;
    let mut records = Vec::new();
    let mut cursor = after;
    for row in rows.iter().take(limit) {
        let id = row.text("id")?;
        records.push(flat(&id, &stored(entity, row)?));
        cursor = id;
    }
    Ok(
        axum::Json(json!({ "records": records, "cursor": cursor, "hasMore": has_more }))
            .into_response(),
    )
}

/// A mutation id for a write the server makes itself (REST, an admin's restore): unique per
/// request, as such writes are not retried by id.
pub(super) fn unique_mutation_id(prefix: &str) -> String {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_i64(super::now_ms());
    format!(
        "{prefix}-{:016x}{:016x}",
        hasher.finish(),
        RandomState::new().build_hasher().finish()
    )
}

fn mutation_id() -> String {
    unique_mutation_id("rest")
}

/// The fields of a REST body: everything but the bookkeeping, which the server owns.
fn fields_of(
    body: Value,
    path_id: Option<&str>,
) -> Result<(Option<String>, Map<String, Value>), Problem> {
    let Value::Object(mut map) = body else {
        return Err(Problem::bad_request("the body must be a JSON object"));
    };
    let id = match map.remove("id") {
        Some(Value::String(id)) => Some(id),
        Some(_) => return Err(Problem::bad_request("id must be a string")),
        None => None,
    };
    if let (Some(path), Some(body)) = (path_id, id.as_deref())
        && path != body
    {
        return Err(Problem::bad_request(format!(
            "the body's id {body} is not the URL's {path}"
        )));
    }
    for key in [VERSION.key, UPDATED_AT.key, DELETED_AT.key] {
        map.remove(key);
    }
    Ok((id, map))
}

/// `POST /v1/<table>`: creates a record whose id the client made. The same record posted again
/// is answered with what is stored (200); another record under that id is a conflict.
pub(crate) async fn create(
    shared: Arc<Shared>,
    entity: &'static EntityDef,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let user = auth::user(&headers, shared.auth.as_ref())?;
    let body: Value = super::body::json(body, shared.limits.max_body_bytes).await?;
    let (id, mut data) = fields_of(body, None)?;
    let id = id.ok_or_else(|| {
        Problem::bad_request("a new record needs its id (a lowercase UUID made by the client)")
    })?;
    if !is_canonical_uuid(&id) {
        return Err(Problem::bad_request("ids are lowercase hyphenated UUIDs"));
    }
    if let Some(owner) = entity.owner_field() {
        data.entry(owner.key)
            .or_insert_with(|| Value::String(user.clone()));
    }
    let full = values::full_record(entity, &data)
        .map_err(|e| Problem::invalid_data(values::describe(&e), &e))?;
    let caller = Caller {
        user: &user,
        client_id: "rest",
    };
    let mutation = Mutation {
        mutation_id: mutation_id(),
        entity: entity.table.to_owned(),
        id: id.clone(),
        op: Op::Insert,
        base_version: None,
        data: full.clone(),
        stamp: None,
        field_stamps: None,
    };
    let result = push(shared.app, &shared.db, caller, vec![mutation], Mode::Strict)
        .await?
        .remove(0);
    match result.status {
        PushStatus::Accepted => {
            let row = visible(&shared, entity, &id, &user)
                .await?
                .ok_or_else(|| Problem::internal("the new row vanished"))?;
            let mut response = with_etag(StatusCode::CREATED, row.version, flat(&id, &row));
            if let Ok(location) = HeaderValue::from_str(&format!("/v1/{}/{id}", entity.table)) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            Ok(response)
        }
        PushStatus::Conflict => match visible(&shared, entity, &id, &user).await? {
            Some(row) if row.deleted_at.is_none() && row.data == full => {
                Ok(with_etag(StatusCode::OK, row.version, flat(&id, &row)))
            }
            _ => Err(Problem::conflict(format!(
                "{} row {id} already exists with other data",
                entity.table
            ))),
        },
        PushStatus::Rejected => Err(rejection(result.error.map(|e| (e.code, e.message)))),
    }
}

/// A REST write the engine refused. Its values were checked before it reached the engine, so
/// `invalid-data` there is about what is stored, not about the request: a reference to a row
/// that does not exist (yet) or a unique value another row holds. Both are 409, a conflict with
/// the current state that the client can resolve and send again; 422 stays what the record's
/// schema can say.
fn rejection(error: Option<(String, String)>) -> Problem {
    match error {
        Some((code, message)) if code == "not-found" => Problem::not_found(message),
        Some((code, message)) if code == "invalid-data" => Problem::conflict(message),
        Some((_, message)) => Problem::invalid_data(
            message.clone(),
            &[values::FieldError {
                field: String::new(),
                message,
            }],
        ),
        None => Problem::internal("rejected without a reason"),
    }
}

/// The current row and the version an `If-Match` allows changing, or the right refusal.
async fn matched(
    shared: &Shared,
    entity: &'static EntityDef,
    id: &str,
    user: &str,
    headers: &HeaderMap,
) -> Result<Stored, Problem> {
    let condition = precondition(headers, header::IF_MATCH)?.ok_or_else(|| {
        Problem::precondition_required("send If-Match with the ETag of the version you change")
    })?;
    let row = visible(shared, entity, id, user).await?;
    match row {
        // RFC 9110 13.2.1: preconditions are evaluated only when the request would succeed
        // without them; a record that does not exist is a 404 first (also another user's).
        None => Err(Problem::not_found(format!("no {} row {id}", entity.table))),
        Some(row) if row.deleted_at.is_some() => Err(Problem::precondition_failed(
            format!("{} row {id} was deleted", entity.table),
            Some(flat(id, &row)),
        )),
        Some(row) if !condition.matches_strong(row.version) => Err(Problem::precondition_failed(
            format!("{} row {id} is at version {}", entity.table, row.version),
            Some(flat(id, &row)),
        )),
        Some(row) => Ok(row),
    }
}

/// Writes through the engine; a conflict there (another write got in between) is a 412.
async fn write(
    shared: &Shared,
    entity: &'static EntityDef,
    id: &str,
    user: &str,
    op: Op,
    base: i64,
    data: Map<String, Value>,
) -> Result<Option<Stored>, Problem> {
    let caller = Caller {
        user,
        client_id: "rest",
    };
    let mutation = Mutation {
        mutation_id: mutation_id(),
        entity: entity.table.to_owned(),
        id: id.to_owned(),
        op,
        base_version: Some(base),
        data,
        stamp: None,
        field_stamps: None,
    };
    let result = push(shared.app, &shared.db, caller, vec![mutation], Mode::Strict)
        .await?
        .remove(0);
    match result.status {
        PushStatus::Accepted => visible(shared, entity, id, user).await,
        PushStatus::Conflict => {
            let record = result.record.map(|r| {
                let row = Stored {
                    version: r.version,
                    updated_at: r.updated_at.unwrap_or(0),
                    deleted_at: r.deleted_at,
                    data: r.data,
                    clock: Default::default(),
                };
                flat(id, &row)
            });
            Err(Problem::precondition_failed(
                format!("{} row {id} changed meanwhile", entity.table),
                record,
            ))
        }
        PushStatus::Rejected => Err(rejection(result.error.map(|e| (e.code, e.message)))),
    }
}

/// `PUT /v1/<table>/<id>`: replaces the record's fields, if `If-Match` names its version.
pub(crate) async fn replace(
    shared: Arc<Shared>,
    entity: &'static EntityDef,
    id: String,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let user = auth::user(&headers, shared.auth.as_ref())?;
    let body: Value = super::body::json(body, shared.limits.max_body_bytes).await?;
    let (_, mut data) = fields_of(body, Some(&id))?;
    if let Some(owner) = entity.owner_field() {
        data.entry(owner.key)
            .or_insert_with(|| Value::String(user.clone()));
    }
    // The body is judged before the precondition: it needs no database, and a client told its
    // version is stale should not then learn that its fields were wrong all along.
    let full = values::full_record(entity, &data)
        .map_err(|e| Problem::invalid_data(values::describe(&e), &e))?;
    let row = matched(&shared, entity, &id, &user, &headers).await?;
    let written = write(&shared, entity, &id, &user, Op::Update, row.version, full)
        .await?
        .ok_or_else(|| Problem::internal("the row vanished"))?;
    Ok(with_etag(
        StatusCode::OK,
        written.version,
        flat(&id, &written),
    ))
}

/// `DELETE /v1/<table>/<id>`: tombstones the record, if `If-Match` names its version.
pub(crate) async fn delete(
    shared: Arc<Shared>,
    entity: &'static EntityDef,
    id: String,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let user = auth::user(&headers, shared.auth.as_ref())?;
    let row = matched(&shared, entity, &id, &user, &headers).await?;
    write(
        &shared,
        entity,
        &id,
        &user,
        Op::Delete,
        row.version,
        Map::new(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
