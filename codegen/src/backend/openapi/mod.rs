//! `openapi.json`: the OpenAPI 3.1 description of the HTTP server offgen generates.
//!
//! It is written from the same IR as the server, so it describes exactly this app's API
//! (docs/protocol.md): per entity the schemas `<Entity>Fields`, `<Entity>Record`,
//! `<Entity>Create` and `<Entity>Page` and the paths `/v1/<table>` and `/v1/<table>/{id}`; the
//! sync protocol's messages and `/sync/push`, `/sync/pull`; the admin audit; `/healthz`,
//! `/livez`, `/metrics` and `/openapi.json`.
//! Field values follow the protocol's table of wire values, the encoding the device triggers
//! also write.
//!
//! The document is built as a `serde_json::Value`. The workspace enables `preserve_order`, so
//! objects keep insertion order: the same schema always gives the same text, and nothing
//! depends on hash order.

mod attachments;
mod components;
mod entities;
mod paths;
mod problems;
mod protocol;

use offgen_runtime::limits;
use serde_json::{Map, Value, json};

use crate::model::{ConflictPolicy, Entity, LwwClock, Schema};
use crate::output::{FileSet, GENERATED_MARKER};

use components::components;
use paths::paths;

/// Path of the document inside the output directory; the server also serves it at
/// `/openapi.json`.
pub const PATH: &str = "openapi.json";

/// Lowercase hyphenated UUIDs only: the server refuses other spellings of an id, because
/// normalising one would hand the device back an id it does not know.
const UUID_PATTERN: &str = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";
/// Blobs travel as lowercase hex, two digits per byte.
const HEX_PATTERN: &str = "^(?:[0-9a-f]{2})*$";

/// A SHA-256 as attachments are named by it: 64 lowercase hex digits.
const SHA256_PATTERN: &str = "^[0-9a-f]{64}$";

/// A media type without parameters, as attachment references carry it (RFC 6838's restricted
/// names; offgen_runtime::attachments::is_media_type).
const MEDIA_TYPE_PATTERN: &str =
    "^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$";
/// An `ETag` is the record's version in quotes (a strong entity tag).
const ETAG_PATTERN: &str = "^\"[0-9]+\"$";
/// `If-Match` and `If-None-Match` as the server reads them (RFC 9110 8.8.3, 13.1.1): `*`, or a
/// comma list of at least one entity tag (`"3"`, `W/"3"`; a tag holds `!` and `#` to `~`),
/// with optional whitespace and empty list elements. Anything else is a 400.
const ETAG_LIST_PATTERN: &str = "^(?:[ \\t]*\\*[ \\t]*|[ \\t,]*(?:W/)?\"[!#-~]*\"(?:[ \\t]*,[ \\t,]*(?:W/)?\"[!#-~]*\")*[ \\t]*(?:,[ \\t,]*)?)$";
/// Text never holds U+0000, which PostgreSQL cannot store (docs/protocol.md).
const NO_NUL_PATTERN: &str = "^[^\\u0000]*$";

const JSON: &str = "application/json";
const PROBLEM_JSON: &str = "application/problem+json";

// The limits the server enforces, as the runtime defines them (offgen_runtime::limits).
/// Page size limits of `/sync/pull` and the list endpoints.
const DEFAULT_LIMIT: u32 = limits::DEFAULT_PAGE as u32;
const MAX_LIMIT: u32 = limits::MAX_PAGE as u32;
/// Most mutations one push may carry (by default).
const MAX_MUTATIONS: u32 = limits::DEFAULT_MAX_BATCH as u32;
/// Largest request body, in MiB (by default).
const MAX_BODY_MIB: usize = limits::DEFAULT_MAX_BODY_BYTES / (1024 * 1024);
/// Longest `clientId` and `mutationId`.
const MAX_ID_LEN: usize = limits::MAX_ID_LEN;
/// How far ahead of the server's clock an lww stamp may be.
const MAX_STAMP_AHEAD_MS: i64 = limits::MAX_STAMP_AHEAD_MS;

/// Page size limits of `/admin/audit`.
const DEFAULT_AUDIT_LIMIT: u32 = limits::DEFAULT_AUDIT_PAGE as u32;
const MAX_AUDIT_LIMIT: u32 = limits::MAX_AUDIT_PAGE as u32;
/// Tag of the admin endpoints.
const ADMIN_TAG: &str = "admin";

/// Tag of `/sync/push` and `/sync/pull`.
const SYNC_TAG: &str = "sync";
/// Tag of `/healthz`, `/livez`, `/metrics` and `/openapi.json`.
const SERVICE_TAG: &str = "service";
/// Tag of `/attachments/...`.
const ATTACHMENTS_TAG: &str = "attachments";

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
             <token>` except `/healthz`, `/livez`, `/metrics` and `/openapi.json`; every error is \
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
    if crate::backend::client::statements::has_attachments(schema) {
        tags.push(json!({
            "name": ATTACHMENTS_TAG,
            "description": "The bytes of attachment fields (photos, signatures, files), uploaded                             and downloaded apart from the records that refer to them.",
        }));
    }
    tags.push(json!({
        "name": ADMIN_TAG,
        "description": "What lost a conflict (`lww`, `server_wins`), kept in the server's audit: \
                        list and restore it. Admins only: anyone else gets 403.",
    }));
    tags.push(json!({
        "name": SERVICE_TAG,
        "description": "Health and liveness checks, metrics and this document; no token \
                        needed (metrics: unless one is configured).",
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
            ConflictPolicy::Lww {
                clock: LwwClock::Device,
            } => " (each field's newest write wins, by the stamps devices send)".to_owned(),
            ConflictPolicy::Lww {
                clock: LwwClock::Received,
            } => " (each field's last write to reach the server wins; device stamps are ignored)"
                .to_owned(),
            ConflictPolicy::AppendOnly => " (records are only created, never changed)".to_owned(),
            ConflictPolicy::Version | ConflictPolicy::ServerWins => String::new(),
        }
    ));
    if let Some(owner) = entity.owner_field() {
        parts.push(format!(
            "Owner-scoped: a user reads and writes only records whose `{}` is their user id.",
            owner.name.json()
        ));
    }
    parts.join(" ")
}

// ---------------------------------------------------------------------------------------------
// Building blocks

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
