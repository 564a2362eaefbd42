//! Server migration steps: the initial schema, and the next step from a [`SchemaDiff`], per
//! dialect. PostgreSQL alters tables in place (its DDL is transactional); SQLite uses its
//! table rebuild where ALTER TABLE cannot do the change, as on the device.

use crate::backend::Dialect;
use crate::backend::client::statements::has_attachments;
use crate::backend::literals::{quote, sql_string};
use crate::backend::server::columns::{
    default_sql, enum_check_name, field_definition, fk_name, sql_type,
};
use crate::backend::server::sql::{
    attachments_support, changes_index, changes_index_name, create_entity, create_index, support,
};
use crate::backend::sqlite::convert::converted;
use crate::model::{ConflictPolicy, Entity, FieldType, Link, Schema};
use crate::output::GENERATED_MARKER;
use crate::schema_diff::{Conversion, KeptEntity, KeptField, SchemaDiff};
use offgen_runtime::bookkeeping::{DELETED_AT, SERVER_CLOCK, SERVER_SEQ, UPDATED_AT, VERSION};

/// Directory of the server migrations of a dialect, inside the output directory.
pub fn dir(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => "server/migrations/sqlite",
        Dialect::Postgres => "server/migrations/postgres",
    }
}

/// One server step in one dialect: a script.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerStep {
    /// Shared with the device step.
    pub number: u32,
    /// The file name's words after the number.
    pub slug: String,
    /// The file: a header comment, then the statements.
    pub script: String,
}

impl ServerStep {
    /// A step read back from its file `NNNN_<slug>.sql`.
    pub fn parse(file_name: &str, script: String) -> Result<ServerStep, String> {
        let (number, slug) = file_name
            .strip_suffix(".sql")
            .and_then(|stem| stem.split_once('_'))
            .and_then(|(n, s)| Some((n.parse::<u32>().ok()?, s.to_owned())))
            .ok_or_else(|| format!("`{file_name}` is not named NNNN_<slug>.sql"))?;
        Ok(ServerStep {
            number,
            slug,
            script,
        })
    }
}

impl ServerStep {
    /// `server/migrations/<dialect>/NNNN_<slug>.sql`.
    pub fn path(&self, dialect: Dialect) -> String {
        format!("{}/{:04}_{}.sql", dir(dialect), self.number, self.slug)
    }

    /// `NNNN_<slug>`.
    pub fn name(&self) -> String {
        format!("{:04}_{}", self.number, self.slug)
    }
}

fn script(number: u32, dialect: Dialect, summary: &[String], statements: &[String]) -> String {
    let name = dialect.label();
    let mut text =
        format!("-- {GENERATED_MARKER}. Do not edit: the next build adds a new step instead.\n");
    text.push_str(&format!(
        "-- Server migration {number:04} ({name}), run in one transaction by the server at start:\n"
    ));
    for line in summary {
        text.push_str(&format!("--   {line}\n"));
    }
    if statements.is_empty() {
        // The device changed in this step, the server did not; the step keeps the numbering.
        text.push_str("\nSELECT 1;\n");
    }
    for statement in statements {
        text.push('\n');
        text.push_str(statement);
        text.push('\n');
    }
    text
}

/// The first step: support tables, then every entity's table and indexes.
pub fn initial(schema: &Schema, dialect: Dialect) -> ServerStep {
    let mut statements = vec![support(dialect)];
    if has_attachments(schema) {
        statements.push(attachments_support(dialect));
    }
    for entity in &schema.entities {
        statements.extend(create_entity(schema, entity, dialect));
    }
    let tables: Vec<&str> = schema.entities.iter().map(|e| e.table.sql()).collect();
    let summary = vec![
        "create the sync tables (_offgen_mutations, _offgen_audit, and the change order)"
            .to_owned(),
        format!("create {} with their indexes", tables.join(", ")),
    ];
    ServerStep {
        number: 1,
        slug: "init".to_owned(),
        script: script(1, dialect, &summary, &statements),
    }
}

/// A step that changes nothing on the server (the device changed).
pub fn unchanged(number: u32, slug: &str, dialect: Dialect) -> ServerStep {
    ServerStep {
        number,
        slug: slug.to_owned(),
        script: script(
            number,
            dialect,
            &["no change on the server".to_owned()],
            &[],
        ),
    }
}

/// The next step in one dialect: its statements and what each change was.
#[derive(Debug)]
pub struct NextStep {
    /// The statements, in order.
    pub statements: Vec<String>,
    /// The changes, in order: the script's summary and the step's name come from these.
    pub changes: Vec<Change>,
}

/// One change a server step makes, to the table it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Columns, constraints or indexes changed.
    Altered(String),
    /// Values were converted: the rows get new versions, so devices pull them again.
    Republished(String),
    /// A new table.
    Created(String),
    /// A table dropped (`migrate.drop`).
    Dropped(String),
}

impl Change {
    /// The change for people, in the script's header.
    pub fn summary(&self) -> String {
        match self {
            Change::Altered(t) => format!("change {t}"),
            Change::Republished(t) => {
                format!("republish {t}: values were converted, devices pull the rows again")
            }
            Change::Created(t) => format!("create {t}"),
            Change::Dropped(t) => format!("drop {t} (migrate.drop)"),
        }
    }

    /// The change in a step's file name (`change_observations`): table names are snake_case
    /// identifiers, so the name is too.
    pub fn slug(&self) -> String {
        match self {
            Change::Altered(t) => format!("change_{t}"),
            Change::Republished(t) => format!("republish_{t}"),
            Change::Created(t) => format!("create_{t}"),
            Change::Dropped(t) => format!("drop_{t}"),
        }
    }
}

impl NextStep {
    /// The summary lines of the script's header.
    pub fn summary(&self) -> Vec<String> {
        self.changes.iter().map(Change::summary).collect()
    }
}

/// The next step in `dialect`; `None` when the server schema does not change.
pub fn next(new: &Schema, diff: &SchemaDiff, dialect: Dialect) -> Option<NextStep> {
    let mut out = Vec::new();
    let mut changes = Vec::new();
    for kept in &diff.kept {
        let before = out.len();
        match dialect {
            Dialect::Postgres => alter_postgres(new, kept, &mut out),
            Dialect::Sqlite => alter_sqlite(new, kept, &mut out),
        }
        out.extend(rekey_clock(kept, dialect));
        let table = || kept.new.table.sql().to_owned();
        if out.len() > before {
            changes.push(Change::Altered(table()));
        }
        if rewrites_values(kept) {
            out.extend(republish(kept.new, dialect));
            changes.push(Change::Republished(table()));
        }
    }
    for entity in &diff.added {
        out.extend(create_entity(new, entity, dialect));
        changes.push(Change::Created(entity.table.sql().to_owned()));
    }
    out.extend(attachment_moves(new, diff, dialect, &mut changes));
    for entity in &diff.dropped {
        out.push(format!("DROP TABLE {};", quote(entity.table.sql())));
        changes.push(Change::Dropped(entity.table.sql().to_owned()));
    }
    (!out.is_empty()).then_some(NextStep {
        statements: out,
        changes,
    })
}

/// `lww` rows keep each field's stamp in `_offgen_clock`, by wire key. A field without one
/// counts as written at the row's last change, which moves with writes of other fields: a
/// write of it would win or lose by when the row last changed, and so by the order writes
/// arrived in. So a field whose key changes takes its stamp along, and a field the step adds
/// is stamped as written with the row's first write (its oldest stamp: the insert stamped
/// every field, and stamps only grow), as an insert of the row made after the step would have
/// stamped its value; a dropped field's stamp goes with it.
fn rekey_clock(kept: &KeptEntity, dialect: Dialect) -> Vec<String> {
    let lww = |e: &Entity| matches!(e.conflict, ConflictPolicy::Lww { .. });
    if !(lww(kept.old) || lww(kept.new)) {
        return Vec::new();
    }
    let table = quote(kept.new.table.sql());
    let clock = quote(SERVER_CLOCK);
    let renamed = kept
        .kept
        .iter()
        .filter(|f| f.old.name.json() != f.new.name.json())
        .map(|f| (f.old.name.json(), f.new.name.json()));
    let dropped = kept.dropped.iter().map(|f| f.name.json());
    let mut out = Vec::new();
    for (old, new) in renamed {
        out.push(match dialect {
            Dialect::Postgres => format!(
                "UPDATE {table} SET {clock} = ({clock} - {o}) || jsonb_build_object({n}, {clock} -> {o}) WHERE {clock} ? {o};",
                o = sql_string(old),
                n = sql_string(new)
            ),
            Dialect::Sqlite => format!(
                "UPDATE {table} SET {clock} = json_set(json_remove({clock}, {o}), {n}, json_extract({clock}, {o})) WHERE json_type({clock}, {o}) IS NOT NULL;",
                o = sql_string(&format!("$.{old}")),
                n = sql_string(&format!("$.{new}"))
            ),
        });
    }
    for field in &kept.added {
        let key = field.name.json();
        out.push(match dialect {
            Dialect::Postgres => format!(
                "UPDATE {table} SET {clock} = {clock} || jsonb_build_object({k}, (SELECT min(\"value\"::bigint) FROM jsonb_each_text({clock}))) \
                 WHERE jsonb_typeof({clock}) = 'object' AND {clock} <> '{{}}'::jsonb AND NOT {clock} ? {k};",
                k = sql_string(key)
            ),
            Dialect::Sqlite => format!(
                "UPDATE {table} SET {clock} = json_set({clock}, {k}, (SELECT min(\"value\") FROM json_each({clock}))) \
                 WHERE json_type({clock}) = 'object' AND json_type({clock}, {k}) IS NULL AND EXISTS (SELECT 1 FROM json_each({clock}));",
                k = sql_string(&format!("$.{key}"))
            ),
        });
    }
    for key in dropped {
        out.push(match dialect {
            Dialect::Postgres => format!(
                "UPDATE {table} SET {clock} = {clock} - {k} WHERE {clock} ? {k};",
                k = sql_string(key)
            ),
            Dialect::Sqlite => format!(
                "UPDATE {table} SET {clock} = json_remove({clock}, {k}) WHERE json_type({clock}, {k}) IS NOT NULL;",
                k = sql_string(&format!("$.{key}"))
            ),
        });
    }
    out
}

/// The table of uploaded files: made when the first attachment field comes, and kept naming
/// the entities and fields as they are now (files of dropped ones stay stored, and no route
/// serves them any more).
fn attachment_moves(
    new: &Schema,
    diff: &SchemaDiff,
    dialect: Dialect,
    changes: &mut Vec<Change>,
) -> Vec<String> {
    let had = diff
        .kept
        .iter()
        .map(|k| k.old)
        .chain(diff.dropped.iter().copied())
        .any(|e| e.fields.iter().any(|f| f.ty.is_attachment()));
    let mut out = Vec::new();
    if has_attachments(new) && !had {
        out.push(attachments_support(dialect));
        changes.push(Change::Created("_offgen_attachments".to_owned()));
    }
    if !had {
        return out;
    }
    let table = quote("_offgen_attachments");
    for kept in &diff.kept {
        let (from, to) = (kept.old.table.sql(), kept.new.table.sql());
        if kept.renamed() {
            out.push(format!(
                "UPDATE {table} SET \"entity\" = {} WHERE \"entity\" = {};",
                sql_string(to),
                sql_string(from)
            ));
        }
        for field in kept.kept.iter().filter(|f| {
            f.old.ty.is_attachment()
                && f.new.ty.is_attachment()
                && f.old.name.json() != f.new.name.json()
        }) {
            out.push(format!(
                "UPDATE {table} SET \"field\" = {} WHERE \"entity\" = {} AND \"field\" = {};",
                sql_string(field.new.name.json()),
                sql_string(to),
                sql_string(field.old.name.json())
            ));
        }
    }
    out
}

/// Whether the step changes stored values in ways devices cannot work out themselves: a
/// retype whose values may not all convert, or removed enum values (rows holding them get the
/// default). A device that migrates does the same conversion, but one that has not (an older
/// app still served) keeps the old value unless the rows come to it again.
fn rewrites_values(kept: &KeptEntity) -> bool {
    kept.kept
        .iter()
        .any(|f| f.conversion == Conversion::Retype || !f.removed_values.is_empty())
}

/// Gives every row of `entity` a new place in the change stream, so every device pulls it
/// again (with the same version: a device's apply takes a record of its own version).
fn republish(entity: &Entity, dialect: Dialect) -> Vec<String> {
    let table = quote(entity.table.sql());
    match dialect {
        Dialect::Postgres => vec![format!(
            "UPDATE {table} SET \"_offgen_seq\" = nextval('\"_offgen_seq\"'), \"_offgen_xid\" = pg_current_xact_id();"
        )],
        Dialect::Sqlite => vec![
            format!(
                "UPDATE {table} SET \"_offgen_seq\" = (SELECT \"value\" FROM \"_offgen_counter\" WHERE \"id\" = 1) + \"r\".\"n\" FROM (SELECT \"id\" AS \"rid\", row_number() OVER (ORDER BY \"_offgen_seq\") AS \"n\" FROM {table}) AS \"r\" WHERE {table}.\"id\" = \"r\".\"rid\";"
            ),
            format!(
                "UPDATE \"_offgen_counter\" SET \"value\" = \"value\" + (SELECT count(*) FROM {table}) WHERE \"id\" = 1;"
            ),
        ],
    }
}

/// The statements of a step as a script.
pub fn step(
    number: u32,
    slug: &str,
    dialect: Dialect,
    summary: &[String],
    statements: &[String],
) -> ServerStep {
    ServerStep {
        number,
        slug: slug.to_owned(),
        script: script(number, dialect, summary, statements),
    }
}

/// Indexes compared by statement: changed ones go and come back; with `rebuilt`, the old table
/// took its indexes with it, so all new ones are created. The change index is handled here
/// alone, also when the table was renamed (its name and statement then differ).
fn indexes(
    old_entity: &Entity,
    new_entity: &Entity,
    dialect: Dialect,
    rebuilt: bool,
    out: &mut Vec<String>,
) {
    let old: Vec<(String, String)> = old_entity
        .indexes
        .iter()
        .map(|i| (i.name.clone(), create_index(old_entity, i)))
        .collect();
    let new: Vec<(String, String)> = new_entity
        .indexes
        .iter()
        .map(|i| (i.name.clone(), create_index(new_entity, i)))
        .collect();
    if !rebuilt {
        for (name, statement) in &old {
            if !new.iter().any(|(n, s)| n == name && s == statement) {
                out.push(format!("DROP INDEX IF EXISTS {};", quote(name)));
            }
        }
        let old_changes = changes_index(old_entity, dialect);
        let new_changes = changes_index(new_entity, dialect);
        if old_changes != new_changes {
            out.push(format!(
                "DROP INDEX IF EXISTS {};",
                quote(&changes_index_name(old_entity))
            ));
            out.push(new_changes);
        }
    } else {
        out.push(changes_index(new_entity, dialect));
    }
    for (name, statement) in &new {
        if rebuilt || !old.iter().any(|(n, s)| n == name && s == statement) {
            out.push(statement.clone());
        }
    }
}

fn alter_postgres(new: &Schema, kept: &KeptEntity, out: &mut Vec<String>) {
    let table = quote(kept.new.table.sql());
    if kept.renamed() {
        out.push(format!(
            "ALTER TABLE {} RENAME TO {table};",
            quote(kept.old.table.sql())
        ));
        for target in ["_offgen_mutations", "_offgen_audit"] {
            out.push(format!(
                "UPDATE {} SET \"entity\" = {} WHERE \"entity\" = {};",
                quote(target),
                sql_string(kept.new.table.sql()),
                sql_string(kept.old.table.sql())
            ));
        }
    }
    for field in &kept.dropped {
        out.push(format!(
            "ALTER TABLE {table} DROP COLUMN {};",
            quote(field.name.sql())
        ));
    }
    for field in &kept.kept {
        let column = quote(field.new.name.sql());
        if field.renamed() {
            out.push(format!(
                "ALTER TABLE {table} RENAME COLUMN {} TO {column};",
                quote(field.old.name.sql())
            ));
        }
        // Constraint names carry the table's and column's names: they follow renames first,
        // so later steps find them under the names the spec gives them now.
        let (was_enum, is_enum) = (is_enum(&field.old.ty), is_enum(&field.new.ty));
        let check = enum_check_name(kept.new, field.new);
        let old_check = enum_check_name(kept.old, field.old);
        if was_enum && old_check != check {
            out.push(format!(
                "ALTER TABLE {table} RENAME CONSTRAINT {} TO {};",
                quote(&old_check),
                quote(&check)
            ));
        }
        let (old_target, new_target) = (reference(&field.old.ty), reference(&field.new.ty));
        let (old_fk, fk) = (fk_name(kept.old, field.old), fk_name(kept.new, field.new));
        if old_target.is_some() && old_fk != fk {
            out.push(format!(
                "ALTER TABLE {table} RENAME CONSTRAINT {} TO {};",
                quote(&old_fk),
                quote(&fk)
            ));
        }
        let values_changed = was_enum && field.old.ty != field.new.ty;
        if was_enum && (values_changed || !is_enum) {
            out.push(format!(
                "ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {};",
                quote(&check)
            ));
        }
        if old_target.is_some() && old_target != new_target {
            out.push(format!(
                "ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {};",
                quote(&fk)
            ));
        }
        let type_changed = sql_type(&field.old.ty, Dialect::Postgres)
            != sql_type(&field.new.ty, Dialect::Postgres);
        let lossy = field.conversion == Conversion::Retype || !field.removed_values.is_empty();
        if type_changed || lossy {
            out.push(format!(
                "ALTER TABLE {table} ALTER COLUMN {column} TYPE {} USING {};",
                sql_type(&field.new.ty, Dialect::Postgres),
                postgres_conversion(field)
            ));
        }
        if field.old.default != field.new.default {
            match &field.new.default {
                Some(d) => out.push(format!(
                    "ALTER TABLE {table} ALTER COLUMN {column} SET DEFAULT {};",
                    default_sql(d, Dialect::Postgres)
                )),
                None => out.push(format!(
                    "ALTER TABLE {table} ALTER COLUMN {column} DROP DEFAULT;"
                )),
            }
        }
        if field.fills_nulls()
            && let Some(d) = &field.new.default
        {
            out.push(format!(
                "UPDATE {table} SET {column} = {} WHERE {column} IS NULL;",
                default_sql(d, Dialect::Postgres)
            ));
        }
        if field.old.nullable != field.new.nullable {
            let change = if field.new.nullable { "DROP" } else { "SET" };
            out.push(format!(
                "ALTER TABLE {table} ALTER COLUMN {column} {change} NOT NULL;"
            ));
        }
        if let FieldType::Enum { values, .. } = &field.new.ty
            && (values_changed || !was_enum)
        {
            let list: Vec<String> = values.iter().map(|v| sql_string(&v.spec)).collect();
            out.push(format!(
                "ALTER TABLE {table} ADD CONSTRAINT {} CHECK ({column} IN ({}));",
                quote(&check),
                list.join(", ")
            ));
        }
        if let Some(target) = new_target
            && old_target != new_target
        {
            let target = new.target(target);
            out.push(format!(
                "ALTER TABLE {table} ADD CONSTRAINT {} FOREIGN KEY ({column}) REFERENCES {} (\"id\") DEFERRABLE INITIALLY DEFERRED;",
                quote(&fk),
                quote(target.table.sql())
            ));
        }
    }
    for field in &kept.added {
        out.push(format!(
            "ALTER TABLE {table} ADD COLUMN {};",
            field_definition(new, kept.new, field, Dialect::Postgres)
        ));
    }
    indexes(kept.old, kept.new, Dialect::Postgres, false, out);
}

fn is_enum(ty: &FieldType) -> bool {
    matches!(ty, FieldType::Enum { .. })
}

fn reference(ty: &FieldType) -> Option<&Link<Entity>> {
    match ty {
        FieldType::Reference { entity } => Some(entity),
        _ => None,
    }
}

/// `USING` expression converting a column to its new type; NULL where a value does not
/// convert, then the default where the field is required.
fn postgres_conversion(field: &KeptField) -> String {
    use FieldType::*;
    let c = quote(field.old.name.sql());
    let text = format!("{c}::text");
    let mut expr = match (&field.old.ty, &field.new.ty) {
        (a, b) if sql_type(a, Dialect::Postgres) == sql_type(b, Dialect::Postgres) => c.clone(),
        (_, Text | Date | Enum { .. }) => text.clone(),
        (_, Int | DateTime) => format!("CASE WHEN {text} ~ '^-?[0-9]+$' THEN {text}::bigint END"),
        (_, Real) => format!(
            "CASE WHEN {text} ~ '^-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?$' THEN {text}::double precision END"
        ),
        (_, Bool) => format!(
            "CASE WHEN {c} IS NULL THEN NULL ELSE {text} NOT IN ('0', 'false', 'f', '') END"
        ),
        (_, Uuid | Reference { .. }) => format!(
            "CASE WHEN {text} ~ '^[0-9a-f]{{8}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{12}}$' THEN {text}::uuid END"
        ),
        (_, Json) => format!("to_jsonb({c})"),
        // No other type's values are references to files this server holds.
        (_, Attachment) => "NULL".to_owned(),
        (_, Blob) => format!("convert_to({text}, 'UTF8')"),
    };
    if let Enum { values, .. } = &field.new.ty {
        let list: Vec<String> = values.iter().map(|v| sql_string(&v.spec)).collect();
        expr = format!("CASE WHEN {text} IN ({}) THEN {text} END", list.join(", "));
    }
    // Values that do not convert take the default, as on SQLite and devices (sqlite::convert):
    // a null that was there stays null where the field may be null.
    if let Some(d) = &field.new.default {
        let d = default_sql(d, Dialect::Postgres);
        expr = if field.new.nullable {
            format!("CASE WHEN {c} IS NULL THEN NULL ELSE coalesce({expr}, {d}) END")
        } else {
            format!("coalesce({expr}, {d})")
        };
    }
    expr
}

fn alter_sqlite(new: &Schema, kept: &KeptEntity, out: &mut Vec<String>) {
    let table = kept.new.table.sql();
    if kept.renamed() {
        out.push(format!(
            "ALTER TABLE {} RENAME TO {};",
            quote(kept.old.table.sql()),
            quote(table)
        ));
        for target in ["_offgen_mutations", "_offgen_audit"] {
            out.push(format!(
                "UPDATE {} SET \"entity\" = {} WHERE \"entity\" = {};",
                quote(target),
                sql_string(table),
                sql_string(kept.old.table.sql())
            ));
        }
    }
    // SQLite cannot alter a constraint either: a changed CHECK (an enum's values) needs the
    // table rebuilt too, or the server keeps refusing a value the spec now allows (the device
    // keeps no CHECK on enums, so its step does not).
    let constraint_changed = kept
        .kept
        .iter()
        .any(|f| matches!(f.old.ty, FieldType::Enum { .. }) && f.old.ty != f.new.ty);
    if kept.needs_rebuild() || constraint_changed {
        let temp = format!("_offgen_new_{table}");
        let mut statements = create_entity(new, kept.new, Dialect::Sqlite);
        let create = statements.remove(0);
        out.push(create.replacen(
            &format!("CREATE TABLE {} (", quote(table)),
            &format!("CREATE TABLE {} (", quote(&temp)),
            1,
        ));
        let mut targets = vec![quote("id")];
        let mut sources = vec![quote("id")];
        for field in &kept.new.fields {
            if let Some(k) = kept
                .kept
                .iter()
                .find(|k| k.new.name.snake == field.name.snake)
            {
                targets.push(quote(field.name.sql()));
                sources.push(converted(k));
            }
        }
        for column in [
            VERSION.sql,
            UPDATED_AT.sql,
            DELETED_AT.sql,
            SERVER_SEQ,
            SERVER_CLOCK,
        ] {
            targets.push(quote(column));
            sources.push(quote(column));
        }
        out.push(format!(
            "INSERT INTO {} ({}) SELECT {} FROM {};",
            quote(&temp),
            targets.join(", "),
            sources.join(", "),
            quote(table)
        ));
        out.push(format!("DROP TABLE {};", quote(table)));
        out.push(format!(
            "ALTER TABLE {} RENAME TO {};",
            quote(&temp),
            quote(table)
        ));
        indexes(kept.old, kept.new, Dialect::Sqlite, true, out);
        return;
    }
    for field in kept.kept.iter().filter(|f| f.renamed()) {
        out.push(format!(
            "ALTER TABLE {} RENAME COLUMN {} TO {};",
            quote(table),
            quote(field.old.name.sql()),
            quote(field.new.name.sql())
        ));
    }
    for field in &kept.added {
        out.push(format!(
            "ALTER TABLE {} ADD COLUMN {};",
            quote(table),
            field_definition(new, kept.new, field, Dialect::Sqlite)
        ));
    }
    indexes(kept.old, kept.new, Dialect::Sqlite, false, out);
}
