//! Each entity's schemas (`<Entity>Fields`, `Record`, `Create`, `Page`) and the wire schema
//! of a field's value (docs/protocol.md, "Values on the wire").

use serde_json::{Map, Number, Value, json};

use super::protocol::PROTOCOL_SCHEMAS;
use super::{
    HEX_PATTERN, MEDIA_TYPE_PATTERN, NO_NUL_PATTERN, SHA256_PATTERN, UUID_PATTERN,
    entity_description, id_schema, schema_path, schema_ref,
};
use crate::model::{DefaultValue, Entity, Field, FieldType};
use offgen_runtime::bookkeeping::{DELETED_AT, UPDATED_AT, VERSION};

/// Names of one entity's schemas in `components.schemas`.
pub(super) struct EntityNames {
    pub(super) fields: String,
    pub(super) record: String,
    pub(super) create: String,
    pub(super) page: String,
}

impl EntityNames {
    pub(super) fn of(entity: &Entity) -> EntityNames {
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

pub(super) fn entity_schemas(entity: &Entity, schemas: &mut Map<String, Value>) {
    let names = EntityNames::of(entity);
    let description = entity_description(entity);
    schemas.insert(names.fields.clone(), fields_schema(entity));
    schemas.insert(names.record.clone(), record_schema(entity, &description));
    schemas.insert(names.create.clone(), create_schema(entity));
    schemas.insert(names.page.clone(), page_schema(&names));
}

/// The body of PUT: the declared fields, and the bookkeeping a client may send back (ignored).
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
    let mut properties = field_properties(entity);
    properties.extend(bookkeeping_properties(Some("Ignored: the server sets it.")));
    schema.insert("properties".into(), Value::Object(properties));
    // The server refuses unknown keys (422), so a misspelt key is never silently dropped.
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
    required.extend([VERSION.key, UPDATED_AT.key]);
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
        .filter(|f| !f.nullable && f.default.is_none() && !entity.is_owner(f))
        .map(|f| f.name.json())
        .collect()
}

fn field_properties(entity: &Entity) -> Map<String, Value> {
    entity
        .fields
        .iter()
        .map(|field| {
            let mut schema = field_schema(field);
            if entity.is_owner(field) {
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

/// `version`, `updatedAt` and `deletedAt`; where the server does not read them (`ignored`
/// says why), any value is taken, so a client may send back a record it holds as it is.
fn bookkeeping_properties(ignored: Option<&str>) -> Map<String, Value> {
    if let Some(ignored) = ignored {
        return ["version", "updatedAt", "deletedAt"]
            .into_iter()
            .map(|key| (key.to_owned(), json!({ "description": ignored })))
            .collect();
    }
    let describe = |text: &str| text.to_owned();
    let mut properties = Map::new();
    properties.insert(
        VERSION.key.into(),
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
        UPDATED_AT.key.into(),
        json!({
            "type": "integer",
            "format": "int64",
            "description": describe("When the record last changed: epoch milliseconds, UTC."),
        }),
    );
    properties.insert(
        DELETED_AT.key.into(),
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
        FieldType::Text => {
            set("type", json!("string"));
            set("pattern", json!(NO_NUL_PATTERN));
        }
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
        FieldType::Attachment => {
            set("type", json!("object"));
            set(
                "properties",
                json!({
                    "sha256": {"type": "string", "pattern": SHA256_PATTERN},
                    "size": {"type": "integer", "format": "int64", "minimum": 0, "maximum": offgen_runtime::attachments::MAX_SIZE},
                    "mediaType": {
                        "type": "string",
                        "pattern": MEDIA_TYPE_PATTERN,
                        "maxLength": offgen_runtime::attachments::MAX_MEDIA_TYPE_LEN,
                    },
                }),
            );
            set("required", json!(["sha256", "size", "mediaType"]));
            set("additionalProperties", json!(false));
            notes.push(
                "A file kept apart from the record: its SHA-256, size in bytes and media type. The bytes are at /attachments/{entity}/{id}/{field}/{sha256}.".to_owned(),
            );
        }
        FieldType::Enum { values, .. } => {
            set("type", json!("string"));
            let values: Vec<&str> = values.iter().map(|v| v.spec.as_str()).collect();
            set("enum", json!(values));
        }
        // Any JSON value without U+0000. A JSON null is stored as null, which a non-nullable
        // field refuses.
        FieldType::Json => {
            set("$ref", json!(schema_path("JsonValue")));
            if !field.nullable {
                set("not", json!({ "type": "null" }));
            }
        }
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
