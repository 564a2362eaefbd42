//! Entity-level rules: names, table names, conflict policy, owner scoping, Dart type names.

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::model::draft::{EntityDraft, SchemaDraft};
use crate::model::links::Link;
use crate::model::names::{Name, pluralize_snake};
use crate::model::schema::{ConflictPolicy, Entity, Field, FieldType, LwwClock};
use crate::model::vocabulary::RESERVED_TYPE_NAMES;
use crate::source::Span;
use crate::spec_format;
use crate::suggest::did_you_mean;
use crate::validate::identifiers::check_identifier;

/// Entities whose names are valid, paired with their drafts (fields come later).
pub fn check_entities<'d>(
    draft: &'d SchemaDraft,
    diags: &mut Diagnostics,
) -> Vec<(Entity, &'d EntityDraft)> {
    if draft.entities.is_empty() {
        let span = draft.entities_span.unwrap_or(draft.root.start_only());
        diags.push(
            Diagnostic::error("the spec defines no entities")
                .at(span, "expected at least one entity under `entities:`"),
        );
    }
    let mut out: Vec<(Entity, &EntityDraft)> = Vec::new();
    for source in &draft.entities {
        let name_text = &source.name.value;
        if let Err(d) = check_identifier("entity", name_text, source.name.span) {
            diags.push(d);
            continue;
        }
        let name = Name::new(name_text);
        if RESERVED_TYPE_NAMES.contains(&name.pascal.as_str()) {
            diags.push(
                Diagnostic::error(format!("`{name_text}` cannot be an entity name"))
                    .at(source.name.span, "reserved")
                    .note(format!(
                        "`{}` is a type the generated Dart or Rust code uses itself",
                        name.pascal
                    ))
                    .help(format!("choose another name, e.g. `{}Record`", name.pascal)),
            );
            continue;
        }
        // `PatrolRoute` and `patrol_route` would be one Dart class and one table.
        if let Some((first, _)) = out.iter().find(|(e, _)| e.name.snake == name.snake) {
            diags.push(
                Diagnostic::error(format!(
                    "entities `{}` and `{name_text}` have the same name once converted (`{}`)",
                    first.name.spec, name.pascal
                ))
                .at(source.name.span, "second entity")
                .also(first.span, "first entity"),
            );
            continue;
        }
        let Some(table) = table_name(source, &name, diags) else {
            continue;
        };
        if let Some((first, _)) = out.iter().find(|(e, _)| e.table.snake == table.snake) {
            let at = source.table.as_ref().map_or(source.name.span, |t| t.span);
            diags.push(
                Diagnostic::error(format!(
                    "entities `{}` and `{name_text}` both use the table `{}`",
                    first.name.spec, table.snake
                ))
                .at(at, "second use")
                .also(first.span, "first use")
                .help("give one of them another `table:`"),
            );
            continue;
        }
        if source.fields_span.is_none() {
            diags.push(
                Diagnostic::error(format!("entity `{name_text}` has no `fields`"))
                    .at(source.name.span, "add `fields:` with at least one field"),
            );
        } else if source.fields_written == 0 {
            diags.push(
                Diagnostic::error(format!("entity `{name_text}` has no fields"))
                    .at(source.fields_span.unwrap_or(source.name.span), "empty")
                    .help("declare at least one field; `id` and `version` are added by offgen"),
            );
        }
        let dart_table_class = if table.pascal == name.pascal {
            format!("{}Table", table.pascal)
        } else {
            table.pascal.clone()
        };
        let entity = Entity {
            name,
            table,
            dart_table_class,
            conflict: ConflictPolicy::Version,
            owner: None,
            doc: source.doc.clone(),
            fields: Vec::new(),
            indexes: Vec::new(),
            span: source.name.span,
            renamed_from: renamed_from(&source.renamed_from, "entity", diags),
        };
        out.push((entity, source));
    }
    out
}

/// The table name is also the URL segment and a global SQL name, so an override must already be
/// in its final form (lowercase snake_case): we will not rewrite a name the user chose.
fn table_name(source: &EntityDraft, name: &Name, diags: &mut Diagnostics) -> Option<Name> {
    let Some(written) = &source.table else {
        return Some(Name::new(&pluralize_snake(&name.snake)));
    };
    let text = &written.value;
    if let Err(d) = check_identifier("table", text, written.span) {
        diags.push(d);
        return None;
    }
    let lowercase_snake = text
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !lowercase_snake || Name::new(text).snake != *text {
        diags.push(
            Diagnostic::error(format!("table name `{text}` is not lowercase snake_case"))
                .at(written.span, "used verbatim in SQL and URLs")
                .help(format!("write `table: {}`", Name::new(text).snake)),
        );
        return None;
    }
    // SQLite reserves every name starting with `sqlite_` for itself.
    if text.starts_with("sqlite_") {
        diags.push(
            Diagnostic::error(format!("table name `{text}` starts with `sqlite_`"))
                .at(written.span, "SQLite reserves this prefix"),
        );
        return None;
    }
    Some(Name::new(text))
}

/// Resolves `conflict:` and `owner:`, which both name fields and so run after fields are known.
pub fn check_conflict_and_owner(
    entity: &mut Entity,
    source: &EntityDraft,
    diags: &mut Diagnostics,
) {
    entity.conflict = match &source.conflict {
        None => {
            if let Some(by) = &source.conflict_by {
                diags.push(
                    Diagnostic::error("`by` only applies to the lww policy")
                        .at(by.span, "not used by the default `version` policy"),
                );
            }
            ConflictPolicy::Version
        }
        Some(policy) => match policy.value.as_str() {
            "version" | "server_wins" | "append_only" => {
                if let Some(by) = &source.conflict_by {
                    diags.push(
                        Diagnostic::error(format!(
                            "`by` only applies to the lww policy, not `{}`",
                            policy.value
                        ))
                        .at(by.span, "remove this"),
                    );
                }
                match policy.value.as_str() {
                    "version" => ConflictPolicy::Version,
                    "server_wins" => ConflictPolicy::ServerWins,
                    _ => ConflictPolicy::AppendOnly,
                }
            }
            "lww" => {
                // The conflict clock used to be a datetime field the app had to bump on every
                // edit; a write that forgot to was dropped. The stamps devices send with each
                // write (docs/protocol.md) replaced it, so `by` no longer means anything.
                if let Some(by) = &source.conflict_by {
                    diags.push(
                        Diagnostic::warning(
                            "`by` is ignored: lww compares the stamps devices send with each write",
                        )
                        .at(by.span, "no longer used")
                        .help(format!(
                            "remove it; `{}` still syncs like any other field",
                            by.value
                        )),
                    );
                }
                ConflictPolicy::Lww {
                    clock: lww_clock(source, diags),
                }
            }
            other => {
                let names = spec_format::names(spec_format::CONFLICT_POLICIES);
                let mut d = Diagnostic::error(format!("unknown conflict policy `{other}`"))
                    .at(policy.span, "not a policy");
                if let Some(hint) = did_you_mean(other, names.iter().copied()) {
                    d = d.help(format!("did you mean `{hint}`?"));
                }
                diags.push(d.note(format!("the policies are: {}", names.join(", "))));
                ConflictPolicy::Version
            }
        },
    };
    if let Some(clock) = &source.conflict_clock
        && !matches!(entity.conflict, ConflictPolicy::Lww { .. })
    {
        diags.push(
            Diagnostic::error(format!(
                "`clock` only applies to the lww policy, not `{}`",
                entity.conflict.name()
            ))
            .at(clock.span, "remove this"),
        );
    }
    if let Some(owner) = &source.owner {
        entity.owner = owner_field(entity, owner, diags);
    }
}

/// `clock:` of an lww policy: `device` (the default) or `received`.
fn lww_clock(source: &EntityDraft, diags: &mut Diagnostics) -> LwwClock {
    let Some(clock) = &source.conflict_clock else {
        return LwwClock::Device;
    };
    let clocks = [LwwClock::Device, LwwClock::Received];
    if let Some(known) = clocks.into_iter().find(|c| c.name() == clock.value) {
        return known;
    }
    let names = clocks.map(LwwClock::name);
    let mut d = Diagnostic::error(format!("unknown lww clock `{}`", clock.value))
        .at(clock.span, "not a clock");
    if let Some(hint) = did_you_mean(&clock.value, names.iter().copied()) {
        d = d.help(format!("did you mean `{hint}`?"));
    }
    diags.push(d.note(
        "device: when each field was written on its device; received: when the server received the write",
    ));
    LwwClock::Device
}

/// The owner field is compared with the authenticated user's id on every read and write; a
/// nullable or numeric owner would make rows nobody (or anybody) owns.
fn owner_field(
    entity: &Entity,
    owner: &crate::source::Spanned<String>,
    diags: &mut Diagnostics,
) -> Option<Link<Field>> {
    let Some(position) = entity
        .fields
        .iter()
        .position(|f| f.name.spec == owner.value)
    else {
        let names: Vec<&str> = entity.fields.iter().map(|f| f.name.spec.as_str()).collect();
        let mut d = Diagnostic::error(format!(
            "owner `{}` is not a field of `{}`",
            owner.value, entity.name.spec
        ))
        .at(owner.span, "unknown field");
        if let Some(hint) = did_you_mean(&owner.value, names.iter().copied()) {
            d = d.help(format!("did you mean `{hint}`?"));
        }
        diags.push(d);
        return None;
    };
    let field = &entity.fields[position];
    let id_like = matches!(
        field.ty,
        FieldType::Text | FieldType::Uuid | FieldType::Reference { .. }
    );
    if !id_like || field.nullable {
        diags.push(
            Diagnostic::error(format!(
                "owner field `{}` must hold a user id: text, uuid or a reference, not nullable",
                owner.value
            ))
            .at(owner.span, "owner named here")
            .also(field.span, "declared here"),
        );
        return None;
    }
    Some(Link::at(&field.name.spec, position))
}

/// Dart puts every generated class of the app in one library, so data classes, table classes,
/// enums and the database class must all have distinct names.
pub fn check_dart_type_names(
    app: &Name,
    entities: &[Entity],
    draft: &SchemaDraft,
    diags: &mut Diagnostics,
) {
    let mut taken: Vec<(String, Span)> = vec![(format!("{}Database", app.pascal), draft.root)];
    let mut claim = |name: String, span: Span, diags: &mut Diagnostics| {
        if let Some((_, first)) = taken.iter().find(|(n, _)| *n == name) {
            diags.push(
                Diagnostic::error(format!(
                    "two generated Dart classes would be named `{name}`"
                ))
                .at(span, "this one")
                .also(*first, "and this one")
                .help("rename an entity or field, or set `table:`"),
            );
        } else {
            taken.push((name, span));
        }
    };
    for entity in entities {
        claim(entity.name.pascal.clone(), entity.span, diags);
        claim(entity.dart_table_class.clone(), entity.span, diags);
        for field in &entity.fields {
            if let FieldType::Enum { dart_type, .. } = &field.ty {
                claim(dart_type.clone(), field.span, diags);
            }
        }
    }
}

/// `renamed_from:` names what the entity or field was called before, so it follows the same
/// identifier rules.
pub fn renamed_from(
    hint: &Option<crate::source::Spanned<String>>,
    what: &str,
    diags: &mut Diagnostics,
) -> Option<crate::source::Spanned<String>> {
    let hint = hint.as_ref()?;
    match check_identifier(what, &hint.value, hint.span) {
        Ok(()) => Some(hint.clone()),
        Err(d) => {
            diags.push(d);
            None
        }
    }
}

/// `migrate:` entries are `Entity` or `Entity.field`; whether they name anything is only known
/// against the previous schema, so the migration diff checks that.
pub fn check_migrate_entries(
    draft: &SchemaDraft,
    diags: &mut Diagnostics,
) -> crate::model::MigrateHints {
    let mut check = |entries: &[crate::source::Spanned<String>], fields_only: bool| {
        let mut out = Vec::new();
        for entry in entries {
            let parts: Vec<&str> = entry.value.split('.').collect();
            let well_formed = match parts.as_slice() {
                [entity] => !fields_only && check_identifier("entity", entity, entry.span).is_ok(),
                [entity, field] => {
                    check_identifier("entity", entity, entry.span).is_ok()
                        && check_identifier("field", field, entry.span).is_ok()
                }
                _ => false,
            };
            if well_formed {
                out.push(entry.clone());
            } else {
                let form = if fields_only {
                    "`Entity.field`"
                } else {
                    "`Entity` or `Entity.field`"
                };
                diags.push(
                    Diagnostic::error(format!("`{}` is not of the form {form}", entry.value))
                        .at(entry.span, "not a valid entry"),
                );
            }
        }
        out
    };
    crate::model::MigrateHints {
        drop: check(&draft.migrate_drop, false),
        retype: check(&draft.migrate_retype, true),
    }
}
