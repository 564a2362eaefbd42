//! What `#[derive(Syncable)]`, `#[derive(SyncEnum)]` and `#[derive(SyncApp)]` expand to.
//!
//! offgen-macros hands each item here and returns the tokens: the same Rust-source front-end
//! as `offgen build --rust` ([`crate::frontend::rust`]), the same checks
//! ([`crate::validate`]) and the same server back-end ([`crate::backend::server`]) that
//! writes a YAML spec's entities, so a derived struct's descriptor is the generator's. A macro
//! sees one item: what belongs to another (a referenced entity's table, an enum's values) is
//! named through that item's trait, and checked by the compiler with a message of offgen's
//! (`#[diagnostic::on_unimplemented]`). The app (`SyncApp`) reads the build output, as sqlx's
//! `migrate!` reads its folder, and holds every struct to it at compile time.
//!
//! Problems become `compile_error!`s at the offending tokens, all of them at once, and an
//! item with problems still gets its trait impl, so one mistake is reported once.

use std::path::{Path, PathBuf};

use proc_macro2::TokenStream;
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::DeriveInput;
use syn::spanned::Spanned as _;

use crate::backend::server::app_def::{self, AppPlan, KindPlan};
use crate::backend::server::rust::{app_def as app_def_expr, entity_static, kind};
use crate::diagnostics::{Diagnostic, Diagnostics, Severity};
use crate::frontend::rust::items::{self, StructItem};
use crate::frontend::rust::spans::{SpanMap, TokenSpans};
use crate::frontend::rust::types::{self, Written};
use crate::model::draft::{EntityDraft, FieldDraft, Literal, SchemaDraft};
use crate::source::{Span, Spanned};
use crate::spec_format::FORMAT_VERSION;

/// The imports every expansion's statics are printed against (as in a generated crate).
fn model_imports() -> TokenStream {
    quote! {
        #[allow(unused_imports)]
        use offgen_runtime::model::{
            AppDef, Dialects, EntityDef, EntitySql, EntityShape, FieldDef, FieldShape, Kind,
            LwwClock, Migration, Policy, PushSql,
        };
    }
}

/// Every error as a spanned `compile_error!`, with its help and notes.
fn compile_errors(spans: &TokenSpans, diagnostics: Vec<Diagnostic>) -> TokenStream {
    let mut out = TokenStream::new();
    for d in diagnostics
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
    {
        let span = d
            .primary_span()
            .map_or_else(proc_macro2::Span::call_site, |s| spans.token(s));
        let mut message = d.message.clone();
        for note in &d.notes {
            message.push_str(&format!("\n  = {note}"));
        }
        out.extend(syn::Error::new(span, message).to_compile_error());
    }
    out
}

fn parse(input: TokenStream) -> Result<DeriveInput, TokenStream> {
    syn::parse2(input).map_err(|e| e.to_compile_error())
}

/// `#[derive(Syncable)]`.
pub fn syncable(input: TokenStream) -> TokenStream {
    let input = match parse(input) {
        Ok(input) => input,
        Err(errors) => return errors,
    };
    let ident = &input.ident;
    let (impl_generics, type_generics, where_clause) = input.generics.split_for_impl();
    let unbuilt = |errors: TokenStream| {
        quote! {
            #errors
            const _: () = {
                impl #impl_generics offgen_runtime::Syncable for #ident #type_generics #where_clause {
                    const ENTITY: &'static offgen_runtime::model::EntityDef =
                        &offgen_runtime::derive::UNBUILT;
                }
            };
        }
    };
    let mut spans = TokenSpans::new();
    let mut diags = Diagnostics::new();
    // Lowering records what it cannot read and goes on, so validation reports the rest.
    let Some(item) = items::lower_struct(&input, &mut spans, &mut diags) else {
        return unbuilt(compile_errors(&spans, diags.into_sorted()));
    };
    let draft = entity_alone(&item, &input, &mut spans);
    let schema = crate::validate::validate(&draft, &mut diags);
    let Some(schema) = schema.filter(|_| !diags.has_errors()) else {
        return unbuilt(compile_errors(&spans, diags.into_sorted()));
    };
    let Some(entity) = schema.entities.first() else {
        return unbuilt(TokenStream::new());
    };
    let plan = app_def::entity_plan(&schema, entity);
    let linked = |index: usize| {
        item.linked
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, w)| *w)
    };
    let kinds = |index: usize, planned: &KindPlan| match linked(index) {
        Some(Written::Reference(path)) => {
            let path = self_to(path, ident);
            quote_spanned! {path.span()=>
                Kind::Reference(<#path as offgen_runtime::Syncable>::ENTITY.table)
            }
        }
        Some(Written::Named(path)) => quote_spanned! {path.span()=>
            Kind::Enum(<#path as offgen_runtime::SyncEnum>::VALUES)
        },
        _ => kind(planned),
    };
    let statics = entity_static(&plan, &kinds);
    let static_ident = format_ident!("{}", plan.static_name);
    // An enum field's default is one of its enum's values: known only to the compiler.
    let defaults = item.linked.iter().filter_map(|(index, written)| {
        let Written::Named(path) = written else {
            return None;
        };
        let field = item.entity.fields.get(*index)?;
        let default = field.default.as_ref()?;
        let Literal::Str(value) = &default.value else {
            return None;
        };
        let message = format!(
            "the default of `{}.{}`, \"{value}\", is not a value of `{}`",
            ident,
            field.name.value,
            types::last_segment(path)
        );
        let span = spans.token(default.span);
        Some(quote_spanned! {span=>
            const _: () = assert!(
                offgen_runtime::derive::has_value(<#path as offgen_runtime::SyncEnum>::VALUES, #value),
                #message
            );
        })
    });
    let imports = model_imports();
    quote! {
        const _: () = {
            #imports
            #statics
            #(#defaults)*
            impl offgen_runtime::Syncable for #ident {
                const ENTITY: &'static EntityDef = &#static_ident;
            }
        };
    }
}

/// `Ref<Self>` names the struct itself.
fn self_to(path: &syn::Path, ident: &syn::Ident) -> syn::Path {
    if path.is_ident("Self") {
        syn::Path::from(ident.clone())
    } else {
        path.clone()
    }
}

/// The spec a derive can check on its own: the struct's entity, with each entity it
/// references standing in by name (their tables are the compiler's to look up) and each
/// enum type's values standing in by the default it names (the compiler checks that one).
fn entity_alone(item: &StructItem, input: &DeriveInput, spans: &mut TokenSpans) -> SchemaDraft {
    let at = spans.span(input.ident.span());
    let mut entity = item.entity.clone();
    let mut others: Vec<EntityDraft> = Vec::new();
    for (index, written) in &item.linked {
        let Some(field) = entity.fields.get_mut(*index) else {
            continue;
        };
        match written {
            Written::Reference(path) => {
                let name = types::last_segment(path);
                if name == "Self" || name == entity.name.value {
                    field.ty.value = entity.name.value.clone();
                } else {
                    // Named for its place, not for the type: whether the type is an entity
                    // at all is the compiler's to say.
                    let stand_in_name = format!("StandIn{}", others.len());
                    field.ty.value = stand_in_name.clone();
                    others.push(stand_in(&stand_in_name, at));
                }
            }
            Written::Named(_) => {
                let value = match field.default.as_ref().map(|d| &d.value) {
                    Some(Literal::Str(value)) => value.clone(),
                    _ => "value".to_owned(),
                };
                field.values = Some(Spanned::new(vec![Spanned::new(value, at)], at));
            }
            Written::Spec(_) => {}
        }
    }
    let mut entities = vec![entity];
    entities.extend(others);
    SchemaDraft {
        format: Some(Spanned::new(FORMAT_VERSION, at)),
        app: Some(Spanned::new("derive".to_owned(), at)),
        entities,
        entities_span: Some(at),
        root: at,
        migrate_drop: Vec::new(),
        migrate_retype: Vec::new(),
        oldest_client_step: None,
    }
}

/// An entity known only by name.
fn stand_in(name: &str, at: Span) -> EntityDraft {
    EntityDraft {
        name: Spanned::new(name.to_owned(), at),
        table: None,
        conflict: None,
        conflict_by: None,
        conflict_clock: None,
        owner: None,
        doc: None,
        fields: vec![FieldDraft {
            name: Spanned::new("standIn".to_owned(), at),
            ty: Spanned::new("text".to_owned(), at),
            nullable: None,
            default: None,
            values: None,
            to: None,
            unique: None,
            doc: None,
            renamed_from: None,
            span: at,
        }],
        fields_span: Some(at),
        fields_written: 1,
        indexes: Vec::new(),
        uniques: Vec::new(),
        renamed_from: None,
    }
}

/// `#[derive(SyncEnum)]`.
pub fn sync_enum(input: TokenStream) -> TokenStream {
    let input = match parse(input) {
        Ok(input) => input,
        Err(errors) => return errors,
    };
    let ident = &input.ident;
    let (impl_generics, type_generics, where_clause) = input.generics.split_for_impl();
    let mut spans = TokenSpans::new();
    let mut diags = Diagnostics::new();
    let values = items::lower_enum(&input, &mut spans, &mut diags).map(|item| {
        // The values are checked as an enum field's: one entity holding one such field.
        let at = item.name.span;
        let mut holder = stand_in("SyncEnumValues", at);
        holder.fields[0].ty = Spanned::new("enum".to_owned(), at);
        holder.fields[0].values = Some(item.values.clone());
        let draft = SchemaDraft {
            format: Some(Spanned::new(FORMAT_VERSION, at)),
            app: Some(Spanned::new("derive".to_owned(), at)),
            entities: vec![holder],
            entities_span: Some(at),
            root: at,
            ..SchemaDraft::default()
        };
        crate::validate::validate(&draft, &mut diags);
        item.values
            .value
            .into_iter()
            .map(|v| v.value)
            .collect::<Vec<_>>()
    });
    let errors = compile_errors(&spans, diags.into_sorted());
    let values = values.filter(|_| errors.is_empty()).unwrap_or_default();
    quote! {
        #errors
        const _: () = {
            impl #impl_generics offgen_runtime::SyncEnum for #ident #type_generics #where_clause {
                const VALUES: &'static [&'static str] = &[#(#values),*];
            }
        };
    }
}

/// `#[derive(SyncApp)]`: the app of the build output in the crate's `build` folder, its
/// entities the structs it lists, each held to the build output.
pub fn sync_app(input: TokenStream) -> TokenStream {
    let input = match parse(input) {
        Ok(input) => input,
        Err(errors) => return errors,
    };
    let ident = &input.ident;
    let mut spans = TokenSpans::new();
    let mut diags = Diagnostics::new();
    let app = items::lower_app(&input, &mut spans, &mut diags);
    let app = app.filter(|_| !diags.has_errors());
    let plan = app.as_ref().and_then(|app| {
        let folder = app
            .build
            .as_ref()
            .map_or_else(|| "generated".to_owned(), |b| b.value.clone());
        let at = app.build.as_ref().map_or(app.entities_span, |b| b.span);
        let root = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from)?;
        let dir = root.join(&folder);
        match app_def::plan_of_dir(&dir) {
            Ok(plan) => check_plan(app, &plan, &folder, &mut diags).then_some((plan, dir, folder)),
            Err(problem) => {
                diags.push(
                    Diagnostic::error(format!(
                        "cannot read the app's build output in `{folder}`: {}",
                        problem.message
                    ))
                    .at(at, "the build output")
                    .help("run `offgen build --rust src` in the crate, and commit what it writes"),
                );
                None
            }
        }
    });
    let (Some(app), Some((plan, dir, folder))) = (app, plan) else {
        let errors = compile_errors(&spans, diags.into_sorted());
        return quote! {
            #errors
            const _: () = {
                impl offgen_runtime::SyncApp for #ident {
                    const APP: &'static offgen_runtime::model::AppDef = {
                        static UNBUILT: offgen_runtime::model::AppDef = offgen_runtime::model::AppDef {
                            name: "",
                            entities: &[],
                            migrations: offgen_runtime::model::Dialects { sqlite: &[], postgres: &[] },
                            pull: offgen_runtime::model::Dialects { sqlite: "", postgres: "" },
                            push: offgen_runtime::model::Dialects {
                                sqlite: offgen_runtime::model::PushSql { read: "", write: "" },
                                postgres: offgen_runtime::model::PushSql { read: "", write: "" },
                            },
                            step: 0,
                            shapes: &[],
                        };
                        &UNBUILT
                    };
                    const OPENAPI: &'static str = "";
                }
            };
        };
    };
    let in_dir = |path: &str| path_literal(&dir.join(path));
    let types: Vec<TokenStream> = app
        .entities
        .iter()
        .map(|(path, _)| path.to_token_stream())
        .collect();
    let entities: Vec<TokenStream> = types
        .iter()
        .map(|ty| quote!(<#ty as offgen_runtime::Syncable>::ENTITY))
        .collect();
    let built: Vec<TokenStream> = plan
        .entities
        .iter()
        .map(|e| entity_static(e, &|_, k| kind(k)))
        .collect();
    let checks = plan.entities.iter().zip(&app.entities).map(|(e, (path, name))| {
        let built = format_ident!("{}", e.static_name);
        let message = format!(
            "`{}` is not what the build output in `{folder}` describes: run `offgen build --rust src` and commit the new migration step",
            name.value
        );
        let span = path.span();
        quote_spanned! {span=>
            const _: () = assert!(
                offgen_runtime::derive::same_entity(<#path as offgen_runtime::Syncable>::ENTITY, &#built),
                #message
            );
        }
    });
    let app_def = app_def_expr(&plan, &entities, &|path| in_dir(path));
    let openapi = in_dir("openapi.json");
    let snapshot = in_dir("client/schema.json");
    let imports = model_imports();
    quote! {
        const _: () = {
            #imports
            // Read so that a new build output recompiles the app.
            const _: &str = include_str!(#snapshot);
            #(#built)*
            #(#checks)*
            static APP: AppDef = #app_def;
            impl offgen_runtime::SyncApp for #ident {
                const APP: &'static AppDef = &APP;
                const OPENAPI: &'static str = include_str!(#openapi);
            }
        };
    }
}

fn path_literal(path: &Path) -> TokenStream {
    let text = path.display().to_string();
    quote!(#text)
}

/// The build output describes the app the descriptor names, with the entities it lists.
fn check_plan(app: &items::AppItem, plan: &AppPlan, folder: &str, diags: &mut Diagnostics) -> bool {
    let listed: Vec<&str> = app.entities.iter().map(|(_, n)| n.value.as_str()).collect();
    let built: Vec<&str> = plan.entities.iter().map(|e| e.type_name.as_str()).collect();
    let mut ok = true;
    if let Some(name) = &app.app
        && name.value != plan.name
    {
        diags.push(
            Diagnostic::error(format!(
                "the build output in `{folder}` is app `{}`, not `{}`",
                plan.name, name.value
            ))
            .at(name.span, "this app")
            .help("run `offgen build --rust src` in the crate, and commit what it writes"),
        );
        ok = false;
    }
    if listed != built {
        diags.push(
            Diagnostic::error(format!(
                "the build output in `{folder}` has entities {}; the app lists {}",
                built.join(", "),
                listed.join(", ")
            ))
            .at(app.entities_span, "these entities")
            .help("run `offgen build --rust src` in the crate, and commit what it writes"),
        );
        ok = false;
    }
    ok
}
