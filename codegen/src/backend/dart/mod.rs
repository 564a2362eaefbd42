//! The Dart (Drift) package: table classes, the sync machinery as a `.drift` file, the
//! migration steps and sync statements as constants, and the database class.
//!
//! Table classes are rendered from the same [`Column`] values as the device DDL, so the
//! CREATE TABLE Drift derives from them is the one the migrations run.

use askama::Template;

use crate::backend::client::columns::{Column, ColumnDefault, SqlType, columns};
use crate::backend::client::{Migration, sync_sql};
use crate::model::{Entity, FieldType, Schema};
use crate::output::{FileSet, GENERATED_MARKER};

/// A Dart string literal: single-quoted, with `\`, `'`, `$` and line breaks escaped.
pub fn string_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '$' => out.push_str("\\$"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            _ => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A Dart literal for a (possibly multi-line) SQL text: a raw triple-quoted string when it can
/// be one, so the SQL reads as it does in the `.sql` files. The closing quotes go on their own
/// line: SQL ending in a string literal (`'x'`) would otherwise run into them.
fn sql_literal(sql: &str) -> String {
    if sql.contains("'''") {
        string_literal(sql)
    } else {
        format!("r'''\n{sql}\n'''")
    }
}

/// One-line doc text (Dart `///` comments cannot span lines unprefixed).
fn one_line(doc: &str) -> String {
    doc.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Dart reserved words that a spec enum value may spell; such a member gets a trailing `_`.
fn enum_member(camel: &str) -> String {
    if crate::validate::identifiers::DART_RESERVED.contains(&camel) {
        format!("{camel}_")
    } else {
        camel.to_owned()
    }
}

struct EnumView {
    name: String,
    doc: String,
    values: Vec<EnumValueView>,
}

struct EnumValueView {
    member: String,
    literal: String,
}

struct ColumnView {
    getter: String,
    getter_type: &'static str,
    builder: String,
    doc: Option<String>,
}

struct IndexView {
    name: String,
    columns: String,
    unique: bool,
}

struct TableView {
    class: String,
    data_class: String,
    sql_name: String,
    doc: String,
    indexes: Vec<IndexView>,
    columns: Vec<ColumnView>,
}

#[derive(Template)]
#[template(path = "dart/tables.dart", escape = "none")]
struct TablesDart<'a> {
    marker: &'a str,
    app: &'a str,
    enums: Vec<EnumView>,
    tables: Vec<TableView>,
}

#[derive(Template)]
#[template(path = "dart/sync.drift", escape = "none")]
struct SyncDrift<'a> {
    marker: &'a str,
    app: &'a str,
    statements: Vec<String>,
}

struct StepView {
    title: String,
    statements: Vec<String>,
}

struct StatementView {
    dart_name: String,
    summary: String,
    literal: String,
}

#[derive(Template)]
#[template(path = "dart/sync_sql.dart", escape = "none")]
struct SyncSqlDart<'a> {
    marker: &'a str,
    app: &'a str,
    migrations: Vec<StepView>,
    statements: Vec<StatementView>,
}

#[derive(Template)]
#[template(path = "dart/database.dart", escape = "none")]
struct DatabaseDart<'a> {
    marker: &'a str,
    app: &'a str,
    file_stem: &'a str,
    database_class: &'a str,
    table_classes: String,
}

#[derive(Template)]
#[template(path = "dart/pubspec.yaml", escape = "none")]
struct Pubspec<'a> {
    marker: &'a str,
    app: &'a str,
    package: &'a str,
}

#[derive(Template)]
#[template(path = "dart/build.yaml", escape = "none")]
struct BuildYaml<'a> {
    marker: &'a str,
}

/// The Drift column builder that makes Drift write exactly `column.definition()`.
fn builder(schema: &Schema, column: &Column) -> String {
    let start = match (column.ty, column.boolean) {
        (_, true) => "boolean()",
        (SqlType::Integer, false) => "integer()",
        (SqlType::Text, false) => "text()",
        (SqlType::Real, false) => "real()",
        (SqlType::Blob, false) => "blob()",
    };
    let mut out = format!("{start}.named({})", string_literal(&column.name));
    match &column.default {
        Some(ColumnDefault::Literal { dart, .. }) => {
            out.push_str(&format!(".withDefault(const Constant({dart}))"))
        }
        Some(ColumnDefault::Expression(sql)) => out.push_str(&format!(
            ".withDefault(const CustomExpression({}))",
            string_literal(sql)
        )),
        None => {}
    }
    if let Some(values) = &column.check_in {
        let list: Vec<String> = values.iter().map(|v| string_literal(v)).collect();
        out.push_str(&format!(
            ".check({}.isIn(const [{}]))",
            column.dart,
            list.join(", ")
        ));
    }
    if let Some(table) = &column.references {
        let class = schema
            .entities
            .iter()
            .find(|e| e.table.sql() == table)
            .map_or_else(|| table.clone(), |e| e.dart_table_class.clone());
        out.push_str(&format!(".references({class}, #id)"));
    }
    if let Some(converter) = &column.converter {
        out.push_str(&format!(".map({converter})"));
    }
    if column.nullable {
        out.push_str(".nullable()");
    }
    out
}

fn getter_type(column: &Column) -> &'static str {
    match (column.ty, column.boolean) {
        (_, true) => "BoolColumn",
        (SqlType::Integer, false) => "IntColumn",
        (SqlType::Text, false) => "TextColumn",
        (SqlType::Real, false) => "RealColumn",
        (SqlType::Blob, false) => "BlobColumn",
    }
}

fn bookkeeping_doc(name: &str) -> Option<String> {
    let doc = match name {
        "id" => "UUID, made on the device when the row is created; the row's only identity.",
        "version" => {
            "The server's version of this row when this device last heard of it (0: never synced)."
        }
        "updated_at" => "When the row last changed on the server (or was created here).",
        "deleted_at" => {
            "Set when the row is deleted (a tombstone, kept so the delete reaches every device)."
        }
        "sync_status" => {
            "pending, syncing, synced, failed or conflict; maintained by the sync triggers."
        }
        "sync_error" => "Why the last sync of this row failed, if it did.",
        _ => return None,
    };
    Some(doc.to_owned())
}

fn table_view(schema: &Schema, entity: &Entity) -> TableView {
    let columns = columns(schema, entity)
        .iter()
        .map(|c| ColumnView {
            getter: c.dart.clone(),
            getter_type: getter_type(c),
            builder: builder(schema, c),
            doc: match c.field() {
                Some(f) => f.doc.as_deref().map(one_line),
                None => bookkeeping_doc(&c.name),
            },
        })
        .collect();
    let indexes = entity
        .indexes
        .iter()
        .map(|i| IndexView {
            name: i.name.clone(),
            columns: i
                .fields
                .iter()
                .filter_map(|f| entity.field(f))
                .map(|f| format!("#{}", f.name.dart()))
                .collect::<Vec<_>>()
                .join(", "),
            unique: i.unique,
        })
        .collect();
    TableView {
        class: entity.dart_table_class.clone(),
        data_class: entity.name.pascal.clone(),
        sql_name: entity.table.sql().to_owned(),
        doc: entity
            .doc
            .as_deref()
            .map(one_line)
            .unwrap_or_else(|| format!("The `{}` entity.", entity.name.spec)),
        indexes,
        columns,
    }
}

fn enum_views(schema: &Schema) -> Vec<EnumView> {
    let mut out = vec![EnumView {
        name: "SyncStatus".to_owned(),
        doc: "Where a row stands with the server.".to_owned(),
        values: crate::backend::client::columns::SYNC_STATUSES
            .iter()
            .map(|s| EnumValueView {
                member: (*s).to_owned(),
                literal: string_literal(s),
            })
            .collect(),
    }];
    for entity in &schema.entities {
        for field in &entity.fields {
            if let FieldType::Enum { dart_type, values } = &field.ty {
                out.push(EnumView {
                    name: dart_type.clone(),
                    doc: format!("Values of `{}.{}`.", entity.name.spec, field.name.spec),
                    values: values
                        .iter()
                        .map(|v| EnumValueView {
                            member: enum_member(&v.camel),
                            literal: string_literal(&v.spec),
                        })
                        .collect(),
                });
            }
        }
    }
    out
}

/// The Dart package's files under `dart/`.
pub fn generate(schema: &Schema, migrations: &[Migration], files: &mut FileSet) {
    let app = schema.app.spec.as_str();
    let file_stem = format!("{}_database", schema.app.snake);
    let database_class = format!("{}Database", schema.app.pascal);
    let render = |t: &dyn DynRender| t.render_text();

    let tables = TablesDart {
        marker: GENERATED_MARKER,
        app,
        enums: enum_views(schema),
        tables: schema
            .entities
            .iter()
            .map(|e| table_view(schema, e))
            .collect(),
    };
    files.insert("dart/lib/src/tables.dart", render(&tables));

    let mut drift_statements = crate::backend::client::statements::support_tables();
    // The initial meta values are data, not schema; Drift files hold only declarations.
    drift_statements.retain(|s| !s.starts_with("INSERT"));
    for entity in &schema.entities {
        drift_statements.extend(crate::backend::client::statements::triggers(schema, entity));
    }
    let drift = SyncDrift {
        marker: GENERATED_MARKER,
        app,
        statements: drift_statements,
    };
    files.insert("dart/lib/src/sync.drift", render(&drift));

    let sync_sql = SyncSqlDart {
        marker: GENERATED_MARKER,
        app,
        migrations: migrations
            .iter()
            .map(|m| StepView {
                title: m.title(),
                statements: m.statements.iter().map(|s| sql_literal(s)).collect(),
            })
            .collect(),
        statements: sync_sql::named_statements(schema)
            .into_iter()
            .map(|s| StatementView {
                dart_name: crate::model::Name::new(&s.name).camel,
                summary: one_line(&s.summary),
                literal: sql_literal(&s.sql),
            })
            .collect(),
    };
    files.insert("dart/lib/src/sync_sql.dart", render(&sync_sql));

    let database = DatabaseDart {
        marker: GENERATED_MARKER,
        app,
        file_stem: &file_stem,
        database_class: &database_class,
        table_classes: schema
            .entities
            .iter()
            .map(|e| e.dart_table_class.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    };
    files.insert(format!("dart/lib/{file_stem}.dart"), render(&database));
    let package = format!("{}_db", schema.app.snake);
    files.insert(
        "dart/pubspec.yaml",
        render(&Pubspec {
            marker: GENERATED_MARKER,
            app,
            package: &package,
        }),
    );
    files.insert(
        "dart/build.yaml",
        render(&BuildYaml {
            marker: GENERATED_MARKER,
        }),
    );
}

/// Renders any of this module's templates to text ending in one newline.
trait DynRender {
    fn render_text(&self) -> String;
}

impl<T: Template> DynRender for T {
    fn render_text(&self) -> String {
        let mut text = self
            .render()
            .expect("Dart templates only read prepared strings");
        let trimmed = text.trim_end().len();
        text.truncate(trimmed);
        text.push('\n');
        text
    }
}
