//! A model of Drift's DDL rules, for checking generated Dart without a Dart SDK: it reads the
//! generated table classes with tree-sitter's Dart grammar and predicts the statements Drift's
//! `createAll()` runs (drift 2.22's `Migrator` and `GeneratedColumn`, summarised in
//! docs/drift.md), then compares them with a real database as Drift's schema verifier does.
#![allow(dead_code)]

use std::collections::BTreeMap;

use offgen_codegen::output::FileSet;
use tree_sitter::{Node, Parser, Tree};

use super::Device;

pub fn parse(source: &str) -> Tree {
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_dart::LANGUAGE.into())
        .unwrap();
    parser.parse(source, None).unwrap()
}

/// Error nodes, missing nodes, and zero-width named nodes (a missing hidden token can leave
/// `has_error()` false).
pub fn syntax_problems(tree: &Tree, source: &str) -> Vec<String> {
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

pub fn dart_files(files: &FileSet) -> Vec<(&str, &str)> {
    files.iter().filter(|(p, _)| p.ends_with(".dart")).collect()
}

/// What Drift's model of one table class says.
#[derive(Debug, Default)]
pub struct DriftTable {
    pub sql_name: String,
    pub data_class: String,
    pub columns: Vec<DriftColumn>,
    pub primary_key: Vec<String>,
    pub indexes: Vec<(String, Vec<String>, bool)>,
}

#[derive(Debug, Default)]
pub struct DriftColumn {
    pub getter: String,
    pub sql_name: String,
    pub sql_type: &'static str,
    pub boolean: bool,
    pub nullable: bool,
    pub default: Option<String>,
    pub check: Option<String>,
    pub references: Option<(String, String)>,
}

pub fn text<'a>(node: Node, source: &'a str) -> &'a str {
    &source[node.byte_range()]
}

/// The value of a Dart single-quoted string literal node.
pub fn string_value(node: Node, source: &str) -> String {
    let raw = text(node, source);
    let inner = raw.trim_start_matches('r').trim_matches('\'');
    inner
        .replace("\\'", "'")
        .replace("\\$", "$")
        .replace("\\\\", "\\")
}

pub fn named_children(node: Node) -> Vec<Node> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor).collect()
}

pub fn find_all<'t>(node: Node<'t>, kind: &str, out: &mut Vec<Node<'t>>) {
    if node.kind() == kind {
        out.push(node);
    }
    for child in named_children(node) {
        find_all(child, kind, out);
    }
}

/// Steps of a column builder chain, starter first: `[("text", args), ("named", args), ...]`.
pub fn chain<'t>(mut node: Node<'t>, source: &str) -> Vec<(String, Option<Node<'t>>)> {
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
pub fn constant_sql(node: Node, source: &str) -> String {
    match node.kind() {
        "string_literal" => format!("'{}'", string_value(node, source).replace('\'', "''")),
        "true" => "1".to_owned(),
        "false" => "0".to_owned(),
        _ => text(node, source).to_owned(),
    }
}

pub fn read_tables(source: &str) -> BTreeMap<String, DriftTable> {
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

pub fn read_column(getter: &str, body: Node, source: &str) -> DriftColumn {
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
pub fn drift_create_table(table: &DriftTable, all: &BTreeMap<String, DriftTable>) -> String {
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
pub fn normalize(sql: &str) -> String {
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

pub fn sqlite_master(device: &Device) -> BTreeMap<String, String> {
    let mut stmt = device
        .conn()
        .prepare("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

pub fn check_schema_matches_drift(spec: &str) {
    let files = super::build(spec);
    let device = Device::from_build(&files);
    check_database_matches_drift(&files, &device);
}

/// The database's schema is the one Drift expects from the build's Dart: tables (columns by
/// name, as the verifier matches them, then table constraints in order), `@TableIndex`
/// indexes, and every statement of `sync.drift`, with nothing else in the database.
pub fn check_database_matches_drift(files: &FileSet, device: &Device) {
    let master = sqlite_master(device);
    let tables = read_tables(files.get("dart/lib/src/tables.dart").unwrap());
    for table in tables.values() {
        let expected = drift_create_table(table, &tables);
        let actual = &master[&table.sql_name];
        assert_eq!(
            table_parts(actual),
            table_parts(&expected),
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
    assert_eq!(
        in_database,
        declared.iter().collect::<Vec<_>>(),
        "objects Drift does not know of"
    );
}

/// A CREATE TABLE as (table name, column definitions sorted, table constraints in order).
pub fn table_parts(sql: &str) -> (String, Vec<String>, Vec<String>) {
    let normal = normalize(sql);
    let open = normal.find('(').unwrap();
    let head = normal[..open].to_owned();
    let inner = &normal[open + 1..normal.len() - 1];
    let mut parts = Vec::new();
    let (mut depth, mut quoted, mut start) = (0, false, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                parts.push(inner[start..i].trim().to_owned());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(inner[start..].trim().to_owned());
    let is_constraint = |p: &String| {
        [
            "PRIMARY KEY",
            "UNIQUE",
            "CHECK",
            "FOREIGN KEY",
            "CONSTRAINT",
        ]
        .iter()
        .any(|k| p.starts_with(k))
    };
    let (constraints, mut columns): (Vec<String>, Vec<String>) =
        parts.into_iter().partition(is_constraint);
    columns.sort();
    (head, columns, constraints)
}

/// The statements of a `.drift` file (separated by blank lines, after the import).
pub fn drift_statements(text: &str) -> Vec<String> {
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

pub fn statement_name(statement: &str) -> String {
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
        .position(|w| matches!(*w, "TABLE" | "INDEX" | "TRIGGER" | "VIEW"))
        .unwrap();
    words[at + 1].to_owned()
}
