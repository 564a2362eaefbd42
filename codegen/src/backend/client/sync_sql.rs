//! `client/sync.sql`: the named statements of the client algorithm.

use askama::Template;
// Templates spell the bookkeeping columns from their one declaration: `{{ bk::VERSION.sql }}`.
use offgen_runtime::bookkeeping as bk;

use offgen_runtime::scripts::{SyncStatement, parse_sync_sql};

use crate::backend::client::statements;
use crate::backend::literals::sql_string;
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
    if statements::has_attachments(schema) {
        text.push_str(&attachment_statements(schema));
    }
    let trimmed = text.trim_end().len();
    text.truncate(trimmed);
    text.push('\n');
    text
}

#[derive(Template)]
#[template(path = "sql/client/sync_attachments.sql", escape = "none")]
struct SyncAttachmentsSql {
    fields: String,
    field_list: String,
    fits: String,
    remote_key: String,
    remote_key_a: String,
    max_attempts: &'static str,
    retry_base: &'static str,
    evictable_a: String,
    evictable_b: String,
}

/// How long a file the server holds stays on the device, unless the app set another period:
/// a week, so a record's photo is still here while its user works on it.
const DEFAULT_GRACE_MS: &str = "604800000";

/// The delay before a refused upload's first retry; it doubles with each further attempt.
const ATTACHMENT_RETRY_BASE: &str = "CAST(coalesce((SELECT \"value\" FROM \"_offgen_meta\" WHERE \"key\" = 'attachment_retry_base_ms'), '30000') AS INTEGER)";

/// A numeric setting of `_offgen_meta` that may be unset ('' or no row): SQL NULL then.
fn setting(key: &str) -> String {
    format!(
        "CAST(nullif((SELECT \"value\" FROM \"_offgen_meta\" WHERE \"key\" = '{key}'), '') AS INTEGER)"
    )
}

/// The attachment loop's statements, after the record sync's.
fn attachment_statements(schema: &Schema) -> String {
    let fields: Vec<(&str, &str)> = schema
        .entities
        .iter()
        .flat_map(|e| {
            e.fields
                .iter()
                .filter(|f| f.ty.is_attachment())
                .map(move |f| (e.table.sql(), f.name.json()))
        })
        .collect();
    let grace = format!(
        "coalesce({}, {DEFAULT_GRACE_MS})",
        setting("attachment_grace_ms")
    );
    let evictable = |x: &str| {
        format!(
            "({x}.\"state\" IN ('uploaded', 'remote') AND {x}.\"confirmed_at\" <= :now - {grace}) \
             OR ({x}.\"state\" = 'superseded' AND {x}.\"superseded_at\" <= :now - {grace})"
        )
    };
    let remote_key = |x: &str| {
        format!(
            "{x}\"entity\" || '/' || {x}\"row_id\" || '/' || {x}\"field\" || '/' || {x}\"sha256\""
        )
    };
    let fits = format!(
        "a.\"size\" <= coalesce({}, a.\"size\") AND (:metered = 0 OR a.\"size\" <= coalesce({}, a.\"size\"))",
        setting("attachment_max_bytes"),
        setting("attachment_metered_max_bytes")
    );
    SyncAttachmentsSql {
        fields: fields
            .iter()
            .map(|(t, f)| format!("{t}.{f}"))
            .collect::<Vec<_>>()
            .join(", "),
        field_list: fields
            .iter()
            .map(|(t, f)| format!("({}, {})", sql_string(t), sql_string(f)))
            .collect::<Vec<_>>()
            .join(", "),
        fits,
        remote_key: remote_key(""),
        remote_key_a: remote_key("a."),
        max_attempts: statements::MAX_ATTEMPTS,
        retry_base: ATTACHMENT_RETRY_BASE,
        evictable_a: evictable("a"),
        evictable_b: evictable("b"),
    }
    .render()
    .expect("sync.sql only reads prepared strings")
}

/// The named statements of this schema's `sync.sql`, read back by the runtime's parser (the one
/// the client runs them with).
pub fn named_statements(schema: &Schema) -> Vec<SyncStatement> {
    parse_sync_sql(&render(schema)).expect("sync.sql as rendered is readable")
}
