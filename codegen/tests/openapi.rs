//! `openapi.json`: every entity gets its schemas and paths, field schemas follow the wire table
//! of docs/protocol.md, every `$ref` resolves, and a real OpenAPI validator
//! (`openapi-spec-validator`, installed by `scripts/test.sh`) accepts the documents and refuses
//! broken ones. Sample payloads from the protocol are checked against the schemas with a JSON
//! Schema 2020-12 validator, so the schemas are shown to accept what the server accepts and to
//! refuse what it refuses.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use offgen_codegen::backend::openapi;
use offgen_codegen::load_yaml_spec;
use offgen_codegen::model::{DefaultValue, Entity, Field, FieldType, Schema};
use offgen_codegen::output::{FileSet, GENERATED_MARKER};
use offgen_codegen::source::SourceFile;
use serde_json::{Value, json};

/// Every field type, nullable and not, with and without defaults and docs; an owner-scoped
/// `lww` entity, an `append_only` one with an irregular table name, and an entity named `Sync`,
/// whose `SyncRecord` would clash with the pull protocol's record.
const EVERY_TYPE: &str = r#"
offgen: 1
app: kitchen_sink
entities:
  Sample:
    doc: Every field type.
    conflict: lww
    owner: owner
    fields:
      owner: Person
      parent: Person?
      title: text
      note: { type: text, nullable: true, doc: Free text. }
      motto: { type: text, default: "42" }
      count: int
      maybeCount: int?
      tally: { type: int, default: 3 }
      ratio: real
      weight: { type: real, nullable: true, default: 2.5 }
      flag: bool
      optIn: { type: bool, default: false }
      seenAt: datetime
      lastSeenAt: { type: datetime, nullable: true, doc: When it was last seen. }
      startsAt: { type: datetime, default: "2024-01-31T08:00:00Z" }
      day: date
      birthday: { type: date, default: "2000-02-29" }
      token: uuid
      otherToken: { type: uuid, nullable: true, default: "0A1B2C3D-0000-4000-8000-00000000ABCD" }
      payload: json
      extra: json?
      settings: { type: json, default: { theme: dark, sizes: [1, 2] } }
      image: blob
      thumb: blob?
      photo: attachment
      scan: { type: attachment, nullable: true, doc: The signed form. }
      stage: { type: enum, values: [new, in-progress, done], default: new }
      mood: { type: enum, values: [happy, sad], nullable: true }
      modifiedAt: datetime
  Person:
    table: people
    conflict: append_only
    fields:
      name: text
  Sync:
    conflict: server_wins
    fields:
      label: text
"#;

// ---------------------------------------------------------------------------------------------
// Helpers

/// The pattern of text that holds no U+0000.
const NO_NUL: &str = "^[^\\u0000]*$";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn ranger_spec() -> String {
    std::fs::read_to_string(workspace_root().join("examples/ranger/offgen.yaml")).unwrap()
}

fn load(spec: &str) -> Schema {
    let file = SourceFile::new("offgen.yaml", spec);
    load_yaml_spec(&file)
        .unwrap_or_else(|d| panic!("{}", offgen_codegen::diagnostics::render(&file, &d)))
}

fn generate(schema: &Schema) -> FileSet {
    let mut files = FileSet::new();
    openapi::generate(schema, &mut files);
    files
}

fn text(schema: &Schema) -> String {
    generate(schema)
        .get("openapi.json")
        .expect("openapi.json is generated")
        .to_owned()
}

fn document(schema: &Schema) -> Value {
    serde_json::from_str(&text(schema)).expect("openapi.json is JSON")
}

/// Both test specs, validated, with a label for messages.
fn specs() -> Vec<(&'static str, Schema)> {
    vec![
        ("ranger", load(&ranger_spec())),
        ("every type", load(EVERY_TYPE)),
    ]
}

/// Follows `$ref`s (only local ones exist) until a value that is not a reference.
fn resolve<'a>(doc: &'a Value, mut value: &'a Value) -> &'a Value {
    for _ in 0..16 {
        let Some(target) = value.get("$ref").and_then(Value::as_str) else {
            return value;
        };
        value = target
            .strip_prefix('#')
            .and_then(|pointer| doc.pointer(pointer))
            .unwrap_or_else(|| panic!("dangling $ref {target}"));
    }
    panic!("$ref chain too long")
}

/// Every `$ref` in the document that does not point at a value inside it.
fn dangling_refs(doc: &Value) -> Vec<String> {
    let mut dangling = Vec::new();
    let mut stack = vec![doc];
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(map) => {
                if let Some(target) = map.get("$ref") {
                    let resolves = target
                        .as_str()
                        .and_then(|t| t.strip_prefix('#'))
                        .is_some_and(|pointer| doc.pointer(pointer).is_some());
                    if !resolves {
                        dangling.push(target.to_string());
                    }
                }
                stack.extend(map.values());
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    dangling
}

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

/// (path, method, operation) for every operation.
fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if METHODS.contains(&method.as_str()) {
                found.push((path.clone(), method.clone(), operation));
            }
        }
    }
    found
}

fn operation<'a>(doc: &'a Value, path: &str, method: &str) -> &'a Value {
    doc["paths"]
        .get(path)
        .and_then(|item| item.get(method))
        .unwrap_or_else(|| panic!("no {method} {path}"))
}

fn statuses(operation: &Value) -> BTreeSet<String> {
    operation["responses"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn strings(value: &Value) -> BTreeSet<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

fn component<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["components"]["schemas"]
        .get(name)
        .unwrap_or_else(|| panic!("no schema {name}"))
}

/// The parameter names of an operation, with the path item's, references resolved.
fn parameter_names(doc: &Value, path: &str, method: &str) -> BTreeSet<String> {
    let item = &doc["paths"][path];
    let shared = item.get("parameters").into_iter();
    let own = item[method].get("parameters").into_iter();
    shared
        .chain(own)
        .flat_map(|list| list.as_array().unwrap())
        .map(|p| resolve(doc, p)["name"].as_str().unwrap().to_owned())
        .collect()
}

/// A JSON Schema 2020-12 validator for one component schema.
fn validator(doc: &Value, component_name: &str) -> jsonschema::Validator {
    validator_at(doc, &format!("/components/schemas/{component_name}"))
}

/// A JSON Schema 2020-12 validator for the schema at `pointer`: the document itself is the
/// root resource, so the schema's own `$ref`s resolve exactly as in OpenAPI.
fn validator_at(doc: &Value, pointer: &str) -> jsonschema::Validator {
    assert!(doc.pointer(pointer).is_some(), "nothing at {pointer}");
    let mut root = doc.clone();
    root.as_object_mut()
        .unwrap()
        .insert("$ref".into(), json!(format!("#{pointer}")));
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|e| panic!("{pointer} is not a valid JSON Schema: {e}"))
}

fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| e.to_string())
        .collect()
}

/// The expected wire value of a default (docs/protocol.md, "Values on the wire").
fn wire(default: &DefaultValue) -> Value {
    match default {
        DefaultValue::Text(s)
        | DefaultValue::Date(s)
        | DefaultValue::Uuid(s)
        | DefaultValue::Enum(s) => json!(s),
        DefaultValue::Int(i) | DefaultValue::DateTime(i) => json!(i),
        DefaultValue::Real(f) => json!(f),
        DefaultValue::Bool(b) => json!(b),
        DefaultValue::Json(text) => serde_json::from_str(text).unwrap(),
    }
}

// ---------------------------------------------------------------------------------------------
// The file

#[test]
fn one_pretty_printed_file_marked_as_generated() {
    for (label, schema) in specs() {
        let files = generate(&schema);
        let paths: Vec<&str> = files.iter().map(|(p, _)| p).collect();
        assert_eq!(paths, ["openapi.json"], "{label}");
        let text = text(&schema);
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            text,
            serde_json::to_string_pretty(&value).unwrap() + "\n",
            "{label}: pretty-printed with one trailing newline"
        );
        // offgen recognises its own files by the marker in their first 512 bytes.
        let head = &text.as_bytes()[..text.len().min(512)];
        assert!(
            String::from_utf8_lossy(head).contains(GENERATED_MARKER),
            "{label}: marker not in the first 512 bytes"
        );
        assert_eq!(value["openapi"], "3.1.0");
        assert_eq!(value["info"]["version"], "1");
        assert_eq!(
            value["info"]["title"],
            format!("{} sync API", schema.app.spec)
        );
        let bearer = &value["components"]["securitySchemes"]["bearer"];
        assert_eq!(
            (&bearer["type"], &bearer["scheme"]),
            (&json!("http"), &json!("bearer"))
        );
        assert_eq!(value["security"], json!([{"bearer": []}]));
    }
}

#[test]
fn generation_is_deterministic() {
    for spec in [ranger_spec(), EVERY_TYPE.to_owned()] {
        let first = text(&load(&spec));
        let again = text(&load(&spec));
        assert_eq!(first, again);
        let schema = load(&spec);
        assert_eq!(generate(&schema), generate(&schema));
    }
}

// ---------------------------------------------------------------------------------------------
// Structure

#[test]
fn every_ref_resolves_inside_the_document() {
    for (label, schema) in specs() {
        let doc = document(&schema);
        assert_eq!(dangling_refs(&doc), Vec::<String>::new(), "{label}");
        let mut count = 0;
        let mut stack = vec![&doc];
        while let Some(value) = stack.pop() {
            match value {
                Value::Object(map) => {
                    count += usize::from(map.contains_key("$ref"));
                    stack.extend(map.values());
                }
                Value::Array(items) => stack.extend(items),
                _ => {}
            }
        }
        assert!(
            count > 50,
            "{label}: only {count} refs: is the walk broken?"
        );
    }
}

#[test]
fn the_ref_check_finds_a_dangling_ref() {
    let mut doc = document(&load(&ranger_spec()));
    doc["paths"]["/sync/push"]["post"]["requestBody"]["content"]["application/json"]["schema"] =
        json!({"$ref": "#/components/schemas/NoSuchThing"});
    assert_eq!(
        dangling_refs(&doc),
        ["\"#/components/schemas/NoSuchThing\""]
    );
}

#[test]
fn operation_ids_are_unique_and_every_operation_is_summarised() {
    for (label, schema) in specs() {
        let doc = document(&schema);
        let mut seen = BTreeMap::new();
        for (path, method, op) in operations(&doc) {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{label}: {method} {path} has no operationId"));
            if let Some(other) = seen.insert(id.to_owned(), format!("{method} {path}")) {
                panic!("{label}: operationId {id} of {method} {path} is also {other}");
            }
            let summary = op["summary"].as_str().unwrap_or_default();
            assert!(
                !summary.is_empty() && !summary.contains('\n'),
                "{label}: {method} {path} needs a one-line summary"
            );
        }
        // push, pull, the audit's list and restore, health, liveness, metrics, openapi + five
        // per entity, + an attachment's download and upload when there are attachment fields.
        let attachments = schema
            .entities
            .iter()
            .any(|e| e.fields.iter().any(|f| f.ty.is_attachment()));
        assert_eq!(
            seen.len(),
            8 + 5 * schema.entities.len() + if attachments { 2 } else { 0 },
            "{label}"
        );
    }
}

#[test]
fn ranger_operation_ids_are_stable() {
    let doc = document(&load(&ranger_spec()));
    let ids: BTreeMap<String, String> = operations(&doc)
        .into_iter()
        .map(|(path, method, op)| {
            (
                format!("{method} {path}"),
                op["operationId"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("post /sync/push", "push"),
        ("get /sync/pull", "pull"),
        ("get /v1/observations", "listObservations"),
        ("post /v1/observations", "createObservation"),
        ("get /v1/observations/{id}", "getObservation"),
        ("put /v1/observations/{id}", "replaceObservation"),
        ("delete /v1/observations/{id}", "deleteObservation"),
        ("get /v1/patrol_routes", "listPatrolRoutes"),
        ("post /v1/patrol_routes", "createPatrolRoute"),
        ("get /v1/rangers/{id}", "getRanger"),
        ("get /healthz", "health"),
        ("get /openapi.json", "openapi"),
        ("get /admin/audit", "listAudit"),
        ("post /admin/audit/{auditId}/restore", "restoreAudit"),
        (
            "get /attachments/{entity}/{id}/{field}/{sha256}",
            "downloadAttachment",
        ),
        (
            "put /attachments/{entity}/{id}/{field}/{sha256}",
            "uploadAttachment",
        ),
    ];
    for (operation, id) in expected {
        assert_eq!(
            ids.get(operation).map(String::as_str),
            Some(id),
            "{operation}"
        );
    }
}

#[test]
fn every_entity_has_its_schemas_and_paths() {
    for (label, schema) in specs() {
        let doc = document(&schema);
        for entity in &schema.entities {
            let table = entity.table.sql();
            let collection = format!("/v1/{table}");
            let item = format!("/v1/{table}/{{id}}");
            let methods = |path: &str| -> BTreeSet<String> {
                doc["paths"][path]
                    .as_object()
                    .unwrap_or_else(|| panic!("{label}: no path {path}"))
                    .keys()
                    .filter(|k| METHODS.contains(&k.as_str()))
                    .cloned()
                    .collect()
            };
            assert_eq!(methods(&collection), set(&["get", "post"]), "{label}");
            assert_eq!(methods(&item), set(&["get", "put", "delete"]), "{label}");

            let names = schema_names(entity);
            let record = format!("#/components/schemas/{}", names.record);
            let get = |path: &str, method: &str, status: &str| -> Value {
                let response = resolve(&doc, &doc["paths"][path][method]["responses"][status]);
                response["content"]["application/json"]["schema"].clone()
            };
            assert_eq!(
                get(&collection, "get", "200"),
                json!({"$ref": format!("#/components/schemas/{}", names.page)})
            );
            assert_eq!(get(&collection, "post", "201"), json!({"$ref": record}));
            assert_eq!(get(&collection, "post", "200"), json!({"$ref": record}));
            assert_eq!(get(&item, "get", "200"), json!({"$ref": record}));
            assert_eq!(get(&item, "put", "200"), json!({"$ref": record}));
            let body = |path: &str, method: &str| {
                doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
                    ["$ref"]
                    .clone()
            };
            assert_eq!(
                body(&collection, "post"),
                json!(format!("#/components/schemas/{}", names.create))
            );
            assert_eq!(
                body(&item, "put"),
                json!(format!("#/components/schemas/{}", names.fields))
            );

            let page = component(&doc, &names.page);
            assert_eq!(page["properties"]["records"]["items"]["$ref"], record);
            assert_eq!(page["properties"]["cursor"]["type"], "string");
            assert_eq!(page["properties"]["hasMore"]["type"], "boolean");
            assert_eq!(
                strings(&page["required"]),
                set(&["records", "cursor", "hasMore"])
            );
        }
    }
}

/// The schema names the tests expect for an entity: `<Pascal><Suffix>`, except that an entity
/// named `Sync` cannot take the protocol's `SyncRecord`.
struct Names {
    fields: String,
    record: String,
    create: String,
    page: String,
}

fn schema_names(entity: &Entity) -> Names {
    let p = &entity.name.pascal;
    Names {
        fields: format!("{p}Fields"),
        record: if p == "Sync" {
            "Sync_Record".to_owned()
        } else {
            format!("{p}Record")
        },
        create: format!("{p}Create"),
        page: format!("{p}Page"),
    }
}

#[test]
fn an_entity_named_sync_does_not_replace_the_protocols_sync_record() {
    let doc = document(&load(EVERY_TYPE));
    let protocol = component(&doc, "SyncRecord");
    assert_eq!(
        strings(&protocol["properties"]["entity"]["enum"]),
        set(&["samples", "people", "syncs"])
    );
    let entity = component(&doc, "Sync_Record");
    assert!(entity["properties"].get("label").is_some());
    assert!(
        component(&doc, "SyncFields")["properties"]
            .get("label")
            .is_some()
    );
}

#[test]
fn responses_follow_the_protocol() {
    for (label, schema) in specs() {
        let doc = document(&schema);
        let check = |path: &str, method: &str, expected: &[&str]| {
            assert_eq!(
                statuses(operation(&doc, path, method)),
                set(expected),
                "{label}: {method} {path}"
            );
        };
        check(
            "/sync/push",
            "post",
            &["200", "400", "401", "409", "413", "500", "503"],
        );
        check(
            "/sync/pull",
            "get",
            &["200", "400", "401", "409", "500", "503"],
        );
        check("/healthz", "get", &["200", "503"]);
        check("/livez", "get", &["200"]);
        check("/metrics", "get", &["200", "401"]);
        check(
            "/admin/audit",
            "get",
            &["200", "400", "401", "403", "500", "503"],
        );
        check(
            "/admin/audit/{auditId}/restore",
            "post",
            &["200", "400", "401", "403", "404", "409", "500", "503"],
        );
        check("/openapi.json", "get", &["200"]);
        for entity in &schema.entities {
            let collection = format!("/v1/{}", entity.table.sql());
            let item = format!("{collection}/{{id}}");
            check(&collection, "get", &["200", "400", "401", "500", "503"]);
            // Owner-scoped: a write naming another user, or over their id, is a 404.
            let owned: &[&str] = if entity.owner.is_some() {
                &["404"]
            } else {
                &[]
            };
            let with_owned = |statuses: &[&'static str]| -> Vec<&'static str> {
                statuses.iter().chain(owned).copied().collect()
            };
            check(
                &collection,
                "post",
                &with_owned(&["200", "201", "400", "401", "409", "422", "500", "503"]),
            );
            // A malformed If-None-Match is 400.
            check(
                &item,
                "get",
                &["200", "304", "400", "401", "404", "410", "500", "503"],
            );
            // An unknown record (or another user's) is 404 before any precondition; a
            // reference or unique value that clashes with what is stored, 409.
            check(
                &item,
                "put",
                &[
                    "200", "400", "401", "404", "409", "412", "422", "428", "500", "503",
                ],
            );
            check(
                &item,
                "delete",
                &["204", "400", "401", "404", "412", "428", "500", "503"],
            );

            let headers = |path: &str, method: &str, status: &str| -> BTreeSet<String> {
                let response = resolve(&doc, &doc["paths"][path][method]["responses"][status]);
                response
                    .get("headers")
                    .and_then(Value::as_object)
                    .map(|h| h.keys().cloned().collect())
                    .unwrap_or_default()
            };
            assert_eq!(
                headers(&collection, "post", "201"),
                set(&["Location", "ETag"])
            );
            assert_eq!(headers(&collection, "post", "200"), set(&["ETag"]));
            assert_eq!(headers(&item, "get", "200"), set(&["ETag"]));
            assert_eq!(headers(&item, "get", "304"), set(&["ETag"]));
            assert_eq!(headers(&item, "put", "200"), set(&["ETag"]));

            assert_eq!(
                parameter_names(&doc, &collection, "get"),
                set(&["cursor", "limit"])
            );
            assert_eq!(
                parameter_names(&doc, &item, "get"),
                set(&["id", "If-None-Match"])
            );
            assert_eq!(
                parameter_names(&doc, &item, "put"),
                set(&["id", "If-Match"])
            );
            assert_eq!(
                parameter_names(&doc, &item, "delete"),
                set(&["id", "If-Match"])
            );

            // 412 carries the entity's current record.
            for method in ["put", "delete"] {
                let response = resolve(&doc, &doc["paths"][&item][method]["responses"]["412"]);
                let schema = &response["content"]["application/problem+json"]["schema"];
                let record = &schema["allOf"][1]["properties"]["record"]["$ref"];
                assert_eq!(
                    record,
                    &json!(format!(
                        "#/components/schemas/{}",
                        schema_names(entity).record
                    )),
                    "{label}: {method} {item}"
                );
            }
        }

        // Parameters of the protocol.
        let parameters = &doc["components"]["parameters"];
        assert_eq!(
            parameters["Limit"],
            json!({
                "name": "limit", "in": "query", "required": false,
                "description": parameters["Limit"]["description"],
                "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 500},
            })
        );
        assert_eq!(parameters["Cursor"]["in"], "query");
        assert_eq!(parameters["Cursor"]["required"], false);
        assert_eq!(parameters["Cursor"]["schema"]["type"], "string");
        assert_eq!(parameters["IfMatch"]["in"], "header");
        assert_eq!(parameters["IfMatch"]["required"], true);
        assert_eq!(parameters["IfNoneMatch"]["required"], false);
        assert_eq!(
            parameter_names(&doc, "/sync/pull", "get"),
            set(&["cursor", "limit", "Offgen-Schema-Step"])
        );
        assert_eq!(
            parameter_names(&doc, "/sync/push", "post"),
            set(&["Offgen-Schema-Step"])
        );
        assert_eq!(parameters["SchemaStep"]["in"], "header");
        assert_eq!(parameters["SchemaStep"]["required"], false);

        // Only /healthz, /livez and /openapi.json are open; /metrics is open unless the server
        // has a metrics token.
        for (path, method, op) in operations(&doc) {
            let expected = match path.as_str() {
                "/healthz" | "/livez" | "/openapi.json" => Some(json!([])),
                "/metrics" => Some(json!([{}, {"bearer": []}])),
                _ => None,
            };
            assert_eq!(
                op.get("security"),
                expected.as_ref(),
                "{label}: {method} {path}"
            );
        }
    }
}

/// The protocol's table of problem types by status.
fn problem_type(status: &str) -> &'static str {
    match status {
        "400" => "bad-request",
        "401" => "unauthorized",
        "403" => "forbidden",
        "404" => "not-found",
        "409" => "conflict",
        "410" => "gone",
        "412" => "precondition-failed",
        "413" => "payload-too-large",
        "416" => "range-not-satisfiable",
        "422" => "invalid-data",
        "428" => "precondition-required",
        "500" => "internal",
        "503" => "unavailable",
        other => panic!("no problem type for {other}"),
    }
}

#[test]
fn every_error_is_a_typed_problem_document() {
    for (label, schema) in specs() {
        let doc = document(&schema);
        let mut seen = 0;
        for (path, method, op) in operations(&doc) {
            for (status, response) in op["responses"].as_object().unwrap() {
                if !status.starts_with('4') && !status.starts_with('5') {
                    continue;
                }
                seen += 1;
                let at = format!("{label}: {method} {path} {status}");
                let response = resolve(&doc, response);
                let content = response["content"].as_object().unwrap();
                assert_eq!(
                    content.keys().collect::<Vec<_>>(),
                    ["application/problem+json"],
                    "{at}"
                );
                let schema = &content["application/problem+json"]["schema"];
                assert_eq!(
                    schema["allOf"][0],
                    json!({"$ref": "#/components/schemas/Problem"}),
                    "{at}"
                );
                let narrowed = &schema["allOf"][1]["properties"];
                if path.starts_with("/sync/") && status == "409" {
                    // The app's schema step and the server's do not meet: one of two types.
                    assert_eq!(
                        narrowed["type"]["enum"],
                        json!([
                            "https://offgen.dev/problems/upgrade-required",
                            "https://offgen.dev/problems/schema-ahead"
                        ]),
                        "{at}"
                    );
                } else if path.starts_with("/attachments/") && status == "422" {
                    // Only uploads answer 422, when their bytes hash to another file.
                    assert_eq!(
                        narrowed["type"]["const"], "https://offgen.dev/problems/digest-mismatch",
                        "{at}"
                    );
                } else {
                    assert_eq!(
                        narrowed["type"]["const"],
                        format!("https://offgen.dev/problems/{}", problem_type(status)),
                        "{at}"
                    );
                }
                assert_eq!(
                    narrowed["status"]["const"],
                    json!(status.parse::<u16>().unwrap()),
                    "{at}"
                );
                if status == "401" {
                    assert!(
                        response["headers"].get("WWW-Authenticate").is_some(),
                        "{at}"
                    );
                }
            }
        }
        assert!(seen > 20, "{label}");

        let problem = component(&doc, "Problem");
        for key in [
            "type", "title", "status", "detail", "instance", "record", "errors",
        ] {
            assert!(problem["properties"].get(key).is_some(), "Problem.{key}");
        }
        assert_eq!(problem["additionalProperties"], true);
    }
}

// ---------------------------------------------------------------------------------------------
// Field schemas

/// The JSON Schema types a field's value may have (empty for `json`: any value).
fn expected_types(field: &Field) -> BTreeSet<String> {
    let base = match field.ty {
        FieldType::Text
        | FieldType::Date
        | FieldType::Uuid
        | FieldType::Reference { .. }
        | FieldType::Blob
        | FieldType::Enum { .. } => "string",
        FieldType::Int | FieldType::DateTime => "integer",
        FieldType::Real => "number",
        FieldType::Bool => "boolean",
        FieldType::Json => return BTreeSet::new(),
        FieldType::Attachment => "object",
    };
    let mut types = set(&[base]);
    if field.nullable {
        types.insert("null".into());
    }
    types
}

fn types_of(schema: &Value) -> BTreeSet<String> {
    match schema.get("type") {
        None => BTreeSet::new(),
        Some(Value::String(t)) => set(&[t]),
        Some(list) => strings(list),
    }
}

fn check_field_schema(entity: &Entity, field: &Field, schema: &Value) {
    let at = format!("{}.{}: {schema}", entity.name.spec, field.name.spec);
    assert_eq!(types_of(schema), expected_types(field), "{at}");
    let format = schema.get("format").and_then(Value::as_str);
    match &field.ty {
        FieldType::Int => assert_eq!(format, Some("int64"), "{at}"),
        FieldType::DateTime => {
            assert_eq!(format, Some("int64"), "{at}");
            let description = schema["description"].as_str().unwrap_or_default();
            assert!(
                description.to_lowercase().contains("epoch milliseconds")
                    && description.contains("UTC"),
                "{at}"
            );
        }
        FieldType::Date => assert_eq!(format, Some("date"), "{at}"),
        FieldType::Uuid | FieldType::Reference { .. } => {
            assert_eq!(format, Some("uuid"), "{at}");
        }
        FieldType::Blob => {
            // Lowercase hex, two digits per byte.
            assert_eq!(schema["pattern"], "^(?:[0-9a-f]{2})*$", "{at}");
            assert_eq!(schema["contentEncoding"], "base16", "{at}");
        }
        FieldType::Enum { values, .. } => {
            let mut expected: Vec<Value> = values.iter().map(|v| json!(v.spec)).collect();
            if field.nullable {
                // `enum` is checked on its own, so null must be listed for null to pass.
                expected.push(Value::Null);
            }
            assert_eq!(schema["enum"], Value::Array(expected), "{at}");
        }
        FieldType::Json => {
            let refuses_null = schema.get("not") == Some(&json!({"type": "null"}));
            assert_eq!(refuses_null, !field.nullable, "{at}");
            assert_eq!(schema["$ref"], "#/components/schemas/JsonValue", "{at}");
        }
        // The document takes exactly the references the server takes.
        FieldType::Attachment => {
            let validator = jsonschema::draft202012::options()
                .build(schema)
                .unwrap_or_else(|e| panic!("{at}: {e}"));
            let hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
            for value in [
                json!({"sha256": hash, "size": 0, "mediaType": "image/jpeg"}),
                json!({"sha256": hash, "size": 12, "mediaType": "application/vnd.api+json"}),
                json!({"sha256": hash.to_uppercase(), "size": 12, "mediaType": "image/jpeg"}),
                json!({"sha256": hash, "size": -1, "mediaType": "image/jpeg"}),
                json!({"sha256": hash, "size": 1.5, "mediaType": "image/jpeg"}),
                json!({"sha256": hash, "mediaType": "image/jpeg"}),
                json!({"sha256": hash, "size": 1, "mediaType": "jpeg"}),
                json!({"sha256": hash, "size": 1, "mediaType": "image/jpeg; q=1"}),
                json!({"sha256": hash, "size": 1, "mediaType": "image/jpeg", "path": "/x"}),
                json!("a string"),
            ] {
                assert_eq!(
                    validator.is_valid(&value),
                    offgen_runtime::attachments::check(&value).is_ok(),
                    "{at}: {value}"
                );
            }
        }
        // PostgreSQL cannot store U+0000: the document refuses it as the server does.
        FieldType::Text => assert_eq!(schema["pattern"], NO_NUL, "{at}"),
        FieldType::Real | FieldType::Bool => {}
    }
    assert_eq!(
        schema.get("default"),
        field.default.as_ref().map(wire).as_ref(),
        "{at}"
    );
    if let Some(doc) = &field.doc {
        assert!(
            schema["description"]
                .as_str()
                .unwrap_or_default()
                .contains(doc.as_str()),
            "{at}"
        );
    }
}

#[test]
fn field_schemas_follow_the_wire_table() {
    for (label, schema) in specs() {
        let doc = document(&schema);
        for entity in &schema.entities {
            let names = schema_names(entity);
            let fields = component(&doc, &names.fields);
            assert_eq!(fields["type"], "object", "{label}");
            assert_eq!(fields["additionalProperties"], false, "{label}");
            let keys: Vec<&String> = fields["properties"].as_object().unwrap().keys().collect();
            let mut expected: Vec<&str> = entity.fields.iter().map(|f| f.name.json()).collect();
            // Then the bookkeeping a client may send back with a record it holds (ignored).
            expected.extend(["version", "updatedAt", "deletedAt"]);
            assert_eq!(
                keys, expected,
                "{label}: one property per field, in spec order"
            );
            for field in &entity.fields {
                let key = field.name.json();
                for name in [&names.fields, &names.record, &names.create] {
                    check_field_schema(entity, field, &component(&doc, name)["properties"][key]);
                }
            }
        }
    }
}

#[test]
fn every_type_spec_gives_exactly_these_field_schemas() {
    let doc = document(&load(EVERY_TYPE));
    let properties = &component(&doc, "SampleFields")["properties"];
    let uuid = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";
    let json_value = "#/components/schemas/JsonValue";
    let expected = [
        (
            "owner",
            json!({"type": "string", "format": "uuid", "pattern": uuid,
                   "description": "The id of a `Person` record. The owning user's id; a write \
                                   that leaves it out gets the caller's."}),
        ),
        ("title", json!({"type": "string", "pattern": NO_NUL})),
        (
            "note",
            json!({"type": ["string", "null"], "pattern": NO_NUL, "description": "Free text."}),
        ),
        (
            "motto",
            json!({"type": "string", "pattern": NO_NUL, "default": "42"}),
        ),
        ("count", json!({"type": "integer", "format": "int64"})),
        (
            "maybeCount",
            json!({"type": ["integer", "null"], "format": "int64"}),
        ),
        (
            "tally",
            json!({"type": "integer", "format": "int64", "default": 3}),
        ),
        ("ratio", json!({"type": "number", "format": "double"})),
        (
            "weight",
            json!({"type": ["number", "null"], "format": "double", "default": 2.5}),
        ),
        ("flag", json!({"type": "boolean"})),
        ("optIn", json!({"type": "boolean", "default": false})),
        (
            "startsAt",
            json!({"type": "integer", "format": "int64", "default": 1_706_688_000_000_i64,
                   "description": "Epoch milliseconds, UTC."}),
        ),
        (
            "lastSeenAt",
            json!({"type": ["integer", "null"], "format": "int64",
                   "description": "When it was last seen. Epoch milliseconds, UTC."}),
        ),
        (
            "birthday",
            json!({"type": "string", "format": "date", "default": "2000-02-29"}),
        ),
        (
            "token",
            json!({"type": "string", "format": "uuid", "pattern": uuid}),
        ),
        (
            "otherToken",
            json!({"type": ["string", "null"], "format": "uuid", "pattern": uuid,
                   "default": "0a1b2c3d-0000-4000-8000-00000000abcd"}),
        ),
        (
            "payload",
            json!({"$ref": json_value, "not": {"type": "null"}}),
        ),
        ("extra", json!({"$ref": json_value})),
        (
            "settings",
            json!({"$ref": json_value, "not": {"type": "null"},
                   "default": {"theme": "dark", "sizes": [1, 2]}}),
        ),
        (
            "thumb",
            json!({"type": ["string", "null"], "contentEncoding": "base16",
                   "pattern": "^(?:[0-9a-f]{2})*$", "description": "Bytes as lowercase hex."}),
        ),
        (
            "stage",
            json!({"type": "string", "enum": ["new", "in-progress", "done"], "default": "new"}),
        ),
        (
            "mood",
            json!({"type": ["string", "null"], "enum": ["happy", "sad", null]}),
        ),
        (
            "parent",
            json!({"type": ["string", "null"], "format": "uuid", "pattern": uuid,
                   "description": "The id of a `Person` record."}),
        ),
    ];
    for (key, schema) in expected {
        assert_eq!(properties[key], schema, "{key}");
    }
}

#[test]
fn required_lists_follow_nullability_and_defaults() {
    for (label, schema) in specs() {
        let doc = document(&schema);
        for entity in &schema.entities {
            let names = schema_names(entity);
            let non_nullable: Vec<&str> = entity
                .fields
                .iter()
                .filter(|f| !f.nullable)
                .map(|f| f.name.json())
                .collect();
            // A write without the owner field gets the caller's user id (docs/protocol.md,
            // "Owner scoping"), so it is never required.
            let must_write: Vec<&str> = entity
                .fields
                .iter()
                .filter(|f| !f.nullable && f.default.is_none())
                .filter(|f| !entity.is_owner(f))
                .map(|f| f.name.json())
                .collect();

            let record = component(&doc, &names.record);
            let mut expected = set(&["id", "version", "updatedAt"]);
            expected.extend(non_nullable.iter().map(|s| s.to_string()));
            assert_eq!(
                strings(&record["required"]),
                expected,
                "{label}: {}",
                names.record
            );
            let keys: Vec<&String> = record["properties"].as_object().unwrap().keys().collect();
            let mut expected_keys = vec!["id"];
            expected_keys.extend(entity.fields.iter().map(|f| f.name.json()));
            expected_keys.extend(["version", "updatedAt", "deletedAt"]);
            assert_eq!(keys, expected_keys, "{label}: {}", names.record);
            assert_eq!(record["properties"]["id"]["format"], "uuid");
            assert_eq!(
                types_of(&record["properties"]["version"]),
                set(&["integer"])
            );
            assert_eq!(
                types_of(&record["properties"]["updatedAt"]),
                set(&["integer"])
            );
            assert_eq!(
                types_of(&record["properties"]["deletedAt"]),
                set(&["integer", "null"])
            );

            let create = component(&doc, &names.create);
            let mut expected = set(&["id"]);
            expected.extend(must_write.iter().map(|s| s.to_string()));
            assert_eq!(
                strings(&create["required"]),
                expected,
                "{label}: {}",
                names.create
            );
            assert_eq!(create["additionalProperties"], false);

            let fields = component(&doc, &names.fields);
            let required = fields.get("required").map(strings).unwrap_or_default();
            assert_eq!(
                required,
                must_write.iter().map(|s| s.to_string()).collect(),
                "{label}: {}",
                names.fields
            );
        }
    }
}

#[test]
fn ranger_required_lists_are_exactly_these() {
    let doc = document(&load(&ranger_spec()));
    let required = |name: &str| strings(&component(&doc, name)["required"]);
    assert_eq!(
        required("ObservationCreate"),
        set(&[
            "id",
            "kind",
            "latitude",
            "longitude",
            "recordedAt",
            "modifiedAt"
        ])
    );
    assert!(required("ObservationRecord").contains("ranger"));
    assert!(!required("ObservationFields").contains("ranger"));
    assert_eq!(
        required("RangerRecord"),
        set(&[
            "id",
            "name",
            "badgeNumber",
            "active",
            "version",
            "updatedAt"
        ])
    );
    assert_eq!(
        required("RangerCreate"),
        set(&["id", "name", "badgeNumber"])
    );
}

// ---------------------------------------------------------------------------------------------
// Payloads against the schemas

fn valid_sample() -> Value {
    json!({
        "id": "7f1c1f3e-2f7e-4d1a-9a53-0c6a7a3e2b10",
        "owner": "00000000-0000-4000-8000-000000000001",
        "parent": null,
        "title": "a",
        "count": 1,
        "ratio": 0.5,
        "flag": true,
        "seenAt": 1_700_000_000_000_i64,
        "day": "2024-02-29",
        "token": "0a1b2c3d-0000-4000-8000-00000000abcd",
        "payload": {"any": ["json", 1, false]},
        "image": "00ff10",
        "photo": {
            "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "size": 4,
            "mediaType": "image/jpeg"
        },
        "mood": null,
        "stage": "in-progress",
        "modifiedAt": 1_700_000_000_001_i64,
    })
}

#[test]
fn create_bodies_are_accepted_and_refused_like_the_server_does() {
    let doc = document(&load(EVERY_TYPE));
    let create = validator(&doc, "SampleCreate");
    assert_eq!(errors(&create, &valid_sample()), Vec::<String>::new());

    // A record read back may be posted again: the bookkeeping keys are allowed (and ignored).
    let mut echoed = valid_sample();
    echoed["version"] = json!(3);
    echoed["updatedAt"] = json!(1_700_000_000_000_i64);
    echoed["deletedAt"] = Value::Null;
    assert_eq!(errors(&create, &echoed), Vec::<String>::new());

    let bad: [(&str, Value); 17] = [
        ("id", json!("7F1C1F3E-2F7E-4D1A-9A53-0C6A7A3E2B10")),
        ("id", json!("not-a-uuid")),
        ("owner", Value::Null),
        ("title", json!(1)),
        ("count", json!(1.5)),
        ("count", json!("1")),
        ("ratio", json!("0.5")),
        ("flag", json!(1)),
        ("seenAt", json!("2024-01-31T08:00:00Z")),
        ("day", json!("2024-02-30")),
        ("token", json!("0A1B2C3D-0000-4000-8000-00000000ABCD")),
        ("payload", Value::Null),
        ("image", json!("00FF")),
        ("image", json!("0ff")),
        ("stage", json!("inProgress")),
        ("mood", json!("angry")),
        ("unknownKey", json!(1)),
    ];
    for (key, value) in bad {
        let mut instance = valid_sample();
        instance[key] = value.clone();
        assert!(
            !errors(&create, &instance).is_empty(),
            "accepted {key}: {value}"
        );
    }
    for key in ["id", "title", "count", "seenAt", "payload", "modifiedAt"] {
        let mut instance = valid_sample();
        instance.as_object_mut().unwrap().remove(key);
        assert!(
            !errors(&create, &instance).is_empty(),
            "accepted without {key}"
        );
    }
    // Nullable and defaulted fields, and the owner field, may be left out.
    for key in ["owner", "parent", "mood", "stage"] {
        let mut instance = valid_sample();
        instance.as_object_mut().unwrap().remove(key);
        assert_eq!(
            errors(&create, &instance),
            Vec::<String>::new(),
            "without {key}"
        );
    }
}

#[test]
fn every_default_validates_against_its_own_field() {
    for (label, schema) in specs() {
        let doc = document(&schema);
        for entity in &schema.entities {
            let fields = schema_names(entity).fields;
            for field in entity.fields.iter().filter(|f| f.default.is_some()) {
                let key = field.name.json();
                let field_schema = validator_at(
                    &doc,
                    &format!("/components/schemas/{fields}/properties/{key}"),
                );
                let default = field.default.as_ref().map(wire).unwrap();
                assert_eq!(
                    errors(&field_schema, &default),
                    Vec::<String>::new(),
                    "{label}: {}",
                    field.name.spec
                );
            }
        }
    }
}

#[test]
fn the_protocols_examples_fit_the_protocol_schemas() {
    let doc = document(&load(&ranger_spec()));
    let id = "7f1c1f3e-2f7e-4d1a-9a53-0c6a7a3e2b10";
    let push = json!({"clientId": "device-1", "mutations": [
        {"mutationId": "m1", "entity": "observations", "id": id, "op": "insert",
         "data": {"notes": "x"}},
        {"mutationId": "m2", "entity": "observations", "id": id, "op": "update",
         "baseVersion": 3, "data": {"notes": "y", "count": 2}, "stamp": 1_700_000_000_000_i64,
         "fieldStamps": {"notes": 1_699_999_999_000_i64}},
        {"mutationId": "m3", "entity": "observations", "id": id, "op": "delete", "baseVersion": 4},
    ]});
    let push_request = validator(&doc, "PushRequest");
    assert_eq!(errors(&push_request, &push), Vec::<String>::new());
    let mut bad = push.clone();
    bad["mutations"][0]["op"] = json!("upsert");
    assert!(!push_request.is_valid(&bad));
    // An unknown entity or a malformed id is one mutation's `rejected` result, not a 400 of
    // the whole batch: the document takes them, as the server does.
    let mut odd = push.clone();
    odd["mutations"][0]["entity"] = json!("nope");
    odd["mutations"][1]["id"] = json!("NOT-A-UUID");
    assert_eq!(errors(&push_request, &odd), Vec::<String>::new());
    let mut bad = push.clone();
    bad["extra"] = json!(true);
    assert!(!push_request.is_valid(&bad));
    let mut bad = push.clone();
    bad["mutations"][1]["fieldStamps"]["notes"] = json!("yesterday");
    assert!(!push_request.is_valid(&bad));
    // The limit the document states is the one the runtime applies.
    let stamp = &component(&doc, "Mutation")["properties"]["stamp"]["description"];
    assert!(
        stamp.as_str().unwrap().contains(&format!(
            "{} ms",
            offgen_runtime::server::MAX_STAMP_AHEAD_MS
        )),
        "{stamp}"
    );

    let record = json!({"entity": "observations", "id": id, "version": 5, "deleted": false,
                        "updatedAt": 1_700_000_000_000_i64, "data": {"notes": "z"}});
    let push_response = json!({"results": [
        {"mutationId": "m1", "id": id, "status": "accepted", "version": 1},
        {"mutationId": "m2", "id": id, "status": "conflict", "version": 5, "record": record},
        {"mutationId": "m3", "id": id, "status": "rejected",
         "error": {"code": "invalid-data", "message": "no"}},
        {"mutationId": "m4", "id": id, "status": "accepted", "version": 6, "record": record,
         "overridden": ["notes"]},
    ], "serverTime": 1_700_000_000_000_i64});
    let validate_push_response = validator(&doc, "PushResponse");
    assert_eq!(
        errors(&validate_push_response, &push_response),
        Vec::<String>::new()
    );
    let mut bad = push_response.clone();
    bad["results"][2]["error"]["code"] = json!("teapot");
    assert!(!validate_push_response.is_valid(&bad));
    let mut bad = push_response.clone();
    bad.as_object_mut().unwrap().remove("serverTime");
    assert!(!validate_push_response.is_valid(&bad));

    let tombstone = json!({"entity": "rangers", "id": id, "version": 2, "deleted": true,
                           "updatedAt": 1_700_000_000_000_i64, "deletedAt": 1_700_000_000_000_i64});
    let pull = json!({"records": [record, tombstone], "cursor": "abc", "hasMore": true,
                      "serverTime": 1_700_000_000_000_i64});
    assert_eq!(
        errors(&validator(&doc, "PullResponse"), &pull),
        Vec::<String>::new()
    );

    let entry = json!({"id": 7, "entity": "patrol_routes", "rowId": id, "mutationId": "m2",
                       "userId": "ana", "clientId": "tablet", "reason": "server_wins: …",
                       "losing": {"op": "update", "baseVersion": 1, "data": {"name": "x"}},
                       "winningVersion": 2, "createdAt": 1_700_000_000_000_i64});
    let entries = json!({"entries": [entry], "cursor": "7", "hasMore": false});
    assert_eq!(
        errors(&validator(&doc, "AuditEntries"), &entries),
        Vec::<String>::new()
    );
    let mut bad = entries.clone();
    bad["entries"][0]["losing"]["op"] = json!("upsert");
    assert!(!validator(&doc, "AuditEntries").is_valid(&bad));
    let restored = json!({"restored": 7, "version": 3, "record": record});
    assert_eq!(
        errors(&validator(&doc, "RestoreResult"), &restored),
        Vec::<String>::new()
    );
    // The page limits the document states are the ones the runtime applies.
    let limit = &operation(&doc, "/admin/audit", "get")["parameters"][3]["schema"];
    assert_eq!(
        (&limit["default"], &limit["maximum"]),
        (
            &json!(offgen_runtime::server::DEFAULT_AUDIT_PAGE),
            &json!(offgen_runtime::server::MAX_AUDIT_PAGE)
        )
    );

    let problem = json!({
        "type": "https://offgen.dev/problems/invalid-data", "title": "Invalid data", "status": 422,
        "errors": [{"field": "latitude", "message": "not a number"}],
    });
    assert_eq!(
        errors(&validator(&doc, "Problem"), &problem),
        Vec::<String>::new()
    );

    let observation = json!({
        "id": id, "ranger": id, "route": null, "kind": "fire", "species": null, "count": 1,
        "latitude": -1.5, "longitude": 36.8, "accuracyM": null, "altitudeM": null,
        "notes": null, "photoPath": null, "photoUpload": "none", "status": "draft",
        "recordedAt": 1_700_000_000_000_i64, "modifiedAt": 1_700_000_000_000_i64,
        "version": 3, "updatedAt": 1_700_000_000_000_i64, "deletedAt": null,
    });
    assert_eq!(
        errors(&validator(&doc, "ObservationRecord"), &observation),
        Vec::<String>::new()
    );
    let page = json!({"records": [observation], "cursor": "", "hasMore": false});
    assert_eq!(
        errors(&validator(&doc, "ObservationPage"), &page),
        Vec::<String>::new()
    );
}

// ---------------------------------------------------------------------------------------------
// A real OpenAPI validator

/// `openapi-spec-validator` from the virtualenv `scripts/test.sh` makes (see
/// scripts/lib/python.sh), or `OFFGEN_OPENAPI_VALIDATOR`. A missing validator fails the test:
/// skipping would let an invalid document through unnoticed.
fn openapi_validator() -> PathBuf {
    let root = workspace_root();
    let path = match std::env::var_os("OFFGEN_OPENAPI_VALIDATOR") {
        Some(path) => root.join(path),
        None => root.join("target/py/bin/openapi-spec-validator"),
    };
    assert!(
        path.is_file(),
        "openapi-spec-validator not found at {}: run scripts/test.sh, which installs it \
         (or, from the repository root: `. scripts/lib/python.sh && ensure_python_tools`), \
         or point OFFGEN_OPENAPI_VALIDATOR at one",
        path.display()
    );
    path
}

/// Runs the validator on `text`; `Ok` with its output if it accepts it, `Err` if it refuses.
fn run_validator(validator: &Path, name: &str, text: &str) -> Result<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(name);
    std::fs::write(&file, text).unwrap();
    let output = Command::new(validator)
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", validator.display()));
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() {
        Ok(report)
    } else {
        Err(report)
    }
}

#[test]
fn openapi_spec_validator_accepts_the_documents() {
    let validator = openapi_validator();
    for (label, schema) in specs() {
        let report = run_validator(&validator, "openapi.json", &text(&schema))
            .unwrap_or_else(|report| panic!("{label}: the validator refused it:\n{report}"));
        assert!(report.contains("OK"), "{label}: {report}");
    }
}

#[test]
fn openapi_spec_validator_refuses_broken_documents() {
    let validator = openapi_validator();
    let doc = document(&load(&ranger_spec()));

    let mut dangling = doc.clone();
    let pull_200 = &mut dangling["paths"]["/sync/pull"]["get"]["responses"]["200"];
    pull_200["content"]["application/json"]["schema"] =
        json!({"$ref": "#/components/schemas/NoSuchThing"});
    let report = run_validator(
        &validator,
        "dangling.json",
        &serde_json::to_string_pretty(&dangling).unwrap(),
    )
    .expect_err("a dangling $ref was accepted");
    assert!(report.contains("NoSuchThing"), "{report}");

    let mut duplicate = doc.clone();
    duplicate["paths"]["/sync/pull"]["get"]["operationId"] = json!("push");
    let report = run_validator(
        &validator,
        "duplicate.json",
        &serde_json::to_string_pretty(&duplicate).unwrap(),
    )
    .expect_err("a duplicate operationId was accepted");
    assert!(report.contains("push"), "{report}");

    let mut no_description = doc;
    no_description["paths"]["/healthz"]["get"]["responses"]["200"]
        .as_object_mut()
        .unwrap()
        .remove("description");
    run_validator(
        &validator,
        "no-description.json",
        &serde_json::to_string_pretty(&no_description).unwrap(),
    )
    .expect_err("a response without its required description was accepted");
}

#[test]
fn field_order_in_objects_is_spec_order() {
    // preserve_order: the document lists entities and fields as the spec does, which is what
    // keeps the output stable and reviewable.
    let schema = load(&ranger_spec());
    let doc = document(&schema);
    let schema_keys: Vec<&String> = doc["components"]["schemas"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    let entity_order: Vec<&str> = schema
        .entities
        .iter()
        .map(|e| e.name.pascal.as_str())
        .collect();
    let fields_schema_order: Vec<&str> = schema_keys
        .iter()
        .filter_map(|k| k.strip_suffix("Fields"))
        .collect();
    assert_eq!(fields_schema_order, entity_order);
}

/// Links (which client generators and schemathesis's stateful phase follow) name operations
/// that exist, and parameters those operations have, by location and name.
#[test]
fn every_link_names_an_operation_and_its_parameters() {
    for (label, schema) in specs() {
        let doc = document(&schema);
        let resolve = |p: &Value| -> Value {
            match p["$ref"].as_str() {
                Some(r) => doc.pointer(r.trim_start_matches('#')).unwrap().clone(),
                None => p.clone(),
            }
        };
        // operationId -> the `in.name` of every parameter it takes.
        let mut takes: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for item in doc["paths"].as_object().unwrap().values() {
            let shared = item["parameters"].as_array().cloned().unwrap_or_default();
            for (method, op) in item.as_object().unwrap() {
                if method == "parameters" {
                    continue;
                }
                let own = op["parameters"].as_array().cloned().unwrap_or_default();
                let names = shared
                    .iter()
                    .chain(&own)
                    .map(|p| {
                        let p = resolve(p);
                        format!(
                            "{}.{}",
                            p["in"].as_str().unwrap(),
                            p["name"].as_str().unwrap()
                        )
                    })
                    .collect();
                takes.insert(op["operationId"].as_str().unwrap().to_owned(), names);
            }
        }
        let mut links = 0;
        for (path, method, op) in operations(&doc) {
            for (status, response) in op["responses"].as_object().unwrap() {
                let Some(found) = response.get("links") else {
                    continue;
                };
                for (name, link) in found.as_object().unwrap() {
                    let at = format!("{label}: {method} {path} {status} link {name}");
                    let target = link["operationId"].as_str().unwrap();
                    let params = takes
                        .get(target)
                        .unwrap_or_else(|| panic!("{at}: {target}"));
                    for (param, expression) in link["parameters"].as_object().unwrap() {
                        assert!(params.contains(param), "{at}: {target} has no {param}");
                        assert!(
                            expression.as_str().unwrap().starts_with("$response."),
                            "{at}"
                        );
                    }
                    links += 1;
                }
            }
        }
        // Create (201, 200) and replace answer a record: read, replace and delete it; the
        // audit's list leads to a restore.
        assert_eq!(links, 9 * schema.entities.len() + 1, "{label}");
    }
}

#[test]
fn every_problem_type_the_runtime_answers_with_is_documented_with_its_status() {
    // The problem types are the runtime's (offgen_runtime::problems); the document reads
    // them, so each one is described once, with the status the server sends it with.
    let doc = document(&load(&ranger_spec()));
    let mut documented: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    fn walk(value: &Value, out: &mut BTreeMap<String, BTreeSet<u64>>) {
        match value {
            Value::Object(map) => {
                if let Some(properties) = map.get("properties")
                    && let Some(status) = properties["status"]["const"].as_u64()
                {
                    let ty = &properties["type"];
                    let uris = match ty["enum"].as_array() {
                        Some(list) => list.iter().filter_map(Value::as_str).collect(),
                        None => ty["const"].as_str().into_iter().collect::<Vec<_>>(),
                    };
                    for uri in uris {
                        out.entry(uri.to_owned()).or_default().insert(status);
                    }
                }
                map.values().for_each(|v| walk(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    walk(&doc, &mut documented);
    for ty in offgen_runtime::problems::ALL {
        assert_eq!(
            documented.get(&ty.uri()),
            Some(&BTreeSet::from([u64::from(ty.status)])),
            "{ty:?} in {documented:#?}"
        );
    }
    assert_eq!(
        documented.len(),
        offgen_runtime::problems::ALL.len(),
        "{documented:#?}"
    );
}
