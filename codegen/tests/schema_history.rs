//! The history a build keeps of earlier steps' wire shapes (`client/schema.json`), and the
//! mapping from each old step to the current schema that servers serve old apps with.

mod support;

use offgen_codegen::backend::snapshot::Snapshot;
use offgen_codegen::history::{ClientShape, PastKind, client_shapes};
use offgen_codegen::output::FileSet;

fn snapshot(files: &FileSet) -> Snapshot {
    serde_json::from_str(files.get("client/schema.json").unwrap()).unwrap()
}

fn shape(shapes: &[ClientShape], step: u32) -> &ClientShape {
    shapes.iter().find(|s| s.step == step).unwrap()
}

#[test]
fn every_earlier_step_maps_to_the_current_names_through_renames_and_drops() {
    let revisions: Vec<String> = (1..=4).map(support::revision).collect();
    let builds = support::builds(&revisions);
    let last = snapshot(&builds[3]);
    assert_eq!(
        last.history.iter().map(|p| p.step).collect::<Vec<_>>(),
        [1, 2, 3],
        "each build that added a step recorded the one before it"
    );
    let shapes = client_shapes(&last.history, &last.schema, 1);
    assert_eq!(shapes.len(), 3);

    let v1 = shape(&shapes, 1);
    let routes = v1
        .entities
        .iter()
        .find(|e| e.table == "patrol_routes")
        .unwrap();
    assert_eq!(routes.now.as_deref(), Some("routes"), "renamed at step 4");
    let observations = v1
        .entities
        .iter()
        .find(|e| e.table == "observations")
        .unwrap();
    let key = |name: &str| observations.fields.iter().find(|f| f.key == name).unwrap();
    assert_eq!(
        key("photoUrl").now.as_deref(),
        Some("photoPath"),
        "renamed at step 3"
    );
    assert_eq!(
        key("count").kind,
        PastKind::Int,
        "the type then: widened to real since"
    );
    assert_eq!(
        key("kind").kind,
        PastKind::Enum {
            values: vec!["wildlife".into(), "tracks".into(), "other".into()]
        }
    );
    assert!(
        v1.entities.iter().all(|e| e.table != "stations"),
        "an entity added later is not in the old shape"
    );

    let v2 = shape(&shapes, 2);
    let observations = v2
        .entities
        .iter()
        .find(|e| e.table == "observations")
        .unwrap();
    let altitude = observations
        .fields
        .iter()
        .find(|f| f.key == "altitudeM")
        .unwrap();
    assert_eq!(altitude.now, None, "dropped at step 4");
    assert!(v2.entities.iter().any(|e| e.table == "stations"));

    assert_eq!(
        client_shapes(&last.history, &last.schema, 3).len(),
        1,
        "the window"
    );
}

#[test]
fn the_history_survives_the_next_build() {
    let revisions: Vec<String> = (1..=4).map(support::revision).collect();
    let builds = support::builds(&revisions);
    let previous = support::previous_of(&builds[3]);
    assert_eq!(previous.history.len(), 3);
    // A build with nothing new adds no step and keeps the history as it was.
    let (same, _) = support::build_on(&previous, &revisions[3]).unwrap();
    assert_eq!(snapshot(&same).history, snapshot(&builds[3]).history);
    // The next change records step 4.
    let v5 = revisions[3].replace(
        "radioChannel: int?",
        "radioChannel: int?\n      callSign: text?",
    );
    let (next, _) = support::build_on(&previous, &v5).unwrap();
    assert_eq!(snapshot(&next).history.len(), 4);
}

#[test]
fn a_snapshot_of_the_first_layout_is_read_with_no_history() {
    let files = support::build(&support::revision(1));
    let text = files.get("client/schema.json").unwrap();
    let mut json: serde_json::Value = serde_json::from_str(text).unwrap();
    json["snapshot"] = 1.into();
    json.as_object_mut().unwrap().remove("history");
    let mut old = FileSet::new();
    for (path, contents) in files.iter() {
        if path == "client/schema.json" {
            old.insert(path, serde_json::to_string_pretty(&json).unwrap());
        } else {
            old.insert(path, contents);
        }
    }
    let previous = support::previous_of(&old);
    assert!(previous.history.is_empty());
    let (next, _) = support::build_on(&previous, &support::revision(2)).unwrap();
    assert_eq!(
        snapshot(&next)
            .history
            .iter()
            .map(|p| p.step)
            .collect::<Vec<_>>(),
        [1]
    );
}

#[test]
fn the_window_of_served_steps_comes_from_the_spec_and_cannot_start_after_the_newest_step() {
    let revisions: Vec<String> = (1..=4).map(support::revision).collect();
    let builds = support::builds(&revisions[..3]);
    let previous = support::previous_of(&builds[2]);
    let windowed =
        revisions[3].replacen("app: ranger", "app: ranger\nclients:\n  oldest_step: 3", 1);
    let (files, _) = support::build_on(&previous, &windowed).unwrap();
    let app = offgen_codegen::backend::server::app_def::plan_of_build(&files)
        .unwrap_or_else(|d| panic!("{}", d.message));
    assert_eq!(
        (
            app.step,
            app.shapes.iter().map(|s| s.step).collect::<Vec<_>>()
        ),
        (4, vec![3])
    );
    let ahead = revisions[3].replacen("app: ranger", "app: ranger\nclients:\n  oldest_step: 9", 1);
    let problems = support::build_on(&previous, &ahead).unwrap_err();
    assert!(
        problems.contains("`oldest_step` is 9, but the newest schema step is 4"),
        "{problems}"
    );
    assert!(
        problems.contains("offgen.yaml:6:16"),
        "points at the spec: {problems}"
    );
}

#[test]
fn a_history_naming_a_type_offgen_does_not_know_is_refused_not_served_as_text() {
    let revisions: Vec<String> = (1..=2).map(support::revision).collect();
    let builds = support::builds(&revisions);
    let text = builds[1].get("client/schema.json").unwrap();
    let known: Snapshot = serde_json::from_str(text).unwrap();
    let json = serde_json::to_string(&known).unwrap();
    assert!(json.contains(r#""type":"int""#), "{json}");
    assert!(
        json.contains(r#""type":"reference","to":"rangers""#),
        "a reference keeps its table: {json}"
    );
    let unknown = json.replacen(r#""type":"int""#, r#""type":"decimal""#, 1);
    let err = serde_json::from_str::<Snapshot>(&unknown).unwrap_err();
    assert!(err.to_string().contains("decimal"), "{err}");
}
