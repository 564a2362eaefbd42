//! The validated IR: what every back-end reads.
//!
//! A [`Schema`] only comes out of [`crate::validate`], so back-ends can rely on what it checked:
//! names are valid and distinct in every target's spelling, references resolve, defaults have
//! their field's type, indexes name existing fields. References, owners and index fields are
//! [`Link`]s, resolved once, so back-ends follow them instead of looking names up again.
//! Spans are kept (not serialized) so a late problem, such as a refused migration, still
//! points at the spec.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::links::Link;
use crate::model::names::Name;
use crate::source::{Span, Spanned};

/// The whole app.
///
/// Read back (from `schema.json`) it links itself, so a schema that exists is linked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct Schema {
    /// Spec format version it was read from.
    pub format: i64,
    /// The app's name.
    pub app: Name,
    /// Entities in spec order.
    pub entities: Vec<Entity>,
    /// Data-losing changes the spec allows (`migrate:`); read by the migration diff only.
    #[serde(skip)]
    pub migrate: MigrateHints,
    /// `clients: { oldest_step }`: the oldest schema step whose apps the server serves
    /// (`None`: every step the build output has a shape of). Kept in the snapshot, so a
    /// server made from a build output serves what the compiled one does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_client_step: Option<u32>,
    /// Where `oldest_step` was written, for problems found at build time.
    #[serde(skip)]
    pub oldest_client_step_span: Option<Span>,
    /// Where `entities:` was written, for problems about entities no longer there.
    #[serde(skip)]
    pub entities_span: Span,
}

/// `migrate:` of the spec: the changes the user accepts losing data for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MigrateHints {
    /// `Entity` or `Entity.field` (names as they were) that may be dropped with their data.
    pub drop: Vec<Spanned<String>>,
    /// `Entity.field` (names as they are now) whose values may not all survive a type change.
    pub retype: Vec<Spanned<String>>,
}

impl MigrateHints {
    /// The entry naming `path`, if any.
    pub fn drop_entry(&self, path: &str) -> Option<&Spanned<String>> {
        self.drop.iter().find(|d| d.value == path)
    }

    /// The entry naming `path`, if any.
    pub fn retype_entry(&self, path: &str) -> Option<&Spanned<String>> {
        self.retype.iter().find(|d| d.value == path)
    }
}

impl Schema {
    /// The entity with this spec name.
    pub fn entity(&self, spec_name: &str) -> Option<&Entity> {
        self.entities.iter().find(|e| e.name.spec == spec_name)
    }

    /// The entity a reference links to.
    pub fn target(&self, link: &Link<Entity>) -> &Entity {
        &self.entities[link.index()]
    }

    /// Resolves every link (references, owners, index fields) by name; the first that names
    /// nothing is the error. Validation checked the names it links, so only a hand-edited
    /// `schema.json` can fail here.
    pub(crate) fn link(&mut self) -> Result<(), String> {
        let names: Vec<Entity> = self.entities.clone();
        for entity in &mut self.entities {
            let spec = entity.name.spec.clone();
            for field in &mut entity.fields {
                if let FieldType::Reference { entity: target } = &mut field.ty
                    && !target.resolve(&names, |e| &e.name.spec)
                {
                    return Err(format!(
                        "`{spec}.{}` references `{target}`, which is not an entity",
                        field.name.spec
                    ));
                }
            }
            let fields = &entity.fields;
            let links = entity
                .owner
                .iter_mut()
                .chain(entity.indexes.iter_mut().flat_map(|i| i.fields.iter_mut()));
            for link in links {
                if !link.resolve(fields, |f| &f.name.spec) {
                    return Err(format!(
                        "`{spec}` names `{link}`, which is not one of its fields"
                    ));
                }
            }
        }
        Ok(())
    }
}

impl Serialize for Schema {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Schema::serialize(self, serializer)
    }
}

impl<'de> Deserialize<'de> for Schema {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut schema = Schema::deserialize(deserializer)?;
        schema.link().map_err(serde::de::Error::custom)?;
        Ok(schema)
    }
}

/// One synced entity: a table on the device and on the server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    /// The entity's name: `pascal` names the Dart data class and the Rust struct.
    pub name: Name,
    /// The table's name: `snake` is the SQL table and the URL segment (`/v1/<table>`).
    pub table: Name,
    /// The Dart table class (`Observations`); `<Pascal>Table` when the plural equals the
    /// singular, since Drift needs the table class and the data class to differ.
    pub dart_table_class: String,
    /// How concurrent writes are resolved.
    pub conflict: ConflictPolicy,
    /// The field whose value is the owning user's id, if rows are owner-scoped.
    pub owner: Option<Link<Field>>,
    /// Description from the spec.
    pub doc: Option<String>,
    /// Declared fields in spec order (bookkeeping columns are added by the back-ends).
    pub fields: Vec<Field>,
    /// Indexes and unique constraints, in spec order (field-level `unique` first).
    pub indexes: Vec<Index>,
    /// Where the entity was named in the spec.
    #[serde(skip)]
    pub span: Span,
    /// `renamed_from:` — the spec name this entity had before (a migration hint).
    #[serde(skip)]
    pub renamed_from: Option<Spanned<String>>,
}

impl Entity {
    /// The field with this spec name.
    pub fn field(&self, spec_name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name.spec == spec_name)
    }

    /// The field a link of this entity (its owner, an index's field) names.
    pub fn linked(&self, link: &Link<Field>) -> &Field {
        &self.fields[link.index()]
    }

    /// The owner field, if rows are owner-scoped.
    pub fn owner_field(&self) -> Option<&Field> {
        self.owner.as_ref().map(|o| self.linked(o))
    }

    /// Whether `field` is the owner field.
    pub fn is_owner(&self, field: &Field) -> bool {
        self.owner
            .as_ref()
            .is_some_and(|o| *o == field.name.spec.as_str())
    }

    /// The fields of one of this entity's indexes, in index order.
    pub fn index_fields<'e>(&'e self, index: &'e Index) -> impl Iterator<Item = &'e Field> {
        index.fields.iter().map(|f| self.linked(f))
    }
}

/// What happens when a write is based on a version the server has moved past.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "policy", rename_all = "snake_case")]
pub enum ConflictPolicy {
    /// Strict: a stale write is a conflict; the device gets the server record.
    Version,
    /// Last writer wins, field by field, by the clock given.
    Lww {
        /// What orders the writes (devices' stamps unless the spec says otherwise).
        #[serde(default, skip_serializing_if = "LwwClock::is_device")]
        clock: LwwClock,
    },
    /// A stale write loses to the server's record.
    ServerWins,
    /// Only inserts are accepted.
    AppendOnly,
}

impl ConflictPolicy {
    /// The policy's name in the spec and on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            ConflictPolicy::Version => "version",
            ConflictPolicy::Lww { .. } => "lww",
            ConflictPolicy::ServerWins => "server_wins",
            ConflictPolicy::AppendOnly => "append_only",
        }
    }
}

/// What orders the writes of an `lww` entity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LwwClock {
    /// When each field was written on its device (the stamps devices send, corrected by the
    /// server's clock): the result does not depend on the order writes arrive in.
    #[default]
    Device,
    /// When the server received the write: the last write to arrive wins.
    Received,
}

impl LwwClock {
    /// The clock's name in the spec.
    pub fn name(self) -> &'static str {
        match self {
            LwwClock::Device => "device",
            LwwClock::Received => "received",
        }
    }

    fn is_device(&self) -> bool {
        *self == LwwClock::Device
    }
}

/// One declared field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Field {
    /// Spellings: `snake` is the SQL column and Rust field, `camel` the Dart getter and wire key.
    pub name: Name,
    /// The type.
    #[serde(rename = "type")]
    pub ty: FieldType,
    /// Whether NULL is allowed.
    pub nullable: bool,
    /// Value for rows created without this field.
    pub default: Option<DefaultValue>,
    /// Description from the spec.
    pub doc: Option<String>,
    /// Where the field was defined in the spec.
    #[serde(skip)]
    pub span: Span,
    /// `renamed_from:` — the spec name this field had before (a migration hint).
    #[serde(skip)]
    pub renamed_from: Option<Spanned<String>>,
}

/// A field's type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FieldType {
    /// UTF-8 text.
    Text,
    /// 64-bit signed integer.
    Int,
    /// 64-bit float.
    Real,
    /// Boolean.
    Bool,
    /// Instant with millisecond precision, stored as epoch milliseconds (UTC).
    #[serde(rename = "datetime")]
    DateTime,
    /// Calendar date, `YYYY-MM-DD`.
    Date,
    /// UUID text, lowercase and hyphenated.
    Uuid,
    /// Any JSON value, stored as JSON text.
    Json,
    /// Bytes.
    Blob,
    /// A file (photo, signature, document) kept apart from the record: the record holds a
    /// reference to it (content hash, size, media type), the bytes travel on their own.
    Attachment,
    /// Text restricted to a set of values.
    Enum {
        /// The Dart enum's name, `<Entity><Field>` in UpperCamelCase.
        dart_type: String,
        /// The values; `spec` is the stored text, `camel` the Dart enum member.
        values: Vec<Name>,
    },
    /// The id of a row of another entity.
    Reference {
        /// The referenced entity (follow it with [`Schema::target`]).
        entity: Link<Entity>,
    },
}

impl FieldType {
    /// Whether values are files kept apart from the record (see [`FieldType::Attachment`]).
    pub fn is_attachment(&self) -> bool {
        matches!(self, FieldType::Attachment)
    }

    /// The type's name in the spec.
    pub fn spec_name(&self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::Int => "int",
            FieldType::Real => "real",
            FieldType::Bool => "bool",
            FieldType::DateTime => "datetime",
            FieldType::Date => "date",
            FieldType::Uuid => "uuid",
            FieldType::Json => "json",
            FieldType::Blob => "blob",
            FieldType::Attachment => "attachment",
            FieldType::Enum { .. } => "enum",
            FieldType::Reference { .. } => "reference",
        }
    }
}

/// A default value, already checked against its field's type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum DefaultValue {
    /// For `text`.
    Text(String),
    /// For `int`.
    Int(i64),
    /// For `real`.
    Real(f64),
    /// For `bool`.
    Bool(bool),
    /// For `datetime`: epoch milliseconds, UTC.
    DateTime(i64),
    /// For `date`: `YYYY-MM-DD`.
    Date(String),
    /// For `uuid`: lowercase hyphenated.
    Uuid(String),
    /// For `json`: compact JSON text.
    Json(String),
    /// For `enum`: one of the values.
    Enum(String),
}

/// An index (or unique constraint, which every back-end builds as a unique index).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    /// SQL name, unique across the schema (indexes share one namespace with tables).
    pub name: String,
    /// The indexed fields, in order (follow them with [`Entity::index_fields`]).
    pub fields: Vec<Link<Field>>,
    /// Whether values must be distinct.
    pub unique: bool,
    /// Where it was defined in the spec.
    #[serde(skip)]
    pub span: Span,
}
