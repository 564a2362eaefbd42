//! Typing a field's `default:` by the field's type.

use crate::diagnostics::Diagnostic;
use crate::model::draft::Literal;
use crate::model::schema::{DefaultValue, FieldType};
use crate::source::Spanned;
use crate::suggest::did_you_mean;

/// The typed default, or a diagnostic saying what the field's type accepts.
/// `Ok(None)` is an explicit `default: null` on a nullable field, the same as no default.
pub fn type_default(
    field: &str,
    ty: &FieldType,
    nullable: bool,
    literal: &Spanned<Literal>,
) -> Result<Option<DefaultValue>, Diagnostic> {
    let span = literal.span;
    let wrong = |expected: &str| {
        Diagnostic::error(format!(
            "the default of `{field}` must be {expected}, found {}",
            literal.value.describe()
        ))
        .at(span, format!("`{field}` is {}", article(ty.spec_name())))
    };
    if literal.value == Literal::Null {
        return if nullable {
            Ok(None)
        } else {
            Err(Diagnostic::error(format!(
                "`{field}` is not nullable, so its default cannot be null"
            ))
            .at(span, "null default")
            .help("remove the default, or make the field nullable")
            .note("write `nullable: true` or put `?` after the type"))
        };
    }
    let value = match (ty, &literal.value) {
        (FieldType::Text, Literal::Str(s)) => DefaultValue::Text(s.clone()),
        (FieldType::Text, _) => {
            return Err(wrong("a string").help("quote it to make it text, e.g. default: \"42\""));
        }
        (FieldType::Int, Literal::Int(i)) => DefaultValue::Int(*i),
        (FieldType::Int, _) => return Err(wrong("an integer")),
        (FieldType::Real, Literal::Int(i)) => DefaultValue::Real(*i as f64),
        (FieldType::Real, Literal::Float(f)) if f.is_finite() => DefaultValue::Real(*f),
        (FieldType::Real, _) => return Err(wrong("a finite number")),
        (FieldType::Bool, Literal::Bool(b)) => DefaultValue::Bool(*b),
        (FieldType::Bool, _) => return Err(wrong("true or false")),
        (FieldType::DateTime, Literal::Str(s)) => match parse_datetime_ms(s) {
            Some(ms) => DefaultValue::DateTime(ms),
            None => {
                return Err(wrong("a timestamp with a time zone")
                    .help("write e.g. default: \"2024-01-31T08:00:00Z\""));
            }
        },
        (FieldType::DateTime, _) => {
            return Err(wrong("a timestamp").help("write e.g. default: \"2024-01-31T08:00:00Z\""));
        }
        (FieldType::Date, Literal::Str(s)) if parse_date(s).is_some() => {
            DefaultValue::Date(s.clone())
        }
        (FieldType::Date, _) => {
            return Err(wrong("a date").help("write e.g. default: \"2024-01-31\""));
        }
        (FieldType::Uuid, Literal::Str(s)) if is_uuid(s) => {
            DefaultValue::Uuid(s.to_ascii_lowercase())
        }
        (FieldType::Uuid, _) => {
            return Err(wrong("a UUID")
                .help("write e.g. default: \"00000000-0000-0000-0000-000000000000\""));
        }
        (FieldType::Json, value) => DefaultValue::Json(to_json(value).to_string()),
        (FieldType::Enum { values, .. }, Literal::Str(s)) => {
            if values.iter().any(|v| v.spec == *s) {
                DefaultValue::Enum(s.clone())
            } else {
                let names: Vec<&str> = values.iter().map(|v| v.spec.as_str()).collect();
                let mut d = Diagnostic::error(format!(
                    "the default `{s}` of `{field}` is not one of its values"
                ))
                .at(span, "not a value of this enum");
                if let Some(hint) = did_you_mean(s, names.iter().copied()) {
                    d = d.help(format!("did you mean `{hint}`?"));
                }
                return Err(d.note(format!("the values are: {}", names.join(", "))));
            }
        }
        (FieldType::Enum { .. }, _) => return Err(wrong("one of the enum's values")),
        (FieldType::Blob, _) => {
            return Err(
                Diagnostic::error(format!("blob field `{field}` cannot have a default"))
                    .at(span, "remove this default"),
            );
        }
        (FieldType::Attachment, _) => {
            return Err(Diagnostic::error(format!(
                "attachment field `{field}` cannot have a default"
            ))
            .at(span, "remove this default")
            .note("an attachment is a file attached to one record: make it nullable, and attach the file when it exists"));
        }
        (FieldType::Reference { entity }, _) => {
            return Err(Diagnostic::error(format!(
                "reference field `{field}` cannot have a default"
            ))
            .at(span, "remove this default")
            .note(format!(
                "a fixed default would point every new row at one `{entity}`; set it when the row is created"
            )));
        }
    };
    Ok(Some(value))
}

fn article(word: &str) -> String {
    let vowel = word.starts_with(['a', 'e', 'i', 'o', 'u']);
    format!("{} {word} field", if vowel { "an" } else { "a" })
}

fn to_json(literal: &Literal) -> serde_json::Value {
    use serde_json::Value;
    match literal {
        Literal::Null => Value::Null,
        Literal::Bool(b) => Value::Bool(*b),
        Literal::Int(i) => Value::from(*i),
        Literal::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Literal::Str(s) => Value::String(s.clone()),
        Literal::List(items) => Value::Array(items.iter().map(to_json).collect()),
        Literal::Map(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect(),
        ),
    }
}

/// `YYYY-MM-DD` -> days since 1970-01-01, if it is a real calendar date.
pub fn parse_date(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let year: i64 = text[0..4].parse().ok()?;
    let month: u32 = text[5..7].parse().ok()?;
    let day: u32 = text[8..10].parse().ok()?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// RFC 3339 (`2024-01-31T08:00:00Z`, `...T08:00:00.250+02:00`) -> epoch milliseconds.
/// A zone is required: a default without one would mean different instants on different devices.
pub fn parse_datetime_ms(text: &str) -> Option<i64> {
    let (date, rest) = text.split_at_checked(10)?;
    let days = parse_date(date)?;
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let (time, zone) = match rest.find(['Z', 'z', '+', '-']) {
        Some(i) => rest.split_at(i),
        None => return None,
    };
    let (hms, fraction) = match time.split_once('.') {
        Some((hms, f)) => (hms, Some(f)),
        None => (time, None),
    };
    let mut parts = hms.split(':');
    let hour: i64 = two_digits(parts.next()?)?;
    let minute: i64 = two_digits(parts.next()?)?;
    let second: i64 = two_digits(parts.next()?)?;
    if parts.next().is_some() || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let millis = match fraction {
        None => 0,
        Some(f) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => {
            let padded = format!("{f:0<3}");
            padded[..3].parse::<i64>().ok()?
        }
        Some(_) => return None,
    };
    let offset_minutes = match zone {
        "Z" | "z" => 0,
        _ => {
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let (h, m) = zone[1..].split_once(':')?;
            let (h, m) = (two_digits(h)?, two_digits(m)?);
            if h > 23 || m > 59 {
                return None;
            }
            sign * (h * 60 + m)
        }
    };
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1000 + millis)
}

fn two_digits(s: &str) -> Option<i64> {
    if s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's civil-days algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `8-4-4-4-12` hex digits.
pub fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_convert_to_utc_epoch_milliseconds() {
        assert_eq!(parse_datetime_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_datetime_ms("2024-01-31T08:00:00.250Z"),
            Some(1_706_688_000_250)
        );
        assert_eq!(
            parse_datetime_ms("2024-01-31T10:00:00.250+02:00"),
            Some(1_706_688_000_250)
        );
        assert_eq!(parse_datetime_ms("1969-12-31T23:59:59Z"), Some(-1000));
    }

    #[test]
    fn datetimes_without_zone_or_with_impossible_parts_are_refused() {
        for bad in [
            "2024-01-31T08:00:00",
            "2024-02-30T08:00:00Z",
            "2024-01-31T24:00:00Z",
            "2024-01-31",
            "yesterday",
        ] {
            assert_eq!(parse_datetime_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn dates_must_exist_in_the_calendar() {
        assert_eq!(parse_date("1970-01-02"), Some(1));
        assert!(parse_date("2024-02-29").is_some());
        assert!(parse_date("2023-02-29").is_none());
        assert!(parse_date("2024-13-01").is_none());
        assert!(parse_date("24-01-01").is_none());
    }

    #[test]
    fn uuids_need_five_hex_groups() {
        assert!(is_uuid("123e4567-e89b-12d3-a456-426614174000"));
        assert!(!is_uuid("123e4567e89b12d3a456426614174000"));
        assert!(!is_uuid("123e4567-e89b-12d3-a456-42661417400g"));
    }
}
