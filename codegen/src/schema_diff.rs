//! What changed between the schema of the last build (`client/schema.json`) and the spec now,
//! and whether each change can be migrated on a device that holds data.
//!
//! Target-neutral: the device and server back-ends each turn a [`SchemaDiff`] into their own
//! migration step. A change that would lose data (a removed entity or field, a type change
//! whose values may not convert, a removed enum value) is refused with an explanation unless
//! the spec's `migrate:` names it; a change that needs data the rows do not have (a new
//! required field without a default) is refused with what to write instead.

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::model::{Entity, Field, FieldType, Schema};

/// How a kept field's values move to its new definition.
#[derive(Clone, Debug, PartialEq)]
pub enum Conversion {
    /// Same type: values stay as they are.
    Same,
    /// A lossless widening (`int` -> `real`, `enum`/`uuid`/`date` -> `text`).
    Widen,
    /// A retype the spec accepted in `migrate.retype`: values that do not convert are lost.
    Retype,
}

/// A field present before and after.
#[derive(Clone, Debug)]
pub struct KeptField<'s> {
    /// As it was.
    pub old: &'s Field,
    /// As it is.
    pub new: &'s Field,
    /// How its values convert.
    pub conversion: Conversion,
    /// Enum values removed (only with `migrate.retype`): rows holding them get the default.
    pub removed_values: Vec<String>,
}

impl KeptField<'_> {
    /// The column's name changed.
    pub fn renamed(&self) -> bool {
        self.old.name.snake != self.new.name.snake
    }

    /// Its storage definition changed (type, nullability, default or referenced entity), so
    /// SQLite needs the table rebuilt.
    pub fn definition_changed(&self) -> bool {
        self.conversion != Conversion::Same
            || self.old.nullable != self.new.nullable
            || self.old.default != self.new.default
            || reference_of(&self.old.ty) != reference_of(&self.new.ty)
    }

    /// NULLs that must become the new default (the field became required).
    pub fn fills_nulls(&self) -> bool {
        self.old.nullable && !self.new.nullable
    }
}

fn reference_of(ty: &FieldType) -> Option<&str> {
    match ty {
        FieldType::Reference { entity } => Some(entity.name()),
        _ => None,
    }
}

/// An entity present before and after.
#[derive(Clone, Debug)]
pub struct KeptEntity<'s> {
    /// As it was.
    pub old: &'s Entity,
    /// As it is.
    pub new: &'s Entity,
    /// Fields in both, in the new spec's order.
    pub kept: Vec<KeptField<'s>>,
    /// New fields (each nullable or with a default).
    pub added: Vec<&'s Field>,
    /// Removed fields (each named in `migrate.drop`).
    pub dropped: Vec<&'s Field>,
}

impl KeptEntity<'_> {
    /// The table's name changed.
    pub fn renamed(&self) -> bool {
        self.old.table.snake != self.new.table.snake
    }

    /// SQLite cannot make this change with ALTER TABLE: the table is rebuilt.
    pub fn needs_rebuild(&self) -> bool {
        !self.dropped.is_empty() || self.kept.iter().any(KeptField::definition_changed)
    }
}

/// Everything that changed.
#[derive(Clone, Debug, Default)]
pub struct SchemaDiff<'s> {
    /// New entities, in spec order.
    pub added: Vec<&'s Entity>,
    /// Removed entities (each named in `migrate.drop`).
    pub dropped: Vec<&'s Entity>,
    /// Entities in both, in the new spec's order.
    pub kept: Vec<KeptEntity<'s>>,
}

/// Diffs `old` (the last build) against `new` (the spec now). Refusals and warnings go to
/// `diags`; the diff is only meaningful when no error was recorded.
pub fn diff<'s>(old: &'s Schema, new: &'s Schema, diags: &mut Diagnostics) -> SchemaDiff<'s> {
    let mut out = SchemaDiff::default();
    let mut used_drops: Vec<&str> = Vec::new();
    let mut used_retypes: Vec<&str> = Vec::new();
    let mut matched_old: Vec<&str> = Vec::new();
    for entity in &new.entities {
        let previous = old.entities.iter().find(|o| {
            o.name.snake == entity.name.snake
                || entity
                    .renamed_from
                    .as_ref()
                    .is_some_and(|r| crate::model::Name::new(&r.value).snake == o.name.snake)
        });
        match previous {
            None => {
                if let Some(hint) = &entity.renamed_from {
                    diags.push(
                        Diagnostic::warning(format!(
                            "`{}` was not an entity of the last build",
                            hint.value
                        ))
                        .at(
                            hint.span,
                            format!(
                                "nothing to rename; `{}` is created as a new entity",
                                entity.name.spec
                            ),
                        )
                        .help("remove `renamed_from` if the rename was already built"),
                    );
                }
                out.added.push(entity);
            }
            Some(o) => {
                matched_old.push(&o.name.spec);
                out.kept.push(diff_entity(
                    o,
                    entity,
                    new,
                    diags,
                    &mut used_drops,
                    &mut used_retypes,
                ));
            }
        }
    }
    for o in &old.entities {
        if matched_old.contains(&o.name.spec.as_str()) {
            continue;
        }
        match new.migrate.drop_entry(&o.name.spec) {
            Some(_) => {
                used_drops.push(&o.name.spec);
                out.dropped.push(o);
            }
            None => diags.push(
                Diagnostic::error(format!(
                    "entity `{}` was removed, but its table `{}` holds the device's rows",
                    o.name.spec,
                    o.table.snake
                ))
                .at(new.entities_span.start_only(), "no longer among the entities")
                .help(format!(
                    "to drop it with its data, add `migrate: {{ drop: [{}] }}`; if it was renamed, add `renamed_from: {}` to its new name",
                    o.name.spec, o.name.spec
                )),
            ),
        }
    }
    for entry in &new.migrate.drop {
        if !used_drops.contains(&entry.value.as_str()) {
            diags.push(
                Diagnostic::warning(format!("`{}` is not dropped by this build", entry.value))
                    .at(entry.span, "nothing of the last build matches")
                    .help(
                        "remove the entry once its drop was built, or check the name (the old one)",
                    ),
            );
        }
    }
    for entry in &new.migrate.retype {
        if !used_retypes.contains(&entry.value.as_str()) {
            diags.push(
                Diagnostic::warning(format!("`{}` is not retyped by this build", entry.value))
                    .at(entry.span, "no lossy change of this field")
                    .help("remove the entry once its retype was built"),
            );
        }
    }
    out
}

fn diff_entity<'s>(
    old: &'s Entity,
    new: &'s Entity,
    schema: &'s Schema,
    diags: &mut Diagnostics,
    used_drops: &mut Vec<&'s str>,
    used_retypes: &mut Vec<&'s str>,
) -> KeptEntity<'s> {
    let mut kept = Vec::new();
    let mut added = Vec::new();
    let mut matched_old: Vec<&str> = Vec::new();
    for field in &new.fields {
        let previous = old.fields.iter().find(|o| {
            o.name.snake == field.name.snake
                || field
                    .renamed_from
                    .as_ref()
                    .is_some_and(|r| crate::model::Name::new(&r.value).snake == o.name.snake)
        });
        let Some(o) = previous else {
            if field.renamed_from.is_some() {
                diags.push(
                    Diagnostic::warning(format!(
                        "`{}.{}` has nothing to be renamed from",
                        new.name.spec, field.name.spec
                    ))
                    .at(field.span, "added as a new field"),
                );
            }
            if !field.nullable && field.default.is_none() {
                diags.push(
                    Diagnostic::error(format!(
                        "new field `{}.{}` is required but has no default",
                        new.name.spec, field.name.spec
                    ))
                    .at(field.span, "existing rows have no value for it")
                    .help("give it a `default:`, or make it nullable (`?`)"),
                );
            }
            added.push(field);
            continue;
        };
        matched_old.push(&o.name.spec);
        let path = format!("{}.{}", new.name.spec, field.name.spec);
        let retype_entry = schema.migrate.retype_entry(&path);
        let mut conversion = match conversion(&o.ty, &field.ty) {
            Some(c) => c,
            None => {
                if retype_entry.is_none() {
                    diags.push(
                        Diagnostic::error(format!(
                            "`{path}` changes from {} to {}, which can lose values",
                            describe(&o.ty),
                            describe(&field.ty)
                        ))
                        .at(field.span, "values of the old type may not convert")
                        .help(format!("to convert them anyway (values that do not convert become the default or null), add `migrate: {{ retype: [{path}] }}`"))
                        .note("or add a new field and copy the values over in the app"),
                    );
                }
                Conversion::Retype
            }
        };
        let removed_values = removed_enum_values(&o.ty, &field.ty);
        if !removed_values.is_empty() {
            if retype_entry.is_none() {
                diags.push(
                    Diagnostic::error(format!(
                        "`{path}` no longer lists {}, which rows may hold",
                        removed_values.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", ")
                    ))
                    .at(field.span, "values removed")
                    .help(format!("to turn those values into the default (or null), add `migrate: {{ retype: [{path}] }}`")),
                );
            }
            conversion = Conversion::Retype;
        }
        if reference_of(&o.ty).is_some()
            && reference_of(&field.ty).is_some()
            && reference_of(&o.ty) != reference_of(&field.ty)
        {
            if retype_entry.is_none() {
                diags.push(
                    Diagnostic::error(format!("`{path}` now references another entity"))
                        .at(field.span, "existing ids point at the old entity")
                        .help(format!(
                            "if the ids stay valid, add `migrate: {{ retype: [{path}] }}`"
                        )),
                );
            }
            conversion = Conversion::Retype;
        }
        if conversion == Conversion::Retype {
            if let Some(entry) = retype_entry {
                used_retypes.push(&entry.value);
            }
            if !field.nullable && field.default.is_none() {
                diags.push(
                    Diagnostic::error(format!(
                        "retyped field `{path}` is required but has no default"
                    ))
                    .at(
                        field.span,
                        "values that do not convert need somewhere to go",
                    )
                    .help("give it a `default:`, or make it nullable (`?`)"),
                );
            }
        }
        if o.nullable && !field.nullable && field.default.is_none() {
            diags.push(
                Diagnostic::error(format!(
                    "`{path}` is no longer nullable, but rows may hold null"
                ))
                .at(field.span, "no value for existing nulls")
                .help("give it a `default:` to fill them with"),
            );
        }
        kept.push(KeptField {
            old: o,
            new: field,
            conversion,
            removed_values,
        });
    }
    let mut dropped = Vec::new();
    for o in &old.fields {
        if matched_old.contains(&o.name.spec.as_str()) {
            continue;
        }
        let path = format!("{}.{}", old.name.spec, o.name.spec);
        match schema.migrate.drop_entry(&path) {
            Some(entry) => {
                used_drops.push(&entry.value);
                dropped.push(o);
            }
            None => diags.push(
                Diagnostic::error(format!("field `{path}` was removed, but rows hold its values"))
                    .at(new.span, "no longer has this field")
                    .help(format!(
                        "to drop it with its data, add `migrate: {{ drop: [{path}] }}`; if it was renamed, add `renamed_from: {}` to the new field",
                        o.name.spec
                    )),
            ),
        }
    }
    for index in &new.indexes {
        let existed = old.indexes.iter().any(|i| i.name == index.name && i.unique);
        if index.unique && !existed {
            diags.push(
                Diagnostic::warning(format!(
                    "adding unique index `{}` fails where existing rows hold duplicates",
                    index.name
                ))
                .at(index.span, "checked against data when the migration runs")
                .note("a failed step changes nothing: the database stays on its previous version"),
            );
        }
    }
    KeptEntity {
        old,
        new,
        kept,
        added,
        dropped,
    }
}

/// `Some(Same | Widen)` when every value of `old` is a value of `new`; `None` when a retype
/// could lose values.
fn conversion(old: &FieldType, new: &FieldType) -> Option<Conversion> {
    use FieldType::*;
    match (old, new) {
        (Enum { .. }, Enum { .. }) => Some(Conversion::Same),
        (Reference { .. }, Reference { .. }) => Some(Conversion::Same),
        (a, b) if a == b => Some(Conversion::Same),
        (Int, Real) | (Enum { .. }, Text) | (Uuid, Text) | (Date, Text) => Some(Conversion::Widen),
        _ => None,
    }
}

fn removed_enum_values(old: &FieldType, new: &FieldType) -> Vec<String> {
    match (old, new) {
        (FieldType::Enum { values: before, .. }, FieldType::Enum { values: after, .. }) => before
            .iter()
            .filter(|v| !after.iter().any(|a| a.spec == v.spec))
            .map(|v| v.spec.clone())
            .collect(),
        _ => Vec::new(),
    }
}

fn describe(ty: &FieldType) -> String {
    match ty {
        FieldType::Reference { entity } => format!("a reference to {entity}"),
        other => other.spec_name().to_owned(),
    }
}
