//! Checking wire values against their fields, before anything reaches SQL.
//!
//! The generated SQL converts wire values to columns (and back); it relies on these checks, so
//! a value that passes here always converts, and a bad item is rejected with a message instead
//! of failing a statement shared with the rest of a batch.

use serde_json::{Map, Value};

use crate::model::{EntityDef, FieldDef, Kind};

/// A problem with one field of a record.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// The wire key.
    pub field: String,
    /// What is wrong, in a sentence.
    pub message: String,
}

impl FieldError {
    fn new(field: &str, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

/// Whether `text` is a UUID in the one form offgen accepts: lowercase, hyphenated.
pub fn is_canonical_uuid(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(b),
        })
}

/// Checks one value (not null) against its field's type.
pub fn check_value(field: &FieldDef, value: &Value) -> Result<(), String> {
    // PostgreSQL stores no U+0000 in text or jsonb; refused on every database alike, so a
    // device's write gets the same answer wherever its server runs.
    if holds_nul(value) {
        return Err("must not contain the character U+0000".to_owned());
    }
    match (field.kind, value) {
        (Kind::Text, Value::String(_)) => Ok(()),
        (Kind::Int | Kind::DateTime, Value::Number(n)) if whole_number(n).is_some() => Ok(()),
        (Kind::Real, Value::Number(n)) if n.as_f64().is_some_and(f64::is_finite) => Ok(()),
        (Kind::Bool, Value::Bool(_)) => Ok(()),
        (Kind::Date, Value::String(s)) if is_date(s) => Ok(()),
        (Kind::Uuid | Kind::Reference(_), Value::String(s)) if is_canonical_uuid(s) => Ok(()),
        (Kind::Json, _) => Ok(()),
        (Kind::Attachment, _) => crate::attachments::check(value),
        (Kind::Blob, Value::String(s))
            if s.len() % 2 == 0
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) =>
        {
            Ok(())
        }
        (Kind::Enum(values), Value::String(s)) if values.contains(&s.as_str()) => Ok(()),
        (Kind::Enum(values), Value::String(s)) => {
            Err(format!("`{s}` is not one of {}", values.join(", ")))
        }
        (kind, _) => Err(format!("must be {}", expected(kind))),
    }
}

/// The integer a JSON number denotes: an integer's text (`3`), or a number with no fraction
/// (`3.0`, `3e2`: JSON Schema's `integer` takes them, and some JSON writers print whole
/// doubles that way) up to 2^53, beyond which a double no longer tells which integer was
/// written. `None` for anything else.
pub fn whole_number(n: &serde_json::Number) -> Option<i64> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if let Some(i) = n.as_i64() {
        return Some(i);
    }
    let x = n.as_f64().filter(|_| n.is_f64())?;
    (x.fract() == 0.0 && x.abs() <= EXACT).then_some(x as i64)
}

fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

fn expected(kind: Kind) -> &'static str {
    match kind {
        Kind::Text => "a string",
        Kind::Int => "an integer",
        Kind::Real => "a finite number",
        Kind::Bool => "true or false",
        Kind::DateTime => "an integer (epoch milliseconds)",
        Kind::Date => "a date (YYYY-MM-DD)",
        Kind::Uuid | Kind::Reference(_) => "a lowercase hyphenated UUID",
        Kind::Json => "JSON",
        Kind::Blob => "lowercase hex",
        Kind::Attachment => "an attachment reference",
        Kind::Enum(_) => "one of its values",
    }
}

/// `YYYY-MM-DD` naming a real calendar day.
fn is_date(text: &str) -> bool {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| text[r].parse::<u32>().ok();
    let (Some(year), Some(month), Some(day)) = (num(0..4), num(5..7), num(8..10)) else {
        return false;
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// Checks one field's value, null included. A JSON `null` in a `json` field is SQL NULL.
fn check_field(field: &FieldDef, value: &Value) -> Result<(), FieldError> {
    if value.is_null() {
        return if field.nullable {
            Ok(())
        } else {
            Err(FieldError::new(field.key, "must not be null"))
        };
    }
    check_value(field, value).map_err(|m| FieldError::new(field.key, m))
}

/// The one form of a checked value: a real is a JSON double (`1` and `1.0` are the same value,
/// and PostgreSQL prints it `1` where SQLite prints `1.0`), so values compare equal, and print
/// alike, wherever they come from.
pub fn canonical(field: &FieldDef, value: Value) -> Value {
    match (field.kind, value) {
        (Kind::Real, Value::Number(n)) => match n.as_f64() {
            Some(x) => Value::from(x),
            None => Value::Number(n),
        },
        (Kind::Int | Kind::DateTime, Value::Number(n)) => match whole_number(&n) {
            Some(i) => Value::from(i),
            None => Value::Number(n),
        },
        (Kind::Attachment, value) => crate::attachments::canonical(value),
        (_, value) => value,
    }
}

/// The text that orders two values of a field whose `lww` stamps are equal: its canonical
/// JSON, with objects' keys sorted and numbers as doubles inside `json` values (PostgreSQL's
/// `jsonb` reorders keys and rewrites numbers), so a value orders alike however a database
/// gave it back.
pub fn order_text(field: &FieldDef, value: &Value) -> String {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sorted(&map[k])))
                        .collect(),
                )
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            Value::Number(n) => n.as_f64().map_or_else(|| value.clone(), Value::from),
            other => other.clone(),
        }
    }
    match field.kind {
        Kind::Json => sorted(value).to_string(),
        _ => canonical(field, value.clone()).to_string(),
    }
}

/// Every field of `data` (a row as stored) in its [`canonical`] form.
pub fn canonicalize(entity: &EntityDef, data: &mut Map<String, Value>) {
    for field in entity.fields.iter().filter(|f| {
        matches!(
            f.kind,
            Kind::Real | Kind::Int | Kind::DateTime | Kind::Attachment
        )
    }) {
        if let Some(value) = data.get_mut(field.key) {
            *value = canonical(field, value.take());
        }
    }
}

/// The complete data of a new row: every field checked; a missing one takes its default, or
/// null if it may; unknown keys are errors.
pub fn full_record(
    entity: &EntityDef,
    data: &Map<String, Value>,
) -> Result<Map<String, Value>, Vec<FieldError>> {
    let mut errors = unknown_keys(entity, data);
    let mut out = Map::new();
    for field in entity.fields {
        let value = match data.get(field.key) {
            Some(v) => v.clone(),
            None => match field.default {
                Some(default) => serde_json::from_str(default).unwrap_or(Value::Null),
                None if field.nullable => Value::Null,
                None => {
                    errors.push(FieldError::new(field.key, "is required"));
                    continue;
                }
            },
        };
        match check_field(field, &value) {
            Ok(()) => {
                out.insert(field.key.to_owned(), canonical(field, value));
            }
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Changed fields of an update: each checked; at least one; unknown keys are errors.
pub fn changes(
    entity: &EntityDef,
    data: &Map<String, Value>,
) -> Result<Map<String, Value>, Vec<FieldError>> {
    let mut errors = unknown_keys(entity, data);
    for (key, value) in data {
        if let Some(field) = entity.field(key)
            && let Err(e) = check_field(field, value)
        {
            errors.push(e);
        }
    }
    if data.is_empty() && errors.is_empty() {
        errors.push(FieldError::new(
            "",
            "an update must change at least one field",
        ));
    }
    if errors.is_empty() {
        let mut data = data.clone();
        canonicalize(entity, &mut data);
        Ok(data)
    } else {
        Err(errors)
    }
}

fn unknown_keys(entity: &EntityDef, data: &Map<String, Value>) -> Vec<FieldError> {
    data.keys()
        .filter(|k| entity.field(k).is_none())
        .map(|k| FieldError::new(k, format!("is not a field of {}", entity.table)))
        .collect()
}

/// One line for a push result's error message.
pub fn describe(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| {
            if e.field.is_empty() {
                e.message.clone()
            } else {
                format!("{} {}", e.field, e.message)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Dialects, EntitySql, Policy};
    use serde_json::json;

    const SQL: EntitySql = EntitySql {
        load: "",
        insert: "",
        update: "",
        list: "",
    };
    static NOTE: EntityDef = EntityDef {
        table: "notes",
        type_name: "Note",
        fields: &[
            FieldDef {
                key: "title",
                column: "title",
                kind: Kind::Text,
                nullable: false,
                default: None,
            },
            FieldDef {
                key: "stars",
                column: "stars",
                kind: Kind::Int,
                nullable: true,
                default: None,
            },
            FieldDef {
                key: "mood",
                column: "mood",
                kind: Kind::Enum(&["calm", "busy"]),
                nullable: false,
                default: Some("\"calm\""),
            },
            FieldDef {
                key: "day",
                column: "day",
                kind: Kind::Date,
                nullable: true,
                default: None,
            },
            FieldDef {
                key: "raw",
                column: "raw",
                kind: Kind::Blob,
                nullable: true,
                default: None,
            },
            FieldDef {
                key: "by",
                column: "by",
                kind: Kind::Reference("users"),
                nullable: true,
                default: None,
            },
        ],
        policy: Policy::Version,
        owner: None,
        sql: Dialects {
            sqlite: SQL,
            postgres: SQL,
        },
    };

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn a_full_record_takes_defaults_and_nulls_and_refuses_what_is_missing() {
        let record = full_record(&NOTE, &map(json!({"title": "t"}))).unwrap();
        assert_eq!(record["mood"], "calm");
        assert_eq!(record["stars"], Value::Null);
        let errors = full_record(&NOTE, &map(json!({"stars": 1}))).unwrap_err();
        assert_eq!(errors, vec![FieldError::new("title", "is required")]);
    }

    #[test]
    fn every_kind_refuses_values_of_the_wrong_shape() {
        let bad = [
            json!({"title": 1}),
            json!({"title": "t", "stars": 1.5}),
            json!({"title": "t", "mood": "angry"}),
            json!({"title": "t", "day": "2023-02-29"}),
            json!({"title": "t", "raw": "ABC"}),
            json!({"title": "t", "by": "123E4567-E89B-12D3-A456-426614174000"}),
            json!({"title": null}),
            json!({"title": "t", "colour": "red"}),
            json!({"title": "a\u{0}b"}),
        ];
        for data in bad {
            assert!(full_record(&NOTE, &map(data.clone())).is_err(), "{data}");
        }
        let good = json!({"title": "t", "stars": -3, "day": "2024-02-29", "raw": "00ff", "by": "123e4567-e89b-12d3-a456-426614174000"});
        assert!(full_record(&NOTE, &map(good)).is_ok());
    }

    #[test]
    fn an_update_checks_only_what_it_changes_and_must_change_something() {
        assert!(changes(&NOTE, &map(json!({"stars": null}))).is_ok());
        assert!(changes(&NOTE, &map(json!({"title": null}))).is_err());
        assert!(changes(&NOTE, &map(json!({}))).is_err());
    }

    #[test]
    fn a_real_is_one_double_however_it_is_written() {
        let field = FieldDef {
            key: "x",
            column: "x",
            kind: Kind::Real,
            nullable: true,
            default: None,
        };
        assert_eq!(canonical(&field, json!(1)), canonical(&field, json!(1.0)));
        assert_eq!(canonical(&field, json!(1)).to_string(), "1.0");
        assert_eq!(canonical(&field, json!(-0.0)).to_string(), "-0.0");
        assert_eq!(canonical(&field, Value::Null), Value::Null);
    }

    #[test]
    fn json_values_order_alike_however_a_database_wrote_them() {
        let field = FieldDef {
            key: "g",
            column: "g",
            kind: Kind::Json,
            nullable: true,
            default: None,
        };
        assert_eq!(
            order_text(&field, &json!({"b": [1, {"d": 1e2, "c": 2}], "a": true})),
            order_text(
                &field,
                &json!({"a": true, "b": [1.0, {"c": 2.0, "d": 100}]})
            )
        );
        assert_ne!(
            order_text(&field, &json!({"a": 1})),
            order_text(&field, &json!({"a": 2}))
        );
    }

    #[test]
    fn only_lowercase_hyphenated_uuids_are_ids() {
        assert!(is_canonical_uuid("123e4567-e89b-12d3-a456-426614174000"));
        assert!(!is_canonical_uuid("123E4567-E89B-12D3-A456-426614174000"));
        assert!(!is_canonical_uuid("123e4567e89b12d3a456426614174000"));
        assert!(!is_canonical_uuid("123e4567-e89b-12d3-a456-42661417400"));
    }
}
