//! What the wire looked like at earlier schema steps, so a server can keep serving apps that
//! have not upgraded yet (docs/rollout.md).
//!
//! Each build that adds a step records the shape of the step before it: the entities and
//! fields as the wire named them then (tables, wire keys, types), and what each became at the
//! next step (renamed, or dropped). Spec hints such as `renamed_from` are gone a few builds
//! later, so the mapping is kept in the build output (`client/schema.json`), step by step, and
//! composed here into one mapping from each old step to the current one.

use serde::{Deserialize, Serialize};

use crate::model::{Entity, Field, FieldType, Schema};
use crate::schema_diff::SchemaDiff;

/// The wire at one earlier step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PastStep {
    /// The step's number.
    pub step: u32,
    /// Its entities.
    pub entities: Vec<PastEntity>,
}

/// An entity as the wire named it at a past step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PastEntity {
    /// Its table (the wire's `entity`) then.
    pub table: String,
    /// Its table at the following step; `None` when that step dropped it.
    pub next: Option<String>,
    /// Its fields then.
    pub fields: Vec<PastField>,
}

/// A field as the wire named it at a past step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PastField {
    /// Its wire key then.
    pub key: String,
    /// Its wire key at the following step; `None` when that step dropped it.
    pub next: Option<String>,
    /// Its type then.
    #[serde(flatten)]
    pub kind: PastKind,
    /// Whether a record may leave it out then (nullable, or with a default): a value an app
    /// of that step cannot hold can only be left out of such a field.
    #[serde(default)]
    pub optional: bool,
}

/// A field's type at a past step: the spec's type name (`"type": "int"`), with an enum's
/// values and the table a reference pointed to. A snapshot naming a type this offgen does not
/// know is refused when read, rather than served as some other type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum PastKind {
    /// `text`.
    Text,
    /// `int`.
    Int,
    /// `real`.
    Real,
    /// `bool`.
    Bool,
    /// `datetime`.
    DateTime,
    /// `date`.
    Date,
    /// `uuid`.
    Uuid,
    /// `json`.
    Json,
    /// `blob`.
    Blob,
    /// `attachment`.
    Attachment,
    /// `enum`, with its values then.
    Enum {
        /// The values.
        values: Vec<String>,
    },
    /// `reference`, to the table it pointed to then.
    Reference {
        /// The table.
        to: String,
    },
}

impl PastKind {
    /// The kind of a field of `schema`.
    pub fn of(schema: &Schema, ty: &FieldType) -> PastKind {
        match ty {
            FieldType::Text => PastKind::Text,
            FieldType::Int => PastKind::Int,
            FieldType::Real => PastKind::Real,
            FieldType::Bool => PastKind::Bool,
            FieldType::DateTime => PastKind::DateTime,
            FieldType::Date => PastKind::Date,
            FieldType::Uuid => PastKind::Uuid,
            FieldType::Json => PastKind::Json,
            FieldType::Blob => PastKind::Blob,
            FieldType::Attachment => PastKind::Attachment,
            FieldType::Enum { values, .. } => PastKind::Enum {
                values: values.iter().map(|v| v.spec.clone()).collect(),
            },
            FieldType::Reference { entity } => PastKind::Reference {
                to: schema.target(entity).table.sql().to_owned(),
            },
        }
    }
}

/// The shape of `old` (the schema of step `step`), with where each name went in `diff`.
pub fn past_step(old: &Schema, diff: &SchemaDiff, step: u32) -> PastStep {
    let entities = old
        .entities
        .iter()
        .map(|entity| {
            let kept = diff.kept.iter().find(|k| std::ptr::eq(k.old, entity));
            let fields = entity
                .fields
                .iter()
                .map(|field| {
                    let next = kept.and_then(|k| {
                        k.kept
                            .iter()
                            .find(|f| std::ptr::eq(f.old, field))
                            .map(|f| f.new.name.json().to_owned())
                    });
                    past_field(old, field, next)
                })
                .collect();
            PastEntity {
                table: entity.table.sql().to_owned(),
                next: kept.map(|k| k.new.table.sql().to_owned()),
                fields,
            }
        })
        .collect();
    PastStep { step, entities }
}

fn past_field(schema: &Schema, field: &Field, next: Option<String>) -> PastField {
    PastField {
        key: field.name.json().to_owned(),
        next,
        kind: PastKind::of(schema, &field.ty),
        optional: field.nullable || field.default.is_some(),
    }
}

/// How a client at an earlier step sees the current schema.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientShape {
    /// The client's step.
    pub step: u32,
    /// The entities that client has, with their names then and now.
    pub entities: Vec<ClientEntity>,
}

/// An entity of an earlier step, mapped to the current schema.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientEntity {
    /// Its table then (what that client sends and expects).
    pub table: String,
    /// The current entity it became; `None` when it has been dropped since.
    pub now: Option<String>,
    /// Its fields then, mapped.
    pub fields: Vec<ClientField>,
}

/// A field of an earlier step, mapped to the current schema.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientField {
    /// Its wire key then.
    pub key: String,
    /// Its wire key now; `None` when it has been dropped since.
    pub now: Option<String>,
    /// Its type then.
    pub kind: PastKind,
    /// Whether a record may leave it out then.
    pub optional: bool,
}

/// The shapes of every recorded step from `oldest` on (not the current one, which needs no
/// mapping), each composed through the later steps to `current`.
pub fn client_shapes(history: &[PastStep], current: &Schema, oldest: u32) -> Vec<ClientShape> {
    history
        .iter()
        .enumerate()
        .filter(|(_, past)| past.step >= oldest)
        .map(|(at, past)| ClientShape {
            step: past.step,
            entities: past
                .entities
                .iter()
                .map(|entity| {
                    let now_entity = forward_entity(&history[at..], &entity.table);
                    let fields = entity
                        .fields
                        .iter()
                        .map(|field| ClientField {
                            key: field.key.clone(),
                            now: now_entity
                                .as_ref()
                                .and_then(|_| {
                                    forward_field(&history[at..], &entity.table, &field.key)
                                })
                                .filter(|key| {
                                    now_entity
                                        .as_deref()
                                        .and_then(|t| current_entity(current, t))
                                        .is_some_and(|e| {
                                            e.fields.iter().any(|f| f.name.json() == key)
                                        })
                                }),
                            kind: field.kind.clone(),
                            optional: field.optional,
                        })
                        .collect();
                    ClientEntity {
                        table: entity.table.clone(),
                        now: now_entity.filter(|t| current_entity(current, t).is_some()),
                        fields,
                    }
                })
                .collect(),
        })
        .collect()
}

fn current_entity<'s>(current: &'s Schema, table: &str) -> Option<&'s Entity> {
    current.entities.iter().find(|e| e.table.sql() == table)
}

/// The table `table` of `steps[0]` is called after the last of `steps`.
fn forward_entity(steps: &[PastStep], table: &str) -> Option<String> {
    let mut name = table.to_owned();
    for step in steps {
        let entity = step.entities.iter().find(|e| e.table == name)?;
        name = entity.next.clone()?;
    }
    Some(name)
}

/// The wire key `key` of `table` in `steps[0]` is called after the last of `steps`.
fn forward_field(steps: &[PastStep], table: &str, key: &str) -> Option<String> {
    let (mut table, mut key) = (table.to_owned(), key.to_owned());
    for step in steps {
        let entity = step.entities.iter().find(|e| e.table == table)?;
        let field = entity.fields.iter().find(|f| f.key == key)?;
        key = field.next.clone()?;
        table = entity.next.clone()?;
    }
    Some(key)
}
