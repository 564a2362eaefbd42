//! The device's SQLite: migration steps (tables, indexes, sync-queue triggers) and the client
//! sync statements, under `client/`.

pub mod migrate;
pub mod statements;
pub mod sync_sql;

use crate::output::FileSet;

/// One migration step. The type, its file format and its reader live in the runtime, which
/// executes the steps on devices: the generator and the client share one definition.
pub use offgen_runtime::scripts::MigrationStep as Migration;

/// Directory of the migration files inside the output directory.
pub const MIGRATIONS_DIR: &str = "client/migrations";

/// `client/migrations/0001_init.sql`: where a step is written.
pub fn migration_path(step: &Migration) -> String {
    format!("{MIGRATIONS_DIR}/{}", step.file_name())
}

/// The first step: support tables, then every entity's table and indexes, then the triggers.
pub fn initial_migration(schema: &crate::model::Schema) -> Migration {
    let mut statements = statements::support_tables();
    if statements::has_attachments(schema) {
        statements.extend(statements::attachment_tables());
    }
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
        files.insert(migration_path(migration), migration.render());
    }
    files.insert("client/sync.sql", sync_sql::render(schema));
}
