//! The generated Dart, checked without a Dart SDK:
//!
//! 1. every `.dart` file parses with tree-sitter's Dart grammar, with no error or missing node;
//! 2. a model of Drift's DDL rules (drift 2.22's `Migrator`/`GeneratedColumn`, as summarised in
//!    docs/drift.md) reads the generated table classes and predicts the CREATE TABLE and
//!    CREATE INDEX statements Drift's `createAll()` would run; they must equal, node for node,
//!    what the generated migrations built in a real SQLite database;
//! 3. every statement of `sync.drift` equals the schema object the migrations created from it.
//!
//! (2) and (3) are what Drift's `validateDatabaseSchema()` compares on a device.

mod support;

use support::drift::*;

#[test]
fn every_generated_dart_file_parses_cleanly() {
    for spec in [support::ranger_spec(), KEYWORD_SPEC.to_owned()] {
        let files = support::build(&spec);
        let dart = dart_files(&files);
        assert_eq!(
            dart.len(),
            8,
            "tables, sync statements, database, connection, sync client and its 3 parts"
        );
        for (path, source) in dart {
            let tree = parse(source);
            let problems = syntax_problems(&tree, source);
            assert!(problems.is_empty(), "{path}:\n{}", problems.join("\n"));
        }
    }
}

#[test]
fn the_syntax_check_catches_broken_dart() {
    // The check above must be able to fail: a dropped `;` and an unclosed call are both caught.
    for broken in [
        "class A extends Table { TextColumn get x => text()() }",
        "const a = f(1;",
    ] {
        assert!(
            !syntax_problems(&parse(broken), broken).is_empty(),
            "{broken}"
        );
    }
}

const KEYWORD_SPEC: &str = "offgen: 1\napp: shop\nentities:\n  Order:\n    table: order\n    fields:\n      group: text\n      select: { type: int, default: 3 }\n      where: text?\n      paid: { type: bool, default: false }\n      at: datetime?\n      kind: { type: enum, values: [final, draft], default: final }\n      total: { type: real, default: 0.5 }\n    uniques: [[group, select]]\n  Line:\n    fields:\n      order: Order\n      qty: int\n";

#[test]
fn the_device_schema_is_what_drift_derives_from_the_generated_dart() {
    check_schema_matches_drift(&support::ranger_spec());
}

#[test]
fn keyword_names_defaults_and_references_match_drift_too() {
    check_schema_matches_drift(KEYWORD_SPEC);
}

#[test]
fn the_drift_model_notices_a_difference() {
    // The comparison above must be able to fail: Drift's constraint order matters.
    let ours = "CREATE TABLE \"t\" (\"a\" INTEGER NOT NULL DEFAULT 0 CHECK (\"a\" IN (0, 1)), PRIMARY KEY (\"a\"))";
    let swapped =
        "CREATE TABLE t (a INTEGER NOT NULL CHECK (a IN (0, 1)) DEFAULT 0, PRIMARY KEY (a))";
    assert_ne!(normalize(ours), normalize(swapped));
    let requoted =
        "CREATE TABLE t (a INTEGER NOT NULL DEFAULT 0 CHECK (a IN (0,1)), PRIMARY KEY (a));";
    assert_eq!(normalize(ours), normalize(requoted));
}

#[test]
fn data_classes_are_named_by_the_entity_and_enums_keep_their_spec_values() {
    let files = support::build(KEYWORD_SPEC);
    let tables = read_tables(files.get("dart/lib/src/tables.dart").unwrap());
    assert_eq!(
        tables["OrderTable"].data_class, "Order",
        "`order` as a plural equals the singular"
    );
    let source = files.get("dart/lib/src/tables.dart").unwrap();
    assert!(
        source.contains("final_('final')"),
        "a reserved word gets a trailing _, the stored text stays"
    );
}
