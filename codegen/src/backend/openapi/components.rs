//! `components`: the schemas, shared responses, parameters, headers and security scheme
//! the paths refer to.

use serde_json::{Map, Value, json};

use super::entities::entity_schemas;
use super::problems::shared_responses;
use super::protocol::{PROTOCOL_SCHEMAS, protocol_schemas};
use super::{DEFAULT_LIMIT, ETAG_LIST_PATTERN, ETAG_PATTERN, MAX_LIMIT, uuid_schema};
use crate::model::Schema;

pub(super) fn components(schema: &Schema) -> Value {
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
    let attachments = crate::backend::client::statements::has_attachments(schema);
    let mut headers = headers();
    if attachments {
        schemas.insert(
            "AttachmentReference".into(),
            super::attachments::reference_schema(),
        );
        headers.extend(attachment_headers());
    }
    json!({
        "schemas": schemas,
        "responses": shared_responses(attachments),
        "parameters": parameters(),
        "headers": headers,
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
                            (`W/\"3\"`) never match. Without it: 428; malformed: 400.",
            "schema": { "type": "string", "pattern": ETAG_LIST_PATTERN },
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
            "description": "Entity tags the client holds (or `*`); a match answers 304; \
                            malformed: 400.",
            "schema": { "type": "string", "pattern": ETAG_LIST_PATTERN },
        },
    })
}

fn attachment_headers() -> Map<String, Value> {
    let mut out = Map::new();
    out.insert(
        "AttachmentETag".into(),
        json!({
            "description": "The file's SHA-256 as a strong entity tag.",
            "schema": { "type": "string", "pattern": "^\"[0-9a-f]{64}\"$" },
        }),
    );
    out.insert(
        "Content-Range".into(),
        json!({
            "description": "The part of the file sent: `bytes a-b/size`.",
            "schema": { "type": "string" },
        }),
    );
    out.insert(
        offgen_runtime::attachments::MAX_BYTES_HEADER.into(),
        json!({
            "description": "The largest file this server takes, in bytes.",
            "schema": { "type": "integer", "minimum": 1 },
        }),
    );
    out
}

fn headers() -> Map<String, Value> {
    let value = json!({
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
    });
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
