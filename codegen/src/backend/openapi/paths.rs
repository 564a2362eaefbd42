//! `paths`: the operations of the sync protocol, each entity's `/v1/<table>` and
//! `/v1/<table>/{id}`, the admin audit and the service endpoints.

use serde_json::{Map, Value, json};

use super::entities::EntityNames;
use super::problems::{
    BAD_REQUEST, CONFLICT, FORBIDDEN, GONE, INTERNAL, INVALID_DATA, NOT_FOUND, PAYLOAD_TOO_LARGE,
    PRECONDITION_FAILED, PRECONDITION_REQUIRED, ProblemKind, SCHEMA_STEP, UNAUTHORIZED,
    UNAVAILABLE, problem_response,
};
use super::{
    ADMIN_TAG, DEFAULT_AUDIT_LIMIT, MAX_AUDIT_LIMIT, MAX_BODY_MIB, MAX_MUTATIONS, SERVICE_TAG,
    SYNC_TAG, json_body, json_response, parameter_ref, response_ref, schema_path, schema_ref,
    uuid_schema, with_headers,
};
use crate::model::{Entity, Schema};

pub(super) fn paths(schema: &Schema) -> Map<String, Value> {
    let mut paths = Map::new();
    paths.insert("/sync/push".into(), json!({ "post": push_operation() }));
    paths.insert("/sync/pull".into(), json!({ "get": pull_operation() }));
    for entity in &schema.entities {
        let names = EntityNames::of(entity);
        let table = entity.table.sql();
        paths.insert(format!("/v1/{table}"), collection_path(entity, &names));
        paths.insert(format!("/v1/{table}/{{id}}"), item_path(entity, &names));
    }
    if let Some((path, item)) = super::attachments::attachment_path(schema) {
        paths.insert(path, item);
    }
    paths.insert(
        "/admin/audit".into(),
        json!({ "get": audit_operation(schema) }),
    );
    paths.insert(
        "/admin/audit/{auditId}/restore".into(),
        json!({ "post": restore_operation() }),
    );
    paths.insert("/healthz".into(), json!({ "get": health_operation() }));
    paths.insert("/livez".into(), json!({ "get": live_operation() }));
    paths.insert("/metrics".into(), json!({ "get": metrics_operation() }));
    paths.insert(
        "/openapi.json".into(),
        json!({ "get": openapi_operation() }),
    );
    paths
}

fn push_operation() -> Value {
    json!({
        "tags": [SYNC_TAG],
        "operationId": "push",
        "summary": "Apply a batch of mutations from a device.",
        "description": format!(
            "Answers one result per mutation, in order; one bad item never fails the batch. \
             Idempotent by `mutationId`: a mutation that changed the database, sent again, gets \
             its first result and changes nothing. At most {MAX_MUTATIONS} mutations and \
             {MAX_BODY_MIB} MiB per request."
        ),
        "parameters": [parameter_ref("SchemaStep")],
        "requestBody": json_body(schema_ref("PushRequest")),
        "responses": Responses::new()
            .with("200", json_response(
                "One result per mutation, in order.",
                schema_ref("PushResponse"),
            ))
            .problems(&[&BAD_REQUEST, &UNAUTHORIZED, &SCHEMA_STEP, &PAYLOAD_TOO_LARGE])
            .server_errors()
            .into_value(),
    })
}

fn pull_operation() -> Value {
    json!({
        "tags": [SYNC_TAG],
        "operationId": "pull",
        "summary": "Fetch the changes since a cursor.",
        "description": "Changed records of every entity the user may see, oldest change first, \
                        each at its newest version; deleted records as tombstones. The cursor \
                        never skips a change.",
        "parameters": [parameter_ref("Cursor"), parameter_ref("Limit"), parameter_ref("SchemaStep")],
        "responses": Responses::new()
            .with("200", json_response("A page of changes.", schema_ref("PullResponse")))
            .problems(&[&BAD_REQUEST, &UNAUTHORIZED, &SCHEMA_STEP])
            .server_errors()
            .into_value(),
    })
}

/// `/v1/<table>`: list and create.
fn collection_path(entity: &Entity, names: &EntityNames) -> Value {
    let table = entity.table.sql();
    let record = schema_ref(&names.record);
    json!({
        "get": {
            "tags": [entity.name.pascal],
            "operationId": format!("list{}", entity.table.pascal),
            "summary": format!("List live `{table}` records by id."),
            "parameters": [parameter_ref("Cursor"), parameter_ref("Limit")],
            "responses": Responses::new()
                .with("200", json_response(
                    "A page of live records, ordered by id.",
                    schema_ref(&names.page),
                ))
                .problems(&[&BAD_REQUEST, &UNAUTHORIZED])
                .server_errors()
                .into_value(),
        },
        "post": {
            "tags": [entity.name.pascal],
            "operationId": format!("create{}", entity.name.pascal),
            "summary": format!("Create one `{table}` record, with an id made by the client."),
            "description": create_description(entity),
            "requestBody": json_body(schema_ref(&names.create)),
            "responses": Responses::new()
                .with("201", with_links(
                    with_headers(json_response("Created.", record.clone()), &["Location", "ETag"]),
                    entity,
                ))
                .with("200", with_links(
                    with_headers(
                        json_response("The record already existed with these fields.", record),
                        &["ETag"],
                    ),
                    entity,
                ))
                .problems(&[&BAD_REQUEST, &UNAUTHORIZED, &CONFLICT, &INVALID_DATA])
                .problems(owner_scoped(entity))
                .server_errors()
                .into_value(),
        },
    })
}

/// OpenAPI links from an answer holding a record (its body's `id`, its `ETag`) to the
/// operations on that record, so that a client generator, or a stateful tester, can follow
/// a create with a read, a replace at the version just answered, and a delete.
fn with_links(mut response: Value, entity: &Entity) -> Value {
    let pascal = &entity.name.pascal;
    let id = json!({ "path.id": "$response.body#/id" });
    let at_version = json!({
        "path.id": "$response.body#/id",
        "header.If-Match": "$response.header.ETag",
    });
    response["links"] = json!({
        format!("Get{pascal}"): { "operationId": format!("get{pascal}"), "parameters": id },
        format!("Replace{pascal}"): {
            "operationId": format!("replace{pascal}"),
            "parameters": at_version.clone(),
        },
        format!("Delete{pascal}"): {
            "operationId": format!("delete{pascal}"),
            "parameters": at_version,
        },
    });
    response
}

fn create_description(entity: &Entity) -> String {
    let mut text = "Posting the same id again with the same fields answers 200 with the record \
                    (so a retry is safe); with other fields, 409. `version`, `updatedAt` and \
                    `deletedAt` are ignored."
        .to_owned();
    if let Some(owner) = entity.owner_field() {
        let key = owner.name.json();
        text.push_str(&format!(
            " `{key}` is the caller's user id (filled in when left out); naming another user, \
             or posting the id of another user's record, answers 404."
        ));
    }
    text
}

/// On an owner-scoped entity a write naming another user as owner, or over another user's
/// id, answers 404 (docs/protocol.md, owner scoping).
fn owner_scoped(entity: &Entity) -> &'static [&'static ProblemKind] {
    if entity.owner.is_some() {
        &[&NOT_FOUND]
    } else {
        &[]
    }
}

/// `/v1/<table>/{id}`: read, replace, delete. PUT and DELETE compare versions strictly whatever
/// the entity's conflict policy, because the client names the version it changes.
fn item_path(entity: &Entity, names: &EntityNames) -> Value {
    let table = entity.table.sql();
    let pascal = &entity.name.pascal;
    let record = schema_ref(&names.record);
    json!({
        "parameters": [parameter_ref("Id")],
        "get": {
            "tags": [pascal],
            "operationId": format!("get{pascal}"),
            "summary": format!("Read one `{table}` record."),
            "parameters": [parameter_ref("IfNoneMatch")],
            "responses": Responses::new()
                .with("200", with_headers(json_response("The record.", record.clone()), &["ETag"]))
                .with("304", with_headers(
                    json!({ "description": "`If-None-Match` matches the current version." }),
                    &["ETag"],
                ))
                .problems(&[&BAD_REQUEST, &UNAUTHORIZED, &NOT_FOUND, &GONE])
                .server_errors()
                .into_value(),
        },
        "put": {
            "tags": [pascal],
            "operationId": format!("replace{pascal}"),
            "summary": format!("Replace the fields of one `{table}` record at a known version."),
            "description": "`If-Match` names the version the change is based on; a stale or \
                            deleted record answers 412 with the current record, an unknown one \
                            404. The body is checked first: bad fields are a 422 whatever the \
                            version.",
            "parameters": [parameter_ref("IfMatch")],
            "requestBody": json_body(schema_ref(&names.fields)),
            "responses": Responses::new()
                .with("200", with_links(
                    with_headers(json_response("The record at its new version.", record), &["ETag"]),
                    entity,
                ))
                .with("412", precondition_failed(names))
                .problems(&[
                    &BAD_REQUEST,
                    &UNAUTHORIZED,
                    &NOT_FOUND,
                    &CONFLICT,
                    &INVALID_DATA,
                    &PRECONDITION_REQUIRED,
                ])
                .server_errors()
                .into_value(),
        },
        "delete": {
            "tags": [pascal],
            "operationId": format!("delete{pascal}"),
            "summary": format!("Delete one `{table}` record at a known version."),
            "description": "The record becomes a tombstone, which devices pull. A stale or \
                            deleted record answers 412 with the current record, an unknown one \
                            404.",
            "parameters": [parameter_ref("IfMatch")],
            "responses": Responses::new()
                .with("204", json!({ "description": "Deleted." }))
                .with("412", precondition_failed(names))
                .problems(&[&BAD_REQUEST, &UNAUTHORIZED, &NOT_FOUND, &PRECONDITION_REQUIRED])
                .server_errors()
                .into_value(),
        },
    })
}

fn audit_operation(schema: &Schema) -> Value {
    let tables: Vec<&str> = schema.entities.iter().map(|e| e.table.sql()).collect();
    json!({
        "tags": [ADMIN_TAG],
        "operationId": "listAudit",
        "summary": "List the values that lost a conflict, newest first.",
        "description": "Every entry of the server's audit: values of `lww` and `server_wins` \
                        writes that lost, values a newer write replaced unseen, and what restores \
                        replaced. All users' entries: admins only.",
        "parameters": [
            {
                "name": "entity",
                "in": "query",
                "required": false,
                "description": "Only this entity's entries (its table name).",
                "schema": { "type": "string", "enum": tables },
            },
            {
                "name": "id",
                "in": "query",
                "required": false,
                "description": "Only this record's entries; needs `entity`.",
                "schema": uuid_schema(),
            },
            parameter_ref("Cursor"),
            {
                "name": "limit",
                "in": "query",
                "required": false,
                "description": "Most entries in the answer.",
                "schema": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_AUDIT_LIMIT,
                    "default": DEFAULT_AUDIT_LIMIT,
                },
            },
        ],
        "responses": Responses::new()
            .with("200", {
                let mut page = json_response("A page of entries.", schema_ref("AuditEntries"));
                page["links"] = json!({ "RestoreNewest": {
                    "operationId": "restoreAudit",
                    "parameters": { "path.auditId": "$response.body#/entries/0/id" },
                    "description": "Restore the newest entry of the page.",
                } });
                page
            })
            .problems(&[&BAD_REQUEST, &UNAUTHORIZED, &FORBIDDEN])
            .server_errors()
            .into_value(),
    })
}

fn restore_operation() -> Value {
    json!({
        "tags": [ADMIN_TAG],
        "operationId": "restoreAudit",
        "summary": "Write an audit entry's values back.",
        "description": "An update of the entry's values (or the delete that lost) on the \
                        record's current version, through the same checks as any write; devices \
                        pull the new version. What it replaces gets an audit entry of its own \
                        (client `admin:<user>`), so a restore can be restored in turn. A deleted \
                        record cannot be restored to (a delete is final): 409.",
        "parameters": [{
            "name": "auditId",
            "in": "path",
            "required": true,
            "description": "The entry's `id`.",
            "schema": { "type": "integer", "format": "int64" },
        }],
        "responses": Responses::new()
            .with("200", json_response("Restored.", schema_ref("RestoreResult")))
            .problems(&[&BAD_REQUEST, &UNAUTHORIZED, &FORBIDDEN, &NOT_FOUND, &CONFLICT])
            .server_errors()
            .into_value(),
    })
}

fn health_operation() -> Value {
    json!({
        "tags": [SERVICE_TAG],
        "operationId": "health",
        "summary": "Check that the server can reach its database.",
        "security": [],
        "responses": Responses::new()
            .with("200", json_response("The database answers.", json!({
                "type": "object",
                "required": ["status"],
                "properties": { "status": { "const": "ok" } },
            })))
            .problems(&[&UNAVAILABLE])
            .into_value(),
    })
}

fn live_operation() -> Value {
    json!({
        "tags": [SERVICE_TAG],
        "operationId": "live",
        "summary": "Check that the process serves HTTP, whatever the database does.",
        "security": [],
        "responses": Responses::new()
            .with("200", json_response("The process serves.", json!({
                "type": "object",
                "required": ["status"],
                "properties": { "status": { "const": "alive" } },
            })))
            .into_value(),
    })
}

fn metrics_operation() -> Value {
    json!({
        "tags": [SERVICE_TAG],
        "operationId": "metrics",
        "summary": "The server's metrics, in Prometheus' text format.",
        "description": "Open, unless the server is configured with a metrics token \
                        (`OFFGEN_METRICS_TOKEN`): then the scraper sends it as a bearer token.",
        "security": [{}, { "bearer": [] }],
        "responses": Responses::new()
            .with("200", json!({
                "description": "Prometheus text exposition format 0.0.4.",
                "content": { "text/plain; version=0.0.4; charset=utf-8": {
                    "schema": { "type": "string" },
                } },
            }))
            .problems(&[&UNAUTHORIZED])
            .into_value(),
    })
}

fn openapi_operation() -> Value {
    json!({
        "tags": [SERVICE_TAG],
        "operationId": "openapi",
        "summary": "This document.",
        "security": [],
        "responses": Responses::new()
            .with("200", json_response(
                "The OpenAPI 3.1 description of this API.",
                json!({ "type": "object" }),
            ))
            .into_value(),
    })
}

/// An operation's responses, written out in status order whatever order they were added in.
pub(super) struct Responses(Vec<(String, Value)>);

impl Responses {
    pub(super) fn new() -> Responses {
        Responses(Vec::new())
    }

    pub(super) fn with(mut self, status: &str, response: Value) -> Responses {
        self.0.push((status.to_owned(), response));
        self
    }

    /// Error answers shared by every operation, by reference to `components.responses`.
    pub(super) fn problems(mut self, problems: &[&ProblemKind]) -> Responses {
        for problem in problems {
            self.0.push((
                problem.status().to_string(),
                response_ref(problem.component),
            ));
        }
        self
    }

    /// What any operation that touches the database can answer.
    pub(super) fn server_errors(self) -> Responses {
        self.problems(&[&INTERNAL, &UNAVAILABLE])
    }

    pub(super) fn into_value(mut self) -> Value {
        // Status codes are three digits, so text order is numeric order.
        self.0.sort_by(|a, b| a.0.cmp(&b.0));
        Value::Object(self.0.into_iter().collect())
    }
}

/// 412 carries the entity's current record, so unlike the other errors it is per entity.
fn precondition_failed(names: &EntityNames) -> Value {
    let mut extra = Map::new();
    extra.insert(
        "record".into(),
        json!({
            "$ref": schema_path(&names.record),
            "description": "The current record (its tombstone if deleted; absent if unknown).",
        }),
    );
    problem_response(&PRECONDITION_FAILED, extra, &[])
}
