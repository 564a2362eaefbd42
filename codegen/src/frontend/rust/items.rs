//! One Rust item -> its part of a [`SchemaDraft`](crate::model::draft::SchemaDraft): a struct
//! deriving `Syncable` is an entity, a fieldless enum deriving `SyncEnum` is the values of
//! enum fields, and the struct deriving `SyncApp` says what a spec's top level says. Like the
//! YAML front-end, this only reads what is written; meaning is checked by [`crate::validate`].

use syn::spanned::Spanned as _;
use syn::{Data, DeriveInput, Fields};

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::frontend::rust::attrs::{self, APP_KEYS, ENTITY_KEYS, FIELD_KEYS, VARIANT_KEYS};
use crate::frontend::rust::spans::SpanMap;
use crate::frontend::rust::types::{self, Written};
use crate::model::draft::{EntityDraft, FieldDraft, IndexDraft};
use crate::model::names::Name;
use crate::source::{Span, Spanned};

/// The spec name of a Rust field (or of a name in an attribute that means one): its wire
/// key, so `recorded_at` is the spec's `recordedAt` and every target spells it the same.
pub fn field_spec_name(rust: &str) -> String {
    Name::new(rust).camel
}

/// A struct deriving `Syncable`, lowered.
pub struct StructItem<'i> {
    /// The entity as a spec would write it.
    pub entity: EntityDraft,
    /// Fields whose type is another item (`Ref<T>`, an enum): index in `entity.fields`, and
    /// how the type was written.
    pub linked: Vec<(usize, Written<'i>)>,
}

/// A fieldless enum deriving `SyncEnum`, lowered.
pub struct EnumItem {
    /// The enum's name.
    pub name: Spanned<String>,
    /// Its values, in order.
    pub values: Spanned<Vec<Spanned<String>>>,
}

/// The struct deriving `SyncApp`, lowered.
pub struct AppItem {
    /// `app = "..."`.
    pub app: Option<Spanned<String>>,
    /// `entities(...)`: each path as written, and its last segment.
    pub entities: Vec<(syn::Path, Spanned<String>)>,
    /// Where `entities(...)` (or, without it, the struct's name) was written.
    pub entities_span: Span,
    /// `build = "..."`.
    pub build: Option<Spanned<String>>,
    /// `oldest_step = N`.
    pub oldest_step: Option<Spanned<i64>>,
    /// `drop(...)`.
    pub drop: Vec<Spanned<String>>,
    /// `retype(...)`.
    pub retype: Vec<Spanned<String>>,
}

fn not_a_struct(input: &DeriveInput, derive: &str, spans: &mut dyn SpanMap) -> Diagnostic {
    let (kind, keyword) = match &input.data {
        Data::Enum(e) => ("an enum", e.enum_token.span),
        Data::Union(u) => ("a union", u.union_token.span),
        Data::Struct(s) => ("a struct", s.struct_token.span),
    };
    let d = Diagnostic::error(format!(
        "`#[derive({derive})]` is for structs with named fields, and `{}` is {kind}",
        input.ident
    ))
    .at(
        spans.span(keyword),
        format!("{kind} cannot derive {derive}"),
    );
    match (&input.data, derive) {
        (Data::Enum(_), "Syncable") => d.help(
            "an enum of values derives `SyncEnum`; a field of its type is then an enum field",
        ),
        _ => d,
    }
}

fn no_generics(input: &DeriveInput, what: &str, spans: &mut dyn SpanMap, diags: &mut Diagnostics) {
    if !input.generics.params.is_empty() {
        diags.push(
            Diagnostic::error(format!("{what} `{}` cannot be generic", input.ident))
                .at(spans.span(input.generics.span()), "generic parameters")
                .note("offgen makes one table and one wire type per item: each must be one type"),
        );
    }
}

/// Lowers a struct deriving `Syncable`.
pub fn lower_struct<'i>(
    input: &'i DeriveInput,
    spans: &mut dyn SpanMap,
    diags: &mut Diagnostics,
) -> Option<StructItem<'i>> {
    let fields = match &input.data {
        Data::Struct(s) => &s.fields,
        _ => {
            diags.push(not_a_struct(input, "Syncable", spans));
            return None;
        }
    };
    no_generics(input, "the entity", spans, diags);
    let named = match fields {
        Fields::Named(named) => named,
        Fields::Unnamed(_) | Fields::Unit => {
            let at = match fields {
                Fields::Unnamed(f) => f.paren_token.span.join(),
                _ => input.ident.span(),
            };
            diags.push(
                Diagnostic::error(format!(
                    "`{}` has no named fields: an entity's fields are its columns, and need names",
                    input.ident
                ))
                .at(spans.span(at), "expected `{ name: Type, ... }`")
                .help(format!(
                    "write `struct {} {{ name: String, ... }}`",
                    input.ident
                )),
            );
            return None;
        }
    };
    let name_span = spans.span(input.ident.span());
    let mut entity = EntityDraft {
        name: Spanned::new(attrs::unraw(&input.ident), name_span),
        table: None,
        conflict: None,
        conflict_by: None,
        conflict_clock: None,
        owner: None,
        doc: attrs::doc(&input.attrs),
        fields: Vec::new(),
        fields_span: Some(spans.span(named.brace_token.span.join())),
        fields_written: named.named.len(),
        indexes: Vec::new(),
        uniques: Vec::new(),
        renamed_from: None,
    };
    let what = format!("the attributes of entity `{}`", input.ident);
    attrs::each_key(
        &input.attrs,
        ENTITY_KEYS,
        &["index", "unique"],
        &what,
        spans,
        diags,
        |key, meta, spans, _| {
            match key {
                "table" => entity.table = Some(attrs::string(meta, spans)?),
                "conflict" => entity.conflict = Some(attrs::word(meta, spans)?),
                "clock" => entity.conflict_clock = Some(attrs::word(meta, spans)?),
                "owner" => {
                    let owner = attrs::word(meta, spans)?;
                    entity.owner = Some(Spanned::new(field_spec_name(&owner.value), owner.span));
                }
                "index" => entity.indexes.push(index(meta, spans)?),
                "unique" => entity.uniques.push(index(meta, spans)?),
                "renamed_from" => entity.renamed_from = Some(attrs::string(meta, spans)?),
                _ => {}
            }
            Ok(())
        },
    );
    let mut linked = Vec::new();
    for field in &named.named {
        let Some(ident) = &field.ident else { continue };
        let rust_name = attrs::unraw(ident);
        let name_span = spans.span(ident.span());
        let classified = match types::classify(&field.ty, spans) {
            Ok(c) => Some(c),
            Err(d) => {
                diags.push(d);
                None
            }
        };
        let ty_span = spans.span(field.ty.span());
        let mut draft = FieldDraft {
            name: Spanned::new(field_spec_name(&rust_name), name_span),
            ty: Spanned::new(String::new(), ty_span),
            nullable: None,
            default: None,
            values: None,
            to: None,
            unique: None,
            doc: attrs::doc(&field.attrs),
            renamed_from: None,
            span: name_span,
        };
        let what = format!("the attributes of field `{rust_name}`");
        attrs::each_key(
            &field.attrs,
            FIELD_KEYS,
            &[],
            &what,
            spans,
            diags,
            |key, meta, spans, _| {
                match key {
                    "default" => draft.default = Some(attrs::literal(meta, spans)?),
                    "unique" => {
                        let span = spans.span(meta.path.span());
                        let value = if meta.input.peek(syn::Token![=]) {
                            meta.value()?.parse::<syn::LitBool>()?.value
                        } else {
                            true
                        };
                        draft.unique = Some(Spanned::new(value, span));
                    }
                    "renamed_from" => {
                        let old = attrs::string(meta, spans)?;
                        draft.renamed_from =
                            Some(Spanned::new(field_spec_name(&old.value), old.span));
                    }
                    "values" => {
                        let span = spans.span(meta.path.span());
                        let values = attrs::list(meta, spans)?;
                        draft.values = Some(Spanned::new(values, span));
                    }
                    _ => {}
                }
                Ok(())
            },
        );
        let Some(classified) = classified else {
            continue;
        };
        if let Some(option) = classified.nullable {
            draft.nullable = Some(Spanned::new(true, spans.span(option)));
        }
        match classified.written {
            Written::Spec("text") if draft.values.is_some() => draft.ty.value = "enum".to_owned(),
            Written::Spec(spec) => draft.ty.value = spec.to_owned(),
            Written::Reference(path) => {
                // `Ref<Self>`: a reference to a row of the same entity.
                let target = if path.is_ident("Self") {
                    entity.name.value.clone()
                } else {
                    types::last_segment(path)
                };
                draft.ty = Spanned::new(target, spans.span(path.span()));
            }
            Written::Named(_) => draft.ty.value = "enum".to_owned(),
        }
        if let Some(values) = &draft.values
            && !matches!(classified.written, Written::Spec("text"))
        {
            diags.push(
                Diagnostic::error("`values(...)` makes a `String` field an enum")
                    .at(values.span, "only for a field of type `String`")
                    .help("an enum type deriving `SyncEnum` lists its values itself"),
            );
        }
        if !matches!(classified.written, Written::Spec(_)) {
            linked.push((entity.fields.len(), classified.written));
        }
        entity.fields.push(draft);
    }
    Some(StructItem { entity, linked })
}

fn index(meta: &syn::meta::ParseNestedMeta, spans: &mut dyn SpanMap) -> syn::Result<IndexDraft> {
    let span = spans.span(meta.path.span());
    let mut fields = Vec::new();
    let mut name = None;
    meta.parse_nested_meta(|inner| {
        if inner.path.is_ident("name") && inner.input.peek(syn::Token![=]) {
            name = Some(attrs::string(&inner, spans)?);
        } else if let Some(ident) = inner.path.get_ident() {
            fields.push(Spanned::new(
                field_spec_name(&attrs::unraw(ident)),
                spans.span(ident.span()),
            ));
        } else {
            return Err(inner.error("expected a field name"));
        }
        Ok(())
    })?;
    Ok(IndexDraft { fields, name, span })
}

/// Lowers an enum deriving `SyncEnum`.
pub fn lower_enum(
    input: &DeriveInput,
    spans: &mut dyn SpanMap,
    diags: &mut Diagnostics,
) -> Option<EnumItem> {
    let Data::Enum(data) = &input.data else {
        let keyword = match &input.data {
            Data::Struct(s) => s.struct_token.span,
            Data::Union(u) => u.union_token.span,
            Data::Enum(e) => e.enum_token.span,
        };
        diags.push(
            Diagnostic::error(format!(
                "`#[derive(SyncEnum)]` is for fieldless enums, and `{}` is not an enum",
                input.ident
            ))
            .at(spans.span(keyword), "not an enum")
            .help("an entity derives `Syncable`"),
        );
        return None;
    };
    no_generics(input, "the enum", spans, diags);
    let mut values = Vec::new();
    for variant in &data.variants {
        if !matches!(variant.fields, Fields::Unit) {
            diags.push(
                Diagnostic::error(format!(
                    "`{}::{}` carries data; a SyncEnum's values are plain names",
                    input.ident, variant.ident
                ))
                .at(spans.span(variant.fields.span()), "fields of a variant")
                .help("store the data in fields of the entity instead"),
            );
            continue;
        }
        let mut value = Spanned::new(
            field_spec_name(&attrs::unraw(&variant.ident)),
            spans.span(variant.ident.span()),
        );
        let what = format!("the attributes of `{}::{}`", input.ident, variant.ident);
        attrs::each_key(
            &variant.attrs,
            VARIANT_KEYS,
            &[],
            &what,
            spans,
            diags,
            |_, meta, spans, _| {
                value = attrs::string(meta, spans)?;
                Ok(())
            },
        );
        values.push(value);
    }
    let span = spans.span(input.ident.span());
    Some(EnumItem {
        name: Spanned::new(attrs::unraw(&input.ident), span),
        values: Spanned::new(values, span),
    })
}

/// Lowers the struct deriving `SyncApp`.
pub fn lower_app(
    input: &DeriveInput,
    spans: &mut dyn SpanMap,
    diags: &mut Diagnostics,
) -> Option<AppItem> {
    if !matches!(input.data, Data::Struct(_)) {
        diags.push(not_a_struct(input, "SyncApp", spans));
        return None;
    }
    no_generics(input, "the app", spans, diags);
    let ident_span = spans.span(input.ident.span());
    let mut app = AppItem {
        app: None,
        entities: Vec::new(),
        entities_span: ident_span,
        build: None,
        oldest_step: None,
        drop: Vec::new(),
        retype: Vec::new(),
    };
    let mut listed = false;
    let what = format!("the attributes of app `{}`", input.ident);
    attrs::each_key(
        &input.attrs,
        APP_KEYS,
        &[],
        &what,
        spans,
        diags,
        |key, meta, spans, _| {
            match key {
                "app" => app.app = Some(attrs::string(meta, spans)?),
                "entities" => {
                    listed = true;
                    app.entities_span = spans.span(meta.path.span());
                    for path in attrs::paths(meta)? {
                        let name =
                            Spanned::new(types::last_segment(&path), spans.span(path.span()));
                        app.entities.push((path, name));
                    }
                }
                "build" => app.build = Some(attrs::string(meta, spans)?),
                "oldest_step" => app.oldest_step = Some(attrs::integer(meta, spans)?),
                "drop" => app.drop = attrs::strings(meta, spans)?,
                "retype" => app.retype = attrs::strings(meta, spans)?,
                _ => {}
            }
            Ok(())
        },
    );
    if app.app.is_none() {
        diags.push(
            Diagnostic::error(format!("app `{}` does not name its app", input.ident))
                .at(ident_span, "expected `#[syncable(app = \"...\")]`")
                .help("add e.g. `#[syncable(app = \"ranger\", entities(Ranger, Observation))]`"),
        );
    }
    if !listed {
        diags.push(
            Diagnostic::error(format!("app `{}` lists no entities", input.ident))
                .at(ident_span, "expected `#[syncable(entities(...))]`")
                .help(
                    "list the structs deriving Syncable, in order: `entities(Ranger, Observation)`",
                ),
        );
    }
    Some(app)
}
