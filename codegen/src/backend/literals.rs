//! How values and identifiers are spelled in the text outputs: SQL (both dialects and the
//! device) and Dart. Every back-end that writes a literal or a quoted identifier calls these,
//! so two outputs cannot spell the same value differently.

/// A SQL string literal.
pub fn sql_string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A quoted SQL identifier. Every generated identifier is quoted, so SQL keywords are fine as
/// names; spec names are validated identifiers, so a quote never appears inside.
pub fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// A Dart string literal: single-quoted, with `\`, `'`, `$` and line breaks escaped.
pub fn dart_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '$' => out.push_str("\\$"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            _ => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A double as Dart prints it: always with a fraction or exponent (`1.0`, `0.5`). It is also
/// the literal Drift writes into the device DDL, and the server's SQL writes a real default the
/// same way (both dialects read it as that very double).
pub fn double(f: f64) -> String {
    let text = format!("{f:?}");
    if text.contains(['.', 'e', 'E']) || text.contains("inf") || text.contains("NaN") {
        text
    } else {
        format!("{text}.0")
    }
}
