//! The spec format's vocabulary: every key, field type and conflict policy, with its meaning.
//!
//! One table feeds both the parser (which rejects any key not listed here, with a "did you
//! mean") and `offgen schema` (the JSON Schema editors use), so the two cannot drift apart.

/// The spec format version this offgen reads.
pub const FORMAT_VERSION: i64 = 1;

/// A key of the spec and what it means.
#[derive(Clone, Copy, Debug)]
pub struct Key {
    /// The key as written.
    pub name: &'static str,
    /// One sentence for docs and editor hovers.
    pub doc: &'static str,
}

const fn key(name: &'static str, doc: &'static str) -> Key {
    Key { name, doc }
}

/// Keys at the top of a spec.
pub const TOP_KEYS: &[Key] = &[
    key(
        "offgen",
        "Spec format version. This offgen reads version 1.",
    ),
    key(
        "app",
        "The app's name: names the Dart database class, the generated files and the server crate.",
    ),
    key(
        "entities",
        "The entities, by name. Each becomes a table on the device and the server.",
    ),
    key(
        "migrate",
        "Changes that lose data, made explicit: `drop` (entities or Entity.field removed with their data) and `retype` (Entity.field whose values may not all convert).",
    ),
    key(
        "clients",
        "Which app versions the server serves: `oldest_step`, the oldest schema step whose apps still sync (older ones are told to upgrade). Default: every step.",
    ),
];

/// Keys of `clients:`.
pub const CLIENTS_KEYS: &[Key] = &[key(
    "oldest_step",
    "The oldest schema step (migration number) whose apps the server still serves, converting their pushes and pulls to and from their own shape.",
)];

/// Keys of `migrate:`.
pub const MIGRATE_KEYS: &[Key] = &[
    key(
        "drop",
        "Entities (`Note`) or fields (`Note.color`) removed from the spec whose data may be dropped.",
    ),
    key(
        "retype",
        "Fields (`Note.stars`) whose type, enum values or reference changed in a way that can lose values.",
    ),
];

/// Keys of an entity.
pub const ENTITY_KEYS: &[Key] = &[
    key(
        "fields",
        "The entity's fields, by name: a type name, or a mapping with options.",
    ),
    key(
        "table",
        "SQL table name (and URL segment). Default: the entity name in snake_case, plural.",
    ),
    key(
        "conflict",
        "What happens when two devices change one record: version (default), lww, server_wins, append_only.",
    ),
    key(
        "owner",
        "A field holding the owning user's id: each user then pulls and writes only their own rows.",
    ),
    key(
        "indexes",
        "Indexes: a field, a list of fields, or { fields, name }.",
    ),
    key(
        "uniques",
        "Unique constraints: a field, a list of fields, or { fields, name }.",
    ),
    key("doc", "A description, carried into the generated code."),
    key(
        "renamed_from",
        "The entity's previous name: the next migration renames its table instead of dropping it.",
    ),
];

/// Keys of a field's long form.
pub const FIELD_KEYS: &[Key] = &[
    key(
        "type",
        "The field's type (see the list of types), or the name of an entity it references.",
    ),
    key(
        "nullable",
        "Whether the field may be null. Default false; `text?` is a shorthand.",
    ),
    key(
        "default",
        "Value used when a row is created without this field.",
    ),
    key("values", "The allowed values of an enum field."),
    key("to", "The entity a reference field points to."),
    key("unique", "No two rows may hold the same value."),
    key("doc", "A description, carried into the generated code."),
    key(
        "renamed_from",
        "The field's previous name: the next migration renames its column, keeping the data.",
    ),
];

/// Keys of an index or unique constraint in its long form.
pub const INDEX_KEYS: &[Key] = &[
    key("fields", "The indexed fields, in order."),
    key(
        "name",
        "SQL name of the index. Default: <table>_<fields>_idx (or _key for uniques).",
    ),
];

/// Keys of a conflict policy in its long form.
pub const CONFLICT_KEYS: &[Key] = &[
    key("policy", "version, lww, server_wins or append_only."),
    key(
        "clock",
        "For lww: what orders writes. device (default): when each field was written on its device, on the server's clock; the result does not depend on the order writes arrive in. received: when the server received the write; the last write to arrive wins.",
    ),
    key(
        "by",
        "Deprecated and ignored: lww once compared this datetime field; it now compares the stamps devices send with each write.",
    ),
];

/// Field types.
pub const FIELD_TYPES: &[Key] = &[
    key("text", "UTF-8 text."),
    key("int", "64-bit signed integer."),
    key("real", "64-bit floating point number."),
    key("bool", "true or false."),
    key(
        "datetime",
        "A point in time, millisecond precision (epoch milliseconds, UTC).",
    ),
    key("date", "A calendar date, YYYY-MM-DD."),
    key("uuid", "A UUID, as lowercase hyphenated text."),
    key("json", "Any JSON value."),
    key("blob", "Bytes (hex on the wire)."),
    key(
        "attachment",
        "A file (photo, signature, document): the record holds its content hash, size and media type; the bytes are uploaded on their own, never holding the record back.",
    ),
    key("enum", "Text restricted to `values`."),
    key("reference", "The id of a row of the entity named by `to`."),
];

/// Conflict policies.
pub const CONFLICT_POLICIES: &[Key] = &[
    key(
        "version",
        "A write based on a stale version is a conflict; the device gets the server's record.",
    ),
    key(
        "lww",
        "Last writer wins, field by field: each field keeps its newest write, by when it was written on its device (or, with `clock: received`, by when the server received it).",
    ),
    key(
        "server_wins",
        "A write based on a stale version is dropped in favour of the server's record.",
    ),
    key(
        "append_only",
        "Records are only ever inserted; updates and deletes are rejected.",
    ),
];

/// The names in a key table.
pub fn names(keys: &[Key]) -> Vec<&'static str> {
    keys.iter().map(|k| k.name).collect()
}
