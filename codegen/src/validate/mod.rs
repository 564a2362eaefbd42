//! The one validation pass: [`SchemaDraft`] -> [`Schema`].
//!
//! Each rule is a small function with the reason it exists. Every rule runs and records its
//! problems in one [`Diagnostics`], so a spec with five mistakes reports five, not one per run.

mod defaults;
mod entities;
mod fields;
pub mod identifiers;
mod indexes;

pub use defaults::{is_uuid, parse_date, parse_datetime_ms};

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::model::draft::SchemaDraft;
use crate::model::names::Name;
use crate::model::schema::Schema;
use crate::spec_format::FORMAT_VERSION;

/// Checks a draft and builds the IR. Returns `None` if any error was recorded.
pub fn validate(draft: &SchemaDraft, diags: &mut Diagnostics) -> Option<Schema> {
    let errors_before = diags.len();
    check_format(draft, diags);
    let app = check_app(draft, diags);
    let mut entities = entities::check_entities(draft, diags);
    for (entity, source) in &mut entities {
        entity.fields = fields::check_fields(entity, source, draft, diags);
    }
    for (entity, source) in &mut entities {
        entities::check_conflict_and_owner(entity, source, diags);
    }
    let mut taken_relation_names: Vec<String> = entities
        .iter()
        .map(|(e, _)| e.table.snake.clone())
        .collect();
    for (entity, source) in &mut entities {
        entity.indexes = indexes::check_indexes(entity, source, &mut taken_relation_names, diags);
    }
    let entities: Vec<_> = entities.into_iter().map(|(e, _)| e).collect();
    let migrate = entities::check_migrate_entries(draft, diags);
    let oldest_client_step = check_oldest_client_step(draft, diags);
    if let Some(app) = &app {
        entities::check_dart_type_names(app, &entities, draft, diags);
    }
    let failed = diags
        .iter()
        .skip(errors_before)
        .any(|d| d.severity == crate::diagnostics::Severity::Error);
    if failed {
        return None;
    }
    let mut schema = Schema {
        format: FORMAT_VERSION,
        app: app?,
        entities,
        migrate,
        oldest_client_step,
        oldest_client_step_span: draft.oldest_client_step.as_ref().map(|s| s.span),
        entities_span: draft.entities_span.unwrap_or(draft.root),
    };
    schema
        .link()
        .expect("the checks above resolved every name a link holds");
    Some(schema)
}

/// Steps are numbered from 1: a window starting anywhere else names no step. (Whether the
/// step exists yet is known when building: see `backend::generate`.)
fn check_oldest_client_step(draft: &SchemaDraft, diags: &mut Diagnostics) -> Option<u32> {
    let step = draft.oldest_client_step.as_ref()?;
    match u32::try_from(step.value) {
        Ok(n) if n >= 1 => Some(n),
        _ => {
            diags.push(
                Diagnostic::error(format!("`oldest_step` is {}: steps are numbered from 1", step.value))
                    .at(step.span, "expected a migration step number")
                    .help("write the number of the oldest migration step whose apps should still sync, e.g. `oldest_step: 1`"),
            );
            None
        }
    }
}

/// A spec written for a newer format may use features this offgen would silently ignore, so an
/// unknown version is an error, and so is a missing one (it is what makes that check possible).
fn check_format(draft: &SchemaDraft, diags: &mut Diagnostics) {
    match &draft.format {
        None => diags.push(
            Diagnostic::error("the spec does not say its format version")
                .at(draft.root.start_only(), "expected `offgen: 1` here")
                .help("add `offgen: 1` as the first line"),
        ),
        Some(v) if v.value != FORMAT_VERSION => diags.push(
            Diagnostic::error(format!(
                "spec format version {} is not supported; this offgen reads version {FORMAT_VERSION}",
                v.value
            ))
            .at(v.span, "unsupported version")
            .help(if v.value > FORMAT_VERSION {
                "upgrade offgen to read this spec"
            } else {
                "write `offgen: 1`"
            }),
        ),
        Some(_) => {}
    }
}

/// The app name becomes the Dart database class (`RangerDatabase`), file names and the server
/// crate's name, so it follows the identifier rules.
fn check_app(draft: &SchemaDraft, diags: &mut Diagnostics) -> Option<Name> {
    let Some(app) = &draft.app else {
        diags.push(
            Diagnostic::error("the spec does not name its app")
                .at(draft.root.start_only(), "expected `app: <name>`")
                .help("add e.g. `app: ranger`"),
        );
        return None;
    };
    match identifiers::check_identifier("app", &app.value, app.span) {
        Ok(()) => Some(Name::new(&app.value)),
        Err(d) => {
            diags.push(d);
            None
        }
    }
}
