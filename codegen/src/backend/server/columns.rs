//! The server tables' columns, per dialect, and the SQL that moves their values to and from
//! the wire's JSON (the same encodings as the device: docs/protocol.md).

use crate::backend::Dialect;
use crate::backend::literals::{quote, sql_string};
use crate::backend::sqlite;
use crate::model::{DefaultValue, Entity, Field, FieldType, Schema};

/// PostgreSQL cuts identifiers at 63 bytes; generated names longer than that are shortened with
/// a hash of the full name, so they stay distinct and stable.
pub fn short_name(full: &str) -> String {
    const MAX: usize = 63;
    if full.len() <= MAX {
        return full.to_owned();
    }
    let hash = full.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let hash = format!("{:08x}", hash as u32);
    format!("{}_{hash}", &full[..MAX - hash.len() - 1])
}

/// The SQL type of a field. On SQLite a real has no declared type: a column of REAL affinity
/// stores a whole-numbered double as an integer, and so turns -0.0 into 0. Without a type the
/// column keeps the double as written (its CHECK, from [`field_definition`], keeps it a real).
pub fn sql_type(ty: &FieldType, dialect: Dialect) -> &'static str {
    use FieldType::*;
    match (dialect, ty) {
        (Dialect::Sqlite, Int | Bool | DateTime) => "INTEGER",
        (Dialect::Sqlite, Real) => "",
        (Dialect::Sqlite, Blob) => "BLOB",
        (Dialect::Sqlite, _) => "TEXT",
        (Dialect::Postgres, Text | Date | Enum { .. }) => "text",
        (Dialect::Postgres, Int | DateTime) => "bigint",
        (Dialect::Postgres, Real) => "double precision",
        (Dialect::Postgres, Bool) => "boolean",
        (Dialect::Postgres, Uuid | Reference { .. }) => "uuid",
        (Dialect::Postgres, Json | Attachment) => "jsonb",
        (Dialect::Postgres, Blob) => "bytea",
    }
}

/// The name of an enum field's CHECK constraint (PostgreSQL needs it to change the values).
pub fn enum_check_name(entity: &Entity, field: &Field) -> String {
    short_name(&format!(
        "{}_{}_check",
        entity.table.sql(),
        field.name.sql()
    ))
}

/// The name of a reference field's foreign key constraint (PostgreSQL needs it to change it).
pub fn fk_name(entity: &Entity, field: &Field) -> String {
    short_name(&format!("{}_{}_fkey", entity.table.sql(), field.name.sql()))
}

/// A default as a SQL literal of the column's type.
pub fn default_sql(value: &DefaultValue, dialect: Dialect) -> String {
    match (value, dialect) {
        (_, Dialect::Sqlite) => sqlite::default_value(value),
        (DefaultValue::Bool(b), Dialect::Postgres) => b.to_string(),
        (DefaultValue::Json(text), Dialect::Postgres) => format!("{}::jsonb", sql_string(text)),
        (DefaultValue::Uuid(text), Dialect::Postgres) => format!("{}::uuid", sql_string(text)),
        // The other literals are SQLite's too.
        (_, Dialect::Postgres) => sqlite::default_value(value),
    }
}

/// A declared field's column definition.
pub fn field_definition(
    schema: &Schema,
    entity: &Entity,
    field: &Field,
    dialect: Dialect,
) -> String {
    let column = quote(field.name.sql());
    let mut out = column.clone();
    let ty = sql_type(&field.ty, dialect);
    if !ty.is_empty() {
        out.push_str(&format!(" {ty}"));
    }
    out.push_str(if field.nullable { " NULL" } else { " NOT NULL" });
    if let Some(default) = &field.default {
        out.push_str(&format!(" DEFAULT {}", default_sql(default, dialect)));
    }
    match &field.ty {
        FieldType::Enum { values, .. } => {
            let list: Vec<String> = values.iter().map(|v| sql_string(&v.spec)).collect();
            if dialect == Dialect::Postgres {
                out.push_str(&format!(
                    " CONSTRAINT {}",
                    quote(&enum_check_name(entity, field))
                ));
            }
            out.push_str(&format!(" CHECK ({column} IN ({}))", list.join(", ")));
        }
        FieldType::Bool if dialect == Dialect::Sqlite => {
            out.push_str(&format!(" CHECK ({column} IN (0, 1))"))
        }
        FieldType::Real if dialect == Dialect::Sqlite => out.push_str(&format!(
            " CHECK (typeof({column}) IN ('real'{}))",
            if field.nullable { ", 'null'" } else { "" }
        )),
        FieldType::Reference { entity: target } => {
            if dialect == Dialect::Postgres {
                out.push_str(&format!(" CONSTRAINT {}", quote(&fk_name(entity, field))));
            }
            // Deferred: a batch may insert a row and the row it references in either order.
            out.push_str(&format!(
                " REFERENCES {} (\"id\") DEFERRABLE INITIALLY DEFERRED",
                quote(schema.target(target).table.sql())
            ));
        }
        _ => {}
    }
    out
}

/// SQL giving a field's wire value from `row.column`, for building the record's JSON. On
/// SQLite a SQL value that `json_object` encodes, as the device makes it; on PostgreSQL the value's JSON text itself
/// (`null` for NULL), which [`json_text_object`] concatenates: PostgreSQL's JSON builders look
/// up every argument's type again for every row, and cost 2.5 times as much (docs/BENCHMARKS.md).
pub fn to_wire(field: &Field, row: &str, dialect: Dialect) -> String {
    let value = format!("{row}.{}", quote(field.name.sql()));
    match dialect {
        Dialect::Sqlite => sqlite::json::encode(Some(&field.ty), value),
        Dialect::Postgres => {
            let text = match &field.ty {
                // Their text forms are JSON already; none needs escaping.
                FieldType::Int
                | FieldType::DateTime
                | FieldType::Bool
                | FieldType::Json
                | FieldType::Attachment => {
                    format!("{value}::text")
                }
                FieldType::Uuid | FieldType::Reference { .. } => {
                    format!("'\"' || {value}::text || '\"'")
                }
                FieldType::Blob => format!("'\"' || encode({value}, 'hex') || '\"'"),
                // to_json escapes strings, and writes a float that JSON has no number for
                // (NaN, Infinity) as a string rather than as invalid JSON.
                FieldType::Real | FieldType::Text | FieldType::Date | FieldType::Enum { .. } => {
                    format!("to_json({value})::text")
                }
            };
            format!("coalesce({text}, 'null')")
        }
    }
}

/// PostgreSQL: a JSON object's text from `(key, JSON text)` pairs, by concatenation.
pub fn json_text_object(pairs: &[(String, String)]) -> String {
    if pairs.is_empty() {
        return "'{}'".to_owned();
    }
    let mut out = String::new();
    for (i, (key, value)) in pairs.iter().enumerate() {
        let key = serde_json::to_string(key).expect("a string always serializes");
        let lead = if i == 0 { "{" } else { "," };
        if i > 0 {
            out.push_str(" || ");
        }
        out.push_str(&format!(
            "{} || {value}",
            sql_string(&format!("{lead}{key}:"))
        ));
    }
    out.push_str(" || '}'");
    out
}

/// SQL giving a column value from a flat JSON record (`r` in PostgreSQL's `json_to_recordset`,
/// `jsonb_each` row `value` in SQLite), for writes. The runtime checked every value already.
///
/// Measured on a batch of 100 (docs/BENCHMARKS.md): SQLite's `jsonb_each` hands each record
/// over in binary form, which `json_extract` reads without parsing it again (`json_each` gives
/// text, parsed again per column): half the cost. PostgreSQL's `json_to_recordset` reads the
/// text once, where `jsonb_to_recordset` first builds the binary form: a fifth less.
pub fn from_wire(key: &str, ty: &FieldType, dialect: Dialect) -> String {
    match dialect {
        Dialect::Postgres => {
            let value = format!("r.{}", quote(key));
            match ty {
                FieldType::Blob => format!("decode({value}, 'hex')"),
                _ => value,
            }
        }
        Dialect::Sqlite => sqlite::json::decode(Some(ty), "j.\"value\"", key),
    }
}

/// The record definition of a field in PostgreSQL's `json_to_recordset(...) AS r(...)`.
pub fn recordset_column(key: &str, ty: &FieldType) -> String {
    let sql_ty = match ty {
        // Hex text on the wire; decoded in the SELECT list.
        FieldType::Blob => "text",
        other => sql_type(other, Dialect::Postgres),
    };
    format!("{} {sql_ty}", quote(key))
}
