//! The device side of exact doubles: `offgen_real_json(x)` and `offgen_real(text)`, the SQL
//! functions the generated triggers convert reals with (see [`crate::reals`]), registered on
//! every device connection. A connection without them cannot write a row with a real field
//! ("no such function"), which is loud on purpose: the alternative is a changed value.

use rusqlite::Connection;
use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::types::ValueRef;

use crate::reals::{from_json_number, to_json_number};

fn failure(message: &str) -> rusqlite::Error {
    rusqlite::Error::UserFunctionError(message.into())
}

/// Registers both functions on `conn`.
pub(crate) fn register(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8
        | FunctionFlags::SQLITE_DETERMINISTIC
        | FunctionFlags::SQLITE_INNOCUOUS;
    conn.create_scalar_function("offgen_real_json", 1, flags, real_json)?;
    conn.create_scalar_function("offgen_real", 1, flags, real)
}

/// The shortest JSON number text that reads back as the stored value (NULL for NULL).
fn real_json(ctx: &Context<'_>) -> rusqlite::Result<Option<String>> {
    match ctx.get_raw(0) {
        ValueRef::Null => Ok(None),
        // A REAL column keeps whole numbers it can as integers: their text is exact.
        ValueRef::Integer(i) => Ok(Some(i.to_string())),
        ValueRef::Real(x) => to_json_number(x)
            .map(Some)
            .ok_or_else(|| failure("offgen_real_json: not a finite number")),
        _ => Err(failure("offgen_real_json: not a number")),
    }
}

/// The double a JSON number's text denotes (NULL for NULL and for JSON `null`).
fn real(ctx: &Context<'_>) -> rusqlite::Result<Option<f64>> {
    match ctx.get_raw(0) {
        ValueRef::Null => Ok(None),
        ValueRef::Text(b"null") => Ok(None),
        ValueRef::Text(text) => std::str::from_utf8(text)
            .ok()
            .and_then(from_json_number)
            .map(Some)
            .ok_or_else(|| failure("offgen_real: not a finite JSON number")),
        ValueRef::Real(x) => Ok(Some(x)),
        ValueRef::Integer(i) => Ok(Some(i as f64)),
        ValueRef::Blob(_) => Err(failure("offgen_real: not a JSON number")),
    }
}
