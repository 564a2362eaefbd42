//! The Rust-source front-end: structs deriving `Syncable`, enums deriving `SyncEnum` and the
//! struct deriving `SyncApp`, read with syn.
//!
//! `offgen build --rust DIR` reads every file of a folder ([`read`]); the derive macros read
//! one item each ([`items`], called by [`crate::derive`]). Both lower into the same
//! [`SchemaDraft`] as the YAML front-end, so the same checks, back-ends and migration diff
//! apply, and a problem points at the Rust source.

pub mod attrs;
pub mod items;
pub mod spans;
pub mod types;

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use syn::DeriveInput;

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::model::draft::SchemaDraft;
use crate::source::{SourceFile, SourceSet, Span, Spanned};
use crate::spec_format::FORMAT_VERSION;
use items::{AppItem, EnumItem, StructItem};
use spans::{FileSpans, SpanMap};
use types::Written;

/// The derives this front-end reads.
pub const DERIVES: [&str; 3] = ["Syncable", "SyncEnum", "SyncApp"];

/// A spec read from Rust sources.
pub struct RustSpec {
    /// What the sources say, as every front-end gives it.
    pub draft: SchemaDraft,
    /// `build = "..."` of the app: where its build output lives, from the crate's root.
    pub build: Option<String>,
}

/// The `.rs` files under `dir`, in path order, as a source set (names as `dir` joined with
/// their path).
pub fn read_dir(dir: &Path) -> io::Result<SourceSet> {
    let mut paths = Vec::new();
    collect(dir, &mut paths)?;
    paths.sort();
    let mut set = SourceSet::new();
    for path in paths {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        set.add(SourceFile::new(path.display().to_string(), text));
    }
    Ok(set)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// Which of [`DERIVES`] an item's `#[derive(...)]` lists.
pub fn derives(attrs: &[syn::Attribute]) -> Vec<&'static str> {
    let mut out = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("derive")) {
        let _ = attr.parse_nested_meta(|meta| {
            let last = types::last_segment(&meta.path);
            if let Some(derive) = DERIVES.iter().find(|d| **d == last) {
                out.push(*derive);
            }
            Ok(())
        });
    }
    out
}

/// Every item of a file, with those of inline modules.
fn each_item<'f>(items: &'f [syn::Item], out: &mut Vec<&'f syn::Item>) {
    for item in items {
        if let syn::Item::Mod(m) = item
            && let Some((_, inner)) = &m.content
        {
            each_item(inner, out);
        }
        out.push(item);
    }
}

/// Reads a folder's Rust sources into a draft, recording every problem (at file:line:col).
pub fn read(sources: &SourceSet, diags: &mut Diagnostics) -> Option<RustSpec> {
    let mut parsed: Vec<(usize, &SourceFile, syn::File)> = Vec::new();
    for (base, file) in sources.files() {
        match syn::parse_file(&file.text) {
            Ok(tree) => parsed.push((base, file, tree)),
            Err(e) => {
                let mut spans = FileSpans::new(base, &file.text);
                diags.push(
                    Diagnostic::error(format!("this Rust does not parse: {e}"))
                        .at(spans.span(e.span()), "here"),
                );
            }
        }
    }
    let mut inputs: Vec<(usize, &str, DeriveInput, Vec<&'static str>)> = Vec::new();
    for (base, file, tree) in &parsed {
        let mut items = Vec::new();
        each_item(&tree.items, &mut items);
        for item in items {
            let input: DeriveInput = match item {
                syn::Item::Struct(s) => s.clone().into(),
                syn::Item::Enum(e) => e.clone().into(),
                syn::Item::Union(u) => u.clone().into(),
                _ => continue,
            };
            let derived = derives(&input.attrs);
            if !derived.is_empty() {
                inputs.push((*base, file.text.as_str(), input, derived));
            }
        }
    }
    let mut structs: Vec<StructItem> = Vec::new();
    let mut enums: Vec<EnumItem> = Vec::new();
    let mut apps: Vec<AppItem> = Vec::new();
    for (base, text, input, derived) in &inputs {
        let mut spans = FileSpans::new(*base, text);
        for derive in derived {
            match *derive {
                "Syncable" => structs.extend(items::lower_struct(input, &mut spans, diags)),
                "SyncEnum" => enums.extend(items::lower_enum(input, &mut spans, diags)),
                _ => apps.extend(items::lower_app(input, &mut spans, diags)),
            }
        }
    }
    let root = sources.files().next().map_or(Span::default(), |(base, f)| {
        Span::new(base, base + f.text.len())
    });
    let app = one_app(apps, root, diags)?;
    let enums = enums_by_name(enums, diags);
    let entity_names: Vec<String> = structs
        .iter()
        .map(|s| s.entity.name.value.clone())
        .collect();
    let mut by_name: HashMap<String, StructItem> = HashMap::new();
    for item in structs {
        let name = item.entity.name.clone();
        if let Some(first) = by_name.get(&name.value) {
            diags.push(
                Diagnostic::error(format!(
                    "two structs named `{}` derive Syncable",
                    name.value
                ))
                .at(name.span, "defined again here")
                .also(first.entity.name.span, "first defined here"),
            );
            continue;
        }
        by_name.insert(name.value.clone(), item);
    }
    let mut draft = SchemaDraft {
        format: Some(Spanned::new(FORMAT_VERSION, root.start_only())),
        app: app.app.clone(),
        entities: Vec::new(),
        entities_span: Some(app.entities_span),
        root,
        migrate_drop: app.drop.clone(),
        migrate_retype: app.retype.clone(),
        oldest_client_step: app.oldest_step.clone(),
    };
    for (_, listed) in &app.entities {
        match by_name.remove(&listed.value) {
            Some(mut item) => {
                resolve_named(&mut item, &enums, &entity_names, diags);
                draft.entities.push(item.entity);
            }
            None if draft.entities.iter().any(|e| e.name.value == listed.value) => {
                diags.push(
                    Diagnostic::error(format!("`{}` is listed twice", listed.value))
                        .at(listed.span, "listed again here"),
                );
            }
            None => diags.push(
                Diagnostic::error(format!(
                    "no struct named `{}` derives Syncable",
                    listed.value
                ))
                .at(listed.span, "not an entity")
                .help("the app lists the structs that derive Syncable, by name"),
            ),
        }
    }
    let mut unlisted: Vec<StructItem> = by_name.into_values().collect();
    unlisted.sort_by_key(|item| item.entity.name.span);
    for item in unlisted {
        diags.push(
            Diagnostic::error(format!(
                "`{}` derives Syncable but the app does not list it",
                item.entity.name.value
            ))
            .at(item.entity.name.span, "not in the app's `entities(...)`")
            .also(app.entities_span, "add it here"),
        );
    }
    Some(RustSpec {
        draft,
        build: app.build.map(|b| b.value),
    })
}

fn one_app(apps: Vec<AppItem>, root: Span, diags: &mut Diagnostics) -> Option<AppItem> {
    let mut apps = apps.into_iter();
    let Some(first) = apps.next() else {
        diags.push(
            Diagnostic::error("no struct derives SyncApp in these sources")
                .at(root.start_only(), "expected the app's descriptor")
                .help("add `#[derive(SyncApp)] #[syncable(app = \"...\", entities(...))] pub struct App;`"),
        );
        return None;
    };
    for other in apps {
        diags.push(
            Diagnostic::error("more than one struct derives SyncApp")
                .at(other.entities_span, "a second app")
                .also(first.entities_span, "the first"),
        );
    }
    Some(first)
}

fn enums_by_name(enums: Vec<EnumItem>, diags: &mut Diagnostics) -> HashMap<String, EnumItem> {
    let mut out: HashMap<String, EnumItem> = HashMap::new();
    for item in enums {
        if let Some(first) = out.get(&item.name.value) {
            diags.push(
                Diagnostic::error(format!(
                    "two enums named `{}` derive SyncEnum",
                    item.name.value
                ))
                .at(item.name.span, "defined again here")
                .also(first.name.span, "first defined here"),
            );
            continue;
        }
        out.insert(item.name.value.clone(), item);
    }
    out
}

/// Gives enum fields their values, from the enum their type names.
fn resolve_named(
    item: &mut StructItem,
    enums: &HashMap<String, EnumItem>,
    entities: &[String],
    diags: &mut Diagnostics,
) {
    for (index, written) in &item.linked {
        let Written::Named(path) = written else {
            continue;
        };
        let name = types::last_segment(path);
        let Some(field) = item.entity.fields.get_mut(*index) else {
            continue;
        };
        if let Some(found) = enums.get(&name) {
            field.values = Some(found.values.clone());
            continue;
        }
        let mut problem =
            Diagnostic::error(format!("`{name}` is not a field type offgen can sync")).at(
                field.ty.span,
                "neither a type offgen maps nor an enum deriving SyncEnum",
            );
        problem = if entities.contains(&name) {
            problem.help(format!(
                "`{name}` is an entity: a reference to it is written `Ref<{name}>`"
            ))
        } else {
            problem.help(format!(
                "if `{name}` is a fieldless enum, add `#[derive(SyncEnum)]` to it"
            ))
        };
        diags.push(problem);
        field.ty.value = String::new();
    }
    item.entity.fields.retain(|f| !f.ty.value.is_empty());
}
