//! Index and unique-constraint rules.

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::model::draft::{EntityDraft, IndexDraft};
use crate::model::links::Link;
use crate::model::schema::{Entity, Field, Index};
use crate::source::Span;
use crate::suggest::did_you_mean;
use crate::validate::identifiers::MAX_IDENTIFIER_LEN;

/// Checks `indexes:` and `uniques:` (field-level `unique` was already collected into
/// `entity.indexes`) and gives each index its SQL name.
///
/// `taken` holds every table and index name so far: in both SQLite and PostgreSQL indexes share
/// one namespace with tables, so an index named like a table fails at migration time.
pub fn check_indexes(
    entity: &Entity,
    source: &EntityDraft,
    taken: &mut Vec<String>,
    diags: &mut Diagnostics,
) -> Vec<Index> {
    let mut candidates: Vec<(Index, Option<(String, Span)>)> =
        entity.indexes.iter().map(|i| (i.clone(), None)).collect();
    for (drafts, unique) in [(&source.indexes, false), (&source.uniques, true)] {
        for draft in drafts {
            if let Some(index) = check_index(entity, draft, unique, diags) {
                let name = draft.name.as_ref().map(|n| (n.value.clone(), n.span));
                candidates.push((index, name));
            }
        }
    }
    let mut out: Vec<Index> = Vec::new();
    for (mut index, explicit) in candidates {
        // The same fields indexed twice (with the same uniqueness) only slow writes down.
        if let Some(first) = out
            .iter()
            .find(|i| i.fields == index.fields && i.unique == index.unique)
        {
            diags.push(
                Diagnostic::error(format!(
                    "`{}` is indexed twice on the same fields ({})",
                    entity.name.spec,
                    index
                        .fields
                        .iter()
                        .map(|f| f.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .at(index.span, "second index")
                .also(first.span, "first index"),
            );
            continue;
        }
        index.name = match explicit {
            Some((name, span)) => {
                let valid = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                    && name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                    && name.len() <= MAX_IDENTIFIER_LEN;
                if !valid {
                    diags.push(
                        Diagnostic::error(format!("`{name}` is not a valid index name"))
                            .at(span, "not lowercase snake_case, or longer than 63")
                            .help("use lowercase letters, digits and `_`"),
                    );
                    continue;
                }
                if taken.contains(&name) {
                    diags.push(
                        Diagnostic::error(format!(
                            "the name `{name}` is already taken by a table or index"
                        ))
                        .at(span, "tables and indexes share one namespace in SQL"),
                    );
                    continue;
                }
                name
            }
            None => default_index_name(entity, &index, taken),
        };
        taken.push(index.name.clone());
        out.push(index);
    }
    out
}

fn check_index(
    entity: &Entity,
    draft: &IndexDraft,
    unique: bool,
    diags: &mut Diagnostics,
) -> Option<Index> {
    if draft.fields.is_empty() {
        diags.push(Diagnostic::error("an index needs at least one field").at(draft.span, "empty"));
        return None;
    }
    let mut fields: Vec<Link<Field>> = Vec::new();
    let mut ok = true;
    for field in &draft.fields {
        let Some(position) = entity
            .fields
            .iter()
            .position(|f| f.name.spec == field.value)
        else {
            let names: Vec<&str> = entity.fields.iter().map(|f| f.name.spec.as_str()).collect();
            let mut d = Diagnostic::error(format!(
                "index on unknown field `{}` of `{}`",
                field.value, entity.name.spec
            ))
            .at(field.span, "no such field");
            if let Some(hint) = did_you_mean(&field.value, names.iter().copied()) {
                d = d.help(format!("did you mean `{hint}`?"));
            }
            diags.push(d);
            ok = false;
            continue;
        };
        let found = &entity.fields[position];
        if found.ty.is_attachment() {
            diags.push(super::fields::unindexable(&field.value, field.span));
            ok = false;
            continue;
        }
        if fields.iter().any(|f| *f == found.name.spec.as_str()) {
            diags.push(
                Diagnostic::error(format!("`{}` appears twice in one index", field.value))
                    .at(field.span, "listed again"),
            );
            ok = false;
            continue;
        }
        fields.push(Link::at(&found.name.spec, position));
    }
    ok.then(|| Index {
        name: String::new(),
        fields,
        unique,
        span: draft.span,
    })
}

/// `<table>_<columns>_idx`, or `_key` for unique ones (PostgreSQL's own convention). A name
/// over 63 bytes is cut and given a short hash of the full name, so it stays unique and stable.
fn default_index_name(entity: &Entity, index: &Index, taken: &[String]) -> String {
    let columns: Vec<&str> = entity
        .index_fields(index)
        .map(|f| f.name.snake.as_str())
        .collect();
    let suffix = if index.unique { "key" } else { "idx" };
    let full = format!("{}_{}_{suffix}", entity.table.snake, columns.join("_"));
    let mut name = if full.len() <= MAX_IDENTIFIER_LEN {
        full.clone()
    } else {
        let hash = format!("{:08x}", fnv1a(full.as_bytes()) as u32);
        let keep = MAX_IDENTIFIER_LEN - hash.len() - suffix.len() - 2;
        format!("{}_{hash}_{suffix}", &full[..keep])
    };
    // A user-named index may already hold the default name; count up until one is free.
    let mut n = 2;
    while taken.contains(&name) {
        name = format!("{}_{n}", &full[..full.len().min(MAX_IDENTIFIER_LEN - 4)]);
        n += 1;
    }
    name
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}
