//! `offgen schema` describes exactly the format the parser accepts: specs that pass
//! `offgen check` validate against it, and specs with unknown keys or bad shapes do not.

use offgen_codegen::frontend::yaml::tree::{self, Node, NodeKind, Resolved};
use offgen_codegen::source::SourceFile;
use offgen_codegen::spec_schema::spec_json_schema;
use serde_json::{Map, Value, json};

fn yaml_to_json(node: &Node) -> Value {
    match &node.kind {
        NodeKind::Scalar(s) => match s.resolve() {
            Resolved::Null => Value::Null,
            Resolved::Bool(b) => json!(b),
            Resolved::Int(i) => json!(i),
            Resolved::Float(f) => json!(f),
            Resolved::Str(t) => json!(t),
        },
        NodeKind::Seq(items) => Value::Array(items.iter().map(yaml_to_json).collect()),
        NodeKind::Map(entries) => {
            let mut map = Map::new();
            for (k, v) in entries {
                map.insert(k.scalar().unwrap().text.clone(), yaml_to_json(v));
            }
            Value::Object(map)
        }
    }
}

fn spec_as_json(text: &str) -> Value {
    yaml_to_json(&tree::parse(&SourceFile::new("spec.yaml", text)).unwrap())
}

fn validator() -> jsonschema::Validator {
    jsonschema::draft202012::new(&spec_json_schema()).expect("the schema itself is valid")
}

#[test]
fn the_example_and_starter_specs_validate() {
    let validator = validator();
    let ranger = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/ranger/offgen.yaml"
    ))
    .unwrap();
    let starter = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../templates/init/offgen.yaml"
    ))
    .unwrap()
    .replace("{{ app }}", "notes");
    for spec in [ranger, starter] {
        let instance = spec_as_json(&spec);
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
    }
}

#[test]
fn misspelt_keys_and_wrong_shapes_fail_validation() {
    let validator = validator();
    let bad = [
        "offgen: 1\napp: a\nentities:\n  A:\n    fields: { x: { type: text, nulable: true } }\n",
        "offgen: 1\napp: a\nentities:\n  A:\n    fieldz: { x: text }\n",
        "offgen: 1\napp: a\nentities:\n  A:\n    conflict: lwww\n    fields: { x: text }\n",
        "offgen: 2\napp: a\nentities:\n  A:\n    fields: { x: text }\n",
        "offgen: 1\napp: a\nentities: {}\n",
        "offgen: 1\napp: a\nentities:\n  A:\n    table: Bad\n    fields: { x: text }\n",
    ];
    for spec in bad {
        assert!(
            !validator.is_valid(&spec_as_json(spec)),
            "accepted:\n{spec}"
        );
    }
}
