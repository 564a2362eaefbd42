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

use std::collections::BTreeMap;

use offgen_codegen::output::FileSet;
use support::Device;
use tree_sitter::{Node, Parser, Tree};

fn parse(source: &str) -> Tree {
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_dart::LANGUAGE.into())
        .unwrap();
    parser.parse(source, None).unwrap()
}

/// Error nodes, missing nodes, and zero-width named nodes (a missing hidden token can leave
/// `has_error()` false).
fn syntax_problems(tree: &Tree, source: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut stack = vec![tree.root_node()];
    while let Some(node) = stack.pop() {
        let zero_width =
            node.is_named() && node.start_byte() == node.end_byte() && node.kind() != "source_file";
        if node.is_error() || node.is_missing() || zero_width {
            let line = node.start_position().row + 1;
            let text = source.lines().nth(line - 1).unwrap_or("");
            problems.push(format!("{} at line {line}: {text}", node.kind()));
        }
        let mut cursor = node.walk();
        stack.extend(node.children(&mut cursor));
    }
    problems
}

fn dart_files(files: &FileSet) -> Vec<(&str, &str)> {
    files.iter().filter(|(p, _)| p.ends_with(".dart")).collect()
}

#[test]
fn every_generated_dart_file_parses_cleanly() {
    for spec in [support::ranger_spec(), KEYWORD_SPEC.to_owned()] {
        let files = support::build(&spec);
        let dart = dart_files(&files);
        assert_eq!(dart.len(), 3, "tables, sync statements, database");
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

/// What Drift's model of one table class says.
#[derive(Debug, Default)]
struct DriftTable {
    sql_name: String,
    data_class: String,
    columns: Vec<DriftColumn>,
    primary_key: Vec<String>,
    indexes: Vec<(String, Vec<String>, bool)>,
}

#[derive(Debug, Default)]
struct DriftColumn {
    getter: String,
    sql_name: String,
    sql_type: &'static str,
    boolean: bool,
    nullable: bool,
    default: Option<String>,
    check: Option<String>,
    references: Option<(String, String)>,
}

fn text<'a>(node: Node, source: &'a str) -> &'a str {
    &source[node.byte_range()]
}

/// The value of a Dart single-quoted string literal node.
fn string_value(node: Node, source: &str) -> String {
    let raw = text(node, source);
    let inner = raw.trim_start_matches('r').trim_matches('\'');
    inner
        .replace("\\'", "'")
        .replace("\\$", "$")
        .replace("\\\\", "\\")
}

fn named_children(node: Node) -> Vec<Node> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor).collect()
}

fn find_all<'t>(node: Node<'t>, kind: &str, out: &mut Vec<Node<'t>>) {
    if node.kind() == kind {
        out.push(node);
    }
    for child in named_children(node) {
        find_all(child, kind, out);
    }
}

/// Steps of a column builder chain, starter first: `[("text", args), ("named", args), ...]`.
fn chain<'t>(mut node: Node<'t>, source: &str) -> Vec<(String, Option<Node<'t>>)> {
    let mut steps = Vec::new();
    // The chain ends with `()`: a call of a call.
    if let Some(function) = node.child_by_field_name("function")
        && function.kind() == "call_expression"
    {
        node = function;
    }
    loop {
        let function = node.child_by_field_name("function").unwrap();
        let arguments = node.child_by_field_name("arguments");
        match function.kind() {
            "member_expression" => {
                let property = function.child_by_field_name("property").unwrap();
                steps.push((text(property, source).to_owned(), arguments));
                node = function.child_by_field_name("object").unwrap();
            }
            "identifier" => {
                steps.push((text(function, source).to_owned(), arguments));
                break;
            }
            other => panic!("unexpected {other} in a column builder"),
        }
    }
    steps.reverse();
    steps
}

/// Drift's SQL literal for a `Constant(...)` argument (`mapToSqlLiteral`).
fn constant_sql(node: Node, source: &str) -> String {
    match node.kind() {
        "string_literal" => format!("'{}'", string_value(node, source).replace('\'', "''")),
        "true" => "1".to_owned(),
        "false" => "0".to_owned(),
        _ => text(node, source).to_owned(),
    }
}

fn read_tables(source: &str) -> BTreeMap<String, DriftTable> {
    let tree = parse(source);
    let mut classes = Vec::new();
    find_all(tree.root_node(), "class_declaration", &mut classes);
    let mut tables = BTreeMap::new();
    for class in classes {
        let superclass = class
            .child_by_field_name("superclass")
            .map(|s| text(s, source).to_owned());
        if superclass.as_deref() != Some("extends Table") {
            continue;
        }
        let class_name = text(class.child_by_field_name("name").unwrap(), source).to_owned();
        let mut table = DriftTable::default();
        for annotation in named_children(class)
            .into_iter()
            .filter(|n| n.kind() == "annotation")
        {
            let name = text(annotation.child_by_field_name("name").unwrap(), source);
            let mut strings = Vec::new();
            find_all(annotation, "string_literal", &mut strings);
            match name {
                "DataClassName" => table.data_class = string_value(strings[0], source),
                "TableIndex" => {
                    let mut symbols = Vec::new();
                    find_all(annotation, "symbol_literal", &mut symbols);
                    let columns = symbols
                        .iter()
                        .map(|s| text(*s, source).trim_start_matches('#').to_owned())
                        .collect();
                    let unique = text(annotation, source).contains("unique: true");
                    table
                        .indexes
                        .push((string_value(strings[0], source), columns, unique));
                }
                other => panic!("unexpected annotation @{other}"),
            }
        }
        let mut getters = Vec::new();
        find_all(
            class.child_by_field_name("body").unwrap(),
            "method_declaration",
            &mut getters,
        );
        for getter in getters {
            let signature = getter.child_by_field_name("signature").unwrap();
            let mut names = Vec::new();
            find_all(signature, "getter_signature", &mut names);
            let name = text(names[0].child_by_field_name("name").unwrap(), source).to_owned();
            let body = named_children(getter.child_by_field_name("body").unwrap())[0];
            match name.as_str() {
                "tableName" => table.sql_name = string_value(body, source),
                "primaryKey" => {
                    table.primary_key = named_children(body)
                        .iter()
                        .map(|n| text(*n, source).to_owned())
                        .collect()
                }
                _ => table.columns.push(read_column(&name, body, source)),
            }
        }
        tables.insert(class_name, table);
    }
    tables
}

fn read_column(getter: &str, body: Node, source: &str) -> DriftColumn {
    let mut column = DriftColumn {
        getter: getter.to_owned(),
        ..DriftColumn::default()
    };
    for (step, args) in chain(body, source) {
        let args: Vec<Node> = args.map(named_children).unwrap_or_default();
        match step.as_str() {
            "text" => column.sql_type = "TEXT",
            "integer" => column.sql_type = "INTEGER",
            "real" => column.sql_type = "REAL",
            "blob" => column.sql_type = "BLOB",
            "boolean" => {
                column.sql_type = "INTEGER";
                column.boolean = true;
            }
            "named" => column.sql_name = string_value(args[0], source),
            "nullable" => column.nullable = true,
            "map" => {}
            "withDefault" => {
                let object = args[0];
                let kind = text(object.child_by_field_name("type").unwrap(), source);
                let value = named_children(object.child_by_field_name("arguments").unwrap())[0];
                column.default = Some(match kind {
                    "Constant" => constant_sql(value, source),
                    "CustomExpression" => format!("({})", string_value(value, source)),
                    other => panic!("unexpected default {other}"),
                });
            }
            "check" => {
                // `<getter>.isIn(const [...])` -> `CHECK("<sql name>" IN (...))`
                let mut lists = Vec::new();
                find_all(args[0], "list_literal", &mut lists);
                let values: Vec<String> = named_children(lists[0])
                    .iter()
                    .map(|v| constant_sql(*v, source))
                    .collect();
                column.check = Some(values.join(", "));
            }
            "references" => {
                let class = text(args[0], source).to_owned();
                let getter = text(args[1], source).trim_start_matches('#').to_owned();
                column.references = Some((class, getter));
            }
            other => panic!("unexpected builder step `{other}` on {getter}"),
        }
    }
    column
}

/// The DDL Drift's runtime writes for a table (`Migrator._writeCreateTable`), minus
/// `IF NOT EXISTS` (SQLite drops it from `sqlite_master`).
fn drift_create_table(table: &DriftTable, all: &BTreeMap<String, DriftTable>) -> String {
    let mut parts = Vec::new();
    for c in &table.columns {
        let mut def = format!("\"{}\" {}", c.sql_name, c.sql_type);
        def.push_str(if c.nullable { " NULL" } else { " NOT NULL" });
        if let Some(default) = &c.default {
            def.push_str(&format!(" DEFAULT {default}"));
        }
        if let Some(check) = &c.check {
            def.push_str(&format!(" CHECK(\"{}\" IN ({check}))", c.sql_name));
        }
        if c.boolean {
            def.push_str(&format!(" CHECK (\"{}\" IN (0, 1))", c.sql_name));
        }
        if let Some((class, getter)) = &c.references {
            let target = &all[class];
            let column = target.columns.iter().find(|t| &t.getter == getter).unwrap();
            def.push_str(&format!(
                " REFERENCES {} ({})",
                target.sql_name, column.sql_name
            ));
        }
        parts.push(def);
    }
    let pk: Vec<String> = table
        .primary_key
        .iter()
        .map(|g| {
            format!(
                "\"{}\"",
                table
                    .columns
                    .iter()
                    .find(|c| &c.getter == g)
                    .unwrap()
                    .sql_name
            )
        })
        .collect();
    parts.push(format!("PRIMARY KEY ({})", pk.join(", ")));
    format!("CREATE TABLE \"{}\" ({})", table.sql_name, parts.join(", "))
}

/// Token-level normal form: identifiers unquoted, whitespace and a trailing `;` ignored,
/// keywords upper-cased; string literals kept as they are. Equal normal forms parse to equal
/// syntax trees, which is what Drift's schema verifier compares.
fn normalize(sql: &str) -> String {
    let mut out = String::new();
    let mut chars = sql.trim().trim_end_matches(';').chars().peekable();
    let mut pending_space = false;
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                if pending_space && !out.is_empty() {
                    out.push(' ');
                }
                pending_space = false;
                out.push(c);
                while let Some(d) = chars.next() {
                    out.push(d);
                    if d == '\'' {
                        if chars.peek() == Some(&'\'') {
                            out.push(chars.next().unwrap());
                        } else {
                            break;
                        }
                    }
                }
            }
            '"' => {}
            '-' if chars.peek() == Some(&'-') => {
                for d in chars.by_ref() {
                    if d == '\n' {
                        break;
                    }
                }
                pending_space = true;
            }
            c if c.is_whitespace() => pending_space = true,
            '(' | ')' | ',' | '.' | '=' => {
                out.push(c);
                pending_space = false;
            }
            c => {
                let last = out.chars().last();
                if pending_space && !out.is_empty() && !matches!(last, Some('(' | ',' | '.' | '='))
                {
                    out.push(' ');
                }
                pending_space = false;
                out.push(c.to_ascii_uppercase());
            }
        }
    }
    out
}

fn sqlite_master(device: &Device) -> BTreeMap<String, String> {
    let mut stmt = device
        .conn
        .prepare("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn check_schema_matches_drift(spec: &str) {
    let files = support::build(spec);
    let device = Device::from_build(&files);
    let master = sqlite_master(&device);
    let tables = read_tables(files.get("dart/lib/src/tables.dart").unwrap());
    let schema = support::schema(spec);
    assert_eq!(tables.len(), schema.entities.len());
    for table in tables.values() {
        let expected = drift_create_table(table, &tables);
        let actual = &master[&table.sql_name];
        assert_eq!(
            normalize(actual),
            normalize(&expected),
            "table {}",
            table.sql_name
        );
        for (name, getters, unique) in &table.indexes {
            let columns: Vec<&str> = getters
                .iter()
                .map(|g| {
                    table
                        .columns
                        .iter()
                        .find(|c| &c.getter == g)
                        .unwrap()
                        .sql_name
                        .as_str()
                })
                .collect();
            let expected = format!(
                "CREATE {}INDEX {name} ON {} ({})",
                if *unique { "UNIQUE " } else { "" },
                table.sql_name,
                columns.join(", ")
            );
            assert_eq!(
                normalize(&master[name]),
                normalize(&expected),
                "index {name}"
            );
        }
    }
    // Every object of the device schema comes from Drift's view of the app: a table class, a
    // `@TableIndex`, or a statement of sync.drift. Nothing is left over.
    let drift_file = files.get("dart/lib/src/sync.drift").unwrap();
    let mut declared: Vec<String> = tables.values().map(|t| t.sql_name.clone()).collect();
    declared.extend(
        tables
            .values()
            .flat_map(|t| t.indexes.iter().map(|i| i.0.clone())),
    );
    for statement in drift_statements(drift_file) {
        let name = statement_name(&statement);
        let actual = master
            .get(&name)
            .unwrap_or_else(|| panic!("{name} of sync.drift is not in the database"));
        assert_eq!(normalize(actual), normalize(&statement), "{name}");
        declared.push(name);
    }
    let mut in_database: Vec<&String> = master.keys().collect();
    in_database.sort();
    declared.sort();
    assert_eq!(in_database, declared.iter().collect::<Vec<_>>());
}

/// The statements of a `.drift` file (separated by blank lines, after the import).
fn drift_statements(text: &str) -> Vec<String> {
    text.split("\n\n")
        .map(str::trim)
        .filter(|s| {
            !s.is_empty()
                && !s
                    .lines()
                    .all(|l| l.starts_with("--") || l.starts_with("import "))
        })
        .map(str::to_owned)
        .collect()
}

fn statement_name(statement: &str) -> String {
    let code: Vec<&str> = statement
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect();
    let joined = code.join(" ");
    let words: Vec<&str> = joined
        .split_whitespace()
        .map(|w| w.trim_matches('"'))
        .collect();
    let at = words
        .iter()
        .position(|w| matches!(*w, "TABLE" | "INDEX" | "TRIGGER"))
        .unwrap();
    words[at + 1].to_owned()
}

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
