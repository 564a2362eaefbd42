//! SQLite's conversions of a kept field's values to its new definition, for the table rebuild
//! both the device and the server's SQLite run when a step changes a column's definition.

use super::default_value;
use crate::backend::literals::{quote, sql_string};
use crate::model::FieldType;
use crate::schema_diff::{Conversion, KeptField};

/// The SELECT expression giving a kept field's new value from its old column. Values that do
/// not convert (or removed enum values) become the field's default, or NULL; NULLs that were
/// already there stay NULL unless the field became required, when they take the default.
pub fn converted(field: &KeptField) -> String {
    converted_from(field, &quote(field.old.name.sql()))
}

/// [`converted`] of the SQL value `old` (a column, or an expression in parentheses) in the
/// old column's form: a queued payload's value, decoded, converts exactly as the row's does.
pub fn converted_from(field: &KeptField, old: &str) -> String {
    let old = old.to_owned();
    let mut expr = match field.conversion {
        Conversion::Same => old.clone(),
        Conversion::Widen => match (&field.old.ty, &field.new.ty) {
            (FieldType::Int, FieldType::Real) => format!("CAST({old} AS REAL)"),
            _ => old.clone(),
        },
        Conversion::Retype => retyped(&old, &field.old.ty, &field.new.ty),
    };
    if !field.removed_values.is_empty() {
        let removed: Vec<String> = field.removed_values.iter().map(|v| sql_string(v)).collect();
        expr = format!(
            "CASE WHEN {old} IN ({}) THEN NULL ELSE {expr} END",
            removed.join(", ")
        );
    }
    let may_lose = field.conversion == Conversion::Retype || !field.removed_values.is_empty();
    let default = field.new.default.as_ref().map(default_value);
    match default {
        Some(d) if !field.new.nullable && (may_lose || field.fills_nulls()) => {
            format!("coalesce({expr}, {d})")
        }
        Some(d) if may_lose => {
            format!("CASE WHEN {old} IS NULL THEN NULL ELSE coalesce({expr}, {d}) END")
        }
        _ => expr,
    }
}

/// Converts a value of type `from` to `to`; NULL where it does not convert.
fn retyped(value: &str, from: &FieldType, to: &FieldType) -> String {
    use FieldType::*;
    match (from, to) {
        (_, Text) => format!("CAST({value} AS TEXT)"),
        (_, Int) => format!(
            "CASE WHEN CAST({value} AS TEXT) GLOB '-[0-9]*' OR CAST({value} AS TEXT) GLOB '[0-9]*' THEN CAST({value} AS INTEGER) END"
        ),
        (_, Real) => format!("CAST({value} AS REAL)"),
        (_, Bool) => format!(
            "CASE WHEN {value} IS NULL THEN NULL WHEN CAST({value} AS INTEGER) <> 0 THEN 1 ELSE 0 END"
        ),
        (Int, DateTime) => value.to_owned(),
        (_, DateTime) => format!("CAST((julianday({value}) - 2440587.5) * 86400000 AS INTEGER)"),
        (DateTime, Date) => format!("date({value} / 1000, 'unixepoch')"),
        (_, Date) => format!("date({value})"),
        (_, Uuid) => format!(
            "CASE WHEN {value} GLOB '[0-9a-fA-F]*-*-*-*-*' AND length({value}) = 36 THEN lower({value}) END"
        ),
        (Attachment, Json) => value.to_owned(),
        (_, Json) => format!("json_quote({value})"),
        // No other type's values are references to files the server holds.
        (_, Attachment) => "NULL".to_owned(),
        (_, Blob) => format!("CAST({value} AS BLOB)"),
        (_, Enum { values, .. }) => {
            let list: Vec<String> = values.iter().map(|v| sql_string(&v.spec)).collect();
            format!(
                "CASE WHEN {value} IN ({}) THEN {value} END",
                list.join(", ")
            )
        }
        (_, Reference { .. }) => format!("CAST({value} AS TEXT)"),
    }
}
