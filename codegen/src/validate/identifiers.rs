//! Rules for names written in a spec, and the names no spec may take.

use crate::diagnostics::Diagnostic;
use crate::model::names::Name;
use crate::source::Span;

/// PostgreSQL truncates identifiers longer than 63 bytes (NAMEDATALEN - 1) without an error, so
/// two long names could silently become one table; we refuse them instead.
pub const MAX_IDENTIFIER_LEN: usize = 63;

/// Checks that a spec name can become an identifier in every target.
///
/// ASCII letters, digits and `_`, starting with a letter: Dart treats a leading `_` as private
/// and `$` as special, SQL and Rust reject most punctuation, and non-ASCII letters would make the
/// case conversions ambiguous.
pub fn check_identifier(what: &str, text: &str, span: Span) -> Result<(), Diagnostic> {
    let first_ok = text.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if text.is_empty() || !first_ok || !rest_ok {
        return Err(
            Diagnostic::error(format!("`{text}` is not a valid {what} name"))
                .at(span, "not a valid name")
                .help(
                    "use ASCII letters, digits and `_`, starting with a letter, e.g. `recordedAt`",
                ),
        );
    }
    let snake = Name::new(text).snake;
    if snake.len() > MAX_IDENTIFIER_LEN {
        return Err(Diagnostic::error(format!(
            "{what} name `{text}` is {} characters as SQL; the limit is {MAX_IDENTIFIER_LEN}",
            snake.len()
        ))
        .at(span, "too long")
        .note("PostgreSQL cuts longer identifiers short, so two names could become one"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_must_start_with_a_letter_and_stay_ascii() {
        let span = Span::default();
        assert!(check_identifier("field", "recordedAt", span).is_ok());
        assert!(check_identifier("field", "gps_lat2", span).is_ok());
        for bad in [
            "",
            "_private",
            "2fast",
            "has space",
            "dash-ed",
            "ünïcode",
            "a$b",
        ] {
            assert!(check_identifier("field", bad, span).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn identifiers_longer_than_postgres_allows_are_refused() {
        let long = "a".repeat(MAX_IDENTIFIER_LEN + 1);
        assert!(check_identifier("field", &long, Span::default()).is_err());
        assert!(check_identifier("field", &long[1..], Span::default()).is_ok());
    }
}
