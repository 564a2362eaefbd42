//! `offgen schema`: the JSON Schema (draft 2020-12) of the spec format, for editors.
//!
//! Built from the key tables in [`crate::spec_format`], the same ones the parser enforces, so
//! an editor never suggests a key that `offgen check` would reject.

use serde_json::{Map, Value, json};

use crate::spec_format::{self, Key};

/// The JSON Schema of the spec format.
pub fn spec_json_schema() -> Value {
    let identifier = json!({
        "type": "string",
        "pattern": "^[A-Za-z][A-Za-z0-9_]*$",
        "maxLength": 63
    });
    let mut type_names: Vec<String> = Vec::new();
    for ty in spec_format::FIELD_TYPES {
        type_names.push(ty.name.to_owned());
        type_names.push(format!("{}?", ty.name));
    }
    let field_type = json!({
        "description": "A field type; `?` after it makes the field nullable. The name of an entity makes a reference to it.",
        "anyOf": [
            { "enum": type_names },
            { "type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_]*\\??$" }
        ]
    });
    let field_long = object(
        spec_format::FIELD_KEYS,
        &["type"],
        &[
            ("type", json!({ "$ref": "#/$defs/fieldType" })),
            ("nullable", json!({ "type": "boolean" })),
            ("default", json!({})),
            (
                "values",
                json!({
                    "type": "array",
                    "minItems": 1,
                    "items": { "type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_-]*$" }
                }),
            ),
            ("to", json!({ "$ref": "#/$defs/identifier" })),
            ("unique", json!({ "type": "boolean" })),
            ("doc", json!({ "type": "string" })),
            ("renamed_from", json!({ "$ref": "#/$defs/identifier" })),
        ],
    );
    let field_list =
        json!({ "type": "array", "minItems": 1, "items": { "$ref": "#/$defs/identifier" } });
    let index = json!({
        "oneOf": [
            { "$ref": "#/$defs/identifier" },
            field_list,
            object(spec_format::INDEX_KEYS, &["fields"], &[
                ("fields", json!({ "oneOf": [{ "$ref": "#/$defs/identifier" }, field_list] })),
                ("name", json!({ "type": "string", "pattern": "^[a-z][a-z0-9_]*$", "maxLength": 63 })),
            ]),
        ]
    });
    let policies: Vec<&str> = spec_format::names(spec_format::CONFLICT_POLICIES);
    let conflict = json!({
        "description": describe(spec_format::ENTITY_KEYS, "conflict"),
        "oneOf": [
            { "enum": policies },
            object(spec_format::CONFLICT_KEYS, &["policy"], &[
                ("policy", json!({ "enum": policies })),
                ("clock", json!({ "enum": ["device", "received"] })),
                ("by", json!({ "$ref": "#/$defs/identifier" })),
            ]),
        ]
    });
    let entity = object(
        spec_format::ENTITY_KEYS,
        &["fields"],
        &[
            (
                "fields",
                json!({
                    "type": "object",
                    "minProperties": 1,
                    "propertyNames": { "$ref": "#/$defs/identifier" },
                    "additionalProperties": { "$ref": "#/$defs/field" }
                }),
            ),
            (
                "table",
                json!({ "type": "string", "pattern": "^[a-z][a-z0-9_]*$", "maxLength": 63 }),
            ),
            ("conflict", json!({ "$ref": "#/$defs/conflict" })),
            ("owner", json!({ "$ref": "#/$defs/identifier" })),
            (
                "indexes",
                json!({ "type": "array", "items": { "$ref": "#/$defs/index" } }),
            ),
            (
                "uniques",
                json!({ "type": "array", "items": { "$ref": "#/$defs/index" } }),
            ),
            ("doc", json!({ "type": "string" })),
            ("renamed_from", json!({ "$ref": "#/$defs/identifier" })),
        ],
    );
    let path_list = |pattern: &str| json!({ "type": "array", "items": { "type": "string", "pattern": pattern } });
    let migrate = object(
        spec_format::MIGRATE_KEYS,
        &[],
        &[
            (
                "drop",
                path_list("^[A-Za-z][A-Za-z0-9_]*(\\.[A-Za-z][A-Za-z0-9_]*)?$"),
            ),
            (
                "retype",
                path_list("^[A-Za-z][A-Za-z0-9_]*\\.[A-Za-z][A-Za-z0-9_]*$"),
            ),
        ],
    );
    let clients = object(
        spec_format::CLIENTS_KEYS,
        &[],
        &[("oldest_step", json!({ "type": "integer", "minimum": 1 }))],
    );
    let mut top = object(
        spec_format::TOP_KEYS,
        &["offgen", "app", "entities"],
        &[
            ("migrate", migrate),
            ("clients", clients),
            ("offgen", json!({ "const": spec_format::FORMAT_VERSION })),
            ("app", json!({ "$ref": "#/$defs/identifier" })),
            (
                "entities",
                json!({
                    "type": "object",
                    "minProperties": 1,
                    "propertyNames": { "$ref": "#/$defs/identifier" },
                    "additionalProperties": { "$ref": "#/$defs/entity" }
                }),
            ),
        ],
    );
    let top_map = top.as_object_mut().expect("object() builds an object");
    let mut schema = Map::new();
    schema.insert(
        "$schema".into(),
        json!("https://json-schema.org/draft/2020-12/schema"),
    );
    schema.insert("$id".into(), json!("https://offgen.dev/schema/spec-1.json"));
    schema.insert("title".into(), json!("offgen spec"));
    schema.insert(
        "description".into(),
        json!("Entities of an offline-first app, from which offgen generates the device SQLite, Dart and server code."),
    );
    schema.extend(std::mem::take(top_map));
    schema.insert(
        "$defs".into(),
        json!({
            "identifier": identifier,
            "fieldType": field_type,
            "field": { "oneOf": [{ "$ref": "#/$defs/fieldType" }, field_long] },
            "index": index,
            "conflict": conflict,
            "entity": entity,
        }),
    );
    Value::Object(schema)
}

/// A closed object whose properties are exactly the keys of `keys`, each with its doc.
fn object(keys: &[Key], required: &[&str], shapes: &[(&str, Value)]) -> Value {
    let mut properties = Map::new();
    for key in keys {
        let mut shape = shapes
            .iter()
            .find(|(name, _)| *name == key.name)
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| panic!("no JSON shape for spec key `{}`", key.name));
        if let Some(map) = shape.as_object_mut() {
            map.entry("description").or_insert_with(|| json!(key.doc));
        }
        properties.insert(key.name.to_owned(), shape);
    }
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": required,
        "properties": properties
    })
}

fn describe(keys: &[Key], name: &str) -> &'static str {
    keys.iter().find(|k| k.name == name).map_or("", |k| k.doc)
}
