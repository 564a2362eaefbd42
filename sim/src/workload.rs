//! What the app writes: random rows and edits, made from the entities' field types (so a new
//! schema version's fields are written without changes here), with plain SQL on the app's
//! connection, as an app would. The triggers queue everything.

use std::collections::BTreeMap;

use offgen_runtime::client::rusqlite::types::Value as SqlValue;
use offgen_runtime::client::rusqlite::{self, params_from_iter};
use offgen_runtime::client::{Device, sql_to_json};
use offgen_runtime::model::Kind;
use serde_json::{Map, Value, json};

use crate::rng::Rng;
use crate::schema::{EntityShape, FieldShape, SchemaVersion};

/// The id of row `n` of entity `entity` (the entity's index in the newest schema): readable in
/// traces, unique in a run, never a user's id.
pub fn row_id(entity: usize, n: u32) -> String {
    format!(
        "{:08x}-0000-4000-8000-{n:012x}",
        0x5e00_0000_u32 + entity as u32
    )
}

/// A row id as traces show it: `observations#17`, `rangers:ana`.
pub fn row_label(table: &str, id: &str) -> String {
    if let Some((name, _)) = crate::world::USERS.iter().find(|(_, u)| *u == id) {
        return format!("{table}:{name}");
    }
    match id.rsplit_once('-') {
        Some((_, n)) if id.starts_with("5e") => {
            format!("{table}#{}", u64::from_str_radix(n, 16).unwrap_or(0))
        }
        _ => format!("{table}:{id}"),
    }
}

/// What a new value may refer to.
pub struct Context<'a> {
    /// The phone user's id (the owner of owner-scoped rows).
    pub user: &'a str,
    /// Live row ids the server already knows, per table (references point only at these: a
    /// row that never left the phone may still be deleted before it does).
    pub known: &'a BTreeMap<&'static str, Vec<String>>,
    /// The phone's clock.
    pub now: i64,
    /// Makes unique values unique: the row and step.
    pub salt: String,
}

/// A value for `field`, as the wire carries it.
pub fn value(rng: &mut Rng, field: &FieldShape, ctx: &Context<'_>) -> Value {
    if field.nullable && rng.chance(20) {
        return Value::Null;
    }
    if field.unique {
        return json!(format!("{}-{}", field.key, ctx.salt));
    }
    match field.kind {
        Kind::Text => json!(text(rng, ctx)),
        Kind::Int => json!(match rng.below(4) {
            0 => rng.range(-5, 5),
            1 => rng.range(0, 1_000),
            2 => rng.next_u64() as i64,
            _ => rng.range(i64::MIN / 2, i64::MAX / 2),
        }),
        Kind::Real => real(rng),
        Kind::Bool => json!(rng.chance(50)),
        Kind::DateTime => json!(ctx.now - rng.range(0, 86_400_000)),
        Kind::Date => json!(format!(
            "20{:02}-{:02}-{:02}",
            rng.range(20, 30),
            rng.range(1, 12),
            rng.range(1, 28)
        )),
        Kind::Uuid => json!(uuid(rng)),
        Kind::Json => json_value(rng, 2),
        Kind::Blob => {
            let n = rng.below(12) as usize;
            json!(
                (0..n)
                    .map(|_| format!("{:02x}", rng.below(256)))
                    .collect::<String>()
            )
        }
        // A reference as a device writes it once a file is attached (the simulation moves no
        // bytes: the records are what it checks).
        Kind::Attachment => json!({
            "sha256": (0..4).map(|_| format!("{:016x}", rng.next_u64())).collect::<String>(),
            "size": rng.range(0, 5_000_000),
            "mediaType": "image/jpeg",
        }),
        Kind::Enum(values) => json!(values[rng.index(values.len())]),
        Kind::Reference(target) => {
            let candidates = ctx.known.get(target).map(Vec::as_slice).unwrap_or(&[]);
            if !candidates.is_empty() {
                json!(candidates[rng.index(candidates.len())])
            } else if field.nullable {
                Value::Null
            } else {
                // Nothing known yet: the users' own rows always exist on the server.
                json!(ctx.user)
            }
        }
    }
}

fn text(rng: &mut Rng, ctx: &Context<'_>) -> String {
    match rng.below(10) {
        0 => String::new(),
        1 => format!("Élan 🦌 near the “old” ford, {}", ctx.salt),
        // Long notes: a batch of a few of them exceeds the server's body limit.
        2 if rng.chance(40) => {
            let words = ["spoor", "fresh", "ridge", "dung", "north", "snare", "camp"];
            let mut s = String::new();
            while s.len() < 6_000 + rng.index(6_000) {
                s.push_str(words[rng.index(words.len())]);
                s.push(' ');
            }
            s
        }
        3 => "quote \" backslash \\ tab \t newline \n end".to_owned(),
        _ => format!("note {}", rng.below(1_000_000)),
    }
}

/// A finite double: everyday coordinates, round numbers, and any bit pattern (subnormals and
/// extremes included), which must all travel exactly.
fn real(rng: &mut Rng) -> Value {
    let x = match rng.below(4) {
        0 => (rng.next_u64() as f64 / u64::MAX as f64) * 180.0 - 90.0,
        1 => rng.range(-1000, 1000) as f64 / 4.0,
        _ => loop {
            let x = f64::from_bits(rng.next_u64());
            if x.is_finite() {
                break x;
            }
        },
    };
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

fn uuid(rng: &mut Rng) -> String {
    let a = rng.next_u64();
    let b = rng.next_u64();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        8 + (b >> 62),
        (b >> 48) & 0xfff,
        b & 0xffff_ffff_ffff
    )
}

fn json_value(rng: &mut Rng, depth: u32) -> Value {
    match rng.below(if depth == 0 { 4 } else { 6 }) {
        0 => json!(rng.range(-1_000_000, 1_000_000)),
        1 => json!(format!("s{}", rng.below(1000))),
        2 => json!(rng.chance(50)),
        3 => json!(rng.range(-1000, 1000) as f64 / 8.0),
        4 => Value::Array(
            (0..rng.below(4))
                .map(|_| json_value(rng, depth - 1))
                .collect(),
        ),
        _ => {
            let mut m = Map::new();
            for i in 0..rng.below(4) {
                m.insert(format!("k{i}"), json_value(rng, depth - 1));
            }
            m.insert("type".to_owned(), json!("LineString"));
            Value::Object(m)
        }
    }
}

/// A wire value as the app binds it to its column.
pub fn to_sql(kind: Kind, value: &Value) -> SqlValue {
    match (kind, value) {
        (_, Value::Null) => SqlValue::Null,
        (Kind::Bool, Value::Bool(b)) => SqlValue::Integer(i64::from(*b)),
        (Kind::Int | Kind::DateTime, v) => SqlValue::Integer(v.as_i64().unwrap_or(0)),
        (Kind::Real, v) => SqlValue::Real(v.as_f64().unwrap_or(0.0)),
        (Kind::Json | Kind::Attachment, v) => SqlValue::Text(v.to_string()),
        (Kind::Blob, Value::String(hex)) => SqlValue::Blob(
            (0..hex.len() / 2)
                .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap_or(0))
                .collect(),
        ),
        (_, Value::String(s)) => SqlValue::Text(s.clone()),
        (_, other) => SqlValue::Text(other.to_string()),
    }
}

/// A device column's value as the wire carries it (docs/protocol.md).
pub fn from_sql(kind: Kind, value: SqlValue) -> Value {
    match (kind, value) {
        (_, SqlValue::Null) => Value::Null,
        (Kind::Bool, SqlValue::Integer(i)) => Value::Bool(i != 0),
        (Kind::Json | Kind::Attachment, SqlValue::Text(t)) => {
            serde_json::from_str(&t).unwrap_or(Value::String(t))
        }
        (_, other) => sql_to_json(other),
    }
}

/// Whether two wire values of a field are the same value (reals as doubles, JSON as values
/// whose numbers are doubles: `1` and `1.0` are one value, as on the wire).
pub fn same(kind: Kind, a: &Value, b: &Value) -> bool {
    match kind {
        Kind::Real => match (a, b) {
            (Value::Null, Value::Null) => true,
            (a, b) => a.as_f64().is_some() && a.as_f64() == b.as_f64(),
        },
        Kind::Json => same_json(a, b),
        _ => a == b,
    }
}

fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_json(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

/// Inserts a row with `values` (wire keys); the id and bookkeeping are the row's own.
pub fn insert(
    app: &Device,
    shape: &EntityShape,
    id: &str,
    values: &Map<String, Value>,
) -> rusqlite::Result<()> {
    let mut columns = vec!["\"id\"".to_owned()];
    let mut params = vec![SqlValue::Text(id.to_owned())];
    for field in &shape.fields {
        if let Some(v) = values.get(field.key) {
            columns.push(format!("\"{}\"", field.column));
            params.push(to_sql(field.kind, v));
        }
    }
    let marks = vec!["?"; params.len()].join(", ");
    app.connection().execute(
        &format!(
            "INSERT INTO \"{}\" ({}) VALUES ({marks})",
            shape.table,
            columns.join(", ")
        ),
        params_from_iter(params),
    )?;
    Ok(())
}

/// Sets `values` (wire keys) on a row.
pub fn update(
    app: &Device,
    shape: &EntityShape,
    id: &str,
    values: &Map<String, Value>,
) -> rusqlite::Result<()> {
    let mut sets = Vec::new();
    let mut params = Vec::new();
    for field in &shape.fields {
        if let Some(v) = values.get(field.key) {
            sets.push(format!("\"{}\" = ?", field.column));
            params.push(to_sql(field.kind, v));
        }
    }
    params.push(SqlValue::Text(id.to_owned()));
    app.connection().execute(
        &format!(
            "UPDATE \"{}\" SET {} WHERE \"id\" = ?",
            shape.table,
            sets.join(", ")
        ),
        params_from_iter(params),
    )?;
    Ok(())
}

/// Deletes a row: `DELETE`, or a soft delete (`deleted_at`).
pub fn delete(app: &Device, table: &str, id: &str, hard: bool, now: i64) -> rusqlite::Result<()> {
    if hard {
        app.connection()
            .execute(&format!("DELETE FROM \"{table}\" WHERE \"id\" = ?1"), [id])?;
    } else {
        app.connection().execute(
            &format!("UPDATE \"{table}\" SET \"deleted_at\" = ?1 WHERE \"id\" = ?2"),
            rusqlite::params![now, id],
        )?;
    }
    Ok(())
}

/// A row's fields as they are now (wire keys), if it exists.
pub fn row_values(
    app: &Device,
    shape: &EntityShape,
    id: &str,
) -> rusqlite::Result<Option<Map<String, Value>>> {
    let columns: Vec<String> = shape
        .fields
        .iter()
        .map(|f| format!("\"{}\"", f.column))
        .collect();
    let sql = format!(
        "SELECT {} FROM \"{}\" WHERE \"id\" = ?1",
        columns.join(", "),
        shape.table
    );
    let conn = app.connection();
    let mut statement = conn.prepare(&sql)?;
    let mut rows = statement.query([id])?;
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    let mut data = Map::new();
    for (i, field) in shape.fields.iter().enumerate() {
        data.insert(field.key.to_owned(), from_sql(field.kind, row.get(i)?));
    }
    Ok(Some(data))
}

/// Live rows of a table, by id.
pub fn live_rows(app: &Device, table: &str) -> rusqlite::Result<Vec<String>> {
    app.connection()
        .prepare(&format!(
            "SELECT \"id\" FROM \"{table}\" WHERE \"deleted_at\" IS NULL ORDER BY \"id\""
        ))?
        .query_map([], |r| r.get(0))?
        .collect()
}

/// Live rows of a table that the server has seen (version above 0), by id.
pub fn known_rows(app: &Device, table: &str) -> rusqlite::Result<Vec<String>> {
    app.connection()
        .prepare(&format!(
            "SELECT \"id\" FROM \"{table}\" WHERE \"deleted_at\" IS NULL AND \"version\" > 0 ORDER BY \"id\""
        ))?
        .query_map([], |r| r.get(0))?
        .collect()
}

/// A record as both sides are compared: version, tombstone and (for a live row) the fields.
#[derive(Clone, Debug)]
pub struct Comparable {
    /// The server version.
    pub version: i64,
    /// Whether it is a tombstone.
    pub deleted: bool,
    /// The fields (empty for a tombstone).
    pub data: Map<String, Value>,
}

/// Every row a phone holds, by (table, id).
pub fn device_rows(
    app: &Device,
    version: &SchemaVersion,
) -> rusqlite::Result<BTreeMap<(String, String), Comparable>> {
    let mut out = BTreeMap::new();
    for entity in &version.entities {
        let columns: Vec<String> = entity
            .fields
            .iter()
            .map(|f| format!("\"{}\"", f.column))
            .collect();
        let sql = format!(
            "SELECT \"id\", \"version\", \"deleted_at\" IS NOT NULL, {} FROM \"{}\" ORDER BY \"id\"",
            columns.join(", "),
            entity.table
        );
        let conn = app.connection();
        let mut statement = conn.prepare(&sql)?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            let id: String = row.get(0)?;
            let deleted: bool = row.get(2)?;
            let mut data = Map::new();
            if !deleted {
                for (i, field) in entity.fields.iter().enumerate() {
                    let value: SqlValue = row.get(3 + i)?;
                    data.insert(field.key.to_owned(), from_sql(field.kind, value));
                }
            }
            out.insert(
                (entity.table.to_owned(), id),
                Comparable {
                    version: row.get(1)?,
                    deleted,
                    data,
                },
            );
        }
    }
    Ok(out)
}

/// A pulled record in the compared form.
pub fn server_record(record: &Value) -> Comparable {
    let deleted = record["deleted"] == true;
    Comparable {
        version: record["version"].as_i64().unwrap_or(0),
        deleted,
        data: if deleted {
            Map::new()
        } else {
            record["data"].as_object().cloned().unwrap_or_default()
        },
    }
}

/// Whether two compared records are equal, field by field as `same` compares.
pub fn same_record(shape: Option<&EntityShape>, a: &Comparable, b: &Comparable) -> bool {
    if a.version != b.version || a.deleted != b.deleted || a.data.len() != b.data.len() {
        return false;
    }
    a.data.iter().all(|(k, v)| {
        let kind = shape
            .and_then(|s| s.field(k))
            .map_or(Kind::Text, |f| f.kind);
        b.data.get(k).is_some_and(|w| same(kind, v, w))
    })
}
