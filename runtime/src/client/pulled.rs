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

use rusqlite::CachedStatement;
use serde_json::value::RawValue;

use super::json_text::{elements, members_with};
use super::{ClientError, Device};
use crate::reals::from_json_number;
use crate::scripts::{Decoding, PulledRowStatement, RecordKey};

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

/// Whether the JSON string text `key` (quotes included) is `name`. A key with an escape is
/// never one: SQLite reads escapes in keys, and such a record goes the general way.
fn key_is(key: &str, name: &str) -> bool {
    key.len() == name.len() + 2 && &key[1..key.len() - 1] == name
}

/// The members of a record's envelope a pulled-row statement reads.
const ENVELOPE: [&str; 6] = ["entity", "id", "version", "deleted", "updatedAt", "data"];

/// A `real` field's value: the double `offgen_real` reads from the number's text.
fn real(raw: &str) -> Option<Bound<'_>> {
    if raw == "null" {
        return Some(Bound::Null);
    }
    from_json_number(raw).map(Bound::Real)
}

/// What [`Device::apply_pulled_page`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppliedPage {
    /// The page's records.
    pub records: usize,
    /// How many of them went through a pulled-row statement (the others through
    /// `apply_pulled_records`).
    pub by_statement: usize,
}

/// Where a parameter's value comes from, and how it is bound.
#[derive(Clone, Copy)]
enum Source {
    Id,
    Version,
    UpdatedAt,
    /// The data member whose key is `keys[i]` of the statement.
    Data(usize, Decoding),
}

/// A pulled-row statement, prepared for the page: each parameter's index and source, and the
/// data keys it takes, in the statement's order.
struct Prepared<'d> {
    statement: CachedStatement<'d>,
    binds: Vec<(usize, Source)>,
    keys: Vec<&'d str>,
}

/// The pulled-row statements of a page, prepared as the first record of each entity needs
/// them, and the buffer records' data members are read into.
pub(crate) struct PulledRows<'d, 'r> {
    device: &'d Device,
    prepared: Vec<Option<Prepared<'d>>>,
    envelope: Vec<(&'r str, &'r str)>,
    data: Vec<(&'r str, &'r str)>,
    /// A record's data values, by the statement's keys.
    values: Vec<Option<&'r str>>,
}

impl<'d, 'r> PulledRows<'d, 'r> {
    pub(crate) fn new(device: &'d Device) -> PulledRows<'d, 'r> {
        PulledRows {
            device,
            prepared: device.schema().pulled_rows().iter().map(|_| None).collect(),
            envelope: Vec::new(),
            data: Vec::new(),
            values: Vec::new(),
        }
    }

    /// Binds `record` to its entity's pulled-row statement, if it fits one: a live record of
    /// an entity that has one, whose id is a string, version an integer, updatedAt an integer
    /// or absent, and whose data holds every key the statement takes, each decodable here.
    /// Returns the statement to run, or `None`: the record goes through
    /// `apply_pulled_records`.
    pub(crate) fn bind(&mut self, record: &'r str) -> Result<Option<usize>, ClientError> {
        if !members_with(record, &mut self.envelope, "\"data\"", &mut self.data) {
            return Ok(None);
        }
        // entity, id, version, deleted, updatedAt, data: each once at most.
        let mut envelope: [Option<&str>; 6] = [None; 6];
        for (key, value) in &self.envelope {
            let Some(at) = ENVELOPE.iter().position(|name| key_is(key, name)) else {
                if key.contains('\\') {
                    return Ok(None); // it could spell one of them
                }
                continue;
            };
            if envelope[at].replace(value).is_some() {
                return Ok(None);
            }
        }
        let [entity, id, version, deleted, updated_at, data] = envelope;
        let (Some(entity), Some(id), Some(Bound::Integer(version)), Some(data)) = (
            entity.and_then(text),
            id.and_then(text),
            version.and_then(value),
            data,
        ) else {
            return Ok(None);
        };
        // Absent and null are both false to the pull triggers; anything else but false is
        // theirs to read.
        if deleted.is_some_and(|d| d != "false" && d != "null")
            || (self.data.is_empty() && data.trim() != "{}")
        {
            return Ok(None);
        }
        let updated_at = match updated_at.map(value) {
            None | Some(Some(Bound::Null)) => None,
            Some(Some(Bound::Integer(u))) => Some(u),
            Some(_) => return Ok(None),
        };
        let rows = self.device.schema().pulled_rows();
        let Some(slot) = rows.iter().position(|r| r.entity == *entity) else {
            return Ok(None);
        };
        let row = &rows[slot];
        let prepared = match &mut self.prepared[slot] {
            Some(prepared) => prepared,
            empty => empty.insert(prepare(self.device, row)?),
        };
        // Each data member to the parameter taking its key; the server sends them in the
        // statement's order, so the next key is tried first.
        let values = &mut self.values;
        values.clear();
        values.resize(prepared.keys.len(), None);
        let mut next = 0;
        for (key, value) in &self.data {
            if key.contains('\\') {
                return Ok(None); // it could spell a key SQLite would read first
            }
            let key = &key[1..key.len() - 1];
            let at = match prepared.keys.get(next) {
                Some(k) if *k == key => Some(next),
                _ => prepared.keys.iter().position(|k| *k == key),
            };
            if let Some(at) = at {
                if values[at].replace(value).is_some() {
                    return Ok(None); // a key twice: SQLite reads the first
                }
                next = at + 1;
            }
        }
        for &(index, source) in &prepared.binds {
            let bound = match source {
                Source::Id => Bound::Text(id.clone()),
                Source::Version => Bound::Integer(version),
                Source::UpdatedAt => updated_at.map_or(Bound::Null, Bound::Integer),
                Source::Data(at, decoding) => {
                    let Some(raw) = values[at] else {
                        return Ok(None);
                    };
                    let decoded = match decoding {
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

fn prepare<'d>(
    device: &'d Device,
    row: &'d PulledRowStatement,
) -> Result<Prepared<'d>, ClientError> {
    let statement = device
        .connection()
        .prepare_cached(device.schema().pulled_row_sql(row))?;
    let mut binds = Vec::new();
    let mut keys = Vec::new();
    for param in &row.params {
        let index = statement
            .parameter_index(&format!(":{}", param.name))?
            .ok_or_else(|| {
                ClientError::MissingStatement(format!("{} :{}", row.name, param.name))
            })?;
        let source = match &param.key {
            RecordKey::Id => Source::Id,
            RecordKey::Version => Source::Version,
            RecordKey::UpdatedAt => Source::UpdatedAt,
            RecordKey::Data(key) => {
                keys.push(key.as_str());
                Source::Data(keys.len() - 1, param.decoding)
            }
        };
        binds.push((index, source));
    }
    Ok(Prepared {
        statement,
        binds,
        keys,
    })
}

impl Device {
    /// Applies a pulled page's records (its `records` array), in page order, as a sync does:
    /// each that fits its entity's pulled-row statement through it, the others through
    /// `apply_pulled_records` and the pull triggers, consecutive ones together. The database
    /// ends as `apply_pulled_records` of the whole page would leave it. The rest of a page's
    /// step (clashes tried again, the cursor, the clock) is the sync's; run this inside a
    /// transaction, as the sync does, so that a failure leaves nothing half applied.
    pub fn apply_pulled_page(&self, records: &RawValue) -> Result<AppliedPage, ClientError> {
        let records = elements(records.get()).ok_or(ClientError::NotAnArray("records"))?;
        let by_statement = self.apply_pulled(&records)?;
        Ok(AppliedPage {
            records: records.len(),
            by_statement,
        })
    }

    /// [`Device::apply_pulled_page`] of the page's records, each as its JSON text; returns how
    /// many went through a pulled-row statement.
    pub(crate) fn apply_pulled(&self, records: &[&str]) -> Result<usize, ClientError> {
        let mut rows = PulledRows::new(self);
        let mut held: Vec<&str> = Vec::new();
        let mut silenced = false;
        let mut applied = 0;
        for record in records.iter().copied() {
            let row = rows.bind(record)?;
            if let Some(row) = row {
                if !held.is_empty() {
                    // apply_pulled_records runs as ever: with the queue triggers listening.
                    if silenced {
                        self.execute("end_pulled_rows", &[])?;
                        silenced = false;
                    }
                    self.apply_held(&mut held)?;
                }
                if !silenced {
                    self.execute("begin_pulled_rows", &[])?;
                    silenced = true;
                }
                if self.execute_pulled_row(&mut rows, row)? == 0 {
                    held.push(record);
                } else {
                    applied += 1;
                }
            } else {
                held.push(record);
            }
        }
        if silenced {
            self.execute("end_pulled_rows", &[])?;
        }
        if !held.is_empty() {
            self.apply_held(&mut held)?;
        }
        Ok(applied)
    }

    /// Runs a record's pulled-row statement, bound by [`PulledRows::bind`].
    fn execute_pulled_row(
        &self,
        rows: &mut PulledRows<'_, '_>,
        row: usize,
    ) -> Result<usize, ClientError> {
        rows.execute(row)
    }

    /// Applies `held` through `apply_pulled_records`, and empties it.
    fn apply_held(&self, held: &mut Vec<&str>) -> Result<(), ClientError> {
        let records = json_array(held);
        held.clear();
        self.execute("apply_pulled_records", &[(":records", &records)])?;
        Ok(())
    }
}

/// The JSON array of `records`' texts.
fn json_array(records: &[&str]) -> String {
    let mut out = String::with_capacity(records.iter().map(|r| r.len() + 1).sum::<usize>() + 2);
    out.push('[');
    for (i, record) in records.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(record);
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
        assert!(
            value("1.0").is_none() && value("1e2").is_none(),
            "SQLite reads those"
        );
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
