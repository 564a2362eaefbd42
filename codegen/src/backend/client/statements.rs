//! The device's DDL statements, one string each, rendered from `templates/sql/client/`.
//!
//! Statements are kept apart (not joined into one script) because Drift runs a migration one
//! `customStatement` at a time, and a trigger body's own semicolons make splitting a script
//! afterwards unreliable.

use askama::Template;

use crate::backend::client::columns::{Column, columns, quote, sql_string};
use crate::backend::client::wire::{self, NO_SUCH_PATH};
use crate::model::{ConflictPolicy, Entity, Index, Schema};

/// Entity triggers read this to stay silent while a server record is being applied. A missing
/// row counts as "not applying", so deleting it can never silently stop the queue.
pub const GUARD: &str = "coalesce((SELECT \"value\" FROM \"_offgen_meta\" WHERE \"key\" = 'applying_remote'), '0') = '0'";

/// A random (version 4) UUID in SQL: 122 random bits, the version nibble and the variant bits.
/// `random() & 3` picks the variant digit without `abs()`, which overflows on one input.
pub const UUID_V4: &str = "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (random() & 3), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))";

/// How many times a rejected entry is sent before it is set aside as failed.
pub const MAX_ATTEMPTS: &str = "CAST(coalesce((SELECT \"value\" FROM \"_offgen_meta\" WHERE \"key\" = 'max_attempts'), '5') AS INTEGER)";

/// Everything the trigger templates of one entity need, prepared once.
pub struct EntitySql {
    /// The quoted table name.
    pub table: String,
    /// The entity's wire name as a SQL string (`'observations'`).
    pub entity: String,
    /// Trigger names start with this (unquoted; table names are validated identifiers).
    pub trigger_prefix: String,
    /// See [`GUARD`].
    pub guard: &'static str,
    /// See [`UUID_V4`].
    pub uuid: &'static str,
    /// Epoch milliseconds now.
    pub now: &'static str,
    /// See [`MAX_ATTEMPTS`].
    pub max_attempts: &'static str,
    /// Statements refusing a write whose `json` fields hold invalid JSON, or whose `real`
    /// fields hold an infinity (which JSON has no number for), before it is queued: a value
    /// that cannot be sent would otherwise stop every later push.
    pub value_checks: Vec<String>,
    /// `',a,b,'`: the wire keys of the declared fields this update changed.
    pub changed_keys: String,
    /// The keys this update changed that the pending entry's `changed` lacks, as `'a,b,'`.
    pub new_changed_keys: String,
    /// JSON object of every declared field of the row (in a `SELECT ... FROM <table>`).
    pub row_payload: String,
    /// JSON object of the row's fields named in the entry's `changed` (`NEW."changed"`).
    pub changed_payload: String,
    /// SQL condition: a declared field changed.
    pub fields_changed: String,
    /// SQL condition: a declared field or `deleted_at` changed.
    pub data_changed: String,
    /// The seq of the newest outbox entry of the row `NEW`.
    pub last_entry_new: String,
    /// The seq of the newest outbox entry of the row `OLD`.
    pub last_entry_old: String,
    /// All columns, for the pull upsert.
    pub column_list: String,
    /// The pulled record's values for `column_list`.
    pub decoded_values: String,
    /// `"c" = excluded."c", ...` for the pull upsert.
    pub upsert_assignments: String,
    /// Push statuses after which the entry is done: `'accepted'`, plus `'conflict'` where the
    /// server resolves conflicts itself.
    pub done_statuses: String,
    /// Whether conflicts are kept for the app (policy `version`).
    pub keeps_conflicts: bool,
}

impl EntitySql {
    /// Prepares the SQL fragments of `entity`.
    pub fn new(schema: &Schema, entity: &Entity) -> EntitySql {
        let table_name = entity.table.sql();
        let all = columns(schema, entity);
        let fields: Vec<&Column> = all.iter().filter(|c| c.field().is_some()).collect();
        let pairs = |row: &str| -> Vec<(String, String)> {
            fields
                .iter()
                .map(|c| (c.dart.clone(), wire::encode(c, row)))
                .collect()
        };
        let row_payload = wire::object(&pairs(&quote(table_name)));
        let changed = |c: &Column| format!("OLD.{0} IS NOT NEW.{0}", quote(&c.name));
        let key_mark = |c: &Column| sql_string(&format!(",{},", c.dart));
        let changed_keys = fields
            .iter()
            .map(|c| {
                format!(
                    "CASE WHEN {} THEN {} ELSE '' END",
                    changed(c),
                    sql_string(&format!("{},", c.dart))
                )
            })
            .collect::<Vec<_>>();
        let new_changed_keys = fields
            .iter()
            .map(|c| {
                format!(
                    "CASE WHEN {} AND instr(\"changed\", {}) = 0 THEN {} ELSE '' END",
                    changed(c),
                    key_mark(c),
                    sql_string(&format!("{},", c.dart))
                )
            })
            .collect::<Vec<_>>();
        let unchanged_paths: Vec<String> = fields
            .iter()
            .map(|c| {
                format!(
                    "CASE WHEN instr(NEW.\"changed\", {}) = 0 THEN {} ELSE {NO_SUCH_PATH} END",
                    key_mark(c),
                    wire::path(&c.dart)
                )
            })
            .collect();
        let fields_changed = fields
            .iter()
            .map(|c| changed(c))
            .collect::<Vec<_>>()
            .join(" OR ");
        let last_entry = |row: &str| {
            format!(
                "(SELECT max(\"seq\") FROM \"_offgen_outbox\" WHERE \"entity\" = {} AND \"row_id\" = {row}.\"id\")",
                sql_string(table_name)
            )
        };
        let decoded: Vec<String> = all
            .iter()
            .map(|c| match c.name.as_str() {
                "id" => "NEW.\"id\"".to_owned(),
                "version" => "NEW.\"version\"".to_owned(),
                "updated_at" => format!("coalesce(NEW.\"updated_at\", {})", super::columns::NOW_MS),
                "deleted_at" => "NULL".to_owned(),
                "sync_status" => "'synced'".to_owned(),
                "sync_error" => "NULL".to_owned(),
                _ => wire::decode(c, "NEW.\"data\""),
            })
            .collect();
        let upsert_assignments = all
            .iter()
            .filter(|c| c.name != "id")
            .map(|c| format!("{0} = excluded.{0}", quote(&c.name)))
            .collect::<Vec<_>>()
            .join(", ");
        let auto_resolves = matches!(
            entity.conflict,
            ConflictPolicy::Lww { .. } | ConflictPolicy::ServerWins
        );
        let value_checks = fields
            .iter()
            .filter_map(|c| {
                let col = quote(&c.name);
                let (problem, test) = match c.field().map(|f| &f.ty) {
                    Some(crate::model::FieldType::Json) => {
                        ("must be valid JSON", format!("json_valid(NEW.{col}) = 0"))
                    }
                    // SQLite keeps no NaN (it stores NULL), but does keep infinities; it
                    // reads the literal 9e999 as one.
                    Some(crate::model::FieldType::Real) => {
                        ("must be a finite number", format!("abs(NEW.{col}) = 9e999"))
                    }
                    _ => return None,
                };
                Some(format!(
                    "SELECT RAISE(ABORT, {}) WHERE NEW.{col} IS NOT NULL AND {test};",
                    sql_string(&format!("offgen: {}.{} {problem}", table_name, c.name)),
                ))
            })
            .collect();
        EntitySql {
            value_checks,
            table: quote(table_name),
            entity: sql_string(table_name),
            trigger_prefix: format!("_offgen_{table_name}"),
            guard: GUARD,
            uuid: UUID_V4,
            now: super::columns::NOW_MS,
            max_attempts: MAX_ATTEMPTS,
            changed_keys: format!("',' || {}", changed_keys.join(" || ")),
            new_changed_keys: new_changed_keys.join(" || "),
            changed_payload: wire::remove(row_payload.clone(), &unchanged_paths),
            row_payload,
            data_changed: format!(
                "{fields_changed} OR OLD.\"deleted_at\" IS NOT NEW.\"deleted_at\""
            ),
            fields_changed,
            last_entry_new: last_entry("NEW"),
            last_entry_old: last_entry("OLD"),
            column_list: all
                .iter()
                .map(|c| quote(&c.name))
                .collect::<Vec<_>>()
                .join(", "),
            decoded_values: decoded.join(", "),
            upsert_assignments,
            done_statuses: if auto_resolves {
                "'accepted', 'conflict'"
            } else {
                "'accepted'"
            }
            .to_owned(),
            keeps_conflicts: !auto_resolves,
        }
    }
}

#[derive(Template)]
#[template(path = "sql/client/create_table.sql", escape = "none")]
struct CreateTable {
    table: String,
    columns: Vec<String>,
}

#[derive(Template)]
#[template(path = "sql/client/create_index.sql", escape = "none")]
struct CreateIndex {
    name: String,
    table: String,
    columns: String,
    unique: bool,
}

macro_rules! entity_template {
    ($name:ident, $path:literal) => {
        #[derive(Template)]
        #[template(path = $path, escape = "none")]
        struct $name<'a> {
            e: &'a EntitySql,
        }
    };
}

entity_template!(ProtectId, "sql/client/trigger_protect_id.sql");
entity_template!(ProtectTombstone, "sql/client/trigger_protect_tombstone.sql");
entity_template!(InsertTrigger, "sql/client/trigger_insert.sql");
entity_template!(UpdateTrigger, "sql/client/trigger_update.sql");
entity_template!(ApplyRemote, "sql/client/trigger_apply_remote.sql");
entity_template!(PushResult, "sql/client/trigger_push_result.sql");
entity_template!(ResolveConflict, "sql/client/trigger_resolve_conflict.sql");
entity_template!(PrepareSend, "sql/client/trigger_prepare_send.sql");

#[derive(Template)]
#[template(path = "sql/client/trigger_delete.sql", escape = "none")]
struct DeleteTrigger<'a> {
    e: &'a EntitySql,
    suffix: &'a str,
    event: &'a str,
    condition: &'a str,
    row: &'a str,
    last_entry: &'a str,
}

#[derive(Template)]
#[template(path = "sql/client/trigger_status.sql", escape = "none")]
struct StatusTrigger<'a> {
    e: &'a EntitySql,
    suffix: &'a str,
    event: &'a str,
    source: &'a str,
    row: &'a str,
}

macro_rules! static_template {
    ($name:ident, $path:literal) => {
        #[derive(Template)]
        #[template(path = $path, escape = "none")]
        struct $name;
    };
}

static_template!(MetaTable, "sql/client/table_meta.sql");
static_template!(OutboxTable, "sql/client/table_outbox.sql");
static_template!(ConflictsTable, "sql/client/table_conflicts.sql");
static_template!(InboxTable, "sql/client/table_inbox.sql");
static_template!(PushResultsTable, "sql/client/table_push_results.sql");

#[derive(Template)]
#[template(path = "sql/client/meta_defaults.sql", escape = "none")]
struct MetaDefaults {
    uuid: &'static str,
}

fn render(template: &impl Template) -> String {
    template
        .render()
        .expect("client SQL templates only read prepared strings")
        .trim()
        .to_owned()
}

/// `CREATE TABLE` of an entity, exactly as Drift writes it for the generated table class.
pub fn create_table(schema: &Schema, entity: &Entity) -> String {
    render(&CreateTable {
        table: quote(entity.table.sql()),
        columns: columns(schema, entity)
            .iter()
            .map(Column::definition)
            .collect(),
    })
}

/// `CREATE [UNIQUE] INDEX` of an index, as Drift writes it for `@TableIndex`.
pub fn create_index(entity: &Entity, index: &Index) -> String {
    let columns: Vec<String> = index
        .fields
        .iter()
        .filter_map(|f| entity.field(f))
        .map(|f| quote(f.name.sql()))
        .collect();
    render(&CreateIndex {
        name: quote(&index.name),
        table: quote(entity.table.sql()),
        columns: columns.join(", "),
        unique: index.unique,
    })
}

/// The sync support tables, their indexes and initial values, in creation order.
pub fn support_tables() -> Vec<String> {
    vec![
        render(&MetaTable),
        render(&MetaDefaults { uuid: UUID_V4 }),
        render(&OutboxTable),
        "CREATE INDEX \"_offgen_outbox_row\" ON \"_offgen_outbox\" (\"row_id\");".to_owned(),
        "CREATE UNIQUE INDEX \"_offgen_outbox_mutation\" ON \"_offgen_outbox\" (\"mutation_id\") WHERE \"mutation_id\" IS NOT NULL;".to_owned(),
        render(&ConflictsTable),
        render(&InboxTable),
        render(&PushResultsTable),
    ]
}

/// Names of the triggers of an entity, in creation order (so a migration can drop them).
pub fn trigger_names(entity: &Entity) -> Vec<String> {
    [
        "protect_id",
        "protect_tombstone",
        "insert",
        "update",
        "soft_delete",
        "delete",
        "prepare_send",
        "status_on_state",
        "status_on_dequeue",
        "status_on_conflict",
        "status_on_resolve",
        "apply_remote",
        "push_result",
        "resolve_conflict",
    ]
    .iter()
    .map(|suffix| format!("_offgen_{}_{suffix}", entity.table.sql()))
    .collect()
}

/// Every trigger of an entity, in the order of [`trigger_names`].
pub fn triggers(schema: &Schema, entity: &Entity) -> Vec<String> {
    let e = EntitySql::new(schema, entity);
    let soft_delete = "OLD.\"deleted_at\" IS NULL AND NEW.\"deleted_at\" IS NOT NULL";
    let hard_delete = "OLD.\"deleted_at\" IS NULL";
    let status = |suffix, event, source, row| {
        render(&StatusTrigger {
            e: &e,
            suffix,
            event,
            source,
            row,
        })
    };
    vec![
        render(&ProtectId { e: &e }),
        render(&ProtectTombstone { e: &e }),
        render(&InsertTrigger { e: &e }),
        render(&UpdateTrigger { e: &e }),
        render(&DeleteTrigger {
            e: &e,
            suffix: "soft_delete",
            event: "AFTER UPDATE OF \"deleted_at\"",
            condition: soft_delete,
            row: "NEW",
            last_entry: &e.last_entry_new,
        }),
        render(&DeleteTrigger {
            e: &e,
            suffix: "delete",
            event: "AFTER DELETE",
            condition: hard_delete,
            row: "OLD",
            last_entry: &e.last_entry_old,
        }),
        render(&PrepareSend { e: &e }),
        status(
            "on_state",
            "UPDATE OF \"state\"",
            "\"_offgen_outbox\"",
            "NEW",
        ),
        status("on_dequeue", "DELETE", "\"_offgen_outbox\"", "OLD"),
        status("on_conflict", "INSERT", "\"_offgen_conflicts\"", "NEW"),
        status("on_resolve", "DELETE", "\"_offgen_conflicts\"", "OLD"),
        render(&ApplyRemote { e: &e }),
        render(&PushResult { e: &e }),
        render(&ResolveConflict { e: &e }),
    ]
}
