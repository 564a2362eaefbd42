//! The generated server crate's Rust: `server/src/lib.rs` (the crate's root),
//! `server/src/app.rs` (the app and its router), `server/src/entities.rs` (each entity's
//! description and SQL, for the runtime) and `server/src/models.rs` (typed rows). Built as syntax trees with `quote!`, printed with
//! `prettyplease`: never assembled from strings, so it is always well-formed Rust.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote};

use offgen_runtime::bookkeeping::{self, DELETED_AT, ID, UPDATED_AT, VERSION};
use offgen_runtime::model::{LwwClock, Policy};

use crate::backend::server::app_def::{AppPlan, EntityPlan, KindPlan, MigrationPlan};
use crate::model::{Entity, FieldType, Schema};
use crate::output::{FileSet, GENERATED_MARKER};

/// A Rust identifier the IR spelled (raw where it starts with `r#`).
fn rust_ident(spelling: &str) -> Ident {
    match spelling.strip_prefix("r#") {
        Some(raw) => Ident::new_raw(raw, Span::call_site()),
        None => Ident::new(spelling, Span::call_site()),
    }
}

fn static_ident(entity: &Entity) -> Ident {
    format_ident!("{}", crate::backend::server::app_def::static_name(entity))
}

fn print(file: TokenStream) -> String {
    let tree: syn::File = syn::parse2(file).expect("generated Rust is built from syntax trees");
    prettyplease::unparse(&tree)
}

/// Adds the crate's source files: `plan` printed as statics, and the typed rows of `schema`.
pub fn generate(schema: &Schema, plan: &AppPlan, files: &mut FileSet) {
    files.insert("server/src/lib.rs", print(lib(schema)));
    files.insert("server/src/app.rs", print(app(plan)));
    files.insert("server/src/entities.rs", print(entities(plan)));
    files.insert("server/src/models.rs", print(models(schema)));
}

/// The crate's root. rustfmt formats differently from prettyplease, and a workspace's
/// `cargo fmt --all` would rewrite generated files (then `offgen build --check` calls them
/// stale): the root is kept to what both print alike, and every module is marked skipped.
fn lib(schema: &Schema) -> TokenStream {
    let header = format!(" {GENERATED_MARKER}. Do not edit.");
    let about = format!(
        " The {} sync server: the app's entities for the offgen runtime, and [`router`].",
        schema.app.spec
    );
    quote! {
        #![doc = #header]
        #![doc = ""]
        #![doc = #about]

        #[rustfmt::skip]
        mod app;
        #[rustfmt::skip]
        pub mod entities;
        #[rustfmt::skip]
        pub mod models;

        pub use app::{APP, OPENAPI, router};
        pub use offgen_runtime;
    }
}

fn app(plan: &AppPlan) -> TokenStream {
    let header = format!(" {GENERATED_MARKER}. Do not edit.");
    let statics: Vec<TokenStream> = plan
        .entities
        .iter()
        .map(|e| {
            let ident = format_ident!("{}", e.static_name);
            quote!(&entities::#ident)
        })
        .collect();
    let shape_types = (!plan.shapes.is_empty()).then(|| quote!(EntityShape, FieldShape, Kind,));
    let app_def = app_def(plan, &statics, &|path| {
        let path = format!("../{}", path.trim_start_matches("server/"));
        quote!(#path)
    });
    quote! {
        #![doc = #header]
        #![doc = ""]
        #![doc = " The app's definition for the offgen runtime, and its routes."]

        use crate::entities;
        use offgen_runtime::model::{AppDef, Dialects, #shape_types Migration, PushSql};
        use offgen_runtime::server::axum::Router;
        use offgen_runtime::server::{Authenticate, Database};

        /// The app, as the runtime sees it.
        pub static APP: AppDef = #app_def;

        /// The OpenAPI 3.1 description served at `/openapi.json`.
        pub const OPENAPI: &str = include_str!("../../openapi.json");

        /// Every route of the app: `/sync/push`, `/sync/pull`, `/v1/<table>...`, `/healthz`,
        /// `/openapi.json`. Run [`Database::migrate`] with [`APP`] before serving.
        pub fn router(db: Database, auth: impl Authenticate) -> Router {
            offgen_runtime::server::router(&APP, db, auth, OPENAPI)
        }
    }
}

/// The `AppDef { ... }` expression of `plan` (naming `AppDef`, `Dialects`, `Migration`,
/// `EntityShape`, `FieldShape` and `Kind` unqualified), with `entities` for its entity list
/// and `include` for the path a migration step's `include_str!` reads (given the step's path
/// in the build output).
pub fn app_def(
    plan: &AppPlan,
    entities: &[TokenStream],
    include: &dyn Fn(&str) -> TokenStream,
) -> TokenStream {
    let name = &plan.name;
    let migrations = |steps: &[MigrationPlan]| {
        let items = steps.iter().map(|step| {
            let number = step.number;
            let name = &step.name;
            let path = include(&step.path);
            quote! { Migration { number: #number, name: #name, sql: include_str!(#path) } }
        });
        quote! { &[#(#items),*] }
    };
    let sqlite_steps = migrations(&plan.migrations.sqlite);
    let postgres_steps = migrations(&plan.migrations.postgres);
    let pull_sqlite = &plan.pull.sqlite;
    let pull_postgres = &plan.pull.postgres;
    let push = |p: &crate::backend::server::app_def::PushPlan| {
        let (read, write) = (&p.read, &p.write);
        quote! { PushSql { read: #read, write: #write } }
    };
    let push_sqlite = push(&plan.push.sqlite);
    let push_postgres = push(&plan.push.postgres);
    let step = proc_macro2::Literal::u32_unsuffixed(plan.step);
    let shapes = plan.shapes.iter().map(|shape| {
        let step = proc_macro2::Literal::u32_unsuffixed(shape.step);
        let entities = shape.entities.iter().map(|e| {
            let table = &e.table;
            let now = option(e.now.as_deref());
            let fields = e.fields.iter().map(|f| {
                let key = &f.key;
                let now = option(f.now.as_deref());
                let kind = kind(&f.kind);
                let optional = f.optional;
                quote! { FieldShape { key: #key, now: #now, kind: #kind, optional: #optional } }
            });
            quote! { EntityShape { table: #table, now: #now, fields: &[#(#fields),*] } }
        });
        quote! { offgen_runtime::model::Shape { step: #step, entities: &[#(#entities),*] } }
    });
    quote! {
        AppDef {
            name: #name,
            entities: &[#(#entities),*],
            migrations: Dialects { sqlite: #sqlite_steps, postgres: #postgres_steps },
            pull: Dialects { sqlite: #pull_sqlite, postgres: #pull_postgres },
            push: Dialects { sqlite: #push_sqlite, postgres: #push_postgres },
            step: #step,
            shapes: &[#(#shapes),*],
        }
    }
}

fn option(text: Option<&str>) -> TokenStream {
    match text {
        Some(text) => quote!(Some(#text)),
        None => quote!(None),
    }
}

/// A field's kind as the runtime's `Kind` (named unqualified).
pub fn kind(kind: &KindPlan) -> TokenStream {
    match kind {
        KindPlan::Text => quote!(Kind::Text),
        KindPlan::Int => quote!(Kind::Int),
        KindPlan::Real => quote!(Kind::Real),
        KindPlan::Bool => quote!(Kind::Bool),
        KindPlan::DateTime => quote!(Kind::DateTime),
        KindPlan::Date => quote!(Kind::Date),
        KindPlan::Uuid => quote!(Kind::Uuid),
        KindPlan::Json => quote!(Kind::Json),
        KindPlan::Blob => quote!(Kind::Blob),
        KindPlan::Attachment => quote!(Kind::Attachment),
        KindPlan::Enum(values) => quote!(Kind::Enum(&[#(#values),*])),
        KindPlan::Reference(table) => quote!(Kind::Reference(#table)),
    }
}

fn entities(plan: &AppPlan) -> TokenStream {
    let header = format!(" {GENERATED_MARKER}. Do not edit.");
    let items = plan
        .entities
        .iter()
        .map(|e| entity_static(e, &|_, k| kind(k)));
    // Imported only when used: the generated crate builds without warnings.
    let clock = plan
        .entities
        .iter()
        .any(|e| e.policy.is_lww())
        .then(|| quote!(LwwClock,));
    quote! {
        #![doc = #header]
        #![doc = ""]
        #![doc = " Each entity's fields, conflict policy and SQL (both dialects), for the runtime."]

        use offgen_runtime::model::{Dialects, EntityDef, EntitySql, FieldDef, Kind, #clock Policy};

        #(#items)*
    }
}

/// An entity's `pub static` (naming `EntityDef`, `FieldDef`, `Kind`, `Policy`, `LwwClock`,
/// `Dialects` and `EntitySql` unqualified), with `kinds` printing each field's kind (given
/// its index): a derive names another item's table or values where the generator writes them.
pub fn entity_static(
    entity: &EntityPlan,
    kinds: &dyn Fn(usize, &KindPlan) -> TokenStream,
) -> TokenStream {
    let ident = format_ident!("{}", entity.static_name);
    let table = &entity.table;
    let type_name = &entity.type_name;
    let doc = &entity.doc;
    let fields = entity.fields.iter().enumerate().map(|(i, f)| {
        let key = &f.key;
        let column = &f.column;
        let nullable = f.nullable;
        let kind = kinds(i, &f.kind);
        let default = option(f.default.as_deref());
        quote! { FieldDef { key: #key, column: #column, kind: #kind, nullable: #nullable, default: #default } }
    });
    let policy = match entity.policy {
        Policy::Version => quote!(Policy::Version),
        Policy::Lww(LwwClock::Device) => quote!(Policy::Lww(LwwClock::Device)),
        Policy::Lww(LwwClock::Received) => quote!(Policy::Lww(LwwClock::Received)),
        Policy::ServerWins => quote!(Policy::ServerWins),
        Policy::AppendOnly => quote!(Policy::AppendOnly),
    };
    let owner = match entity.owner {
        Some(index) => quote!(Some(#index)),
        None => quote!(None),
    };
    let sql = |s: &crate::backend::server::app_def::SqlPlan| {
        let (load, insert, update, list) = (&s.load, &s.insert, &s.update, &s.list);
        quote! { EntitySql { load: #load, insert: #insert, update: #update, list: #list } }
    };
    let sqlite = sql(&entity.sql.sqlite);
    let postgres = sql(&entity.sql.postgres);
    quote! {
        #[doc = #doc]
        pub static #ident: EntityDef = EntityDef {
            table: #table,
            type_name: #type_name,
            fields: &[#(#fields),*],
            policy: #policy,
            owner: #owner,
            sql: Dialects { sqlite: #sqlite, postgres: #postgres },
        };
    }
}

fn models(schema: &Schema) -> TokenStream {
    let header = format!(" {GENERATED_MARKER}. Do not edit.");
    let items = schema.entities.iter().map(model);
    quote! {
        #![doc = #header]
        #![doc = ""]
        #![doc = " Typed rows, in the flat form of the `/v1` endpoints."]
        #![doc = ""]
        #![doc = " Paths are written out in full: an entity may be called `Serialize`."]

        #(#items)*
    }
}

fn model(entity: &Entity) -> TokenStream {
    let name = format_ident!("{}", entity.name.pascal);
    let statics = static_ident(entity);
    let doc = format!(" A `{}` row.", entity.name.spec);
    let mut enums = Vec::new();
    let fields = entity.fields.iter().map(|f| {
        let ident = rust_ident(&f.name.rust_field());
        let key = f.name.json();
        let base = match &f.ty {
            FieldType::Int | FieldType::DateTime => quote!(i64),
            FieldType::Real => quote!(f64),
            FieldType::Bool => quote!(bool),
            FieldType::Json => quote!(offgen_runtime::serde_json::Value),
            FieldType::Attachment => quote!(offgen_runtime::attachments::AttachmentRef),
            FieldType::Enum { dart_type, values } => {
                let enum_name = format_ident!("{}", dart_type);
                let variants = values.iter().map(|v| {
                    let variant = rust_ident(&v.rust_variant());
                    let text = &v.spec;
                    quote! { #[serde(rename = #text)] #variant }
                });
                let enum_doc = format!(" Values of `{}.{}`.", entity.name.spec, f.name.spec);
                enums.push(quote! {
                    #[doc = #enum_doc]
                    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, offgen_runtime::serde::Serialize, offgen_runtime::serde::Deserialize)]
                    #[serde(crate = "offgen_runtime::serde")]
                    pub enum #enum_name { #(#variants),* }
                });
                quote!(#enum_name)
            }
            _ => quote!(String),
        };
        let ty = if f.nullable {
            quote!(Option<#base>)
        } else {
            base
        };
        let doc = f.doc.as_ref().map(|d| {
            let d = format!(" {d}");
            quote!(#[doc = #d])
        });
        quote! { #doc #[serde(rename = #key)] pub #ident: #ty }
    });
    let fields: Vec<TokenStream> = fields.collect();
    let id = bookkeeping_field(
        ID,
        quote!(String),
        " The row's id (a lowercase UUID made by the device).",
    );
    let version = bookkeeping_field(VERSION, quote!(i64), " The server's version of the row.");
    let updated_at = bookkeeping_field(
        UPDATED_AT,
        quote!(i64),
        " Epoch milliseconds of the last change.",
    );
    let deleted_at = bookkeeping_field(
        DELETED_AT,
        quote!(Option<i64>),
        " Epoch milliseconds of the delete, for a tombstone.",
    );
    quote! {
        #(#enums)*

        #[doc = #doc]
        #[derive(Debug, Clone, PartialEq, offgen_runtime::serde::Serialize, offgen_runtime::serde::Deserialize)]
        #[serde(crate = "offgen_runtime::serde")]
        pub struct #name {
            #id
            #(#fields,)*
            #version
            #updated_at
            #deleted_at
        }

        impl offgen_runtime::Syncable for #name {
            const ENTITY: &'static offgen_runtime::model::EntityDef = &crate::entities::#statics;
        }
    }
}

/// A bookkeeping column as a field of the row struct, renamed to its wire key where the two
/// differ.
fn bookkeeping_field(column: bookkeeping::Column, ty: TokenStream, doc: &str) -> TokenStream {
    let ident = rust_ident(column.sql);
    let key = column.key;
    let rename = (key != column.sql).then(|| quote!(#[serde(rename = #key)]));
    quote! { #[doc = #doc] #rename pub #ident: #ty, }
}
