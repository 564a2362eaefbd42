//! The device's SQLite: migration steps (tables, indexes, sync-queue triggers) and the client
//! sync statements, under `client/`.

pub mod columns;
pub mod migrate;
pub mod statements;
pub mod sync_sql;
pub mod wire;

use crate::output::{FileSet, GENERATED_MARKER};

/// One migration step.
#[derive(Clone, Debug, PartialEq)]
pub struct Migration {
    /// Its number, from 1; the device's `PRAGMA user_version` after it ran.
    pub number: u32,
    /// The file name's words after the number (`init`, `add_observations_altitude_m`).
    pub slug: String,
    /// What it does, one line each.
    pub summary: Vec<String>,
    /// The statements, in order; the last sets `user_version`.
    pub statements: Vec<String>,
}

/// Directory of the migration files inside the output directory.
pub const MIGRATIONS_DIR: &str = "client/migrations";

impl Migration {
    /// `client/migrations/0001_init.sql`.
    pub fn path(&self) -> String {
        format!("{MIGRATIONS_DIR}/{:04}_{}.sql", self.number, self.slug)
    }

    /// `0001 init: <summary>` for comments.
    pub fn title(&self) -> String {
        format!("{:04} {}", self.number, self.slug)
    }

    /// The file: a header saying what the step does and how to run it, then the statements,
    /// separated by blank lines (statements never contain one, so the file can be read back).
    pub fn render(&self) -> String {
        let mut text = format!(
            "-- {GENERATED_MARKER}. Do not edit: the next build adds a new step instead.\n"
        );
        text.push_str(&format!("-- Client migration {:04}:\n", self.number));
        for line in &self.summary {
            text.push_str(&format!("--   {line}\n"));
        }
        text.push_str("-- Run the steps in order, each once, in one transaction, with PRAGMA foreign_keys = OFF.\n");
        for statement in &self.statements {
            debug_assert!(
                !statement.contains("\n\n"),
                "a statement holds a blank line:\n{statement}"
            );
            text.push('\n');
            text.push_str(statement);
            text.push('\n');
        }
        text
    }

    /// Reads back a file written by [`Migration::render`].
    pub fn parse(file_name: &str, text: &str) -> Result<Migration, String> {
        let stem = file_name
            .strip_suffix(".sql")
            .ok_or_else(|| format!("{file_name}: not a .sql file"))?;
        let (number, slug) = stem
            .split_once('_')
            .ok_or_else(|| format!("{file_name}: expected NNNN_<slug>.sql"))?;
        let number: u32 = number
            .parse()
            .map_err(|_| format!("{file_name}: expected NNNN_<slug>.sql"))?;
        let (header, body) = text
            .split_once("\n\n")
            .ok_or_else(|| format!("{file_name}: no statements"))?;
        let summary = header
            .lines()
            .filter_map(|l| l.strip_prefix("--   "))
            .map(str::to_owned)
            .collect();
        let statements = body
            .split("\n\n")
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        Ok(Migration {
            number,
            slug: slug.to_owned(),
            summary,
            statements,
        })
    }
}

/// The first step: support tables, then every entity's table and indexes, then the triggers.
pub fn initial_migration(schema: &crate::model::Schema) -> Migration {
    let mut statements = statements::support_tables();
    for entity in &schema.entities {
        statements.push(statements::create_table(schema, entity));
        for index in &entity.indexes {
            statements.push(statements::create_index(entity, index));
        }
    }
    for entity in &schema.entities {
        statements.extend(statements::triggers(schema, entity));
    }
    statements.push("PRAGMA user_version = 1;".to_owned());
    let tables: Vec<&str> = schema.entities.iter().map(|e| e.table.sql()).collect();
    Migration {
        number: 1,
        slug: "init".to_owned(),
        summary: vec![
            "create the sync tables (_offgen_meta, _offgen_outbox, _offgen_conflicts, _offgen_inbox, _offgen_push_results)".to_owned(),
            format!("create {} with their indexes and sync triggers", tables.join(", ")),
        ],
        statements,
    }
}

/// A step that changes nothing on the device (the server changed); it keeps the numbering
/// shared with the server steps.
pub fn unchanged_step(number: u32, slug: &str) -> Migration {
    Migration {
        number,
        slug: slug.to_owned(),
        summary: vec!["no change on the device".to_owned()],
        statements: vec![format!("PRAGMA user_version = {number};")],
    }
}

/// Adds the migration files and `client/sync.sql`.
pub fn generate(schema: &crate::model::Schema, migrations: &[Migration], files: &mut FileSet) {
    for migration in migrations {
        files.insert(migration.path(), migration.render());
    }
    files.insert("client/sync.sql", sync_sql::render(schema));
}
