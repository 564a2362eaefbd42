//! Exact doubles on SQLite: two SQL functions of the engine's own, registered on every
//! connection of a SQLite [`Database`](super::Database).
//!
//! SQLite's own conversions between REAL and decimal text (`printf`, `CAST`, the JSON
//! functions) are correctly rounded only for moderate exponents. Measured on SQLite 3.51 over
//! random bit patterns: one double in six came back changed through `json_extract`, and one in
//! five through `printf('%!.17g')`; GPS-sized values were all exact. The wire promises every
//! finite double bit for bit (docs/protocol.md), so the server's SQLite statements convert
//! reals with Rust's correctly rounded parser and printer instead:
//!
//! - `offgen_real_json(x)`: the shortest JSON number that reads back as `x` (NULL for NULL);
//! - `offgen_real(text)`: the double a JSON number's text denotes (NULL for NULL or `null`).
//!
//! Both refuse, with an SQL error, what the engine never writes (a non-finite value, text that
//! is not a number), rather than turning it into something else.

use std::ffi::{CStr, c_int};
use std::ptr;

use libsqlite3_sys as ffi;
use sqlx::SqliteConnection;

type ScalarFunction =
    unsafe extern "C" fn(*mut ffi::sqlite3_context, c_int, *mut *mut ffi::sqlite3_value);

const FUNCTIONS: [(&CStr, ScalarFunction); 2] =
    [(c"offgen_real_json", real_json), (c"offgen_real", real)];

/// Registers the functions on `connection`.
pub(crate) async fn register(connection: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    let mut handle = connection.lock_handle().await?;
    let db = handle.as_raw_handle().as_ptr();
    for (name, function) in FUNCTIONS {
        // SAFETY: `db` is the live handle the lock gives us for the duration of the call; the
        // name is a NUL-terminated static string; the function takes one argument, as
        // registered, and keeps no pointer past its call, so no user data or destructor is
        // needed.
        let code = unsafe {
            ffi::sqlite3_create_function_v2(
                db,
                name.as_ptr(),
                1,
                ffi::SQLITE_UTF8 | ffi::SQLITE_DETERMINISTIC | ffi::SQLITE_INNOCUOUS,
                ptr::null_mut(),
                Some(function),
                None,
                None,
                None,
            )
        };
        if code != ffi::SQLITE_OK {
            return Err(sqlx::Error::Configuration(
                format!(
                    "registering {} failed (SQLite code {code})",
                    name.to_string_lossy()
                )
                .into(),
            ));
        }
    }
    Ok(())
}

/// What a function answers, before it is handed to SQLite.
enum Answer {
    Null,
    Real(f64),
    Text(String),
    Error(&'static CStr),
}

/// The value of one SQL argument, read out of SQLite.
enum Argument<'a> {
    Null,
    Integer(i64),
    Real(f64),
    Text(&'a [u8]),
    Other,
}

/// The shortest JSON number that reads back as the stored value.
fn json_number(argument: Argument) -> Answer {
    match argument {
        Argument::Null => Answer::Null,
        // Only written behind the engine's back (the column's CHECK refuses it): an integer's
        // text is its exact JSON number.
        Argument::Integer(i) => Answer::Text(i.to_string()),
        Argument::Real(x) if x.is_finite() => match crate::reals::to_json_number(x) {
            Some(number) => Answer::Text(number),
            None => Answer::Error(c"offgen_real_json: not a finite number"),
        },
        Argument::Real(_) => Answer::Error(c"offgen_real_json: a stored real is not finite"),
        Argument::Text(_) | Argument::Other => {
            Answer::Error(c"offgen_real_json: a stored real is not a number")
        }
    }
}

/// The double a JSON number's text denotes.
fn parse_number(argument: Argument) -> Answer {
    match argument {
        Argument::Null => Answer::Null,
        Argument::Text(b"null") => Answer::Null,
        Argument::Text(text) => match std::str::from_utf8(text)
            .ok()
            .and_then(crate::reals::from_json_number)
        {
            Some(x) => Answer::Real(x),
            None => Answer::Error(c"offgen_real: not a finite JSON number"),
        },
        Argument::Real(x) => Answer::Real(x),
        Argument::Integer(i) => Answer::Real(i as f64),
        Argument::Other => Answer::Error(c"offgen_real: not a JSON number"),
    }
}

/// Reads argument 0.
///
/// # Safety
/// `argv` must point to at least one valid `sqlite3_value`, as SQLite passes it to a
/// function registered with one argument; the returned text borrows SQLite's buffer, which
/// stays valid until the function returns.
unsafe fn first<'a>(argv: *mut *mut ffi::sqlite3_value) -> Argument<'a> {
    // SAFETY: as the caller promises.
    unsafe {
        let value = *argv;
        match ffi::sqlite3_value_type(value) {
            ffi::SQLITE_NULL => Argument::Null,
            ffi::SQLITE_INTEGER => Argument::Integer(ffi::sqlite3_value_int64(value)),
            ffi::SQLITE_FLOAT => Argument::Real(ffi::sqlite3_value_double(value)),
            ffi::SQLITE_TEXT => {
                // The text first, then its length in bytes (SQLite's documented order).
                let text = ffi::sqlite3_value_text(value);
                let len = usize::try_from(ffi::sqlite3_value_bytes(value)).unwrap_or(0);
                if text.is_null() {
                    Argument::Other
                } else {
                    Argument::Text(std::slice::from_raw_parts(text, len))
                }
            }
            _ => Argument::Other,
        }
    }
}

/// Hands an answer to SQLite.
///
/// # Safety
/// `ctx` must be the context SQLite passed to the running function.
unsafe fn answer(ctx: *mut ffi::sqlite3_context, answer: Answer) {
    // SAFETY: as the caller promises; text is copied by SQLite (SQLITE_TRANSIENT) before
    // `answer` drops it, and error messages are NUL-terminated statics.
    unsafe {
        match answer {
            Answer::Null => ffi::sqlite3_result_null(ctx),
            Answer::Real(x) => ffi::sqlite3_result_double(ctx, x),
            Answer::Text(text) => match c_int::try_from(text.len()) {
                Ok(len) => ffi::sqlite3_result_text(
                    ctx,
                    text.as_ptr().cast(),
                    len,
                    ffi::SQLITE_TRANSIENT(),
                ),
                Err(_) => ffi::sqlite3_result_error_toobig(ctx),
            },
            Answer::Error(message) => ffi::sqlite3_result_error(ctx, message.as_ptr(), -1),
        }
    }
}

unsafe extern "C" fn real_json(
    ctx: *mut ffi::sqlite3_context,
    _argc: c_int,
    argv: *mut *mut ffi::sqlite3_value,
) {
    // SAFETY: SQLite calls this with its context and the one argument it was registered for.
    unsafe { answer(ctx, json_number(first(argv))) }
}

unsafe extern "C" fn real(
    ctx: *mut ffi::sqlite3_context,
    _argc: c_int,
    argv: *mut *mut ffi::sqlite3_value,
) {
    // SAFETY: as for `real_json`.
    unsafe { answer(ctx, parse_number(first(argv))) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(answer: Answer) -> String {
        match answer {
            Answer::Text(t) => t,
            _ => panic!("not text"),
        }
    }

    #[test]
    fn numbers_print_shortest_and_parse_exactly() {
        for x in [0.0, -0.0, 5e-324, f64::MAX, -1.2345678901234567, 1e20, 0.1] {
            let printed = text(json_number(Argument::Real(x)));
            let Answer::Real(back) = parse_number(Argument::Text(printed.as_bytes())) else {
                panic!("{printed} does not parse");
            };
            assert_eq!(back.to_bits(), x.to_bits(), "{printed}");
        }
        assert_eq!(text(json_number(Argument::Real(-0.0))), "-0.0");
        assert_eq!(
            text(json_number(Argument::Integer(i64::MIN))),
            "-9223372036854775808"
        );
    }

    #[test]
    fn what_no_json_number_is_is_refused() {
        for bad in [&b"inf"[..], b"NaN", b"1e999", b"x", b"\"1\""] {
            assert!(matches!(
                parse_number(Argument::Text(bad)),
                Answer::Error(_)
            ));
        }
        assert!(matches!(
            parse_number(Argument::Text(b"null")),
            Answer::Null
        ));
        assert!(matches!(
            json_number(Argument::Real(f64::INFINITY)),
            Answer::Error(_)
        ));
        assert!(matches!(
            json_number(Argument::Text(b"1")),
            Answer::Error(_)
        ));
    }
}
