//! The device's DDL statements, one string each, rendered from `templates/sql/client/`.
//!
//! Statements are kept apart (not joined into one script) because Drift runs a migration one
//! `customStatement` at a time, and a trigger body's own semicolons make splitting a script
//! afterwards unreliable.

use askama::Template;
// Templates spell the bookkeeping columns from their one declaration: `{{ bk::VERSION.sql }}`.
use offgen_runtime::bookkeeping as bk;

use crate::backend::device_columns::{Column, ColumnDefault, columns};
use crate::backend::literals::{quote, sql_string};
use crate::backend::sqlite::json::{self as wire, NO_SUCH_PATH};
use crate::model::{ConflictPolicy, Entity, Index, Schema};

/// Entity triggers read this to stay silent while a server record is being applied. A missing
/// row counts as "not applying", so deleting it can never silently stop the queue.
pub const GUARD: &str = "coalesce((SELECT \"value\" FROM \"_offgen_meta\" WHERE \"key\" = 'applying_remote'), '0') = '0'";

/// A random (version 4) UUID in SQL: 122 random bits, the version nibble and the variant bits.
/// `random() & 3` picks the variant digit without `abs()`, which overflows on one input.
pub const UUID_V4: &str = "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (random() & 3), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))";

/// How many times a rejected entry is sent before it is set aside as failed.
pub const MAX_ATTEMPTS: &str = "CAST(coalesce((SELECT \"value\" FROM \"_offgen_meta\" WHERE \"key\" = 'max_attempts'), '5') AS INTEGER)";

/// The delay before a rejected entry's first retry; it doubles with each further attempt.
pub const RETRY_BASE: &str = "CAST(coalesce((SELECT \"value\" FROM \"_offgen_meta\" WHERE \"key\" = 'retry_base_ms'), '60000') AS INTEGER)";

/// The device's own clock, epoch ms (the `_offgen_now` view: the system clock, or a fixed one).
pub const LOCAL_NOW: &str = "(SELECT \"local_ms\" FROM \"_offgen_now\")";

/// Advances the device's edit clock for lww entities: past its last stamp, and at least the
/// server-corrected time. Every stamp is then later than every earlier one of this device,
/// whatever its system clock does, and later than anything it has pulled.
pub const TICK: &str = "UPDATE \"_offgen_meta\" SET \"value\" = CAST(max(CAST(\"value\" AS INTEGER) + 1, (SELECT \"server_ms\" FROM \"_offgen_now\")) AS TEXT) WHERE \"key\" = 'lww_clock';";

/// The stamp [`TICK`] just issued.
pub const STAMP: &str =
    "(SELECT CAST(\"value\" AS INTEGER) FROM \"_offgen_meta\" WHERE \"key\" = 'lww_clock')";

/// Bytes a queued entry takes in a push request: its payload, its field stamps, and the
/// mutation's envelope (ids, entity, op, version: well under this).
pub fn entry_bytes(alias: &str) -> String {
    format!(
        "length(CAST({alias}\"payload\" AS BLOB)) + coalesce(length({alias}\"field_stamps\"), 0) + {ENVELOPE_BYTES}"
    )
}

/// An upper bound of a mutation's JSON besides its payload and field stamps.
pub const ENVELOPE_BYTES: usize = 256;

/// A unique index, as the pull trigger checks it.
pub struct UniqueSql {
    /// The wire keys, for comments.
    pub fields: String,
    /// SQL condition: a row of the table holds the pulled record's (`NEW."data"`) values.
    pub matches: String,
    /// The start of the local row's `sync_error` (a SQL string); the server row's id follows.
    pub message: String,
}

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
    /// Epoch milliseconds now, on the device's clock.
    pub now: &'static str,
    /// See [`MAX_ATTEMPTS`].
    pub max_attempts: &'static str,
    /// See [`RETRY_BASE`].
    pub retry_base: &'static str,
    /// Whether entries carry edit stamps (lww entities: the server compares them per field).
    pub stamps: bool,
    /// See [`TICK`].
    pub tick: &'static str,
    /// See [`STAMP`].
    pub stamp: &'static str,
    /// The pending entry's `field_stamps` with this update's changed fields stamped.
    pub folded_field_stamps: String,
    /// `field_stamps` of a new update entry: its changed fields, stamped.
    pub new_field_stamps: String,
    /// The entity's unique indexes, for clashes with pulled records.
    pub uniques: Vec<UniqueSql>,
    /// The notice of a change the server decided against entirely (as a SQL string).
    pub lost_message: String,
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
    /// Whether rows are only ever inserted (policy `append_only`): changed or deleted only
    /// before the server may have them, and then nothing but the queued insert is sent.
    pub append_only: bool,
    /// Why a change of an append-only row the server may have is refused (as a SQL string).
    pub append_only_message: String,
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
                .map(|c| (c.dart.clone(), c.wire_value(row)))
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
                "updated_at" => format!("coalesce(NEW.\"updated_at\", {LOCAL_NOW})"),
                "deleted_at" => "NULL".to_owned(),
                "sync_status" => "'synced'".to_owned(),
                "sync_error" => "NULL".to_owned(),
                _ => {
                    // A key the record lacks (a server on another schema step) takes the
                    // column's default on a new row, never NULL: a NOT NULL column with a
                    // default must not fail the page.
                    // Without a default that is NULL, which the decoding gives for a missing
                    // key by itself: one JSON function call per column instead of two, and
                    // they are most of what applying a record costs (docs/BENCHMARKS.md).
                    let decoded = c.from_wire("NEW.\"data\"");
                    let default = match &c.default {
                        Some(ColumnDefault::Literal { sql, .. }) => sql.clone(),
                        Some(ColumnDefault::Expression(expr)) => format!("({expr})"),
                        None => return decoded,
                    };
                    format!(
                        "CASE WHEN json_type(NEW.\"data\", {}) IS NULL THEN {default} ELSE {decoded} END",
                        wire::path(&c.dart),
                    )
                }
            })
            .collect();
        // On a row the device has, a key the record lacks keeps the device's value: an older
        // server does not send a field it does not know, and that is no reason to blank it.
        let upsert_assignments = all
            .iter()
            .filter(|c| c.name != "id")
            .map(|c| match c.field() {
                Some(_) => format!(
                    "{0} = CASE WHEN json_type(NEW.\"data\", {1}) IS NULL THEN {2}.{0} ELSE excluded.{0} END",
                    quote(&c.name),
                    wire::path(&c.dart),
                    quote(table_name)
                ),
                None => format!("{0} = excluded.{0}", quote(&c.name)),
            })
            .collect::<Vec<_>>()
            .join(", ");
        let stamp_paths = |target: &str| {
            let pairs: Vec<(String, String)> = fields
                .iter()
                .map(|c| {
                    (
                        format!(
                            "CASE WHEN {} THEN {} ELSE {NO_SUCH_PATH} END",
                            changed(c),
                            wire::path(&c.dart)
                        ),
                        STAMP.to_owned(),
                    )
                })
                .collect();
            wire::remove(
                wire::set(target.to_owned(), &pairs),
                &[NO_SUCH_PATH.to_owned()],
            )
        };
        let uniques = entity
            .indexes
            .iter()
            .filter(|index| index.unique)
            .map(|index| {
                let cols: Vec<&Column> = entity
                    .index_fields(index)
                    .map(|f| {
                        fields
                            .iter()
                            .copied()
                            .find(|c| c.field() == Some(f))
                            .expect("every field has a column")
                    })
                    .collect();
                let keys: Vec<&str> = cols.iter().map(|c| c.dart.as_str()).collect();
                UniqueSql {
                    fields: keys.join(", "),
                    matches: cols
                        .iter()
                        .map(|c| {
                            format!(
                                "{}.{} = {}",
                                quote(table_name),
                                quote(&c.name),
                                c.from_wire("NEW.\"data\"")
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(" AND "),
                    message: sql_string(&format!(
                        "unique: {} {} already taken on the server by {table_name} row ",
                        keys.join(", "),
                        if keys.len() == 1 { "is" } else { "are" }
                    )),
                }
            })
            .collect();
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
                    // Set through attach_file, or copied from another row: anything else
                    // would reach the server as a reference it refuses.
                    Some(crate::model::FieldType::Attachment) => (
                        "must be an attachment reference {sha256, size, mediaType}",
                        format!("NOT ({})", valid_reference(&format!("NEW.{col}"))),
                    ),
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
            now: LOCAL_NOW,
            max_attempts: MAX_ATTEMPTS,
            retry_base: RETRY_BASE,
            // Sent under either clock: a server by the received clock ignores them.
            stamps: matches!(entity.conflict, ConflictPolicy::Lww { .. }),
            tick: TICK,
            stamp: STAMP,
            folded_field_stamps: stamp_paths("coalesce(\"field_stamps\", '{}')"),
            new_field_stamps: stamp_paths("'{}'"),
            uniques,
            lost_message: sql_string(match entity.conflict {
                ConflictPolicy::ServerWins => {
                    "server_wins: the server kept its own version of this row; the change made here was not applied"
                }
                _ => "lww: newer changes on the server replaced the change made here",
            }),
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
            append_only: entity.conflict == ConflictPolicy::AppendOnly,
            append_only_message: sql_string(&format!(
                "offgen: {table_name} rows are append-only: once the server may have a row it is never changed or deleted; record a new one instead"
            )),
        }
    }
}

/// The statement that applies one pulled record of an entity in one write
/// (`apply_pulled_row_<table>` of `sync.sql`), for records with nothing local in the way.
pub struct PulledRowSql {
    /// The statement's name.
    pub name: String,
    /// The quoted table name.
    pub table: String,
    /// The `-- params:` line's list: each parameter with the note saying where its value is
    /// in the record (`offgen_runtime::scripts::RecordParam`).
    pub params: String,
    /// All columns.
    pub column_list: String,
    /// Their values: the bound parameters, decoded as the pull trigger decodes the record.
    pub values: String,
    /// `"c" = excluded."c", ...` for every column but the id.
    pub assignments: String,
}

/// The pulled-row statement of `entity`. It writes exactly what the entity's pull trigger
/// (`trigger_apply_remote.sql`) writes for a live record carrying every key, when the row has
/// no queued write, no conflict and no clash and no other row holds one of its unique values;
/// otherwise its id is NULL and `OR IGNORE` makes it change nothing, and the client hands the
/// record to `apply_pulled_records`. (So do a NULL in a NOT NULL column and a failed CHECK on
/// a new row: the trigger then fails the page the same way.)
pub fn pulled_row(schema: &Schema, entity: &Entity) -> PulledRowSql {
    use offgen_runtime::scripts::{Decoding, PULLED_ROW_PREFIX, RecordKey, RecordParam};
    let table_name = entity.table.sql();
    let table = quote(table_name);
    let entity_name = sql_string(table_name);
    let all = columns(schema, entity);
    let mut params = vec![
        RecordParam {
            name: "id".to_owned(),
            key: RecordKey::Id,
            decoding: Decoding::Value,
        },
        RecordParam {
            name: "version".to_owned(),
            key: RecordKey::Version,
            decoding: Decoding::Value,
        },
        RecordParam {
            name: "updated_at".to_owned(),
            key: RecordKey::UpdatedAt,
            decoding: Decoding::Value,
        },
    ];
    // The column's value from its bound parameter, as `Column::from_wire` decodes it from the
    // record's data.
    let value = |c: &Column| -> String {
        let param = format!(":{}", c.name);
        match c.field().map(|f| &f.ty) {
            Some(crate::model::FieldType::Json) => wire::decode_json_text(&param),
            Some(crate::model::FieldType::Attachment) => wire::decode_attachment_text(&param),
            Some(crate::model::FieldType::Blob) => format!("unhex({param})"),
            _ => param,
        }
    };
    let mut checks = vec![
        format!(
            "NOT EXISTS (SELECT 1 FROM \"_offgen_outbox\" WHERE \"entity\" = {entity_name} AND \"row_id\" = :id)"
        ),
        format!(
            "NOT EXISTS (SELECT 1 FROM \"_offgen_conflicts\" WHERE \"entity\" = {entity_name} AND \"row_id\" = :id)"
        ),
    ];
    let uniques: Vec<&Index> = entity.indexes.iter().filter(|i| i.unique).collect();
    if !uniques.is_empty() {
        checks.push(format!("NOT EXISTS (SELECT 1 FROM \"_offgen_clashes\" WHERE \"entity\" = {entity_name} AND \"id\" = :id)"));
    }
    for index in uniques {
        let matches: Vec<String> = entity
            .index_fields(index)
            .map(|f| {
                let c = all
                    .iter()
                    .find(|c| c.field() == Some(f))
                    .expect("every field has a column");
                format!("{table}.{} = {}", quote(&c.name), value(c))
            })
            .collect();
        checks.push(format!(
            "NOT EXISTS (SELECT 1 FROM {table} WHERE {table}.\"id\" <> :id AND {})",
            matches.join(" AND ")
        ));
    }
    let values: Vec<String> = all
        .iter()
        .map(|c| match c.name.as_str() {
            "id" => format!("(SELECT :id WHERE {})", checks.join("\n    AND ")),
            "version" => ":version".to_owned(),
            "updated_at" => format!("coalesce(:updated_at, {LOCAL_NOW})"),
            "deleted_at" | "sync_error" => "NULL".to_owned(),
            "sync_status" => "'synced'".to_owned(),
            _ => {
                let decoding = match c.field().map(|f| &f.ty) {
                    Some(crate::model::FieldType::Json | crate::model::FieldType::Attachment) => {
                        Decoding::Json
                    }
                    Some(crate::model::FieldType::Real) => Decoding::Real,
                    _ => Decoding::Value,
                };
                params.push(RecordParam {
                    name: c.name.clone(),
                    key: RecordKey::Data(c.dart.clone()),
                    decoding,
                });
                value(c)
            }
        })
        .collect();
    PulledRowSql {
        name: format!("{PULLED_ROW_PREFIX}{table_name}"),
        params: params
            .iter()
            .map(|p| format!(":{} ({})", p.name, p.note()))
            .collect::<Vec<_>>()
            .join(", "),
        column_list: all
            .iter()
            .map(|c| quote(&c.name))
            .collect::<Vec<_>>()
            .join(", "),
        values: values.join(", "),
        assignments: all
            .iter()
            .filter(|c| c.name != "id")
            .map(|c| format!("{0} = excluded.{0}", quote(&c.name)))
            .collect::<Vec<_>>()
            .join(", "),
        table,
    }
}

/// SQL condition: `value` (a column's text) is an attachment reference, as
/// `offgen_runtime::attachments::check` takes it (the server checks the media type fully).
pub fn valid_reference(value: &str) -> String {
    // CASE: SQLite may evaluate every operand of an AND, and the JSON functions fail on text
    // that is not JSON. coalesce: a missing key makes a comparison NULL, which is invalid too.
    format!(
        "CASE WHEN json_valid({value}) THEN coalesce(json_type({value}) = 'object' \
         AND json_type({value}, '$.sha256') = 'text' AND length(json_extract({value}, '$.sha256')) = 64 \
         AND json_extract({value}, '$.sha256') NOT GLOB '*[^0-9a-f]*' \
         AND json_type({value}, '$.size') = 'integer' AND json_extract({value}, '$.size') >= 0 \
         AND json_type({value}, '$.mediaType') = 'text' AND json_extract({value}, '$.mediaType') GLOB '?*/?*', 0) ELSE 0 END"
    )
}

/// Whether the schema has attachment fields: the device then keeps `_offgen_attachments`, and
/// `sync.sql` has the attachment loop's statements.
pub fn has_attachments(schema: &Schema) -> bool {
    schema
        .entities
        .iter()
        .any(|e| e.fields.iter().any(|f| f.ty.is_attachment()))
}

/// One attachment field, as its triggers use it.
pub struct AttachmentFieldSql {
    /// The wire key as a SQL string (`'photo'`): the `field` of `_offgen_attachments`.
    pub key: String,
    /// The quoted column.
    pub column: String,
    /// `NEW`'s reference's parts.
    pub sha256: String,
    /// See `sha256`.
    pub size: String,
    /// See `sha256`.
    pub media_type: String,
    /// SQL condition: `NEW` holds a reference.
    pub is_reference: String,
    /// The row's current reference's hash (unqualified column, in an UPDATE of the table).
    pub current_sha256: String,
}

/// The attachment triggers of one entity, prepared once.
pub struct AttachmentSql {
    /// The quoted table name.
    pub table: String,
    /// The table name as it is (for messages).
    pub table_name: String,
    /// SQL condition: `NEW` has a value in one of the attachment fields. Most rows are
    /// written without a file: the insert trigger lets them pass without running its body.
    pub any_reference_set: String,
    /// The table name as a SQL string.
    pub entity: String,
    /// Trigger names start with this.
    pub trigger_prefix: String,
    /// Epoch milliseconds now, on the device's clock.
    pub now: &'static str,
    /// The attachment fields.
    pub fields: Vec<AttachmentFieldSql>,
}

impl AttachmentSql {
    /// The attachment fields of `entity`; `None` when it has none.
    pub fn new(entity: &Entity) -> Option<AttachmentSql> {
        let fields: Vec<AttachmentFieldSql> = entity
            .fields
            .iter()
            .filter(|f| f.ty.is_attachment())
            .map(|f| {
                let column = quote(f.name.sql());
                // Never an error on text that is not JSON: the queue triggers refuse it
                // with a message saying what is wrong.
                let part = |name: &str| {
                    format!(
                        "CASE WHEN json_valid(NEW.{column}) THEN json_extract(NEW.{column}, '$.{name}') END"
                    )
                };
                AttachmentFieldSql {
                    key: sql_string(f.name.json()),
                    sha256: part("sha256"),
                    size: part("size"),
                    media_type: part("mediaType"),
                    is_reference: valid_reference(&format!("NEW.{column}")),
                    current_sha256: format!(
                        "CASE WHEN json_valid({column}) THEN json_extract({column}, '$.sha256') END"
                    ),
                    column,
                }
            })
            .collect();
        let any_reference_set = fields
            .iter()
            .map(|f| format!("NEW.{} IS NOT NULL", f.column))
            .collect::<Vec<_>>()
            .join(" OR ");
        (!fields.is_empty()).then(|| AttachmentSql {
            any_reference_set,
            table: quote(entity.table.sql()),
            table_name: entity.table.sql().to_owned(),
            entity: sql_string(entity.table.sql()),
            trigger_prefix: format!("_offgen_{}", entity.table.sql()),
            now: LOCAL_NOW,
            fields,
        })
    }
}

#[derive(Template)]
#[template(path = "sql/client/trigger_attachments_write.sql", escape = "none")]
struct AttachmentsWriteTrigger<'a> {
    a: &'a AttachmentSql,
    suffix: &'a str,
    event: &'a str,
    update: bool,
}

#[derive(Template)]
#[template(path = "sql/client/trigger_attachments_gone.sql", escape = "none")]
struct AttachmentsGoneTrigger<'a> {
    a: &'a AttachmentSql,
    suffix: &'a str,
    event: &'a str,
    soft: bool,
    row: &'a str,
}

#[derive(Template)]
#[template(path = "sql/client/trigger_attach.sql", escape = "none")]
struct AttachTrigger<'a> {
    a: &'a AttachmentSql,
    suffix: &'a str,
    event: &'a str,
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

#[derive(Template)]
#[template(path = "sql/client/trigger_protect_append_only.sql", escape = "none")]
struct ProtectAppendOnly<'a> {
    e: &'a EntitySql,
    suffix: &'a str,
    event: &'a str,
    condition: &'a str,
}
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
    /// The column of `source` that holds the entity row's id.
    row_key: &'a str,
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
static_template!(NoticesTable, "sql/client/table_notices.sql");
static_template!(ClashesTable, "sql/client/table_clashes.sql");
static_template!(NowView, "sql/client/view_now.sql");
static_template!(AttachmentsTable, "sql/client/table_attachments.sql");

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
    let columns: Vec<String> = entity
        .index_fields(index)
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
        render(&NowView),
        render(&OutboxTable),
        "CREATE INDEX \"_offgen_outbox_row\" ON \"_offgen_outbox\" (\"row_id\");".to_owned(),
        "CREATE UNIQUE INDEX \"_offgen_outbox_mutation\" ON \"_offgen_outbox\" (\"mutation_id\") WHERE \"mutation_id\" IS NOT NULL;".to_owned(),
        render(&ConflictsTable),
        render(&InboxTable),
        render(&PushResultsTable),
        render(&NoticesTable),
        render(&ClashesTable),
        "CREATE INDEX \"_offgen_clashes_local_row\" ON \"_offgen_clashes\" (\"local_row_id\");".to_owned(),
    ]
}

/// The attachment queue and its indexes, for a schema with attachment fields.
pub fn attachment_tables() -> Vec<String> {
    vec![
        render(&AttachmentsTable),
        "CREATE INDEX \"_offgen_attachments_due\" ON \"_offgen_attachments\" (\"state\", \"next_attempt_at\");".to_owned(),
        "CREATE INDEX \"_offgen_attachments_sha256\" ON \"_offgen_attachments\" (\"sha256\");".to_owned(),
        "CREATE INDEX \"_offgen_attachments_local_path\" ON \"_offgen_attachments\" (\"local_path\");".to_owned(),
        "CREATE INDEX \"_offgen_attachments_row\" ON \"_offgen_attachments\" (\"entity\", \"row_id\");".to_owned(),
    ]
}

/// Names of the triggers of an entity, in creation order (so a migration can drop them).
pub fn trigger_names(entity: &Entity) -> Vec<String> {
    [
        "protect_id",
        "protect_tombstone",
        "append_only_update",
        "append_only_delete",
        "insert",
        "update",
        "soft_delete",
        "delete",
        "prepare_send",
        "status_on_state",
        "status_on_dequeue",
        "status_on_conflict",
        "status_on_resolve",
        "status_on_clash",
        "status_on_clash_gone",
        "apply_remote",
        "push_result",
        "resolve_conflict",
        "attachments_on_insert",
        "attachments_on_update",
        "attachments_on_soft_delete",
        "attachments_on_delete",
        "attach",
        "attach_again",
    ]
    .iter()
    .map(|suffix| format!("_offgen_{}_{suffix}", entity.table.sql()))
    .collect()
}

/// Every trigger of an entity, in the order of [`trigger_names`] (which also names the ones
/// only some entities have, so a step drops them whatever the entity had).
pub fn triggers(schema: &Schema, entity: &Entity) -> Vec<String> {
    let e = EntitySql::new(schema, entity);
    let soft_delete = "OLD.\"deleted_at\" IS NULL AND NEW.\"deleted_at\" IS NOT NULL";
    let hard_delete = "OLD.\"deleted_at\" IS NULL";
    let status = |suffix, event, source, row| {
        let row_key = if source == "\"_offgen_clashes\"" {
            "local_row_id"
        } else {
            "row_id"
        };
        render(&StatusTrigger {
            e: &e,
            suffix,
            event,
            source,
            row,
            row_key,
        })
    };
    let mut out = vec![
        render(&ProtectId { e: &e }),
        render(&ProtectTombstone { e: &e }),
    ];
    if e.append_only {
        let changed = format!("({})", e.data_changed);
        out.push(render(&ProtectAppendOnly {
            e: &e,
            suffix: "append_only_update",
            event: "UPDATE",
            condition: &changed,
        }));
        out.push(render(&ProtectAppendOnly {
            e: &e,
            suffix: "append_only_delete",
            event: "DELETE",
            condition: "OLD.\"deleted_at\" IS NULL",
        }));
    }
    out.extend([
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
        status("on_clash", "INSERT", "\"_offgen_clashes\"", "NEW"),
        status("on_clash_gone", "DELETE", "\"_offgen_clashes\"", "OLD"),
        render(&ApplyRemote { e: &e }),
        render(&PushResult { e: &e }),
        render(&ResolveConflict { e: &e }),
    ]);
    if let Some(a) = AttachmentSql::new(entity) {
        let columns: Vec<&str> = a.fields.iter().map(|f| f.column.as_str()).collect();
        let update_of = format!("UPDATE OF {}", columns.join(", "));
        out.extend([
            render(&AttachmentsWriteTrigger {
                a: &a,
                suffix: "attachments_on_insert",
                event: "INSERT",
                update: false,
            }),
            render(&AttachmentsWriteTrigger {
                a: &a,
                suffix: "attachments_on_update",
                event: &update_of,
                update: true,
            }),
            render(&AttachmentsGoneTrigger {
                a: &a,
                suffix: "attachments_on_soft_delete",
                event: "UPDATE OF \"deleted_at\"",
                soft: true,
                row: "NEW",
            }),
            render(&AttachmentsGoneTrigger {
                a: &a,
                suffix: "attachments_on_delete",
                event: "DELETE",
                soft: false,
                row: "OLD",
            }),
            render(&AttachTrigger {
                a: &a,
                suffix: "attach",
                event: "INSERT",
            }),
            // attach_file of a file this row's field referred to before (its queue row is
            // there already, and is taken up again).
            render(&AttachTrigger {
                a: &a,
                suffix: "attach_again",
                event: "UPDATE OF \"local_path\"",
            }),
        ]);
    }
    out
}
