//! `client/sync.sql`: the named statements of the client algorithm.

use askama::Template;

use offgen_runtime::scripts::{SyncStatement, parse_sync_sql};

use crate::backend::client::statements;
use crate::model::Schema;
use crate::output::GENERATED_MARKER;

#[derive(Template)]
#[template(path = "sql/client/sync.sql", escape = "none")]
struct SyncSql<'a> {
    marker: &'a str,
    app: &'a str,
    entities: String,
    uuid: &'a str,
    entry_bytes: String,
    entry_bytes_o: String,
    rows: Vec<RowStatement>,
}

/// A pulled-row statement as the template writes it.
struct RowStatement {
    name: String,
    entity: String,
    table: String,
    /// The `-- params:` list, wrapped over lines of readable length.
    param_lines: Vec<String>,
    column_list: String,
    values: String,
    assignments: String,
}

/// `list` (comma-separated items) over lines of about `width` characters.
fn wrap(list: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for item in list.split(", ") {
        match lines.last_mut() {
            Some(line) if line.len() + item.len() + 2 <= width => {
                line.push_str(", ");
                line.push_str(item);
            }
            _ => lines.push(item.to_owned()),
        }
    }
    lines
}

/// The text of `client/sync.sql`.
pub fn render(schema: &Schema) -> String {
    let entities = schema
        .entities
        .iter()
        .map(|e| e.table.sql())
        .collect::<Vec<_>>()
        .join(", ");
    let mut text = SyncSql {
        marker: GENERATED_MARKER,
        app: &schema.app.spec,
        entities,
        uuid: statements::UUID_V4,
        entry_bytes: statements::entry_bytes(""),
        entry_bytes_o: statements::entry_bytes("o."),
        rows: schema
            .entities
            .iter()
            .map(|entity| {
                let row = statements::pulled_row(schema, entity);
                RowStatement {
                    entity: entity.table.sql().to_owned(),
                    name: row.name,
                    table: row.table,
                    param_lines: wrap(&row.params, 88),
                    column_list: row.column_list,
                    values: row.values,
                    assignments: row.assignments,
                }
            })
            .collect(),
    }
    .render()
    .expect("sync.sql only reads prepared strings");
    let trimmed = text.trim_end().len();
    text.truncate(trimmed);
    text.push('\n');
    text
}

/// The named statements of this schema's `sync.sql`, read back by the runtime's parser (the one
/// the client runs them with).
pub fn named_statements(schema: &Schema) -> Vec<SyncStatement> {
    parse_sync_sql(&render(schema)).expect("sync.sql as rendered is readable")
}
