//! Applying a pulled page: each record that fits its entity's pulled-row statement is bound to
//! it and written in one statement; the others, and those the statement changes nothing for,
//! go through `apply_pulled_records` and the pull triggers, in page order.
//!
//! The pull triggers decode every column of a record with a JSON function call on its text,
//! and reach the entity's table through `_offgen_inbox`: most of what applying a page cost
//! (docs/BENCHMARKS.md). A pulled-row statement takes the record's values as bound parameters
//! instead, decoded here as SQLite's JSON functions would decode them. Which record key goes to
//! which parameter, and how, is what the statement's `-- params:` notes in `sync.sql` say; any
//! value this module cannot decode exactly as SQLite would (a fraction for an integer column,
//! an object, an escape it does not copy verbatim) takes the record to `apply_pulled_records`,
//! whose result the pulled-row statement's equals for every record it does take.

use std::fmt;

use rusqlite::CachedStatement;
use serde::Deserialize;
use serde::de::{DeserializeSeed, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::{ClientError, Device};
use crate::reals::from_json_number;
use crate::scripts::{Decoding, PulledRowStatement, RecordKey};

/// A record's envelope, each member as its JSON text (absent or `null`: `None`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a> {
    #[serde(borrow, default)]
    entity: Option<&'a RawValue>,
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    version: Option<&'a RawValue>,
    #[serde(borrow, default)]
    deleted: Option<&'a RawValue>,
    #[serde(borrow, default)]
    updated_at: Option<&'a RawValue>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

/// The members of a JSON object, in order, each value as its JSON text, into a reused buffer.
struct Members<'v, 'a>(&'v mut Vec<(&'a str, &'a RawValue)>);

impl<'de, 'v> DeserializeSeed<'de> for Members<'v, 'de> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, 'v> Visitor<'de> for Members<'v, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<(), M::Error> {
        // A key with an escape cannot be borrowed: the record goes the general way.
        while let Some((key, value)) = map.next_entry::<&'de str, &'de RawValue>()? {
            self.0.push((key, value));
        }
        Ok(())
    }
}

/// A value to bind, borrowed from the record where it can be.
enum Bound<'a> {
    Null,
    Integer(i64),
    Real(f64),
    Text(std::borrow::Cow<'a, str>),
}

impl rusqlite::ToSql for Bound<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Bound::Null => ValueRef::Null,
            Bound::Integer(i) => ValueRef::Integer(*i),
            Bound::Real(x) => ValueRef::Real(*x),
            Bound::Text(t) => ValueRef::Text(t.as_bytes()),
        }))
    }
}

/// The value `json_extract` gives for the JSON text `raw` (NULL, 1 or 0, an integer, a
/// string's text), or `None` where that takes more than this reads (a fraction or an exponent,
/// which SQLite's own number reading decodes; an integer beyond 64 bits; an object or array,
/// which SQLite re-renders; a string with a lone surrogate or a NUL).
fn value(raw: &str) -> Option<Bound<'_>> {
    match raw.as_bytes().first()? {
        b'n' => Some(Bound::Null),
        b't' => Some(Bound::Integer(1)),
        b'f' => Some(Bound::Integer(0)),
        b'"' => text(raw).map(Bound::Text),
        b'-' | b'0'..=b'9' => {
            let digits = raw.strip_prefix('-').unwrap_or(raw);
            if !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            raw.parse().ok().map(Bound::Integer)
        }
        _ => None,
    }
}

/// A JSON string's text: borrowed when it has no escape, else unescaped.
fn text(raw: &str) -> Option<std::borrow::Cow<'_, str>> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    if !inner.contains('\\') {
        return Some(inner.into());
    }
    // serde refuses lone surrogates, which SQLite would keep as bytes that are no UTF-8.
    let unescaped: String = serde_json::from_str(raw).ok()?;
    (!unescaped.contains('\0')).then_some(unescaped.into())
}

/// A `real` field's value: the double `offgen_real` reads from the number's text.
fn real(raw: &str) -> Option<Bound<'_>> {
    if raw == "null" {
        return Some(Bound::Null);
    }
    from_json_number(raw).map(Bound::Real)
}

/// A pulled-row statement, prepared for the page: its parameter indexes, in the order of its
/// params.
struct Prepared<'d> {
    statement: CachedStatement<'d>,
    indexes: Vec<usize>,
}

/// The pulled-row statements of a page, prepared as the first record of each entity needs
/// them, and the buffer records' data members are read into.
pub(crate) struct PulledRows<'d, 'r> {
    device: &'d Device,
    prepared: Vec<Option<Prepared<'d>>>,
    members: Vec<(&'r str, &'r RawValue)>,
}

impl<'d, 'r> PulledRows<'d, 'r> {
    pub(crate) fn new(device: &'d Device) -> PulledRows<'d, 'r> {
        PulledRows {
            device,
            prepared: device.schema().pulled_rows().iter().map(|_| None).collect(),
            members: Vec::new(),
        }
    }

    /// Binds `record` to its entity's pulled-row statement, if it fits one: a live record of
    /// an entity that has one, whose id is a string, version an integer, updatedAt an integer
    /// or absent, and whose data holds every key the statement takes, each decodable here.
    /// Returns the statement to run, or `None`: the record goes through
    /// `apply_pulled_records`.
    pub(crate) fn bind(&mut self, record: &'r RawValue) -> Result<Option<usize>, ClientError> {
        let Ok(envelope) = serde_json::from_str::<Envelope<'r>>(record.get()) else {
            return Ok(None);
        };
        let (Some(entity), Some(id), Some(version), Some(data)) = (
            envelope.entity.and_then(|e| text(e.get())),
            envelope.id.and_then(|i| text(i.get())),
            envelope.version.and_then(|v| value(v.get())),
            envelope.data,
        ) else {
            return Ok(None);
        };
        if !matches!(version, Bound::Integer(_))
            || envelope.deleted.is_some_and(|d| d.get() != "false")
        {
            return Ok(None);
        }
        let updated_at = match envelope.updated_at.map(|u| value(u.get())) {
            None => Bound::Null,
            Some(Some(u @ Bound::Integer(_))) => u,
            Some(_) => return Ok(None),
        };
        let rows = self.device.schema().pulled_rows();
        let Some(slot) = rows.iter().position(|r| r.entity == *entity) else {
            return Ok(None);
        };
        self.members.clear();
        let mut reader = serde_json::Deserializer::from_str(data.get());
        if Members(&mut self.members)
            .deserialize(&mut reader)
            .is_err()
        {
            return Ok(None);
        }
        // A key twice: SQLite reads the first, serde the last; the general way decides.
        for (i, (key, _)) in self.members.iter().enumerate() {
            if self.members[..i].iter().any(|(k, _)| k == key) {
                return Ok(None);
            }
        }
        let row = &rows[slot];
        let prepared = match &mut self.prepared[slot] {
            Some(prepared) => prepared,
            empty => empty.insert(prepare(self.device, row)?),
        };
        for (param, &index) in row.params.iter().zip(&prepared.indexes) {
            let bound = match &param.key {
                RecordKey::Id => Bound::Text(id.clone()),
                RecordKey::Version => Bound::Integer(match version {
                    Bound::Integer(v) => v,
                    _ => unreachable!("checked above"),
                }),
                RecordKey::UpdatedAt => match updated_at {
                    Bound::Integer(u) => Bound::Integer(u),
                    _ => Bound::Null,
                },
                RecordKey::Data(key) => {
                    let Some((_, raw)) = self.members.iter().find(|(k, _)| k == key) else {
                        return Ok(None);
                    };
                    let raw = raw.get();
                    let decoded = match param.decoding {
                        Decoding::Value => value(raw),
                        Decoding::Real => real(raw),
                        Decoding::Json => Some(Bound::Text(raw.into())),
                    };
                    match decoded {
                        Some(bound) => bound,
                        None => return Ok(None),
                    }
                }
            };
            prepared.statement.raw_bind_parameter(index, &bound)?;
        }
        Ok(Some(slot))
    }

    /// Runs the statement [`PulledRows::bind`] bound; returns how many rows it changed.
    pub(crate) fn execute(&mut self, slot: usize) -> Result<usize, ClientError> {
        let prepared = self.prepared[slot]
            .as_mut()
            .expect("bind prepared the statement");
        Ok(prepared.statement.raw_execute()?)
    }
}

fn prepare<'d>(device: &'d Device, row: &PulledRowStatement) -> Result<Prepared<'d>, ClientError> {
    let statement = device
        .connection()
        .prepare_cached(device.schema().pulled_row_sql(row))?;
    let indexes = row
        .params
        .iter()
        .map(|p| {
            statement
                .parameter_index(&format!(":{}", p.name))?
                .ok_or_else(|| ClientError::MissingStatement(format!("{} :{}", row.name, p.name)))
        })
        .collect::<Result<Vec<_>, ClientError>>()?;
    Ok(Prepared { statement, indexes })
}

impl Device {
    /// Applies a pulled page's records (its `records` array, each as its JSON text), in page
    /// order, as a sync does: each that fits its entity's pulled-row statement through it, the
    /// others through `apply_pulled_records` and the pull triggers, consecutive ones together.
    /// The database ends as `apply_pulled_records` of the whole page would leave it. The rest
    /// of a page's step (clashes tried again, the cursor, the clock) is the sync's; run this
    /// inside a transaction, as the sync does, so that a failure leaves nothing half applied.
    pub fn apply_pulled_page(&self, records: &[&RawValue]) -> Result<(), ClientError> {
        let mut rows = PulledRows::new(self);
        let mut held: Vec<&RawValue> = Vec::new();
        let mut silenced = false;
        for record in records.iter().copied() {
            let row = rows.bind(record)?;
            if let Some(row) = row {
                if !held.is_empty() {
                    self.apply_held(&mut held)?;
                    silenced = false;
                }
                if !silenced {
                    self.execute("begin_pulled_rows", &[])?;
                    silenced = true;
                }
                if self.execute_pulled_row(&mut rows, row)? == 0 {
                    held.push(record);
                }
            } else {
                held.push(record);
            }
        }
        if !held.is_empty() {
            self.apply_held(&mut held)?;
            silenced = false;
        }
        if silenced {
            self.execute("end_pulled_rows", &[])?;
        }
        Ok(())
    }

    /// Runs a record's pulled-row statement, bound by [`PulledRows::bind`].
    fn execute_pulled_row(
        &self,
        rows: &mut PulledRows<'_, '_>,
        row: usize,
    ) -> Result<usize, ClientError> {
        rows.execute(row)
    }

    /// Applies `held` through `apply_pulled_records` (which leaves the queue triggers
    /// listening again), and empties it.
    fn apply_held(&self, held: &mut Vec<&RawValue>) -> Result<(), ClientError> {
        let records = json_array(held);
        held.clear();
        self.execute("apply_pulled_records", &[(":records", &records)])?;
        Ok(())
    }
}

/// The JSON array of `records`' texts.
fn json_array(records: &[&RawValue]) -> String {
    let mut out = String::with_capacity(records.iter().map(|r| r.get().len() + 1).sum::<usize>() + 2);
    out.push('[');
    for (i, record) in records.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(record.get());
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_decode_as_json_extract_gives_them_or_not_at_all() {
        let int = |raw| match value(raw) {
            Some(Bound::Integer(i)) => Some(i),
            _ => None,
        };
        assert_eq!(int("true"), Some(1));
        assert_eq!(int("false"), Some(0));
        assert_eq!(int("-0"), Some(0));
        assert_eq!(int("-9223372036854775808"), Some(i64::MIN));
        assert!(value("9223372036854775808").is_none(), "beyond 64 bits");
        assert!(value("1.0").is_none() && value("1e2").is_none(), "SQLite reads those");
        assert!(value("{}").is_none() && value("[1]").is_none());
        assert!(matches!(value("null"), Some(Bound::Null)));
        let txt = |raw| match value(raw) {
            Some(Bound::Text(t)) => Some(t.into_owned()),
            _ => None,
        };
        assert_eq!(txt(r#""plain""#).as_deref(), Some("plain"));
        assert_eq!(txt(r#""a\"b\n\u00e9""#).as_deref(), Some("a\"b\né"));
        assert_eq!(txt(r#""\ud800""#), None, "a lone surrogate");
        assert_eq!(txt(r#""a\u0000b""#), None, "a NUL");
        assert!(matches!(real("null"), Some(Bound::Null)));
        assert!(matches!(real("5"), Some(Bound::Real(x)) if x == 5.0));
        assert!(real("\"1.5\"").is_none() && real("1e999").is_none());
    }
}
