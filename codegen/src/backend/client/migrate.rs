//! The next device migration step, from a [`SchemaDiff`].
//!
//! Each step runs in one transaction with foreign keys off (the runner's job, as SQLite's
//! table-rebuild procedure requires). Queued writes survive every step: their payload keys
//! follow renames, drops and retypes, so they are still sendable to the migrated server.

use std::collections::BTreeMap;

use crate::backend::client::Migration;
use crate::backend::client::statements::LOCAL_NOW;
use crate::backend::client::statements::{
    attachment_tables, create_index, create_table, has_attachments, trigger_names, triggers,
};
use crate::backend::device_columns::columns;
use crate::backend::literals::{quote, sql_string};
use crate::backend::sqlite::convert::{converted, converted_from};
use crate::backend::sqlite::json as wire;
use crate::model::{Entity, Schema};
use crate::schema_diff::{Conversion, KeptEntity, SchemaDiff};

/// The step after `number - 1`, or `None` when the device schema does not change. `shipped`
/// are the steps before it: a device that ran them holds their triggers, which a newer offgen
/// may write differently (a fix); those are recreated, since a step once shipped never
/// changes.
pub fn next_step(
    old: &Schema,
    new: &Schema,
    diff: &SchemaDiff,
    shipped: &[Migration],
    number: u32,
) -> Option<Migration> {
    let mut plan = Plan {
        installed: installed_triggers(shipped),
        ..Plan::default()
    };
    for entity in &diff.dropped {
        plan.drop_triggers(entity);
        plan.push(format!("DROP TABLE {};", quote(entity.table.sql())));
        for table in ["_offgen_outbox", "_offgen_conflicts"] {
            plan.push(format!(
                "DELETE FROM {} WHERE \"entity\" = {};",
                quote(table),
                sql_string(entity.table.sql())
            ));
        }
        plan.summary.push(format!(
            "drop {} with its rows and queued writes (migrate.drop)",
            entity.table.sql()
        ));
        plan.slugs.push(format!("drop_{}", entity.table.sql()));
    }
    for kept in &diff.kept {
        plan.entity(old, new, kept);
    }
    plan.attachments(old, new, diff);
    for entity in &diff.added {
        plan.push(create_table(new, entity));
        for index in &entity.indexes {
            plan.push(create_index(entity, index));
        }
        plan.create_triggers.push(entity);
        plan.repull = true;
        plan.summary.push(format!("create {}", entity.table.sql()));
        plan.slugs.push(format!("add_{}", entity.table.sql()));
    }
    if plan.statements.is_empty() && plan.create_triggers.is_empty() {
        return None;
    }
    let mut statements = vec![
        "UPDATE \"_offgen_meta\" SET \"value\" = '1' WHERE \"key\" = 'applying_remote';".to_owned(),
    ];
    statements.extend(plan.drops);
    statements.extend(plan.statements);
    for entity in &plan.create_triggers {
        statements.extend(triggers(new, entity));
    }
    if plan.repull {
        // New columns and entities have server values for rows this device already has (or
        // skipped as unknown): pull everything again. Rows with queued writes keep theirs.
        statements.push(
            "UPDATE \"_offgen_meta\" SET \"value\" = '' WHERE \"key\" = 'pull_cursor';".to_owned(),
        );
        plan.summary.push(
            "pull everything again, so new columns and entities get the server's values".to_owned(),
        );
    }
    statements.push(
        "UPDATE \"_offgen_meta\" SET \"value\" = '0' WHERE \"key\" = 'applying_remote';".to_owned(),
    );
    statements.push(format!("PRAGMA user_version = {number};"));
    Some(Migration {
        number,
        slug: slug(&plan.slugs),
        summary: plan.summary,
        statements,
    })
}

/// File name words: the first change, and how many more.
fn slug(changes: &[String]) -> String {
    match changes {
        [] => "update_triggers".to_owned(),
        [only] => only.clone(),
        [first, rest @ ..] => format!("{first}_and_{}_more", rest.len()),
    }
}

/// The triggers a device holds after running `steps`: each one's last `CREATE TRIGGER`, unless
/// a later step dropped it.
fn installed_triggers(steps: &[Migration]) -> BTreeMap<String, String> {
    let mut installed = BTreeMap::new();
    for statement in steps.iter().flat_map(|step| &step.statements) {
        if let Some(name) = trigger_name(statement, "CREATE TRIGGER ") {
            installed.insert(name.to_owned(), statement.clone());
        } else if let Some(name) = trigger_name(statement, "DROP TRIGGER IF EXISTS ") {
            installed.remove(name);
        }
    }
    installed
}

/// The quoted name after `prefix` at the start of a statement (comment lines before it
/// skipped).
fn trigger_name<'a>(statement: &'a str, prefix: &str) -> Option<&'a str> {
    let mut code = statement.trim_start();
    while code.starts_with("--") {
        code = code.split_once('\n')?.1.trim_start();
    }
    let quoted = code.strip_prefix(prefix)?.strip_prefix('"')?;
    quoted.split_once('"').map(|(name, _)| name)
}

#[derive(Default)]
struct Plan<'s> {
    /// The triggers the shipped steps left on the device, by name.
    installed: BTreeMap<String, String>,
    /// Trigger drops, run first: a trigger that names a column or table being changed would
    /// make SQLite refuse the change.
    drops: Vec<String>,
    statements: Vec<String>,
    create_triggers: Vec<&'s Entity>,
    repull: bool,
    summary: Vec<String>,
    slugs: Vec<String>,
}

impl<'s> Plan<'s> {
    fn push(&mut self, statement: String) {
        self.statements.push(statement);
    }

    /// The attachment queue: made when the first attachment field comes, and kept pointing at
    /// the entities and fields its rows name; a file whose field or entity is dropped is no
    /// longer needed (it goes after the grace period, like any superseded file).
    fn attachments(&mut self, old: &Schema, new: &Schema, diff: &SchemaDiff) {
        if has_attachments(new) && !has_attachments(old) {
            // IF NOT EXISTS: a schema may have had attachment fields, dropped them, and now
            // has one again.
            for statement in attachment_tables() {
                self.push(
                    statement
                        .replacen("CREATE TABLE ", "CREATE TABLE IF NOT EXISTS ", 1)
                        .replacen("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1),
                );
            }
            self.summary
                .push("create the attachment queue (_offgen_attachments)".to_owned());
        }
        if !has_attachments(old) {
            return;
        }
        let queue = quote("_offgen_attachments");
        let supersede = format!(
            "UPDATE {queue} SET \"state\" = 'superseded', \"superseded_at\" = {LOCAL_NOW}, \"claim_id\" = NULL"
        );
        for entity in &diff.dropped {
            self.push(format!(
                "{supersede} WHERE \"entity\" = {} AND \"state\" <> 'superseded';",
                sql_string(entity.table.sql())
            ));
        }
        for kept in &diff.kept {
            let (from, to) = (kept.old.table.sql(), kept.new.table.sql());
            if kept.renamed() {
                self.push(format!(
                    "UPDATE {queue} SET \"entity\" = {} WHERE \"entity\" = {};",
                    sql_string(to),
                    sql_string(from)
                ));
            }
            let entity = sql_string(to);
            let gone = kept
                .dropped
                .iter()
                .copied()
                .filter(|f| f.ty.is_attachment())
                .chain(
                    kept.kept
                        .iter()
                        .filter(|f| f.old.ty.is_attachment() && !f.new.ty.is_attachment())
                        .map(|f| f.old),
                );
            for field in gone {
                self.push(format!(
                    "{supersede} WHERE \"entity\" = {entity} AND \"field\" = {} AND \"state\" <> 'superseded';",
                    sql_string(field.name.json())
                ));
            }
            for field in kept.kept.iter().filter(|f| {
                f.old.ty.is_attachment()
                    && f.new.ty.is_attachment()
                    && f.old.name.json() != f.new.name.json()
            }) {
                self.push(format!(
                    "UPDATE {queue} SET \"field\" = {} WHERE \"entity\" = {entity} AND \"field\" = {};",
                    sql_string(field.new.name.json()),
                    sql_string(field.old.name.json())
                ));
            }
        }
    }

    fn drop_triggers(&mut self, entity: &Entity) {
        for name in trigger_names(entity) {
            self.drops
                .push(format!("DROP TRIGGER IF EXISTS {};", quote(&name)));
        }
    }

    fn entity(&mut self, old: &Schema, new: &'s Schema, kept: &KeptEntity<'s>) {
        let (from, to) = (kept.old.table.sql(), kept.new.table.sql());
        // Whether this entity's other changes already name the step (they recreate its
        // triggers too).
        let named_before = self.slugs.len();
        let now = triggers(old, kept.old);
        let names = trigger_names(kept.old);
        let installed: Vec<&String> = names
            .iter()
            .filter_map(|name| self.installed.get(name))
            .collect();
        // Written differently by this offgen than by the one that shipped them.
        let outdated = installed.len() != now.len()
            || now.iter().any(|statement| !installed.contains(&statement));
        let triggers_changed = outdated || now != triggers(new, kept.new);
        if triggers_changed {
            self.drop_triggers(kept.old);
            self.create_triggers.push(kept.new);
        }
        if kept.renamed() {
            self.push(format!(
                "ALTER TABLE {} RENAME TO {};",
                quote(from),
                quote(to)
            ));
            for table in ["_offgen_outbox", "_offgen_conflicts"] {
                self.push(format!(
                    "UPDATE {} SET \"entity\" = {} WHERE \"entity\" = {};",
                    quote(table),
                    sql_string(to),
                    sql_string(from)
                ));
            }
            self.summary.push(format!("rename table {from} to {to}"));
            self.slugs.push(format!("rename_{from}_to_{to}"));
        }
        let rebuild = kept.needs_rebuild();
        if rebuild {
            self.rebuild(new, kept);
        } else {
            self.alter(new, kept);
        }
        self.migrate_payloads(kept);
        // Indexes, compared by their statement: a rebuilt table lost all of its own; otherwise
        // only the ones whose definition changed are dropped and created again.
        let old_indexes: Vec<(String, String)> = kept
            .old
            .indexes
            .iter()
            .map(|i| (i.name.clone(), create_index(kept.old, i)))
            .collect();
        let new_indexes: Vec<(String, String)> = kept
            .new
            .indexes
            .iter()
            .map(|i| (i.name.clone(), create_index(kept.new, i)))
            .collect();
        if !rebuild {
            for (name, statement) in &old_indexes {
                if !new_indexes.iter().any(|(n, s)| n == name && s == statement) {
                    self.push(format!("DROP INDEX IF EXISTS {};", quote(name)));
                }
            }
        }
        for (name, statement) in &new_indexes {
            let existed = old_indexes.iter().any(|(n, _)| n == name);
            let unchanged = old_indexes.iter().any(|(n, s)| n == name && s == statement);
            if rebuild || !unchanged {
                self.push(statement.clone());
            }
            if !existed {
                self.summary.push(format!("create index {name}"));
                self.slugs.push(format!("index_{to}"));
            }
        }
        if !kept.added.is_empty() {
            self.repull = true;
        }
        if triggers_changed && self.slugs.len() == named_before {
            self.summary.push(if outdated {
                format!("recreate the sync triggers of {to}, as this offgen writes them")
            } else {
                format!("recreate the sync triggers of {to}")
            });
            self.slugs.push(format!("triggers_{to}"));
        }
    }

    /// Renames and additions SQLite's ALTER TABLE can do in place.
    fn alter(&mut self, new: &Schema, kept: &KeptEntity) {
        let table = kept.new.table.sql();
        for field in kept.kept.iter().filter(|f| f.renamed()) {
            self.push(format!(
                "ALTER TABLE {} RENAME COLUMN {} TO {};",
                quote(table),
                quote(field.old.name.sql()),
                quote(field.new.name.sql())
            ));
            self.summary.push(format!(
                "rename {table}.{} to {}",
                field.old.name.sql(),
                field.new.name.sql()
            ));
            self.slugs
                .push(format!("rename_{table}_{}", field.old.name.sql()));
        }
        let all = columns(new, kept.new);
        for field in &kept.added {
            let column = all
                .iter()
                .find(|c| c.name == field.name.snake)
                .expect("every field has a column");
            self.push(format!(
                "ALTER TABLE {} ADD COLUMN {};",
                quote(table),
                column.definition()
            ));
            self.summary
                .push(format!("add {table}.{}", field.name.sql()));
            self.slugs.push(format!("add_{table}_{}", field.name.sql()));
        }
    }

    /// SQLite's table rebuild: a new table with the new definition, the rows copied over with
    /// their values converted, the old table dropped and the new one renamed into its place.
    fn rebuild(&mut self, new: &Schema, kept: &KeptEntity) {
        let table = kept.new.table.sql();
        let temp = format!("_offgen_new_{table}");
        let definition = create_table(new, kept.new);
        let head = format!("CREATE TABLE {} (", quote(table));
        let temp_head = format!("CREATE TABLE {} (", quote(&temp));
        self.push(definition.replacen(&head, &temp_head, 1));
        let mut targets = Vec::new();
        let mut sources = Vec::new();
        for column in columns(new, kept.new) {
            let source = match column.field() {
                None => Some(quote(&column.name)),
                Some(field) => kept
                    .kept
                    .iter()
                    .find(|k| k.new.name.snake == field.name.snake)
                    .map(converted),
            };
            if let Some(source) = source {
                targets.push(quote(&column.name));
                sources.push(source);
            }
        }
        self.push(format!(
            "INSERT INTO {} ({}) SELECT {} FROM {};",
            quote(&temp),
            targets.join(", "),
            sources.join(", "),
            quote(table)
        ));
        self.push(format!("DROP TABLE {};", quote(table)));
        self.push(format!(
            "ALTER TABLE {} RENAME TO {};",
            quote(&temp),
            quote(table)
        ));
        let mut changes = Vec::new();
        for field in &kept.dropped {
            changes.push(format!("drop {table}.{} (migrate.drop)", field.name.sql()));
            self.slugs
                .push(format!("drop_{table}_{}", field.name.sql()));
        }
        for field in &kept.added {
            changes.push(format!("add {table}.{}", field.name.sql()));
            self.slugs.push(format!("add_{table}_{}", field.name.sql()));
        }
        for field in kept
            .kept
            .iter()
            .filter(|f| f.definition_changed() || f.renamed())
        {
            let what = match field.conversion {
                Conversion::Retype => " (migrate.retype)",
                _ => "",
            };
            if field.renamed() {
                changes.push(format!(
                    "rename {table}.{} to {}",
                    field.old.name.sql(),
                    field.new.name.sql()
                ));
            }
            if field.definition_changed() {
                changes.push(format!("change {table}.{}{what}", field.new.name.sql()));
                self.slugs
                    .push(format!("change_{table}_{}", field.new.name.sql()));
            }
        }
        self.summary
            .push(format!("rebuild {table}: {}", changes.join(", ")));
    }

    /// Queued writes and kept conflicts follow the columns. An entry never sent holds only the
    /// names of the fields it changed (its payload is made from the migrated row when first
    /// claimed), so only those names move; an entry already sent holds its payload, whose keys
    /// of dropped fields go, renamed keys move, and values are converted as the row's are.
    fn migrate_payloads(&mut self, kept: &KeptEntity) {
        let table = kept.new.table.sql();
        let entity = sql_string(table);
        let outbox = quote("_offgen_outbox");
        for field in &kept.dropped {
            self.push(format!(
                "UPDATE {outbox} SET \"changed\" = replace(\"changed\", {}, ',') WHERE \"entity\" = {entity} AND \"changed\" IS NOT NULL;",
                sql_string(&format!(",{},", field.name.json()))
            ));
        }
        for field in kept
            .kept
            .iter()
            .filter(|f| f.old.name.json() != f.new.name.json())
        {
            self.push(format!(
                "UPDATE {outbox} SET \"changed\" = replace(\"changed\", {}, {}) WHERE \"entity\" = {entity} AND \"changed\" IS NOT NULL;",
                sql_string(&format!(",{},", field.old.name.json())),
                sql_string(&format!(",{},", field.new.name.json()))
            ));
        }
        // An lww entry's edit stamps are keyed like its payload: they follow alike (the
        // server refuses a stamp for a field the mutation does not change).
        let stamps = quote("field_stamps");
        let stamped = format!("\"entity\" = {entity} AND {stamps} IS NOT NULL");
        for field in &kept.dropped {
            self.push(format!(
                "UPDATE {outbox} SET {stamps} = json_remove({stamps}, {}) WHERE {stamped};",
                wire::path(field.name.json())
            ));
        }
        for field in kept
            .kept
            .iter()
            .filter(|f| f.old.name.json() != f.new.name.json())
        {
            let (old_key, new_key) = (
                wire::path(field.old.name.json()),
                wire::path(field.new.name.json()),
            );
            self.push(format!(
                "UPDATE {outbox} SET {stamps} = json_set(json_remove({stamps}, {old_key}), {new_key}, {stamps} -> {old_key}) \
                 WHERE {stamped} AND json_type({stamps}, {old_key}) IS NOT NULL;"
            ));
        }
        for (target, column) in [
            ("_offgen_outbox", "payload"),
            ("_offgen_conflicts", "local_payload"),
        ] {
            let (target, column) = (quote(target), quote(column));
            let present = format!("\"entity\" = {entity} AND {column} IS NOT NULL");
            for field in &kept.dropped {
                self.push(format!(
                    "UPDATE {target} SET {column} = json_remove({column}, {}) WHERE {present};",
                    wire::path(field.name.json())
                ));
            }
            for field in kept
                .kept
                .iter()
                .filter(|f| f.old.name.json() != f.new.name.json())
            {
                let (old_key, new_key) = (
                    wire::path(field.old.name.json()),
                    wire::path(field.new.name.json()),
                );
                self.push(format!(
                    "UPDATE {target} SET {column} = json_set(json_remove({column}, {old_key}), {new_key}, {column} -> {old_key}) \
                     WHERE {present} AND json_type({column}, {old_key}) IS NOT NULL;"
                ));
            }
            // A sent value is converted itself, as the rebuild converts the row's: the row may
            // hold a later write by now, or be gone (deleted here while the write was in
            // flight, its delete queued behind it), and the write must still go as it was.
            for field in kept
                .kept
                .iter()
                .filter(|f| f.conversion != Conversion::Same || f.fills_nulls())
            {
                let key = field.new.name.json();
                let sent = format!("({})", wire::decode(Some(&field.old.ty), &column, key));
                let value = wire::encode(Some(&field.new.ty), converted_from(field, &sent));
                let key = wire::path(key);
                self.push(format!(
                    "UPDATE {target} SET {column} = json_set({column}, {key}, {value}) \
                     WHERE {present} AND json_type({column}, {key}) IS NOT NULL;"
                ));
            }
        }
    }
}
