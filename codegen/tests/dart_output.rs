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

use support::Device;
use support::drift::*;

#[test]
fn every_generated_dart_file_parses_cleanly() {
    let examples = support::example_specs().into_iter().map(|(_, spec)| spec);
    let mut with_attachments = 0;
    for spec in examples.chain([KEYWORD_SPEC.to_owned()]) {
        let files = support::build(&spec);
        let dart = dart_files(&files);
        // With attachment fields the client has a fourth part, the attachment loop.
        let attachments = files.get("dart/lib/src/sync_attachments.dart").is_some();
        with_attachments += usize::from(attachments);
        assert_eq!(
            dart.len(),
            8 + usize::from(attachments),
            "tables, sync statements, database, connection, sync client and its parts"
        );
        for (path, source) in dart {
            let tree = parse(source);
            let problems = syntax_problems(&tree, source);
            assert!(problems.is_empty(), "{path}:\n{}", problems.join("\n"));
        }
    }
    assert!(with_attachments > 0, "no example has the attachment loop");
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
    for (_, spec) in support::example_specs() {
        check_schema_matches_drift(&spec);
    }
}

/// The checked-in output of every example, as a build writes it (paths relative to the
/// output folder), for the parts a device reads: its migration steps and its Dart.
fn checked_in_device_output() -> Vec<(String, offgen_codegen::output::FileSet)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut outputs = Vec::new();
    for (name, _) in support::example_specs() {
        outputs.push((name.clone(), root.join(&name)));
    }
    // The example written as Rust structs keeps its output in a folder of its own.
    outputs.push(("ranger-rs".to_owned(), root.join("ranger-rs/generated")));
    outputs
        .into_iter()
        .map(|(name, dir)| {
            let mut files = offgen_codegen::output::FileSet::new();
            for sub in ["client/migrations", "client", "dart/lib/src"] {
                for entry in std::fs::read_dir(dir.join(sub)).unwrap() {
                    let path = entry.unwrap().path();
                    if path.is_file() {
                        let relative =
                            format!("{sub}/{}", path.file_name().unwrap().to_str().unwrap());
                        files.insert(relative, std::fs::read_to_string(&path).unwrap());
                    }
                }
            }
            (name, files)
        })
        .collect()
}

#[test]
fn the_checked_in_steps_build_what_the_checked_in_dart_declares() {
    // A device that ran every step the example has shipped must hold exactly the schema its
    // current Dart declares (Drift's validateDatabaseSchema() compares the two): a trigger
    // changed by a newer offgen reaches installed devices only through a step.
    let outputs = checked_in_device_output();
    assert!(outputs.len() >= 6, "every example is checked");
    for (name, files) in outputs {
        let steps = support::migrations(&files).len();
        assert!(steps >= 1, "{name} has no steps");
        // Named first: a difference panics with the schema object's name.
        eprintln!("examples/{name}: {steps} steps");
        let device = Device::from_build(&files);
        check_database_matches_drift(&files, &device);
    }
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

/// The statements of the generated `sync_sql.dart`: (name, SQL, params).
fn dart_statements(source: &str) -> Vec<(String, String, Vec<String>)> {
    let tree = parse(source);
    let mut calls = Vec::new();
    find_all(tree.root_node(), "call_expression", &mut calls);
    let mut out = Vec::new();
    for value in calls {
        let Some(function) = value.child_by_field_name("function") else {
            continue;
        };
        if text(function, source) != "SyncStatement" {
            continue;
        }
        let arguments = named_children(
            value
                .child_by_field_name("arguments")
                .expect("SyncStatement(...) has arguments"),
        );
        let name = string_value(arguments[0], source);
        let sql = string_value(arguments[1], source).trim().to_owned();
        let mut params = Vec::new();
        for item in named_children(arguments[2]) {
            params.push(string_value(item, source));
        }
        out.push((name, sql, params));
    }
    out
}

#[test]
fn dart_statements_are_sync_sql_with_parameters_numbered_for_drift() {
    // Drift binds by position. Each Dart statement must be the sync.sql statement with `:p`
    // replaced by `?N`, N its place in `-- params:`, and SQLite must see exactly those.
    let files = support::build(&support::ranger_spec());
    let device = support::Device::from_build(&files);
    let originals =
        offgen_runtime::scripts::parse_sync_sql(files.get("client/sync.sql").unwrap()).unwrap();
    let dart = dart_statements(files.get("dart/lib/src/sync_sql.dart").unwrap());
    assert_eq!(
        dart.len(),
        originals.len(),
        "every statement is in sync_sql.dart"
    );
    for (original, (name, sql, params)) in originals.iter().zip(&dart) {
        assert_eq!(&original.name, name);
        let expected: Vec<&str> = original
            .params
            .iter()
            .map(|p| p.trim_start_matches(':'))
            .collect();
        assert_eq!(params, &expected, "{name}");
        let mut renamed = sql.clone();
        for (i, param) in params.iter().enumerate().rev() {
            renamed = renamed.replace(&format!("?{}", i + 1), &format!(":{param}"));
        }
        assert_eq!(renamed, original.sql, "{name}");
        let statement = device
            .conn()
            .prepare(sql)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(statement.parameter_count(), params.len(), "{name}");
        for i in 1..=params.len() {
            assert_eq!(
                statement.parameter_name(i),
                Some(format!("?{i}").as_str()),
                "{name}"
            );
        }
    }
    // claim_batch uses :claim before :limit: by first appearance the order would be wrong.
    let claim = dart.iter().find(|(n, _, _)| n == "claim_batch").unwrap();
    assert!(
        claim.1.find("?4").unwrap() < claim.1.find("?2").unwrap(),
        "{}",
        claim.1
    );
}

#[test]
fn numbering_refuses_what_it_cannot_bind() {
    use offgen_codegen::backend::dart::numbered_parameters;
    assert_eq!(
        numbered_parameters("SELECT ':a', \":a\", :b -- :a\n, :a", &["a", "b"]).unwrap(),
        "SELECT ':a', \":a\", ?2 -- :a\n, ?1"
    );
    assert!(
        numbered_parameters("SELECT :a", &["a", "b"])
            .unwrap_err()
            .contains(":b")
    );
    assert!(numbered_parameters("SELECT :c", &["c", "d"]).is_err());
    assert!(
        numbered_parameters("SELECT :x", &[])
            .unwrap_err()
            .contains(":x")
    );
}

/// The `offgen_*` SQL functions the device SQL calls.
fn device_sql_functions(
    files: &offgen_codegen::output::FileSet,
) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for (path, text) in files.iter() {
        if !(path.starts_with("client/") && path.ends_with(".sql")) {
            continue;
        }
        let mut rest = text;
        while let Some(at) = rest.find("offgen_") {
            let name: String = rest[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if rest[at + name.len()..].starts_with('(') {
                out.insert(name.clone());
            }
            rest = &rest[at + name.len()..];
        }
    }
    out
}

/// Every `NativeDatabase...(...)` in `source` passes `setup: offgenSetupConnection`; returns
/// how many there are.
fn native_databases_have_setup(path: &str, source: &str) -> usize {
    let tree = parse(source);
    let mut calls = Vec::new();
    find_all(tree.root_node(), "call_expression", &mut calls);
    let mut count = 0;
    for call in calls {
        let function = text(call.child_by_field_name("function").unwrap(), source);
        if !function.starts_with("NativeDatabase") {
            continue;
        }
        count += 1;
        let mut arguments = Vec::new();
        find_all(call, "named_argument", &mut arguments);
        let setup = arguments
            .iter()
            .map(|a| text(*a, source).split_whitespace().collect::<String>())
            .any(|a| a == "setup:offgenSetupConnection");
        assert!(
            setup,
            "{path}: {} has no setup: offgenSetupConnection",
            text(call, source)
        );
    }
    count
}

#[test]
fn every_connection_registers_the_sql_functions_the_triggers_call() {
    let files = support::build(&support::ranger_spec());
    let used = device_sql_functions(&files);
    assert_eq!(
        used.iter().map(String::as_str).collect::<Vec<_>>(),
        ["offgen_real", "offgen_real_json"],
        "the device SQL's own functions"
    );
    let connection = files.get("dart/lib/src/connection.dart").unwrap();
    assert!(
        connection.contains("\nvoid offgenSetupConnection(CommonDatabase database) {"),
        "a top-level function, so createInBackground can send it to its isolate"
    );
    let tree = parse(connection);
    let mut calls = Vec::new();
    find_all(tree.root_node(), "call_expression", &mut calls);
    let mut registered = std::collections::BTreeSet::new();
    for call in calls {
        if text(call.child_by_field_name("function").unwrap(), connection)
            != "database.createFunction"
        {
            continue;
        }
        let arguments: Vec<String> = {
            let mut named = Vec::new();
            find_all(call, "named_argument", &mut named);
            named
                .iter()
                .map(|a| text(*a, connection).split_whitespace().collect::<String>())
                .collect()
        };
        let name = arguments
            .iter()
            .find_map(|a| a.strip_prefix("functionName:"))
            .expect("a function name")
            .trim_matches('\'')
            .to_owned();
        for needed in [
            "directOnly:false",
            "deterministic:true",
            "argumentCount:constAllowedArgumentCount(1)",
        ] {
            assert!(
                arguments.iter().any(|a| a == needed),
                "{name}: {needed} in {arguments:?}"
            );
        }
        registered.insert(name);
    }
    assert_eq!(
        registered, used,
        "registered on every connection: exactly what the SQL calls"
    );
    let mut opened = 0;
    for (path, source) in dart_files(&files) {
        opened += native_databases_have_setup(path, source);
    }
    assert_eq!(
        opened, 1,
        "open<App>Database is the one place the package opens a database"
    );
    let database = files.get("dart/lib/ranger_database.dart").unwrap();
    assert!(
        database.contains("customSelect('SELECT offgen_real_json(0.5) AS x')"),
        "a database opened without the setup fails at open, saying how to fix it"
    );
}

#[test]
fn the_setup_check_notices_a_connection_without_it() {
    let without = "void main() { final db = NativeDatabase.createInBackground(file); }";
    let result = std::panic::catch_unwind(|| native_databases_have_setup("x.dart", without));
    assert!(result.is_err());
    let with = "void main() { final db = NativeDatabase.createInBackground(file, setup: offgenSetupConnection); }";
    assert_eq!(native_databases_have_setup("x.dart", with), 1);
}

/// sync_sql.dart with its SQL left out: its shape, not the device SQL (snapshotted as the
/// example's client/ files).
fn without_sql(source: &str) -> String {
    let mut out = String::new();
    let mut rest = source;
    while let Some(at) = rest.find("r'''") {
        out.push_str(&rest[..at]);
        out.push_str("r'''…'''");
        let end = rest[at + 4..].find("'''").expect("raw strings close") + at + 7;
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[test]
fn the_generated_dart_package_snapshots() {
    let files = support::build(&support::ranger_spec());
    for (path, name) in [
        ("dart/pubspec.yaml", "ranger_pubspec"),
        ("dart/build.yaml", "ranger_build_yaml"),
        ("dart/lib/ranger_database.dart", "ranger_database"),
        ("dart/lib/src/connection.dart", "ranger_connection"),
        ("dart/lib/src/tables.dart", "ranger_tables"),
        ("dart/lib/src/sync_client.dart", "ranger_sync_client"),
        (
            "dart/lib/src/sync_attachments.dart",
            "ranger_sync_attachments",
        ),
        ("dart/lib/src/sync_device.dart", "ranger_sync_device"),
        ("dart/lib/src/sync_json.dart", "ranger_sync_json"),
        ("dart/lib/src/sync_transport.dart", "ranger_sync_transport"),
    ] {
        insta::assert_snapshot!(name, files.get(path).unwrap());
    }
    insta::assert_snapshot!(
        "ranger_sync_sql_shape",
        without_sql(files.get("dart/lib/src/sync_sql.dart").unwrap())
    );
}

#[test]
fn the_dart_examples_in_the_flutter_guide_parse() {
    let guide = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/flutter.md"))
        .unwrap();
    let mut blocks = Vec::new();
    let mut rest = guide.as_str();
    while let Some(start) = rest.find("```dart\n") {
        let body = &rest[start + 8..];
        let end = body.find("```").expect("a closed code block");
        blocks.push(&body[..end]);
        rest = &body[end + 3..];
    }
    assert!(
        blocks.len() >= 6,
        "opening, writing, sync, badge, inbox, background: {}",
        blocks.len()
    );
    for block in blocks {
        let problems = syntax_problems(&parse(block), block);
        assert!(
            problems.is_empty(),
            "docs/flutter.md:\n{block}\n{}",
            problems.join("\n")
        );
        native_databases_have_setup("docs/flutter.md", block);
    }
}
