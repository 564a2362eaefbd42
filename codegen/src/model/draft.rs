//! What a spec says, before it is checked: the common shape every front-end lowers into.
//!
//! The YAML front-end (and later the `#[derive(Syncable)]` front-end) only build a
//! [`SchemaDraft`]; the one validation pass in [`crate::validate`] turns it into the IR
//! ([`crate::model::Schema`]). Keeping the checks out of the front-ends means a spec written in
//! YAML and the same spec written as Rust structs get exactly the same errors.

use crate::source::{Span, Spanned};

/// A value as written in a spec (defaults, mostly), before it is typed by its field.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    /// `null` / `~`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A number with a fraction or exponent.
    Float(f64),
    /// A string.
    Str(String),
    /// A list (only meaningful for `json` defaults).
    List(Vec<Literal>),
    /// A mapping (only meaningful for `json` defaults), in source order.
    Map(Vec<(String, Literal)>),
}

impl Literal {
    /// The user-facing name of the literal's kind.
    pub fn describe(&self) -> &'static str {
        match self {
            Literal::Null => "null",
            Literal::Bool(_) => "a boolean",
            Literal::Int(_) => "an integer",
            Literal::Float(_) => "a number",
            Literal::Str(_) => "a string",
            Literal::List(_) => "a list",
            Literal::Map(_) => "a mapping",
        }
    }
}

/// A whole spec.
#[derive(Clone, Debug, Default)]
pub struct SchemaDraft {
    /// `offgen:` — the spec format version.
    pub format: Option<Spanned<i64>>,
    /// `app:` — the app's name.
    pub app: Option<Spanned<String>>,
    /// `entities:` in source order.
    pub entities: Vec<EntityDraft>,
    /// Where `entities:` was written, if it was.
    pub entities_span: Option<Span>,
    /// The whole document, for problems that belong to no key.
    pub root: Span,
    /// `migrate: { drop: [...] }`.
    pub migrate_drop: Vec<Spanned<String>>,
    /// `migrate: { retype: [...] }`.
    pub migrate_retype: Vec<Spanned<String>>,
    /// `clients: { oldest_step: N }`.
    pub oldest_client_step: Option<Spanned<i64>>,
}

/// One entity.
#[derive(Clone, Debug)]
pub struct EntityDraft {
    /// The entity's name (the mapping key).
    pub name: Spanned<String>,
    /// `table:` override of the SQL table name.
    pub table: Option<Spanned<String>>,
    /// `conflict:` policy name.
    pub conflict: Option<Spanned<String>>,
    /// `conflict: { by: ... }` — once the timestamp field of `lww`; ignored now.
    pub conflict_by: Option<Spanned<String>>,
    /// `conflict: { clock: ... }` — what orders `lww` writes.
    pub conflict_clock: Option<Spanned<String>>,
    /// `owner:` — the field that holds the owning user's id.
    pub owner: Option<Spanned<String>>,
    /// `doc:` — carried into generated code as a comment.
    pub doc: Option<String>,
    /// `fields:` in source order.
    pub fields: Vec<FieldDraft>,
    /// Where `fields:` was written (None if missing).
    pub fields_span: Option<Span>,
    /// How many fields were written, including ones too malformed to lower (so an entity whose
    /// only field is broken reports that field, not "no fields").
    pub fields_written: usize,
    /// `indexes:`.
    pub indexes: Vec<IndexDraft>,
    /// `uniques:`.
    pub uniques: Vec<IndexDraft>,
    /// `renamed_from:`.
    pub renamed_from: Option<Spanned<String>>,
}

/// One field.
#[derive(Clone, Debug)]
pub struct FieldDraft {
    /// The field's name (the mapping key).
    pub name: Spanned<String>,
    /// The type as written (`text`, `enum`, `reference`, or an entity name), without `?`.
    pub ty: Spanned<String>,
    /// `nullable:` or a `?` after the type.
    pub nullable: Option<Spanned<bool>>,
    /// `default:`.
    pub default: Option<Spanned<Literal>>,
    /// `values:` of an enum.
    pub values: Option<Spanned<Vec<Spanned<String>>>>,
    /// `to:` of a reference.
    pub to: Option<Spanned<String>>,
    /// `unique:`.
    pub unique: Option<Spanned<bool>>,
    /// `doc:`.
    pub doc: Option<String>,
    /// `renamed_from:`.
    pub renamed_from: Option<Spanned<String>>,
    /// The whole definition (name and value).
    pub span: Span,
}

/// One index or unique constraint.
#[derive(Clone, Debug)]
pub struct IndexDraft {
    /// The fields, in order.
    pub fields: Vec<Spanned<String>>,
    /// `name:` override of the SQL index name.
    pub name: Option<Spanned<String>>,
    /// The whole definition.
    pub span: Span,
}
