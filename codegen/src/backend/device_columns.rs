//! The device table's columns, in the exact form Drift writes them: the model both the device
//! SQL ([`super::client`]) and the Dart package ([`super::dart`]) are rendered from.
//!
//! One [`Column`] per column, holding everything both outputs need: the SQLite column
//! definition (in Drift's constraint order, so Drift's `validateDatabaseSchema` sees the same
//! schema node by node) and the Dart column builder that makes Drift write that definition.
//! Both are rendered from this one value, so they cannot disagree.

use crate::backend::literals::{dart_string, double, quote, sql_string};
use crate::backend::sqlite;
use crate::model::{DefaultValue, Entity, Field, FieldType, Schema};
use offgen_runtime::bookkeeping::{
    self, DELETED_AT, ID, SYNC_ERROR, SYNC_STATUS, SYNC_STATUSES, UPDATED_AT, VERSION,
};

/// SQLite storage class, as Drift names its column types (only these four: Drift's schema
/// verifier compares resolved types, and these are the ones it resolves to).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum SqlType {
    /// `INTEGER`.
    Integer,
    /// `TEXT`.
    Text,
    /// `REAL`.
    Real,
    /// `BLOB`.
    Blob,
}

impl SqlType {
    /// The type name in DDL.
    pub fn sql(self) -> &'static str {
        match self {
            SqlType::Integer => "INTEGER",
            SqlType::Text => "TEXT",
            SqlType::Real => "REAL",
            SqlType::Blob => "BLOB",
        }
    }
}

/// What a column is for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Role<'s> {
    /// `id`: UUID text primary key, made on the device.
    Id,
    /// A declared field.
    Field(&'s Field),
    /// `version`: the server version last seen.
    Version,
    /// `updated_at`: epoch ms of the last change.
    UpdatedAt,
    /// `deleted_at`: epoch ms of the delete (tombstone), or NULL.
    DeletedAt,
    /// `sync_status`.
    SyncStatus,
    /// `sync_error`.
    SyncError,
}

/// A column default.
#[derive(Clone, Debug, PartialEq)]
pub enum ColumnDefault {
    /// A literal: Drift writes it bare (`DEFAULT 0`) and takes it as `Constant(...)`.
    Literal {
        /// The SQL literal.
        sql: String,
        /// The Dart `Constant` argument.
        dart: String,
    },
    /// An expression: Drift writes it in parentheses (`DEFAULT (...)`) and takes it as
    /// `CustomExpression('...')`. SQLite cannot add such a column to a table with rows.
    Expression(String),
}

/// One column of a device table.
#[derive(Clone, Debug)]
pub struct Column<'s> {
    /// SQL name.
    pub name: String,
    /// Dart getter name.
    pub dart: String,
    /// What it is for.
    pub role: Role<'s>,
    /// Storage type.
    pub ty: SqlType,
    /// NULL allowed.
    pub nullable: bool,
    /// Default, if any.
    pub default: Option<ColumnDefault>,
    /// Values of a `.check(column.isIn([...]))` constraint.
    pub check_in: Option<Vec<String>>,
    /// Drift `boolean()`: adds `CHECK ("c" IN (0, 1))`.
    pub boolean: bool,
    /// `REFERENCES <table> (id)`: the referenced entity.
    pub references: Option<&'s Entity>,
    /// Dart-side converter expression for `.map(...)`, if any.
    pub converter: Option<String>,
}

/// SQL expression for "now" in epoch milliseconds. `julianday('now')` keeps milliseconds and
/// works on every SQLite still in use (`unixepoch('subsec')` needs 3.42).
pub const NOW_MS: &str = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)";

/// The columns of an entity's device table, in table order: `id`, the declared fields in spec
/// order, then the rest of the bookkeeping ([`offgen_runtime::bookkeeping`]).
pub fn columns<'s>(schema: &'s Schema, entity: &'s Entity) -> Vec<Column<'s>> {
    let bare = |column: bookkeeping::Column, role: Role<'s>, ty: SqlType| Column {
        name: column.sql.to_owned(),
        dart: column.key.to_owned(),
        role,
        ty,
        nullable: false,
        default: None,
        check_in: None,
        boolean: false,
        references: None,
        converter: None,
    };
    let mut out = vec![bare(ID, Role::Id, SqlType::Text)];
    out.extend(entity.fields.iter().map(|f| field_column(schema, f)));
    out.push(Column {
        default: Some(literal("0", "0")),
        ..bare(VERSION, Role::Version, SqlType::Integer)
    });
    out.push(Column {
        default: Some(ColumnDefault::Expression(NOW_MS.to_owned())),
        converter: Some(EPOCH_MS_CONVERTER.to_owned()),
        ..bare(UPDATED_AT, Role::UpdatedAt, SqlType::Integer)
    });
    out.push(Column {
        nullable: true,
        converter: Some(EPOCH_MS_CONVERTER.to_owned()),
        ..bare(DELETED_AT, Role::DeletedAt, SqlType::Integer)
    });
    out.push(Column {
        default: Some(literal("'pending'", "'pending'")),
        check_in: Some(SYNC_STATUSES.iter().map(|s| (*s).to_owned()).collect()),
        converter: Some("const OffgenEnumConverter(SyncStatus.values)".to_owned()),
        ..bare(SYNC_STATUS, Role::SyncStatus, SqlType::Text)
    });
    out.push(Column {
        nullable: true,
        ..bare(SYNC_ERROR, Role::SyncError, SqlType::Text)
    });
    out
}

/// The Dart converter that keeps `datetime` columns as epoch milliseconds.
pub const EPOCH_MS_CONVERTER: &str = "const EpochMillisConverter()";

/// The Dart converter for `date` columns (`YYYY-MM-DD` text).
pub const DATE_CONVERTER: &str = "const DateTextConverter()";

/// The Dart converter that gives `json` columns the wire's JSON (the value, not its text).
pub const JSON_CONVERTER: &str = "const JsonTextConverter()";

/// The Dart converter that gives `blob` columns the wire's JSON (lowercase hex).
pub const BLOB_CONVERTER: &str = "const HexBlobConverter()";

/// The Dart converter that gives `attachment` columns an `OffgenAttachment` (hash, size, media
/// type), and the wire's JSON object.
pub const ATTACHMENT_CONVERTER: &str = "const AttachmentConverter()";

fn literal(sql: &str, dart: &str) -> ColumnDefault {
    ColumnDefault::Literal {
        sql: sql.to_owned(),
        dart: dart.to_owned(),
    }
}

fn field_column<'s>(schema: &'s Schema, field: &'s Field) -> Column<'s> {
    let (ty, boolean, converter, references) = match &field.ty {
        FieldType::Text | FieldType::Uuid => (SqlType::Text, false, None, None),
        FieldType::Json => (SqlType::Text, false, Some(JSON_CONVERTER.to_owned()), None),
        FieldType::Int => (SqlType::Integer, false, None, None),
        FieldType::Real => (SqlType::Real, false, None, None),
        FieldType::Bool => (SqlType::Integer, true, None, None),
        FieldType::DateTime => (
            SqlType::Integer,
            false,
            Some(EPOCH_MS_CONVERTER.to_owned()),
            None,
        ),
        FieldType::Date => (SqlType::Text, false, Some(DATE_CONVERTER.to_owned()), None),
        FieldType::Blob => (SqlType::Blob, false, Some(BLOB_CONVERTER.to_owned()), None),
        FieldType::Attachment => (
            SqlType::Text,
            false,
            Some(ATTACHMENT_CONVERTER.to_owned()),
            None,
        ),
        FieldType::Enum { dart_type, .. } => (
            SqlType::Text,
            false,
            Some(format!("const OffgenEnumConverter({dart_type}.values)")),
            None,
        ),
        FieldType::Reference { entity } => {
            (SqlType::Text, false, None, Some(schema.target(entity)))
        }
    };
    Column {
        name: field.name.snake.clone(),
        dart: field.name.camel.clone(),
        role: Role::Field(field),
        ty,
        nullable: field.nullable,
        default: field.default.as_ref().map(default_literal),
        check_in: None,
        boolean,
        references,
        converter,
    }
}

/// A default as a SQL literal and as the Dart `Constant` of the column's SQL-side type.
pub fn default_literal(value: &DefaultValue) -> ColumnDefault {
    let sql = sqlite::default_value(value);
    let dart = match value {
        DefaultValue::Text(s)
        | DefaultValue::Date(s)
        | DefaultValue::Uuid(s)
        | DefaultValue::Json(s)
        | DefaultValue::Enum(s) => dart_string(s),
        DefaultValue::Int(i) | DefaultValue::DateTime(i) => i.to_string(),
        DefaultValue::Real(f) => double(*f),
        DefaultValue::Bool(b) => b.to_string(),
    };
    ColumnDefault::Literal { sql, dart }
}

impl Column<'_> {
    /// The column definition exactly as Drift writes it:
    /// `"name" TYPE NULL|NOT NULL [DEFAULT ..] [CHECK(..)] [CHECK ("name" IN (0, 1))] [REFERENCES t (c)]`.
    pub fn definition(&self) -> String {
        let mut out = format!("{} {}", quote(&self.name), self.ty.sql());
        out.push_str(if self.nullable { " NULL" } else { " NOT NULL" });
        match &self.default {
            Some(ColumnDefault::Literal { sql, .. }) => out.push_str(&format!(" DEFAULT {sql}")),
            Some(ColumnDefault::Expression(expr)) => out.push_str(&format!(" DEFAULT ({expr})")),
            None => {}
        }
        if let Some(values) = &self.check_in {
            let list: Vec<String> = values.iter().map(|v| sql_string(v)).collect();
            out.push_str(&format!(
                " CHECK({} IN ({}))",
                quote(&self.name),
                list.join(", ")
            ));
        }
        if self.boolean {
            out.push_str(&format!(" CHECK ({} IN (0, 1))", quote(&self.name)));
        }
        if let Some(target) = self.references {
            out.push_str(&format!(" REFERENCES {} (id)", quote(target.table.sql())));
        }
        out
    }

    /// The declared field behind this column, if it is one.
    pub fn field(&self) -> Option<&Field> {
        match self.role {
            Role::Field(f) => Some(f),
            _ => None,
        }
    }

    /// The wire value of `row."column"` (`row` is `NEW` or `OLD`), ready for `json_object`.
    pub fn wire_value(&self, row: &str) -> String {
        sqlite::json::encode(
            self.field().map(|f| &f.ty),
            format!("{row}.{}", quote(&self.name)),
        )
    }

    /// The column's value from its wire key in the JSON object `data`.
    pub fn from_wire(&self, data: &str) -> String {
        sqlite::json::decode(self.field().map(|f| &f.ty), data, &self.dart)
    }
}
