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

/// Columns offgen adds to every entity table, by SQL name. A declared field with one of these
/// names (in any spelling: `updatedAt` is `updated_at`) would be two columns with one name.
pub const BOOKKEEPING_COLUMNS: &[&str] = &[
    "id",
    "version",
    "updated_at",
    "deleted_at",
    "sync_status",
    "sync_error",
];

/// Dart reserved words: they cannot be getter, variable or enum member names.
/// (Dart's "built-in identifiers" such as `get`, `type` or `required` are legal member names.)
pub const DART_RESERVED: &[&str] = &[
    "assert", "break", "case", "catch", "class", "const", "continue", "default", "do", "else",
    "enum", "extends", "false", "final", "finally", "for", "if", "in", "is", "new", "null",
    "rethrow", "return", "super", "switch", "this", "throw", "true", "try", "var", "void", "while",
    "with",
];

/// Names a column getter cannot take in a Drift table class. Drift keeps no list of its own (a
/// clash is a Dart compile error in the generated `.g.dart`, drift issue #2100), so we keep one,
/// read from drift 2.22's sources: members of the `Table` DSL, of the generated table-info class,
/// data class and companion, and names its generated method bodies use unqualified.
pub const DRIFT_RESERVED_GETTERS: &[&str] = &[
    // `Table` DSL: column starters and configuration getters.
    "integer",
    "int64",
    "intEnum",
    "text",
    "textEnum",
    "boolean",
    "dateTime",
    "blob",
    "real",
    "customType",
    "sqliteAny",
    "tableName",
    "withoutRowId",
    "dontWriteConstraints",
    "isStrict",
    "primaryKey",
    "uniqueKeys",
    "customConstraints",
    // `Object`.
    "hashCode",
    "runtimeType",
    "toString",
    "noSuchMethod",
    // The generated `$XTable` (extends the table class, mixes in `TableInfo`).
    "attachedDatabase",
    "aliasedName",
    "actualTableName",
    "validateIntegrity",
    "map",
    "createAlias",
    "asDslTable",
    "entityName",
    "columnsByName",
    "mapFromCompanion",
    "moduleAndArgs",
    "rowId",
    // The data class and companion.
    "copyWith",
    "copyWithCompanion",
    "toJson",
    "toJsonString",
    "toColumns",
    "toCompanion",
    "fromJson",
    "fromJsonString",
    "insert",
    "createCustom",
    // Used unqualified inside generated method bodies (`toColumns`, `==`).
    "nullToAbsent",
    "identical",
];

/// Rust path keywords cannot be raw identifiers (`r#self` is an error), so a field with one of
/// these names could not be a struct field.
pub const RUST_UNESCAPABLE: &[&str] = &["self", "super", "crate", "Self"];

/// Type names the generated Dart and Rust rely on. An entity with one of these names would
/// shadow them in the generated code (`Value`, `Table` and `Column` come from Drift).
pub const RESERVED_TYPE_NAMES: &[&str] = &[
    // Dart core and drift.
    "Object",
    "String",
    "Null",
    "Never",
    "Function",
    "Type",
    "Symbol",
    "Record",
    "Enum",
    "Iterable",
    "List",
    "Map",
    "Set",
    "Future",
    "Stream",
    "Duration",
    "DateTime",
    "Uri",
    "BigInt",
    "Uint8List",
    "Error",
    "Exception",
    "Table",
    "Column",
    "Value",
    "Constant",
    "Variable",
    "Expression",
    "Insertable",
    "DataClass",
    "Companion",
    "UpdateCompanion",
    "GeneratedColumn",
    "GeneratedDatabase",
    "DatabaseConnection",
    "QueryExecutor",
    "Migrator",
    "MigrationStrategy",
    "TypeConverter",
    "JsonTypeConverter",
    "JsonTypeConverter2",
    "DriftDatabase",
    "DataClassName",
    "TableIndex",
    "KeyAction",
    "TableInfo",
    "Batch",
    // Rust prelude and offgen runtime.
    "Option",
    "Result",
    "Vec",
    "Box",
    "Ok",
    "Err",
    "Some",
    "None",
    "Self",
    "Router",
    "State",
    "Json",
    "Syncable",
];

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
