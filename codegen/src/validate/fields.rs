//! Field-level rules: names, types, enum values, references, defaults.

use std::collections::HashMap;

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::model::draft::{EntityDraft, FieldDraft, SchemaDraft};
use crate::model::links::Link;
use crate::model::names::Name;
use crate::model::schema::{Entity, Field, FieldType, Index};
use crate::model::vocabulary::{DART_RESERVED, DRIFT_RESERVED_GETTERS, RUST_UNESCAPABLE};
use crate::source::Spanned;
use crate::spec_format;
use crate::suggest::did_you_mean;
use crate::validate::defaults::type_default;
use crate::validate::identifiers::check_identifier;
use offgen_runtime::bookkeeping;

/// Most fields any entity may declare. SQLite allows 2000 columns and PostgreSQL 1600; far
/// below both, and far above any real entity, this keeps a generated row struct sane.
const MAX_FIELDS: usize = 500;

/// Most values one enum may list.
const MAX_ENUM_VALUES: usize = 1000;

/// Checks every field of an entity; returns the ones that are valid. Field-level `unique: true`
/// becomes an index on the entity.
pub fn check_fields(
    entity: &mut Entity,
    source: &EntityDraft,
    draft: &SchemaDraft,
    diags: &mut Diagnostics,
) -> Vec<Field> {
    if source.fields.len() > MAX_FIELDS {
        diags.push(
            Diagnostic::error(format!(
                "entity `{}` declares {} fields; the limit is {MAX_FIELDS}",
                entity.name.spec,
                source.fields.len()
            ))
            .at(source.fields_span.unwrap_or(entity.span), "too many fields"),
        );
    }
    let mut fields: Vec<Field> = Vec::new();
    // Each kept field's index by its SQL and its Dart spelling, so that an entity of many
    // fields (refused above, but still read for its other problems) is checked in linear time.
    let mut by_spelling: HashMap<String, usize> = HashMap::new();
    for field in &source.fields {
        let Some(name) = check_field_name(field, diags) else {
            continue;
        };
        // `gpsLat` and `gps_lat` are one SQL column; `x1` and `x_1` are one Dart getter.
        let clash = [
            format!("sql:{}", name.snake),
            format!("dart:{}", name.camel),
        ]
        .iter()
        .find_map(|key| by_spelling.get(key).copied());
        if let Some(first) = clash.map(|i| &fields[i]) {
            diags.push(
                Diagnostic::error(format!(
                    "fields `{}` and `{}` of `{}` have the same name once converted (`{}` / `{}`)",
                    first.name.spec, name.spec, entity.name.spec, name.snake, name.camel
                ))
                .at(field.name.span, "second field")
                .also(first.span, "first field"),
            );
            continue;
        }
        let Some(ty) = check_type(entity, &name, field, draft, diags) else {
            continue;
        };
        let nullable = field.nullable.as_ref().is_some_and(|n| n.value);
        let default = match &field.default {
            None => None,
            Some(literal) => match type_default(&name.spec, &ty, nullable, literal) {
                Ok(value) => value,
                Err(d) => {
                    diags.push(d);
                    None
                }
            },
        };
        if let Some(unique) = &field.unique
            && unique.value
            && ty.is_attachment()
        {
            diags.push(unindexable(&name.spec, unique.span));
        } else if let Some(unique) = &field.unique
            && unique.value
        {
            entity.indexes.push(Index {
                name: String::new(),
                fields: vec![Link::at(&name.spec, fields.len())],
                unique: true,
                span: unique.span,
            });
        }
        by_spelling.insert(format!("sql:{}", name.snake), fields.len());
        by_spelling.insert(format!("dart:{}", name.camel), fields.len());
        fields.push(Field {
            name,
            ty,
            nullable,
            default,
            doc: field.doc.clone(),
            span: field.span,
            renamed_from: super::entities::renamed_from(&field.renamed_from, "field", diags),
        });
    }
    fields
}

/// An attachment's value is a reference to a file kept apart (its hash, size and media type):
/// two records may well hold one photo, and ordering or looking rows up by a reference means
/// nothing, so it is neither unique nor indexed.
pub(super) fn unindexable(field: &str, span: crate::source::Span) -> Diagnostic {
    Diagnostic::error(format!(
        "attachment field `{field}` cannot be unique or indexed"
    ))
    .at(span, "an attachment is a file reference")
    .note(
        "records may share one file; index another field that identifies the file, if you need one",
    )
}

/// A field name must be an identifier, must not be a column offgen adds itself, and must be a
/// legal Dart getter inside a Drift table class and a legal Rust field.
fn check_field_name(field: &FieldDraft, diags: &mut Diagnostics) -> Option<Name> {
    let text = &field.name.value;
    let span = field.name.span;
    if let Err(d) = check_identifier("field", text, span) {
        diags.push(d);
        return None;
    }
    let name = Name::new(text);
    // A field named like a bookkeeping column (in any spelling: `updatedAt` is `updated_at`)
    // would be two columns with one name.
    if bookkeeping::COLUMNS.iter().any(|c| c.sql == name.snake) {
        diags.push(
            Diagnostic::error(format!(
                "`{text}` collides with the bookkeeping column `{}`",
                name.snake
            ))
            .at(span, "offgen adds this column to every entity")
            .note(format!(
                "offgen adds: {}",
                bookkeeping::COLUMNS.map(|c| c.sql).join(", ")
            ))
            .help("rename the field, e.g. with a prefix naming what it is"),
        );
        return None;
    }
    if DART_RESERVED.contains(&name.camel.as_str()) {
        diags.push(
            Diagnostic::error(format!("`{text}` is a reserved word in Dart"))
                .at(span, "cannot be a Dart getter")
                .help(format!("rename it, e.g. `{}Value`", name.camel)),
        );
        return None;
    }
    if DRIFT_RESERVED_GETTERS.contains(&name.camel.as_str()) {
        diags.push(
            Diagnostic::error(format!(
                "`{text}` would hide a member of Drift's generated classes"
            ))
            .at(
                span,
                format!("Dart getter `{}` clashes with Drift", name.camel),
            )
            .help(format!("rename it, e.g. `{}Value`", name.camel)),
        );
        return None;
    }
    if RUST_UNESCAPABLE.contains(&name.snake.as_str()) {
        diags.push(
            Diagnostic::error(format!("`{text}` cannot be a Rust field name"))
                .at(span, "a Rust path keyword")
                .help("rename it"),
        );
        return None;
    }
    Some(name)
}

fn check_type(
    entity: &Entity,
    name: &Name,
    field: &FieldDraft,
    draft: &SchemaDraft,
    diags: &mut Diagnostics,
) -> Option<FieldType> {
    let written = &field.ty;
    let is_entity = |n: &str| draft.entities.iter().any(|e| e.name.value == n);
    let not_for_type = |key: &str, span, ty: &str| {
        Diagnostic::error(format!("`{key}` does not apply to a {ty} field")).at(
            span,
            format!(
                "only {} fields take `{key}`",
                if key == "to" { "reference" } else { "enum" }
            ),
        )
    };
    let ty = match written.value.as_str() {
        "text" => FieldType::Text,
        "int" => FieldType::Int,
        "real" => FieldType::Real,
        "bool" => FieldType::Bool,
        "datetime" => FieldType::DateTime,
        "date" => FieldType::Date,
        "uuid" => FieldType::Uuid,
        "json" => FieldType::Json,
        "blob" => FieldType::Blob,
        "attachment" => FieldType::Attachment,
        "enum" => {
            let Some(values) = &field.values else {
                diags.push(
                    Diagnostic::error(format!("enum field `{}` lists no `values`", name.spec))
                        .at(written.span, "an enum needs its values")
                        .help(format!(
                            "write `{}: {{ type: enum, values: [a, b] }}`",
                            name.spec
                        )),
                );
                return None;
            };
            let values = check_enum_values(values, diags)?;
            FieldType::Enum {
                dart_type: format!("{}{}", entity.name.pascal, name.pascal),
                values,
            }
        }
        "reference" => {
            let Some(to) = &field.to else {
                diags.push(
                    Diagnostic::error(format!(
                        "reference field `{}` does not say what it references",
                        name.spec
                    ))
                    .at(written.span, "add `to: <Entity>`"),
                );
                return None;
            };
            check_reference_target(to, draft, diags)?
        }
        other if is_entity(other) => FieldType::Reference {
            entity: Link::to(other),
        },
        other => {
            let entity_names = draft.entities.iter().map(|e| e.name.value.as_str());
            let types = spec_format::names(spec_format::FIELD_TYPES);
            let mut d =
                Diagnostic::error(format!("unknown type `{other}` for field `{}`", name.spec))
                    .at(written.span, "not a type or an entity");
            if let Some(hint) = did_you_mean(other, types.iter().copied().chain(entity_names)) {
                d = d.help(format!("did you mean `{hint}`?"));
            }
            diags.push(d.note(format!(
                "the types are: {}; or the name of an entity to reference",
                types.join(", ")
            )));
            return None;
        }
    };
    let is_enum = matches!(ty, FieldType::Enum { .. });
    let is_reference = matches!(ty, FieldType::Reference { .. });
    if let Some(values) = &field.values
        && !is_enum
    {
        diags.push(not_for_type("values", values.span, ty.spec_name()));
    }
    if let Some(to) = &field.to
        && (!is_reference || written.value != "reference")
    {
        diags.push(not_for_type("to", to.span, ty.spec_name()));
    }
    Some(ty)
}

fn check_reference_target(
    to: &Spanned<String>,
    draft: &SchemaDraft,
    diags: &mut Diagnostics,
) -> Option<FieldType> {
    if draft.entities.iter().any(|e| e.name.value == to.value) {
        return Some(FieldType::Reference {
            entity: Link::to(&to.value),
        });
    }
    let names: Vec<&str> = draft
        .entities
        .iter()
        .map(|e| e.name.value.as_str())
        .collect();
    let mut d = Diagnostic::error(format!("reference to unknown entity `{}`", to.value))
        .at(to.span, "no entity with this name");
    if let Some(hint) = did_you_mean(&to.value, names.iter().copied()) {
        d = d.help(format!("did you mean `{hint}`?"));
    }
    diags.push(d.note(format!("the entities are: {}", names.join(", "))));
    None
}

/// Enum values are stored as text and become Dart enum members, so each must be a word that
/// converts to a distinct Dart identifier (`in-progress` and `inProgress` would be one member).
fn check_enum_values(
    values: &Spanned<Vec<Spanned<String>>>,
    diags: &mut Diagnostics,
) -> Option<Vec<Name>> {
    if values.value.is_empty() {
        diags.push(
            Diagnostic::error("an enum needs at least one value").at(values.span, "empty list"),
        );
        return None;
    }
    if values.value.len() > MAX_ENUM_VALUES {
        diags.push(
            Diagnostic::error(format!("an enum may list at most {MAX_ENUM_VALUES} values"))
                .at(values.span, "too many values"),
        );
        return None;
    }
    let mut out: Vec<(Name, crate::source::Span)> = Vec::new();
    let mut ok = true;
    for value in &values.value {
        let text = &value.value;
        let valid = text.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            && text.len() <= 63;
        if !valid {
            diags.push(
                Diagnostic::error(format!("`{text}` is not a valid enum value"))
                    .at(value.span, "not a valid value")
                    .help("use letters, digits, `_` and `-`, starting with a letter"),
            );
            ok = false;
            continue;
        }
        let name = Name::new(text);
        if let Some((first, first_span)) = out
            .iter()
            .find(|(n, _)| n.spec == *text || n.camel == name.camel)
        {
            let message = if first.spec == *text {
                format!("enum value `{text}` is listed twice")
            } else {
                format!(
                    "enum values `{}` and `{text}` would be one Dart member `{}`",
                    first.spec, name.camel
                )
            };
            diags.push(
                Diagnostic::error(message)
                    .at(value.span, "again here")
                    .also(*first_span, "first here"),
            );
            ok = false;
            continue;
        }
        out.push((name, value.span));
    }
    ok.then(|| out.into_iter().map(|(n, _)| n).collect())
}
