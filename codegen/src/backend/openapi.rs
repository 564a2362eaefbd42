//! `openapi.json`: the OpenAPI 3.1 description of the HTTP server offgen generates.
//!
//! It is written from the same IR as the server, so it describes exactly this app's API
//! (docs/protocol.md): per entity the schemas `<Entity>Fields`, `<Entity>Record`,
//! `<Entity>Create` and `<Entity>Page` and the paths `/v1/<table>` and `/v1/<table>/{id}`; the
//! sync protocol's messages and `/sync/push`, `/sync/pull`; `/healthz` and `/openapi.json`.
//! Field values follow the protocol's table of wire values, the encoding the device triggers
//! also write.
//!
//! The document is built as a `serde_json::Value`. The workspace enables `preserve_order`, so
//! objects keep insertion order: the same schema always gives the same text, and nothing
//! depends on hash order.

use serde_json::{Map, Number, Value, json};

use crate::model::{ConflictPolicy, DefaultValue, Entity, Field, FieldType, Schema};
use crate::output::{FileSet, GENERATED_MARKER};

/// Path of the document inside the output directory; the server also serves it at
/// `/openapi.json`.
pub const PATH: &str = "openapi.json";

/// Lowercase hyphenated UUIDs only: the server refuses other spellings of an id, because
/// normalising one would hand the device back an id it does not know.
const UUID_PATTERN: &str = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";
/// Blobs travel as lowercase hex, two digits per byte.
const HEX_PATTERN: &str = "^(?:[0-9a-f]{2})*$";
/// An `ETag` is the record's version in quotes (a strong entity tag).
const ETAG_PATTERN: &str = "^\"[0-9]+\"$";

const JSON: &str = "application/json";
const PROBLEM_JSON: &str = "application/problem+json";

/// Page size limits of `/sync/pull` and the list endpoints.
const DEFAULT_LIMIT: u32 = 500;
const MAX_LIMIT: u32 = 1000;
/// Most mutations one push may carry.
const MAX_MUTATIONS: u32 = 1000;
/// How far ahead of the server's clock an lww stamp may be (the runtime's
/// `server::MAX_STAMP_AHEAD_MS`; codegen/tests/openapi.rs holds the two equal).
const MAX_STAMP_AHEAD_MS: i64 = 60_000;

/// Page size limits of `/admin/audit` (the runtime's `server::admin` constants).
const DEFAULT_AUDIT_LIMIT: u32 = 100;
const MAX_AUDIT_LIMIT: u32 = 1000;
/// Tag of the admin endpoints.
const ADMIN_TAG: &str = "admin";

/// Tag of `/sync/push` and `/sync/pull`.
const SYNC_TAG: &str = "sync";
/// Tag of `/healthz` and `/openapi.json`.
const SERVICE_TAG: &str = "service";

/// The protocol's own schemas, whatever the entities. An entity's schema names must not take
/// one of these (see [`EntityNames`]).
const PROTOCOL_SCHEMAS: &[&str] = &[
    "PushRequest",
    "Mutation",
    "PushResponse",
    "PushResult",
    "ItemError",
    "SyncRecord",
    "PullResponse",
    "Problem",
    "FieldError",
    "AuditEntry",
    "AuditEntries",
    "RestoreResult",
];

/// Adds `openapi.json` to `files`.
pub fn generate(schema: &Schema, files: &mut FileSet) {
    let mut text = serde_json::to_string_pretty(&document(schema))
        .expect("a serde_json::Value with string keys always serializes");
    text.push('\n');
    files.insert(PATH, text);
}

/// The whole document.
fn document(schema: &Schema) -> Value {
    json!({
        "openapi": "3.1.0",
        "info": info(schema),
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "security": [{ "bearer": [] }],
        "tags": tags(schema),
        "paths": paths(schema),
        "components": components(schema),
    })
}

/// `info`. The description comes before `version` and opens with the marker because offgen
/// looks for the marker only in a file's first 512 bytes.
fn info(schema: &Schema) -> Value {
    let app = &schema.app.spec;
    json!({
        "title": format!("{app} sync API"),
        "description": format!(
            "{GENERATED_MARKER} from the `{app}` spec; do not edit. The HTTP API of the `{app}` \
             sync server: devices sync through `/sync/push` and `/sync/pull`, other clients read \
             and write records under `/v1/<table>`. Every request needs `Authorization: Bearer \
             <token>` except `/healthz` and `/openapi.json`; every error is \
             `application/problem+json` (RFC 9457). JSON keys are camelCase; record fields use \
             their wire keys."
        ),
        "version": "1",
    })
}

fn tags(schema: &Schema) -> Value {
    let mut tags = vec![json!({
        "name": SYNC_TAG,
        "description": "The device sync protocol: push queued mutations, pull changes.",
    })];
    tags.extend(schema.entities.iter().map(
        |entity| json!({ "name": entity.name.pascal, "description": entity_description(entity) }),
    ));
    tags.push(json!({
        "name": ADMIN_TAG,
        "description": "What lost a conflict (`lww`, `server_wins`), kept in the server's audit: \
                        list and restore it. Admins only: anyone else gets 403.",
    }));
    tags.push(json!({
        "name": SERVICE_TAG,
        "description": "Health check and this document; no token needed.",
    }));
    Value::Array(tags)
}

/// The entity's doc, then how it behaves on the wire: what a client needs to know about its
/// conflict policy and owner scoping.
fn entity_description(entity: &Entity) -> String {
    let mut parts: Vec<String> = entity.doc.iter().cloned().collect();
    parts.push(format!(
        "Records of table `{}`; conflict policy `{}`{}.",
        entity.table.sql(),
        entity.conflict.name(),
        match &entity.conflict {
            ConflictPolicy::Lww =>
                " (each field's newest write wins, by the stamps devices send)".to_owned(),
            ConflictPolicy::AppendOnly => " (records are only created, never changed)".to_owned(),
            ConflictPolicy::Version | ConflictPolicy::ServerWins => String::new(),
        }
    ));
    if let Some(owner) = &entity.owner {
        parts.push(format!(
            "Owner-scoped: a user reads and writes only records whose `{}` is their user id.",
            wire_key(entity, owner)
        ));
    }
    parts.join(" ")
}

/// The wire key of the field with this spec name (the spec name itself should it be missing,
/// which validation rules out).
fn wire_key<'a>(entity: &'a Entity, spec_name: &'a str) -> &'a str {
    entity
        .field(spec_name)
        .map_or(spec_name, |field| field.name.json())
}

// ---------------------------------------------------------------------------------------------
// Paths

fn paths(schema: &Schema) -> Map<String, Value> {
    let mut paths = Map::new();
    paths.insert("/sync/push".into(), json!({ "post": push_operation() }));
    paths.insert("/sync/pull".into(), json!({ "get": pull_operation() }));
    for entity in &schema.entities {
        let names = EntityNames::of(entity);
        let table = entity.table.sql();
        paths.insert(format!("/v1/{table}"), collection_path(entity, &names));
        paths.insert(format!("/v1/{table}/{{id}}"), item_path(entity, &names));
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
             its first result and changes nothing. At most {MAX_MUTATIONS} mutations and 8 MiB \
             per request."
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
                .with("201", with_headers(
                    json_response("Created.", record.clone()),
                    &["Location", "ETag"],
                ))
                .with("200", with_headers(
                    json_response("The record already existed with these fields.", record),
                    &["ETag"],
                ))
                .problems(&[&BAD_REQUEST, &UNAUTHORIZED, &CONFLICT, &INVALID_DATA])
                .problems(owner_scoped(entity))
                .server_errors()
                .into_value(),
        },
    })
}

fn create_description(entity: &Entity) -> String {
    let mut text = "Posting the same id again with the same fields answers 200 with the record \
                    (so a retry is safe); with other fields, 409. `version`, `updatedAt` and \
                    `deletedAt` are ignored."
        .to_owned();
    if let Some(owner) = &entity.owner {
        let key = entity
            .field(owner)
            .map_or(owner.as_str(), |f| f.name.json());
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
                .problems(&[&UNAUTHORIZED, &NOT_FOUND, &GONE])
                .server_errors()
                .into_value(),
        },
        "put": {
            "tags": [pascal],
            "operationId": format!("replace{pascal}"),
            "summary": format!("Replace the fields of one `{table}` record at a known version."),
            "description": "`If-Match` names the version the change is based on; a stale, \
                            deleted or unknown record answers 412 with the current record.",
            "parameters": [parameter_ref("IfMatch")],
            "requestBody": json_body(schema_ref(&names.fields)),
            "responses": Responses::new()
                .with("200", with_headers(
                    json_response("The record at its new version.", record),
                    &["ETag"],
                ))
                .with("412", precondition_failed(names))
                .problems(&[&BAD_REQUEST, &UNAUTHORIZED, &INVALID_DATA, &PRECONDITION_REQUIRED])
                .problems(owner_scoped(entity))
                .server_errors()
                .into_value(),
        },
        "delete": {
            "tags": [pascal],
            "operationId": format!("delete{pascal}"),
            "summary": format!("Delete one `{table}` record at a known version."),
            "description": "The record becomes a tombstone, which devices pull.",
            "parameters": [parameter_ref("IfMatch")],
            "responses": Responses::new()
                .with("204", json!({ "description": "Deleted." }))
                .with("412", precondition_failed(names))
                .problems(&[&BAD_REQUEST, &UNAUTHORIZED, &PRECONDITION_REQUIRED])
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
            .with("200", json_response("A page of entries.", schema_ref("AuditEntries")))
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
struct Responses(Vec<(String, Value)>);

impl Responses {
    fn new() -> Responses {
        Responses(Vec::new())
    }

    fn with(mut self, status: &str, response: Value) -> Responses {
        self.0.push((status.to_owned(), response));
        self
    }

    /// Error answers shared by every operation, by reference to `components.responses`.
    fn problems(mut self, problems: &[&ProblemKind]) -> Responses {
        for problem in problems {
            self.0
                .push((problem.status.to_string(), response_ref(problem.component)));
        }
        self
    }

    /// What any operation that touches the database can answer.
    fn server_errors(self) -> Responses {
        self.problems(&[&INTERNAL, &UNAVAILABLE])
    }

    fn into_value(mut self) -> Value {
        // Status codes are three digits, so text order is numeric order.
        self.0.sort_by(|a, b| a.0.cmp(&b.0));
        Value::Object(self.0.into_iter().collect())
    }
}

fn json_body(schema: Value) -> Value {
    json!({ "required": true, "content": { JSON: { "schema": schema } } })
}

fn json_response(description: &str, schema: Value) -> Value {
    json!({ "description": description, "content": { JSON: { "schema": schema } } })
}

/// Adds references to `components.headers` to a response.
fn with_headers(mut response: Value, headers: &[&str]) -> Value {
    let headers: Map<String, Value> = headers
        .iter()
        .map(|name| ((*name).to_owned(), component_ref("headers", name)))
        .collect();
    if let Value::Object(response) = &mut response {
        response.insert("headers".into(), Value::Object(headers));
    }
    response
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

// ---------------------------------------------------------------------------------------------
// Errors

/// One row of the protocol's error table.
struct ProblemKind {
    status: u16,
    /// Last segment of the stable `type` URI.
    slug: &'static str,
    /// Name in `components.responses`.
    component: &'static str,
    /// When it is answered.
    when: &'static str,
}

impl ProblemKind {
    fn type_uri(&self) -> String {
        format!("https://offgen.dev/problems/{}", self.slug)
    }
}

const BAD_REQUEST: ProblemKind = ProblemKind {
    status: 400,
    slug: "bad-request",
    component: "BadRequest",
    when: "Malformed JSON, unknown keys, a bad cursor or a malformed `If-Match`.",
};
const UNAUTHORIZED: ProblemKind = ProblemKind {
    status: 401,
    slug: "unauthorized",
    component: "Unauthorized",
    when: "No valid bearer token.",
};
const FORBIDDEN: ProblemKind = ProblemKind {
    status: 403,
    slug: "forbidden",
    component: "Forbidden",
    when: "An admin endpoint, for a user who is not an admin.",
};
const NOT_FOUND: ProblemKind = ProblemKind {
    status: 404,
    slug: "not-found",
    component: "NotFound",
    when: "No such record (records of other users are not revealed either), or a write \
           naming another user as a record's owner.",
};
const CONFLICT: ProblemKind = ProblemKind {
    status: 409,
    slug: "conflict",
    component: "Conflict",
    when: "A record with this id exists with other fields.",
};
/// 409 on push and pull: the app's schema step and the server's do not meet. Its `type` is
/// one of two (see [`schema_step_response`]).
const SCHEMA_STEP: ProblemKind = ProblemKind {
    status: 409,
    slug: "upgrade-required",
    component: "SchemaStep",
    when: "The app's schema step (`Offgen-Schema-Step`) is not served: older than the oldest \
           step the server serves (`upgrade-required`: update the app; nothing was applied), \
           or, on a push, newer than the server's (`schema-ahead`: the changes wait on the \
           device until the server is upgraded).",
};
const GONE: ProblemKind = ProblemKind {
    status: 410,
    slug: "gone",
    component: "Gone",
    when: "The record was deleted.",
};
const PRECONDITION_FAILED: ProblemKind = ProblemKind {
    status: 412,
    slug: "precondition-failed",
    component: "PreconditionFailed",
    when: "`If-Match` matches no current version: the record is stale, deleted or unknown.",
};
const PAYLOAD_TOO_LARGE: ProblemKind = ProblemKind {
    status: 413,
    slug: "payload-too-large",
    component: "PayloadTooLarge",
    when: "More than 1,000 mutations or 8 MiB in one request.",
};
const INVALID_DATA: ProblemKind = ProblemKind {
    status: 422,
    slug: "invalid-data",
    component: "InvalidData",
    when: "Field values the entity does not accept; `errors` says which.",
};
const PRECONDITION_REQUIRED: ProblemKind = ProblemKind {
    status: 428,
    slug: "precondition-required",
    component: "PreconditionRequired",
    when: "No `If-Match` header.",
};
const INTERNAL: ProblemKind = ProblemKind {
    status: 500,
    slug: "internal",
    component: "Internal",
    when: "An unexpected server error.",
};
const UNAVAILABLE: ProblemKind = ProblemKind {
    status: 503,
    slug: "unavailable",
    component: "Unavailable",
    when: "The database cannot be reached.",
};

/// The errors shared by all entities, as `components.responses`. 412 is not among them: its
/// `record` has the entity's type.
fn shared_responses() -> Map<String, Value> {
    let mut errors_extra = Map::new();
    errors_extra.insert(
        "errors".into(),
        json!({ "type": "array", "minItems": 1, "items": schema_ref("FieldError") }),
    );
    [
        (&BAD_REQUEST, Map::new(), &[][..]),
        (&UNAUTHORIZED, Map::new(), &[][..]),
        (&FORBIDDEN, Map::new(), &[][..]),
        (&NOT_FOUND, Map::new(), &[][..]),
        (&CONFLICT, Map::new(), &[][..]),
        (&GONE, Map::new(), &[][..]),
        (&PAYLOAD_TOO_LARGE, Map::new(), &[][..]),
        (&INVALID_DATA, errors_extra, &["errors"][..]),
        (&PRECONDITION_REQUIRED, Map::new(), &[][..]),
        (&INTERNAL, Map::new(), &[][..]),
        (&UNAVAILABLE, Map::new(), &[][..]),
    ]
    .into_iter()
    .chain([(&SCHEMA_STEP, schema_step_extra(), &[][..])])
    .map(|(problem, extra, required)| {
        let mut response = problem_response(problem, extra, required);
        if problem.component == SCHEMA_STEP.component {
            response = schema_step_response(response);
        }
        if problem.status == UNAUTHORIZED.status {
            // RFC 9110 requires a challenge with every 401.
            response = with_headers(response, &["WWW-Authenticate"]);
        }
        (problem.component.to_owned(), response)
    })
    .collect()
}

/// The members of a [`SCHEMA_STEP`] problem beside the standard ones.
fn schema_step_extra() -> Map<String, Value> {
    let step = || json!({ "type": "integer", "minimum": 1 });
    let mut extra = Map::new();
    extra.insert("serverStep".into(), step());
    extra.insert("oldestStep".into(), step());
    extra
}

/// [`SCHEMA_STEP`]'s response takes either of its two types.
fn schema_step_response(mut response: Value) -> Value {
    let types = json!({ "enum": [
        "https://offgen.dev/problems/upgrade-required",
        "https://offgen.dev/problems/schema-ahead",
    ] });
    if let Some(narrowed) = response
        .pointer_mut(&format!(
            "/content/{}/schema/allOf/1/properties",
            PROBLEM_JSON.replace('/', "~1")
        ))
        .and_then(Value::as_object_mut)
    {
        narrowed.insert("type".into(), types);
    }
    response
}

/// A `Problem` whose `type` and `status` are fixed to `problem`'s, plus `extra` members.
fn problem_response(problem: &ProblemKind, extra: Map<String, Value>, required: &[&str]) -> Value {
    let mut properties = Map::new();
    properties.insert("type".into(), json!({ "const": problem.type_uri() }));
    properties.insert("status".into(), json!({ "const": problem.status }));
    properties.extend(extra);
    let mut narrowed = Map::new();
    narrowed.insert("properties".into(), Value::Object(properties));
    if !required.is_empty() {
        narrowed.insert("required".into(), json!(required));
    }
    json!({
        "description": problem.when,
        "content": {
            PROBLEM_JSON: {
                "schema": { "allOf": [schema_ref("Problem"), Value::Object(narrowed)] },
            },
        },
    })
}

// ---------------------------------------------------------------------------------------------
// Components

fn components(schema: &Schema) -> Value {
    let mut schemas = Map::new();
    for entity in &schema.entities {
        entity_schemas(entity, &mut schemas);
    }
    let entity_schema_count = schemas.len();
    protocol_schemas(schema, &mut schemas);
    debug_assert!(
        schemas.len() == entity_schema_count + PROTOCOL_SCHEMAS.len()
            && PROTOCOL_SCHEMAS
                .iter()
                .all(|name| schemas.contains_key(*name)),
        "PROTOCOL_SCHEMAS lists exactly the protocol's schemas, and no entity took one"
    );
    json!({
        "schemas": schemas,
        "responses": shared_responses(),
        "parameters": parameters(),
        "headers": headers(),
        "securitySchemes": {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "`Authorization: Bearer <token>`; the token names the user.",
            },
        },
    })
}

fn parameters() -> Value {
    json!({
        "Cursor": {
            "name": "cursor",
            "in": "query",
            "required": false,
            "description": "Opaque. Omit it (or pass an empty string) for the first page, then \
                            pass back the last answer's `cursor`.",
            "schema": { "type": "string" },
        },
        "Limit": {
            "name": "limit",
            "in": "query",
            "required": false,
            "description": "Most records in the answer.",
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_LIMIT,
                "default": DEFAULT_LIMIT,
            },
        },
        "Id": {
            "name": "id",
            "in": "path",
            "required": true,
            "description": "The record's id.",
            "schema": uuid_schema(),
        },
        "IfMatch": {
            "name": "If-Match",
            "in": "header",
            // Required by the protocol; a request without it is answered 428.
            "required": true,
            "description": "The version the change is based on, as entity tags (RFC 9110): \
                            `\"3\"`, a list of them, or `*` for any current record. Weak tags \
                            (`W/\"3\"`) never match. Without it: 428.",
            "schema": { "type": "string" },
        },
        "SchemaStep": {
            "name": "Offgen-Schema-Step",
            "in": "header",
            "required": false,
            "description": "The app's schema step (its device database's newest migration \
                            step). The server answers each app version in its own shape \
                            (protocol.md, Schema steps). Without it: the server's own step.",
            "schema": { "type": "integer", "minimum": 1 },
        },
        "IfNoneMatch": {
            "name": "If-None-Match",
            "in": "header",
            "required": false,
            "description": "Entity tags the client holds; a match answers 304.",
            "schema": { "type": "string" },
        },
    })
}

fn headers() -> Value {
    json!({
        "ETag": {
            "description": "The record's version as a strong entity tag, e.g. `\"3\"`.",
            "schema": { "type": "string", "pattern": ETAG_PATTERN },
        },
        "Location": {
            "description": "The new record's URL, `/v1/<table>/<id>`.",
            "schema": { "type": "string", "format": "uri-reference" },
        },
        "WWW-Authenticate": {
            "description": "The bearer challenge.",
            "schema": { "type": "string" },
        },
    })
}

/// Names of one entity's schemas in `components.schemas`.
struct EntityNames {
    fields: String,
    record: String,
    create: String,
    page: String,
}

impl EntityNames {
    fn of(entity: &Entity) -> EntityNames {
        let name = |suffix: &str| {
            let joined = format!("{}{suffix}", entity.name.pascal);
            // An entity named `Sync` would take `SyncRecord`, the pull protocol's record.
            // Pascal names never contain `_`, so the fallback clashes with no other name.
            if PROTOCOL_SCHEMAS.contains(&joined.as_str()) {
                format!("{}_{suffix}", entity.name.pascal)
            } else {
                joined
            }
        };
        EntityNames {
            fields: name("Fields"),
            record: name("Record"),
            create: name("Create"),
            page: name("Page"),
        }
    }
}

fn entity_schemas(entity: &Entity, schemas: &mut Map<String, Value>) {
    let names = EntityNames::of(entity);
    let description = entity_description(entity);
    schemas.insert(names.fields.clone(), fields_schema(entity));
    schemas.insert(names.record.clone(), record_schema(entity, &description));
    schemas.insert(names.create.clone(), create_schema(entity));
    schemas.insert(names.page.clone(), page_schema(&names));
}

/// The declared fields alone: the body of PUT.
fn fields_schema(entity: &Entity) -> Value {
    let mut schema = Map::new();
    schema.insert("type".into(), json!("object"));
    schema.insert(
        "description".into(),
        json!(format!(
            "The fields of a `{}` record, by wire key.",
            entity.table.sql()
        )),
    );
    let required = required_on_write(entity);
    if !required.is_empty() {
        schema.insert("required".into(), json!(required));
    }
    schema.insert("properties".into(), Value::Object(field_properties(entity)));
    // The server refuses unknown keys (400), so a misspelt key is never silently dropped.
    schema.insert("additionalProperties".into(), json!(false));
    Value::Object(schema)
}

/// The flat record `/v1/<table>` answers with: id, fields, bookkeeping.
fn record_schema(entity: &Entity, description: &str) -> Value {
    let mut properties = Map::new();
    properties.insert(
        "id".into(),
        id_schema("The record's id, made by the device that created it."),
    );
    properties.extend(field_properties(entity));
    properties.extend(bookkeeping_properties(None));
    let mut required = vec!["id"];
    required.extend(
        entity
            .fields
            .iter()
            .filter(|f| !f.nullable)
            .map(|f| f.name.json()),
    );
    required.extend(["version", "updatedAt"]);
    json!({
        "type": "object",
        "description": description,
        "required": required,
        "properties": properties,
    })
}

/// The body of POST: a record whose id the client made. A client may post back a record it
/// holds, so the bookkeeping keys are allowed, but the server ignores them.
fn create_schema(entity: &Entity) -> Value {
    let mut properties = Map::new();
    properties.insert(
        "id".into(),
        id_schema("The new record's id, made by the client; posting it again is safe."),
    );
    properties.extend(field_properties(entity));
    properties.extend(bookkeeping_properties(Some("Ignored: the server sets it.")));
    let mut required = vec!["id"];
    required.extend(required_on_write(entity));
    json!({
        "type": "object",
        "description": format!(
            "A new `{}` record. Fields left out take their default, or null.",
            entity.table.sql()
        ),
        "required": required,
        "properties": properties,
        "additionalProperties": false,
    })
}

fn page_schema(names: &EntityNames) -> Value {
    json!({
        "type": "object",
        "required": ["records", "cursor", "hasMore"],
        "properties": {
            "records": { "type": "array", "items": schema_ref(&names.record) },
            "cursor": {
                "type": "string",
                "description": "Pass back as `cursor` for the next page.",
            },
            "hasMore": { "type": "boolean", "description": "Whether another page is ready now." },
        },
    })
}

/// Wire keys a write must carry: fields that can be neither null nor defaulted. The owner
/// field is not among them: a write without it gets the caller's user id.
fn required_on_write(entity: &Entity) -> Vec<&str> {
    entity
        .fields
        .iter()
        .filter(|f| !f.nullable && f.default.is_none() && !is_owner(entity, f))
        .map(|f| f.name.json())
        .collect()
}

fn is_owner(entity: &Entity, field: &Field) -> bool {
    entity.owner.as_deref() == Some(field.name.spec.as_str())
}

fn field_properties(entity: &Entity) -> Map<String, Value> {
    entity
        .fields
        .iter()
        .map(|field| {
            let mut schema = field_schema(field);
            if is_owner(entity, field) {
                add_note(
                    &mut schema,
                    "The owning user's id; a write that leaves it out gets the caller's.",
                );
            }
            (field.name.json().to_owned(), schema)
        })
        .collect()
}

/// Appends a sentence to a schema's description.
fn add_note(schema: &mut Value, note: &str) {
    let Value::Object(map) = schema else {
        return;
    };
    let description = match map.get("description").and_then(Value::as_str) {
        Some(text) => format!("{text} {note}"),
        None => note.to_owned(),
    };
    map.insert("description".into(), json!(description));
}

/// `version`, `updatedAt` and `deletedAt`; `ignored` replaces their descriptions where the
/// server does not read them.
fn bookkeeping_properties(ignored: Option<&str>) -> Map<String, Value> {
    let describe = |text: &str| ignored.unwrap_or(text).to_owned();
    let mut properties = Map::new();
    properties.insert(
        "version".into(),
        json!({
            "type": "integer",
            "format": "int64",
            "minimum": 1,
            "description": describe(
                "The server's version of the record, bumped by every accepted write; the \
                 `ETag` is this number in quotes."
            ),
        }),
    );
    properties.insert(
        "updatedAt".into(),
        json!({
            "type": "integer",
            "format": "int64",
            "description": describe("When the record last changed: epoch milliseconds, UTC."),
        }),
    );
    properties.insert(
        "deletedAt".into(),
        json!({
            "type": ["integer", "null"],
            "format": "int64",
            "description": describe(
                "When the record was deleted (epoch milliseconds, UTC); null while it is live."
            ),
        }),
    );
    properties
}

/// The schema of one field's value on the wire (docs/protocol.md, "Values on the wire").
fn field_schema(field: &Field) -> Value {
    let mut schema = Map::new();
    let mut notes: Vec<String> = field.doc.iter().cloned().collect();
    let mut set = |key: &str, value: Value| {
        schema.insert(key.to_owned(), value);
    };
    match &field.ty {
        FieldType::Text => set("type", json!("string")),
        FieldType::Int => {
            set("type", json!("integer"));
            set("format", json!("int64"));
        }
        FieldType::Real => {
            set("type", json!("number"));
            set("format", json!("double"));
        }
        FieldType::Bool => set("type", json!("boolean")),
        FieldType::DateTime => {
            set("type", json!("integer"));
            set("format", json!("int64"));
            notes.push("Epoch milliseconds, UTC.".to_owned());
        }
        FieldType::Date => {
            set("type", json!("string"));
            set("format", json!("date"));
        }
        FieldType::Uuid => {
            set("type", json!("string"));
            set("format", json!("uuid"));
            set("pattern", json!(UUID_PATTERN));
        }
        FieldType::Reference { entity } => {
            set("type", json!("string"));
            set("format", json!("uuid"));
            set("pattern", json!(UUID_PATTERN));
            notes.push(format!("The id of a `{entity}` record."));
        }
        FieldType::Blob => {
            set("type", json!("string"));
            set("contentEncoding", json!("base16"));
            set("pattern", json!(HEX_PATTERN));
            notes.push("Bytes as lowercase hex.".to_owned());
        }
        FieldType::Enum { values, .. } => {
            set("type", json!("string"));
            let values: Vec<&str> = values.iter().map(|v| v.spec.as_str()).collect();
            set("enum", json!(values));
        }
        // Any JSON value. A JSON null is stored as null, which a non-nullable field refuses.
        FieldType::Json if field.nullable => {}
        FieldType::Json => set("not", json!({ "type": "null" })),
    }
    if field.nullable {
        allow_null(&mut schema);
    }
    if let Some(default) = field.default.as_ref().and_then(wire_default) {
        schema.insert("default".into(), default);
    }
    if !notes.is_empty() {
        schema.insert("description".into(), json!(notes.join(" ")));
    }
    Value::Object(schema)
}

/// Lets a field schema accept null as well.
fn allow_null(schema: &mut Map<String, Value>) {
    if let Some(Value::String(ty)) = schema.get("type") {
        let types = json!([ty, "null"]);
        schema.insert("type".into(), types);
    }
    // `enum` is checked on its own: null must be one of its values too.
    if let Some(Value::Array(values)) = schema.get_mut("enum") {
        values.push(Value::Null);
    }
}

/// A default as its field's value on the wire. `None` only for a value validation never lets
/// through (a non-finite real, JSON text that does not parse).
fn wire_default(default: &DefaultValue) -> Option<Value> {
    Some(match default {
        DefaultValue::Text(s)
        | DefaultValue::Date(s)
        | DefaultValue::Uuid(s)
        | DefaultValue::Enum(s) => Value::String(s.clone()),
        DefaultValue::Int(i) | DefaultValue::DateTime(i) => Value::from(*i),
        DefaultValue::Real(f) => Value::Number(Number::from_f64(*f)?),
        DefaultValue::Bool(b) => Value::Bool(*b),
        DefaultValue::Json(text) => serde_json::from_str(text).ok()?,
    })
}

/// The sync protocol's messages and the problem document.
fn server_time() -> Value {
    json!({
        "type": "integer",
        "format": "int64",
        "description": "The server's clock when it answered, epoch ms: devices correct the \
                        stamps of their writes with it.",
    })
}

fn protocol_schemas(schema: &Schema, schemas: &mut Map<String, Value>) {
    let tables: Vec<&str> = schema.entities.iter().map(|e| e.table.sql()).collect();
    let entity = json!({
        "type": "string",
        "enum": tables,
        "description": "The entity's table name.",
    });
    let entity_table = entity.clone();
    schemas.insert(
        "PushRequest".into(),
        json!({
            "type": "object",
            "required": ["clientId", "mutations"],
            "properties": {
                "clientId": { "type": "string", "description": "The device's stable id." },
                "mutations": {
                    "type": "array",
                    "maxItems": MAX_MUTATIONS,
                    "items": schema_ref("Mutation"),
                    "description": "In the order the device made them.",
                },
            },
            "additionalProperties": false,
        }),
    );
    schemas.insert(
        "Mutation".into(),
        json!({
            "type": "object",
            "description": "One change to one record. An unknown `entity` or a malformed `id` \
                            is answered by a `rejected` result, not by failing the request.",
            "required": ["mutationId", "entity", "id", "op"],
            "properties": {
                "mutationId": {
                    "type": "string",
                    "description": "Unique per mutation; a retry carries the same id.",
                },
                "entity": entity.clone(),
                "id": id_schema("The record's id."),
                "op": { "type": "string", "enum": ["insert", "update", "delete"] },
                "baseVersion": {
                    "type": ["integer", "null"],
                    "format": "int64",
                    "description": "The server version the device last saw (updates and \
                                    deletes; absent for inserts).",
                },
                "data": {
                    "type": "object",
                    "description": "Fields by wire key: all of them for an insert (missing ones \
                                    take their default, or null), the changed ones for an \
                                    update, none for a delete.",
                },
                "stamp": {
                    "type": "integer",
                    "format": "int64",
                    "description": format!(
                        "When the entry was last written: epoch ms on the device's clock, \
                         corrected by `serverTime`. `lww` entities compare it (field by field); \
                         other entities ignore it. Absent: the server's receive time. More than \
                         {MAX_STAMP_AHEAD_MS} ms ahead of the server's clock: taken as the \
                         receive time."
                    ),
                },
                "fieldStamps": {
                    "type": "object",
                    "additionalProperties": { "type": "integer", "format": "int64" },
                    "description": "An update's fields' own last writes (wire key -> epoch ms), \
                                    where they differ from `stamp`; keys must be fields of \
                                    `data`. Used by `lww` entities.",
                },
            },
            "additionalProperties": false,
        }),
    );
    schemas.insert(
        "PushResponse".into(),
        json!({
            "type": "object",
            "required": ["results", "serverTime"],
            "properties": {
                "results": {
                    "type": "array",
                    "items": schema_ref("PushResult"),
                    "description": "One per mutation, in the request's order.",
                },
                "serverTime": server_time(),
            },
        }),
    );
    schemas.insert(
        "PushResult".into(),
        json!({
            "type": "object",
            "required": ["mutationId", "id", "status"],
            "properties": {
                "mutationId": { "type": "string" },
                "id": { "type": "string", "description": "The mutation's record id, echoed." },
                "status": {
                    "type": "string",
                    "enum": ["accepted", "conflict", "rejected"],
                    "description": "`accepted`: applied. `conflict`: the record had moved on; \
                                    `record` is the server's record to adopt. `rejected`: not \
                                    applied and never will be as sent; see `error`.",
                },
                "version": {
                    "type": "integer",
                    "format": "int64",
                    "description": "The record's version after this result.",
                },
                "record": {
                    "$ref": schema_path("SyncRecord"),
                    "description": "On `conflict`: the server's record, to adopt. On an \
                                    `accepted` lww update that was merged (a field lost, or it \
                                    was based on an older version): the merged record, to adopt.",
                },
                "overridden": {
                    "type": "array",
                    "items": { "type": "string" },
                    "description": "lww updates that were merged or lost: the wire keys whose \
                                    values lost to newer writes (kept in the server's audit).",
                },
                "error": schema_ref("ItemError"),
            },
        }),
    );
    schemas.insert(
        "ItemError".into(),
        json!({
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {
                    "type": "string",
                    "enum": [
                        "invalid-id",
                        "unknown-entity",
                        "invalid-data",
                        "not-found",
                        "append-only",
                        "invalid-request",
                    ],
                },
                "message": { "type": "string" },
            },
        }),
    );
    schemas.insert(
        "SyncRecord".into(),
        json!({
            "type": "object",
            "description": "A record as pull and push results carry it.",
            "required": ["entity", "id", "version", "deleted", "updatedAt"],
            "properties": {
                "entity": entity,
                "id": id_schema("The record's id."),
                "version": { "type": "integer", "format": "int64", "minimum": 1 },
                "deleted": { "type": "boolean", "description": "Whether it is a tombstone." },
                "updatedAt": {
                    "type": "integer",
                    "format": "int64",
                    "description": "Epoch milliseconds, UTC.",
                },
                "deletedAt": {
                    "type": ["integer", "null"],
                    "format": "int64",
                    "description": "Epoch milliseconds, UTC; set on tombstones.",
                },
                "data": {
                    "type": "object",
                    "description": "The record's fields by wire key, typed as in the entity's \
                                    `Fields` schema.",
                },
            },
        }),
    );
    schemas.insert(
        "PullResponse".into(),
        json!({
            "type": "object",
            "required": ["records", "cursor", "hasMore", "serverTime"],
            "properties": {
                "records": {
                    "type": "array",
                    "items": schema_ref("SyncRecord"),
                    "description": "Changed records, oldest change first.",
                },
                "cursor": {
                    "type": "string",
                    "description": "Pass back as `cursor` for the changes after this page.",
                },
                "hasMore": {
                    "type": "boolean",
                    "description": "Whether another page is ready now.",
                },
                "serverTime": server_time(),
            },
        }),
    );
    schemas.insert(
        "Problem".into(),
        json!({
            "type": "object",
            "description": "An error (RFC 9457). `type` is stable: \
                            `https://offgen.dev/problems/<name>`.",
            "required": ["type", "title", "status"],
            "properties": {
                "type": { "type": "string", "format": "uri" },
                "title": { "type": "string" },
                "status": { "type": "integer", "minimum": 400, "maximum": 599 },
                "detail": { "type": "string" },
                "instance": { "type": "string", "format": "uri-reference" },
                "record": {
                    "type": "object",
                    "description": "412: the current record, flat as `/v1/<table>` returns it.",
                },
                "errors": {
                    "type": "array",
                    "items": schema_ref("FieldError"),
                    "description": "422: what is wrong, field by field.",
                },
            },
            "additionalProperties": true,
        }),
    );
    let audit_entry = json!({
        "type": "object",
        "description": "Values that lost: the losing side of a conflict, values a newer write \
                        replaced unseen, or what a restore replaced.",
        "required": ["id", "entity", "rowId", "mutationId", "userId", "clientId", "reason",
                     "losing", "winningVersion", "createdAt"],
        "properties": {
            "id": { "type": "integer", "format": "int64", "description": "Restore it by this." },
            "entity": entity_table.clone(),
            "rowId": id_schema("The record's id."),
            "mutationId": { "type": "string", "description": "The write the entry is about." },
            "userId": { "type": "string", "description": "Who sent that write." },
            "clientId": {
                "type": "string",
                "description": "The device that sent it (`admin:<user>` for a restore).",
            },
            "reason": { "type": "string" },
            "losing": {
                "type": "object",
                "required": ["op", "data"],
                "description": "What lost, as a write: `op` (`update` or `delete`), \
                                `baseVersion` (the version it was based on, null when not \
                                known), `data` (the values, by wire key) and, under lww, \
                                `stamps` (their stamps).",
                "properties": {
                    "op": { "type": "string", "enum": ["update", "delete"] },
                    "baseVersion": { "type": ["integer", "null"], "format": "int64" },
                    "data": { "type": "object" },
                    "stamps": {
                        "type": "object",
                        "additionalProperties": { "type": "integer", "format": "int64" },
                    },
                },
            },
            "winningVersion": {
                "type": "integer",
                "format": "int64",
                "description": "The record's version that won.",
            },
            "createdAt": { "type": "integer", "format": "int64", "description": "Epoch ms." },
        },
    });
    schemas.insert("AuditEntry".into(), audit_entry);
    schemas.insert(
        "AuditEntries".into(),
        json!({
            "type": "object",
            "required": ["entries", "cursor", "hasMore"],
            "properties": {
                "entries": {
                    "type": "array",
                    "items": schema_ref("AuditEntry"),
                    "description": "Newest first.",
                },
                "cursor": {
                    "type": "string",
                    "description": "Pass back as `cursor` for the older entries.",
                },
                "hasMore": { "type": "boolean", "description": "Whether older entries exist." },
            },
        }),
    );
    schemas.insert(
        "RestoreResult".into(),
        json!({
            "type": "object",
            "required": ["restored", "version", "record"],
            "properties": {
                "restored": { "type": "integer", "format": "int64", "description": "The entry." },
                "version": {
                    "type": "integer",
                    "format": "int64",
                    "description": "The record's new version.",
                },
                "record": schema_ref("SyncRecord"),
            },
        }),
    );
    schemas.insert(
        "FieldError".into(),
        json!({
            "type": "object",
            "required": ["field", "message"],
            "properties": {
                "field": { "type": "string", "description": "The wire key." },
                "message": { "type": "string" },
            },
        }),
    );
}

fn uuid_schema() -> Value {
    json!({ "type": "string", "format": "uuid", "pattern": UUID_PATTERN })
}

fn id_schema(description: &str) -> Value {
    let mut schema = uuid_schema();
    if let Value::Object(map) = &mut schema {
        map.insert("description".into(), json!(description));
    }
    schema
}

// ---------------------------------------------------------------------------------------------
// References

fn schema_path(name: &str) -> String {
    format!("#/components/schemas/{name}")
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": schema_path(name) })
}

fn response_ref(name: &str) -> Value {
    component_ref("responses", name)
}

fn parameter_ref(name: &str) -> Value {
    component_ref("parameters", name)
}

fn component_ref(kind: &str, name: &str) -> Value {
    json!({ "$ref": format!("#/components/{kind}/{name}") })
}
