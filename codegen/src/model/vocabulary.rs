//! The vocabularies of the target languages, in one place: the words each reserves, and the
//! names the generated code relies on. Validation refuses the names no escaping can save, and
//! [`Name`](crate::model::Name) escapes the rest, once, for every back-end. SQL needs no list:
//! every generated SQL identifier is quoted, so SQL keywords are fine as names
//! ([`SQL_KEYWORDS`] is kept to test exactly that).

/// Rust keywords (strict and reserved, every edition) that can be raw identifiers: a field
/// named one is emitted as `r#type`.
pub const RUST_KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "dyn", "else", "enum", "extern", "false",
    "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref",
    "return", "static", "struct", "trait", "true", "type", "unsafe", "use", "where", "while",
    "abstract", "become", "box", "do", "final", "gen", "macro", "override", "priv", "try",
    "typeof", "unsized", "virtual", "yield",
];

/// Rust path keywords cannot be raw identifiers (`r#self` is an error), so a field with one of
/// these names could not be a struct field.
pub const RUST_UNESCAPABLE: &[&str] = &["self", "super", "crate", "Self"];

/// Dart reserved words: they cannot be getter, variable or enum member names.
/// (Dart's "built-in identifiers" such as `get`, `type` or `required` are legal member names.)
pub const DART_RESERVED: &[&str] = &[
    "assert", "break", "case", "catch", "class", "const", "continue", "default", "do", "else",
    "enum", "extends", "false", "final", "finally", "for", "if", "in", "is", "new", "null",
    "rethrow", "return", "super", "switch", "this", "throw", "true", "try", "var", "void", "while",
    "with",
];

/// Members every Dart enum has (from `Object` and `Enum`, and the static `values`): an enum
/// value spelled like one would clash with it, so its member gets a trailing `_` too.
pub const DART_ENUM_MEMBERS: &[&str] = &[
    "values",
    "index",
    "hashCode",
    "runtimeType",
    "toString",
    "noSuchMethod",
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
    // The generated Dart's own types.
    "OffgenAttachment",
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

/// SQL keywords (reserved in SQLite or PostgreSQL) a spec may use as names, since every
/// generated identifier is quoted: kept so tests can hold the back-ends to it.
pub const SQL_KEYWORDS: &[&str] = &[
    "select",
    "from",
    "where",
    "order",
    "group",
    "table",
    "index",
    "user",
    "limit",
    "offset",
    "check",
    "default",
    "references",
    "primary",
    "key",
    "unique",
    "column",
    "constraint",
    "values",
    "insert",
    "update",
    "delete",
    "join",
    "on",
    "using",
    "natural",
    "all",
    "and",
    "or",
    "not",
    "null",
    "is",
    "as",
    "case",
    "when",
    "then",
    "end",
    "between",
    "like",
    "desc",
    "asc",
    "distinct",
    "having",
    "returning",
    "transaction",
    "trigger",
    "view",
    "window",
];
