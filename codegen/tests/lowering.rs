//! The example spec lowers into the IR the back-ends rely on.

use offgen_codegen::load_yaml_spec;
use offgen_codegen::model::{ConflictPolicy, DefaultValue, FieldType, LwwClock, Schema};
use offgen_codegen::source::SourceFile;

fn ranger() -> Schema {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/ranger/offgen.yaml"
    );
    let file = SourceFile::new("offgen.yaml", std::fs::read_to_string(path).unwrap());
    load_yaml_spec(&file).unwrap_or_else(|d| panic!("{d:#?}"))
}

#[test]
fn entities_get_their_names_in_every_spelling() {
    let schema = ranger();
    let names: Vec<_> = schema
        .entities
        .iter()
        .map(|e| e.name.spec.as_str())
        .collect();
    assert_eq!(names, ["Ranger", "PatrolRoute", "Observation"]);
    let route = schema.entity("PatrolRoute").unwrap();
    assert_eq!(route.table.snake, "patrol_routes");
    assert_eq!(route.dart_table_class, "PatrolRoutes");
    assert_eq!(route.name.pascal, "PatrolRoute");
    let observation = schema.entity("Observation").unwrap();
    let accuracy = observation.field("accuracyM").unwrap();
    assert_eq!(
        (accuracy.name.snake.as_str(), accuracy.name.camel.as_str()),
        ("accuracy_m", "accuracyM")
    );
}

#[test]
fn short_and_long_field_forms_lower_to_the_same_ir() {
    let schema = ranger();
    let observation = schema.entity("Observation").unwrap();
    let notes = observation.field("notes").unwrap();
    let photo = observation.field("photoPath").unwrap();
    assert_eq!((notes.ty.clone(), notes.nullable), (FieldType::Text, true));
    assert_eq!((photo.ty.clone(), photo.nullable), (FieldType::Text, true));
    // A reference links to its entity: following the link lands on it.
    let target = |field: &str| match &observation.field(field).unwrap().ty {
        FieldType::Reference { entity } => schema.target(entity).name.spec.clone(),
        other => panic!("`{field}` is {other:?}, not a reference"),
    };
    assert_eq!(target("ranger"), "Ranger");
    assert_eq!(target("route"), "PatrolRoute");
    assert!(!observation.field("ranger").unwrap().nullable);
    assert!(observation.field("route").unwrap().nullable);
}

#[test]
fn defaults_are_typed_by_their_field() {
    let schema = ranger();
    let observation = schema.entity("Observation").unwrap();
    assert_eq!(
        observation.field("count").unwrap().default,
        Some(DefaultValue::Int(1))
    );
    assert_eq!(
        observation.field("status").unwrap().default,
        Some(DefaultValue::Enum("draft".into()))
    );
    let ranger = schema.entity("Ranger").unwrap();
    assert_eq!(
        ranger.field("active").unwrap().default,
        Some(DefaultValue::Bool(true))
    );
    match &observation.field("status").unwrap().ty {
        FieldType::Enum { dart_type, values } => {
            assert_eq!(dart_type, "ObservationStatus");
            let values: Vec<_> = values.iter().map(|v| v.spec.as_str()).collect();
            assert_eq!(values, ["draft", "final"]);
        }
        other => panic!("status lowered to {other:?}"),
    }
}

#[test]
fn conflict_policies_and_owner_resolve_to_fields() {
    let schema = ranger();
    assert_eq!(
        schema.entity("Ranger").unwrap().conflict,
        ConflictPolicy::Version
    );
    assert_eq!(
        schema.entity("PatrolRoute").unwrap().conflict,
        ConflictPolicy::ServerWins
    );
    let observation = schema.entity("Observation").unwrap();
    assert_eq!(
        observation.conflict,
        ConflictPolicy::Lww {
            clock: LwwClock::Device
        }
    );
    assert_eq!(observation.owner_field().unwrap().name.spec, "ranger");
}

#[test]
fn indexes_and_uniques_get_stable_sql_names() {
    let schema = ranger();
    let index_names = |entity: &str| -> Vec<(String, Vec<String>, bool)> {
        schema
            .entity(entity)
            .unwrap()
            .indexes
            .iter()
            .map(|i| {
                let fields = schema.entity(entity).unwrap().index_fields(i);
                (
                    i.name.clone(),
                    fields.map(|f| f.name.spec.clone()).collect(),
                    i.unique,
                )
            })
            .collect()
    };
    assert_eq!(
        index_names("Ranger"),
        [(
            "rangers_badge_number_key".into(),
            vec!["badgeNumber".into()],
            true
        )]
    );
    assert_eq!(
        index_names("PatrolRoute"),
        [(
            "patrol_routes_sector_name_key".into(),
            vec!["sector".into(), "name".into()],
            true
        )]
    );
    assert_eq!(
        index_names("Observation"),
        [
            (
                "observations_recorded_at_idx".into(),
                vec!["recordedAt".into()],
                false
            ),
            (
                "observations_ranger_recorded_at_idx".into(),
                vec!["ranger".into(), "recordedAt".into()],
                false
            ),
            (
                "observations_photo_upload_idx".into(),
                vec!["photoUpload".into()],
                false
            ),
        ]
    );
}

#[test]
fn sql_keywords_are_legal_names() {
    let text = "offgen: 1\napp: shop\nentities:\n  Order:\n    fields:\n      group: text\n      select: int\n      where: text?\n";
    let schema =
        load_yaml_spec(&SourceFile::new("offgen.yaml", text)).unwrap_or_else(|d| panic!("{d:#?}"));
    let order = schema.entity("Order").unwrap();
    assert_eq!(order.table.snake, "orders");
    assert_eq!(order.fields.len(), 3);
}

#[test]
fn long_default_index_names_are_cut_to_63_bytes_and_stay_distinct() {
    let long_a = "a".repeat(40);
    let long_b = "b".repeat(40);
    let text = format!(
        "offgen: 1\napp: x\nentities:\n  Thing:\n    fields:\n      {long_a}: text\n      {long_b}: text\n    indexes:\n      - [{long_a}, {long_b}]\n      - [{long_b}, {long_a}]\n"
    );
    let schema =
        load_yaml_spec(&SourceFile::new("offgen.yaml", text)).unwrap_or_else(|d| panic!("{d:#?}"));
    let names: Vec<_> = schema.entities[0]
        .indexes
        .iter()
        .map(|i| i.name.clone())
        .collect();
    assert!(names.iter().all(|n| n.len() <= 63), "{names:?}");
    assert_ne!(names[0], names[1]);
}

#[test]
fn the_ir_snapshot_round_trips_through_json() {
    let schema = ranger();
    let json = serde_json::to_string(&schema).unwrap();
    let back: Schema = serde_json::from_str(&json).unwrap();
    assert_eq!(
        serde_json::to_value(&back).unwrap(),
        serde_json::to_value(&schema).unwrap()
    );
}

#[test]
fn links_survive_schema_json_and_a_link_to_nothing_is_refused() {
    // Entities in an order where links point both ways: a reference to a later entity, and
    // an owner and index fields that are not each entity's first field.
    let schema = ranger();
    let text = serde_json::to_string(&schema).unwrap();
    assert!(
        text.contains(r#""entity":"Ranger""#),
        "links are written by name: {text}"
    );
    let read: Schema = serde_json::from_str(&text).unwrap();
    assert_eq!(serde_json::to_string(&read).unwrap(), text);
    for (entity, read_entity) in schema.entities.iter().zip(&read.entities) {
        for (field, read_field) in entity.fields.iter().zip(&read_entity.fields) {
            if let (FieldType::Reference { entity: a }, FieldType::Reference { entity: b }) =
                (&field.ty, &read_field.ty)
            {
                assert_eq!(schema.target(a).name, read.target(b).name);
            }
        }
        assert_eq!(
            entity.owner_field().map(|f| &f.name),
            read_entity.owner_field().map(|f| &f.name)
        );
        for (index, read_index) in entity.indexes.iter().zip(&read_entity.indexes) {
            let names = |e: &offgen_codegen::model::Entity, i| {
                e.index_fields(i)
                    .map(|f| f.name.spec.clone())
                    .collect::<Vec<_>>()
            };
            assert_eq!(names(entity, index), names(read_entity, read_index));
        }
    }

    // A hand-edited snapshot naming an entity or a field that is not there is refused when
    // read, not followed into a panic (or a quiet default) by a back-end.
    let dangling = text.replace(r#""entity":"Ranger""#, r#""entity":"Warden""#);
    let err = serde_json::from_str::<Schema>(&dangling).unwrap_err();
    assert!(err.to_string().contains("references `Warden`"), "{err}");
    let dangling = text.replace(r#""owner":"ranger""#, r#""owner":"keeper""#);
    assert_ne!(dangling, text);
    let err = serde_json::from_str::<Schema>(&dangling).unwrap_err();
    assert!(err.to_string().contains("names `keeper`"), "{err}");
}
