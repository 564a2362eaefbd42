//! `/attachments/{entity}/{id}/{field}/{sha256}`: the bytes of attachment fields, for an app
//! that has any (docs/protocol.md, *Attachments*).

use offgen_runtime::attachments::{MAX_BYTES_HEADER, MAX_SIZE};
use serde_json::{Value, json};

use super::paths::Responses;
use super::problems::{
    BAD_REQUEST, CONFLICT, DIGEST_MISMATCH, GONE, NOT_FOUND, PAYLOAD_TOO_LARGE,
    RANGE_NOT_SATISFIABLE, UNAUTHORIZED,
};
use super::{ATTACHMENTS_TAG, JSON, SHA256_PATTERN, component_ref, parameter_ref, schema_ref};

/// (response header, its entry in `components.headers`).
const ETAG: (&str, &str) = ("ETag", "AttachmentETag");
const RANGE: (&str, &str) = ("Content-Range", "Content-Range");
const MAX: (&str, &str) = (MAX_BYTES_HEADER, MAX_BYTES_HEADER);
use crate::model::Schema;

/// The path of attachment bytes, when the schema has attachment fields.
pub(super) fn attachment_path(schema: &Schema) -> Option<(String, Value)> {
    let mut tables: Vec<&str> = Vec::new();
    let mut fields: Vec<&str> = Vec::new();
    for entity in &schema.entities {
        for field in entity.fields.iter().filter(|f| f.ty.is_attachment()) {
            if !tables.contains(&entity.table.sql()) {
                tables.push(entity.table.sql());
            }
            if !fields.contains(&field.name.json()) {
                fields.push(field.name.json());
            }
        }
    }
    if tables.is_empty() {
        return None;
    }
    let path = json!({
        "parameters": [
            {
                "name": "entity", "in": "path", "required": true,
                "description": "The table of the row the file belongs to.",
                "schema": { "type": "string", "enum": tables },
            },
            parameter_ref("Id"),
            {
                "name": "field", "in": "path", "required": true,
                "description": "The row's attachment field (its wire key).",
                "schema": { "type": "string", "enum": fields },
            },
            {
                "name": "sha256", "in": "path", "required": true,
                "description": "The file's SHA-256, as the row's reference names it.",
                "schema": { "type": "string", "pattern": SHA256_PATTERN },
            },
        ],
        "get": {
            "tags": [ATTACHMENTS_TAG],
            "operationId": "downloadAttachment",
            "summary": "Download a row's file.",
            "description": "Served once the file was uploaded for this row (404 before: its \
                            device has not uploaded it yet, or the row is not the caller's). \
                            A single `Range` gets part of it (206); the entity tag is the hash. \
                            `HEAD` answers the same without the bytes.",
            "parameters": [
                parameter_ref("IfNoneMatch"),
                {
                    "name": "Range", "in": "header", "required": false,
                    "description": "One byte range (`bytes=a-b`, `bytes=a-`, `bytes=-n`); \
                                    anything else is answered with the whole file.",
                    "schema": { "type": "string" },
                },
            ],
            "responses": Responses::new()
                .with("200", headers(bytes_response("The file."), &[ETAG, MAX]))
                .with("206", headers(bytes_response("Part of the file."), &[ETAG, RANGE, MAX]))
                .with("304", headers(
                    json!({ "description": "`If-None-Match` matches the file." }),
                    &[ETAG],
                ))
                .problems(&[&BAD_REQUEST, &UNAUTHORIZED, &NOT_FOUND, &GONE, &RANGE_NOT_SATISFIABLE])
                .server_errors()
                .into_value(),
        },
        "put": {
            "tags": [ATTACHMENTS_TAG],
            "operationId": "uploadAttachment",
            "summary": "Upload a row's file.",
            "description": format!(
                "The bytes of the file the row's field refers to (its record is pushed first), \
                 streamed and hashed on the way: bytes of another hash or size are refused, and \
                 nothing of a refused or interrupted upload is kept. The same file sent again \
                 is stored once (200). Every answer carries `{MAX_BYTES_HEADER}`, the largest \
                 file the server takes."
            ),
            "requestBody": {
                "required": true,
                "content": {
                    "application/octet-stream": { "schema": { "type": "string", "format": "binary" } },
                },
            },
            "responses": Responses::new()
                .with("200", headers(json_reference("The server held the file for this row already."), &[MAX]))
                .with("201", headers(json_reference("Stored."), &[MAX]))
                .problems(&[
                    &BAD_REQUEST,
                    &UNAUTHORIZED,
                    &NOT_FOUND,
                    &CONFLICT,
                    &GONE,
                    &PAYLOAD_TOO_LARGE,
                    &DIGEST_MISMATCH,
                ])
                .server_errors()
                .into_value(),
        },
    });
    Some((
        "/attachments/{entity}/{id}/{field}/{sha256}".to_owned(),
        path,
    ))
}

fn headers(mut response: Value, headers: &[(&str, &str)]) -> Value {
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(name, component)| ((*name).to_owned(), component_ref("headers", component)))
        .collect();
    if let Value::Object(response) = &mut response {
        response.insert("headers".into(), Value::Object(headers));
    }
    response
}

fn bytes_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "*/*": { "schema": { "type": "string", "format": "binary" } } },
    })
}

fn json_reference(description: &str) -> Value {
    json!({
        "description": description,
        "content": { JSON: { "schema": schema_ref("AttachmentReference") } },
    })
}

/// The schema of a reference, as upload answers give it.
pub(super) fn reference_schema() -> Value {
    json!({
        "type": "object",
        "description": "A file by content: its SHA-256, size in bytes and media type.",
        "properties": {
            "sha256": { "type": "string", "pattern": SHA256_PATTERN },
            "size": { "type": "integer", "format": "int64", "minimum": 0, "maximum": MAX_SIZE },
            "mediaType": { "type": "string" },
        },
        "required": ["sha256", "size", "mediaType"],
        "additionalProperties": false,
    })
}
