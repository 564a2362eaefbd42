//! SQLite expressions that move field values between a row and the wire's JSON.
//!
//! The device's triggers build outbox payloads with these and read pulled records with them,
//! and the server's SQLite statements do the same, so the encodings of docs/protocol.md
//! (booleans as `true`/`false`, datetimes as epoch milliseconds, blobs as hex, `json` fields as
//! the JSON value itself) are defined here, once, for both.

use crate::backend::literals::sql_string;
use crate::model::FieldType;

/// SQLite allows 127 arguments per function call (SQLITE_MAX_FUNCTION_ARG); JSON objects of
/// wider entities are built in chunks of this many key/value pairs.
const PAIRS_PER_CALL: usize = 60;

/// A path `json_remove` ignores: no wire key starts with `_`, so it never exists.
pub const NO_SUCH_PATH: &str = "'$.__offgen_keep__'";

/// The JSON path of a wire key.
pub fn path(key: &str) -> String {
    sql_string(&format!("$.{key}"))
}

/// The wire value of the SQL `value` of a field of type `ty` (`None`: bookkeeping, as is),
/// ready for `json_object`. Device and server SQLite tables store values alike.
pub fn encode(ty: Option<&FieldType>, value: String) -> String {
    match ty {
        Some(FieldType::Bool) => {
            format!("CASE {value} WHEN 1 THEN json('true') WHEN 0 THEN json('false') END")
        }
        // The queue triggers refuse invalid JSON on write; should any reach a payload anyway
        // (written while the guard was set), it goes as null rather than failing the push.
        Some(FieldType::Json | FieldType::Attachment) => {
            format!("CASE WHEN json_valid({value}) THEN json({value}) END")
        }
        Some(FieldType::Blob) => {
            format!("CASE WHEN {value} IS NULL THEN NULL ELSE lower(hex({value})) END")
        }
        Some(FieldType::Real) => real(&value),
        _ => value,
    }
}

/// A REAL as the shortest JSON number that reads back as the very same double. SQLite's own
/// number printing (its JSON functions keep 15 digits; `printf` is not correctly rounded for
/// large and small exponents) changes some doubles, so the conversion is the runtime's SQL
/// function `offgen_real_json`, registered on every device and server connection
/// (offgen-runtime's `reals`). `json()` makes the number text a JSON value for `json_object`.
pub fn real(value: &str) -> String {
    format!("json(offgen_real_json({value}))")
}

/// The column value of wire key `key` of a field of type `ty` (`None`: bookkeeping) in the
/// JSON object `data`.
pub fn decode(ty: Option<&FieldType>, data: &str, key: &str) -> String {
    decode_at(ty, data, &format!("$.{key}"))
}

/// The value of a `json` field from its JSON text `value` (a bound parameter), exactly as
/// [`decode`] gives it from the key of a record's data.
pub fn decode_json_text(value: &str) -> String {
    decode_at(Some(&FieldType::Json), value, "$")
}

/// The value of an `attachment` field from its reference's JSON text `value` (a bound
/// parameter), exactly as [`decode`] gives it from the key of a record's data.
pub fn decode_attachment_text(value: &str) -> String {
    decode_at(Some(&FieldType::Attachment), value, "$")
}

/// [`decode`] at the JSON path `json_path` (`$.key`, or `$` for a whole JSON text).
fn decode_at(ty: Option<&FieldType>, data: &str, json_path: &str) -> String {
    let at = &sql_string(json_path);
    match ty {
        // `json_extract` unwraps a JSON string to bare text, and turns true into 1; a json
        // field must keep the JSON text itself.
        Some(FieldType::Json) => format!(
            "CASE json_type({data}, {at}) WHEN 'null' THEN NULL WHEN 'true' THEN 'true' \
             WHEN 'false' THEN 'false' WHEN 'text' THEN json_quote(json_extract({data}, {at})) \
             ELSE json_extract({data}, {at}) END"
        ),
        Some(FieldType::Blob) => format!("unhex(json_extract({data}, {at}))"),
        // Rebuilt in its one key order (a server's `jsonb` gives the keys back in another),
        // so the stored text of a reference is the same wherever it came from.
        Some(FieldType::Attachment) => {
            let part = |name: &str| {
                format!(
                    "json_extract({data}, {})",
                    sql_string(&format!("{json_path}.{name}"))
                )
            };
            format!(
                "CASE json_type({data}, {at}) WHEN 'object' THEN json_object('sha256', {}, 'size', {}, 'mediaType', {}) END",
                part("sha256"),
                part("size"),
                part("mediaType")
            )
        }
        // `->` gives the number's own text, which `offgen_real` reads exactly (SQLite's
        // `json_extract` does not, for large and small exponents).
        Some(FieldType::Real) => format!("offgen_real({data} -> {at})"),
        _ => format!("json_extract({data}, {at})"),
    }
}

/// `json_object(key, value, ...)` over `pairs`, chunked with `json_set` past the argument limit.
pub fn object(pairs: &[(String, String)]) -> String {
    let mut chunks = pairs.chunks(PAIRS_PER_CALL);
    let first = chunks.next().unwrap_or(&[]);
    let mut expr = format!(
        "json_object({})",
        join_pairs(first.iter().map(|(k, v)| (sql_string(k), v.clone())))
    );
    for chunk in chunks {
        expr = format!(
            "json_set({expr}, {})",
            join_pairs(chunk.iter().map(|(k, v)| (path(k), v.clone())))
        );
    }
    expr
}

/// `json_set(target, path, value, ...)` over `(path, value)` pairs (both SQL expressions),
/// chunked past the argument limit.
pub fn set(target: String, pairs: &[(String, String)]) -> String {
    pairs.chunks(PAIRS_PER_CALL).fold(target, |expr, chunk| {
        format!("json_set({expr}, {})", join_pairs(chunk.iter().cloned()))
    })
}

/// `json_remove(target, paths...)`, chunked past the argument limit.
pub fn remove(target: String, paths: &[String]) -> String {
    paths
        .chunks(PAIRS_PER_CALL * 2)
        .fold(target, |expr, chunk| {
            format!("json_remove({expr}, {})", chunk.join(", "))
        })
}

fn join_pairs(pairs: impl Iterator<Item = (String, String)>) -> String {
    pairs
        .map(|(k, v)| format!("{k}, {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}
