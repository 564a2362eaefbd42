//! `client/sync.sql`: the named statements of the client algorithm.

use askama::Template;

use crate::model::Schema;
use crate::output::GENERATED_MARKER;

#[derive(Template)]
#[template(path = "sql/client/sync.sql", escape = "none")]
struct SyncSql<'a> {
    marker: &'a str,
    app: &'a str,
    entities: String,
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
    }
    .render()
    .expect("sync.sql only reads prepared strings");
    let trimmed = text.trim_end().len();
    text.truncate(trimmed);
    text.push('\n');
    text
}

/// One named statement.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedStatement {
    /// Its `-- name:`.
    pub name: String,
    /// Its first comment line.
    pub summary: String,
    /// The SQL, without the trailing `;`.
    pub sql: String,
}

/// The statements of `sync.sql`, in file order: each starts at a `-- name:` line; its comment
/// lines describe it and the other lines are the statement.
pub fn parse(text: &str) -> Vec<NamedStatement> {
    let mut out: Vec<NamedStatement> = Vec::new();
    let mut current: Option<(String, Vec<String>, Vec<&str>)> = None;
    let finish = |current: Option<(String, Vec<String>, Vec<&str>)>,
                  out: &mut Vec<NamedStatement>| {
        if let Some((name, comments, lines)) = current {
            let sql = lines
                .join("\n")
                .trim()
                .trim_end_matches(';')
                .trim_end()
                .to_owned();
            let summary = comments
                .iter()
                .find(|c| !c.starts_with("params:") && !c.starts_with("returns:"))
                .cloned()
                .unwrap_or_default();
            out.push(NamedStatement { name, summary, sql });
        }
    };
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("-- name: ") {
            finish(current.take(), &mut out);
            current = Some((name.trim().to_owned(), Vec::new(), Vec::new()));
        } else if let Some((_, comments, lines)) = current.as_mut() {
            match line.strip_prefix("--") {
                Some(comment) if lines.is_empty() => comments.push(comment.trim().to_owned()),
                _ => lines.push(line),
            }
        }
    }
    finish(current, &mut out);
    out
}

/// The named statements of this schema's `sync.sql`.
pub fn named_statements(schema: &Schema) -> Vec<NamedStatement> {
    parse(&render(schema))
}
