//! The Dart (Drift) package: table classes, the sync machinery as a `.drift` file, the
//! migration steps and sync statements as constants, and the database class.
//!
//! Table classes are rendered from the same [`Column`] values as the device DDL, so the
//! CREATE TABLE Drift derives from them is the one the migrations run.

use askama::Template;

use offgen_runtime::scripts::{Decoding, RecordKey, pulled_row_statements};

use crate::backend::client::{Migration, sync_sql};
use crate::backend::device_columns::{Column, ColumnDefault, Role, SqlType, columns};
use crate::backend::literals::dart_string;
use crate::model::{Entity, FieldType, Schema};
use crate::output::{FileSet, GENERATED_MARKER};
use offgen_runtime::bookkeeping::SYNC_STATUSES;

/// A Dart literal for a (possibly multi-line) SQL text: a raw triple-quoted string when it can
/// be one, so the SQL reads as it does in the `.sql` files. The closing quotes go on their own
/// line: SQL ending in a string literal (`'x'`) would otherwise run into them.
fn sql_literal(sql: &str) -> String {
    if sql.contains("'''") {
        dart_string(sql)
    } else {
        format!("r'''\n{sql}\n'''")
    }
}

/// `sql` with each `:name` parameter replaced by `?N`, N its 1-based place in `params`: Drift
/// binds variables by position, and SQLite numbers named parameters by first appearance, which
/// is not the order `-- params:` lists. String literals, quoted identifiers and comments are
/// left alone. Every parameter must occur, and nothing else may look like one.
pub fn numbered_parameters(sql: &str, params: &[&str]) -> Result<String, String> {
    let mut out = String::with_capacity(sql.len());
    let mut used = vec![false; params.len()];
    let mut chars = sql.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '\'' | '"' => {
                out.push(c);
                for (_, d) in chars.by_ref() {
                    out.push(d);
                    if d == c {
                        break;
                    }
                }
            }
            '-' if sql[at..].starts_with("--") => {
                out.push(c);
                for (_, d) in chars.by_ref() {
                    out.push(d);
                    if d == '\n' {
                        break;
                    }
                }
            }
            ':' if chars
                .peek()
                .is_some_and(|(_, d)| d.is_ascii_alphabetic() || *d == '_') =>
            {
                let start = at + 1;
                let mut end = start;
                while let Some((i, d)) = chars.peek().copied() {
                    if d.is_ascii_alphanumeric() || d == '_' {
                        end = i + d.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                let name = &sql[start..end];
                let index = params
                    .iter()
                    .position(|p| *p == name)
                    .ok_or_else(|| format!("`:{name}` is not among its params"))?;
                used[index] = true;
                out.push_str(&format!("?{}", index + 1));
            }
            _ => out.push(c),
        }
    }
    if let Some(unused) = used.iter().position(|u| !u) {
        return Err(format!("param `:{}` does not occur", params[unused]));
    }
    Ok(out)
}

/// The table a statement writes (`INSERT INTO`, `UPDATE`, `DELETE FROM`), if any.
fn written_table(sql: &str) -> Option<String> {
    let words: Vec<&str> = sql.split_whitespace().take(5).collect();
    let table = match words.as_slice() {
        ["INSERT", "INTO", t, ..] | ["INSERT", "OR", _, "INTO", t] | ["DELETE", "FROM", t, ..] => {
            *t
        }
        ["UPDATE", t, ..] => *t,
        _ => return None,
    };
    Some(table.trim_matches('"').to_owned())
}

/// One-line doc text (Dart `///` comments cannot span lines unprefixed).
fn one_line(doc: &str) -> String {
    doc.split_whitespace().collect::<Vec<_>>().join(" ")
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
    attachments: bool,
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
    name: String,
    summary: String,
    literal: String,
    params: String,
    writes: String,
}

#[derive(Template)]
#[template(path = "dart/sync_sql.dart", escape = "none")]
struct SyncSqlDart<'a> {
    marker: &'a str,
    app: &'a str,
    migrations: Vec<StepView>,
    statements: Vec<StatementView>,
    rows: Vec<PulledRowView>,
}

/// A pulled-row statement for `pulledRowStatements`: its parameters as `RecordParam`s, read
/// back from the notes of its `-- params:` by the runtime's own reader.
struct PulledRowView {
    entity: String,
    dart_name: String,
    params: Vec<String>,
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

/// The sync client library and its parts: templates without per-app logic.
#[derive(Template)]
#[template(path = "dart/sync_client.dart", escape = "none")]
struct SyncClientDart<'a> {
    marker: &'a str,
    app: &'a str,
    schema_step_header: &'a str,
    schema_ahead_problem: &'a str,
    upgrade_required_problem: &'a str,
    attachments: bool,
}

/// The attachment loop, in apps with attachment fields.
#[derive(Template)]
#[template(path = "dart/sync_attachments.dart", escape = "none")]
struct SyncAttachmentsDart<'a> {
    marker: &'a str,
    app: &'a str,
    attachment_path_prefix: &'a str,
    attachment_max_bytes_header: &'a str,
}

#[derive(Template)]
#[template(path = "dart/sync_device.dart", escape = "none")]
struct SyncDeviceDart<'a> {
    marker: &'a str,
    app: &'a str,
    attachments: bool,
}

#[derive(Template)]
#[template(path = "dart/sync_json.dart", escape = "none")]
struct SyncJsonDart<'a> {
    marker: &'a str,
}

#[derive(Template)]
#[template(path = "dart/sync_transport.dart", escape = "none")]
struct SyncTransportDart<'a> {
    marker: &'a str,
    app: &'a str,
    attachments: bool,
}

#[derive(Template)]
#[template(path = "dart/connection.dart", escape = "none")]
struct ConnectionDart<'a> {
    marker: &'a str,
    app: &'a str,
    file_stem: &'a str,
    database_class: &'a str,
}

#[derive(Template)]
#[template(path = "dart/pubspec.yaml", escape = "none")]
struct Pubspec<'a> {
    marker: &'a str,
    app: &'a str,
    package: &'a str,
    attachments: bool,
}

#[derive(Template)]
#[template(path = "dart/build.yaml", escape = "none")]
struct BuildYaml<'a> {
    marker: &'a str,
}

/// The Drift column builder that makes Drift write exactly `column.definition()`.
fn builder(column: &Column) -> String {
    let start = match (column.ty, column.boolean) {
        (_, true) => "boolean()",
        (SqlType::Integer, false) => "integer()",
        (SqlType::Text, false) => "text()",
        (SqlType::Real, false) => "real()",
        (SqlType::Blob, false) => "blob()",
    };
    let mut out = format!("{start}.named({})", dart_string(&column.name));
    match &column.default {
        Some(ColumnDefault::Literal { dart, .. }) => {
            out.push_str(&format!(".withDefault(const Constant({dart}))"))
        }
        Some(ColumnDefault::Expression(sql)) => out.push_str(&format!(
            ".withDefault(const CustomExpression({}))",
            dart_string(sql)
        )),
        None => {}
    }
    if let Some(values) = &column.check_in {
        let list: Vec<String> = values.iter().map(|v| dart_string(v)).collect();
        out.push_str(&format!(
            ".check({}.isIn(const [{}]))",
            column.dart,
            list.join(", ")
        ));
    }
    if let Some(target) = column.references {
        out.push_str(&format!(".references({}, #id)", target.dart_table_class));
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

/// The doc comment of a column: its field's, or what the bookkeeping column is for.
fn column_doc(column: &Column) -> Option<String> {
    let doc = match column.role {
        Role::Field(f) => return f.doc.as_deref().map(one_line),
        Role::Id => "UUID, made on the device when the row is created; the row's only identity.",
        Role::Version => {
            "The server's version of this row when this device last heard of it (0: never synced)."
        }
        Role::UpdatedAt => "When the row last changed on the server (or was created here).",
        Role::DeletedAt => {
            "Set when the row is deleted (a tombstone, kept so the delete reaches every device)."
        }
        Role::SyncStatus => {
            "pending, syncing, synced, failed or conflict; maintained by the sync triggers."
        }
        Role::SyncError => "Why the last sync of this row failed, if it did.",
    };
    Some(doc.to_owned())
}

fn table_view(schema: &Schema, entity: &Entity) -> TableView {
    let columns = columns(schema, entity)
        .iter()
        .map(|c| ColumnView {
            getter: c.dart.clone(),
            getter_type: getter_type(c),
            builder: builder(c),
            doc: column_doc(c),
        })
        .collect();
    let indexes = entity
        .indexes
        .iter()
        .map(|i| IndexView {
            name: i.name.clone(),
            columns: entity
                .index_fields(i)
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
        values: SYNC_STATUSES
            .iter()
            .map(|s| EnumValueView {
                member: (*s).to_owned(),
                literal: dart_string(s),
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
                            member: v.dart_enum_member(),
                            literal: dart_string(&v.spec),
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
    let attachments = crate::backend::client::statements::has_attachments(schema);

    let tables = TablesDart {
        marker: GENERATED_MARKER,
        app,
        attachments: crate::backend::client::statements::has_attachments(schema),
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
    if crate::backend::client::statements::has_attachments(schema) {
        drift_statements.extend(crate::backend::client::statements::attachment_tables());
    }
    for entity in &schema.entities {
        drift_statements.extend(crate::backend::client::statements::triggers(schema, entity));
    }
    let drift = SyncDrift {
        marker: GENERATED_MARKER,
        app,
        statements: drift_statements,
    };
    files.insert("dart/lib/src/sync.drift", render(&drift));

    let named = sync_sql::named_statements(schema);
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
        rows: pulled_row_statements(&named)
            .expect("sync.sql as rendered is readable")
            .into_iter()
            .map(|row| PulledRowView {
                entity: dart_string(&row.entity),
                dart_name: crate::model::Name::new(&row.name).camel,
                params: row
                    .params
                    .iter()
                    .map(|p| {
                        let (key, data_key) = match &p.key {
                            RecordKey::Id => ("id", "null".to_owned()),
                            RecordKey::Version => ("version", "null".to_owned()),
                            RecordKey::UpdatedAt => ("updatedAt", "null".to_owned()),
                            RecordKey::Data(key) => ("data", dart_string(key)),
                        };
                        let decoding = match p.decoding {
                            Decoding::Value => "value",
                            Decoding::Real => "real",
                            Decoding::Json => "json",
                        };
                        format!("RecordParam(RecordKey.{key}, {data_key}, Decoding.{decoding})")
                    })
                    .collect(),
            })
            .collect(),
        statements: named
            .into_iter()
            .map(|s| {
                let params: Vec<&str> =
                    s.params.iter().map(|p| p.trim_start_matches(':')).collect();
                let sql = numbered_parameters(&s.sql, &params)
                    .unwrap_or_else(|e| panic!("sync.sql statement {}: {e}", s.name));
                StatementView {
                    dart_name: crate::model::Name::new(&s.name).camel,
                    name: dart_string(&s.name),
                    summary: one_line(&s.summary),
                    literal: sql_literal(&sql),
                    params: params
                        .iter()
                        .map(|p| dart_string(p))
                        .collect::<Vec<_>>()
                        .join(", "),
                    writes: written_table(&s.sql)
                        .map_or_else(|| "null".to_owned(), |t| dart_string(&t)),
                }
            })
            .collect(),
    };
    files.insert("dart/lib/src/sync_sql.dart", render(&sync_sql));

    files.insert(
        "dart/lib/src/sync_client.dart",
        render(&SyncClientDart {
            marker: GENERATED_MARKER,
            app,
            schema_step_header: offgen_runtime::protocol::SCHEMA_STEP_HEADER,
            schema_ahead_problem: offgen_runtime::protocol::SCHEMA_AHEAD_PROBLEM,
            upgrade_required_problem: offgen_runtime::protocol::UPGRADE_REQUIRED_PROBLEM,
            attachments,
        }),
    );
    if attachments {
        files.insert(
            "dart/lib/src/sync_attachments.dart",
            render(&SyncAttachmentsDart {
                marker: GENERATED_MARKER,
                app,
                attachment_path_prefix: offgen_runtime::attachments::PATH_PREFIX,
                attachment_max_bytes_header: offgen_runtime::attachments::MAX_BYTES_HEADER,
            }),
        );
    }
    files.insert(
        "dart/lib/src/sync_device.dart",
        render(&SyncDeviceDart {
            marker: GENERATED_MARKER,
            app,
            attachments,
        }),
    );
    files.insert(
        "dart/lib/src/sync_json.dart",
        render(&SyncJsonDart {
            marker: GENERATED_MARKER,
        }),
    );
    files.insert(
        "dart/lib/src/sync_transport.dart",
        render(&SyncTransportDart {
            marker: GENERATED_MARKER,
            app,
            attachments,
        }),
    );
    files.insert(
        "dart/lib/src/connection.dart",
        render(&ConnectionDart {
            marker: GENERATED_MARKER,
            app,
            file_stem: &file_stem,
            database_class: &database_class,
        }),
    );

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
            attachments,
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
