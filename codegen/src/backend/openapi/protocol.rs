//! The sync protocol's messages (`PushRequest` ... `PullResponse`), the problem document and
//! the admin audit's entries.

use serde_json::{Map, Value, json};

use super::{
    MAX_ID_LEN, MAX_MUTATIONS, MAX_STAMP_AHEAD_MS, NO_NUL_PATTERN, id_schema, schema_path,
    schema_ref,
};
use crate::model::Schema;

/// The protocol's own schemas, whatever the entities. An entity's schema names must not take
/// one of these (see [`super::entities::EntityNames`]).
pub(super) const PROTOCOL_SCHEMAS: &[&str] = &[
    "PushRequest",
    "Mutation",
    "PushResponse",
    "PushResult",
    "ItemError",
    "SyncRecord",
    "PullResponse",
    "Problem",
    "FieldError",
    "JsonValue",
    "AuditEntry",
    "AuditEntries",
    "RestoreResult",
];

/// `serverTime` of push and pull answers.
fn server_time() -> Value {
    json!({
        "type": "integer",
        "format": "int64",
        "description": "The server's clock when it answered, epoch ms: devices correct the \
                        stamps of their writes with it.",
    })
}

pub(super) fn protocol_schemas(schema: &Schema, schemas: &mut Map<String, Value>) {
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
                "clientId": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_ID_LEN,
                    "pattern": NO_NUL_PATTERN,
                    "description": "The device's stable id.",
                },
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
                    "description": format!(
                        "Unique per mutation; a retry carries the same id. 1 to {MAX_ID_LEN} \
                         characters, no U+0000; another is answered `rejected` \
                         (`invalid-request`)."
                    ),
                },
                // Any string: an unknown entity or a malformed id is one mutation's
                // `rejected` result, never the whole request's 400.
                "entity": {
                    "type": "string",
                    "description": format!(
                        "The entity's table name: {}. Another is answered `rejected` \
                         (`unknown-entity`).",
                        tables.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", ")
                    ),
                },
                "id": {
                    "type": "string",
                    "description": "The record's id: a lowercase hyphenated UUID. Another \
                                    spelling is answered `rejected` (`invalid-id`).",
                },
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
                    "type": ["integer", "null"],
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
                    "type": ["object", "null"],
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
    // Recursive, so that the rule holds at every depth.
    schemas.insert(
        "JsonValue".into(),
        json!({
            "description": "Any JSON value whose strings and keys hold no U+0000 (PostgreSQL \
                            cannot store it).",
            "anyOf": [
                { "type": ["null", "boolean", "number"] },
                { "type": "string", "pattern": NO_NUL_PATTERN },
                { "type": "array", "items": schema_ref("JsonValue") },
                {
                    "type": "object",
                    "propertyNames": { "pattern": NO_NUL_PATTERN },
                    "additionalProperties": schema_ref("JsonValue"),
                },
            ],
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
