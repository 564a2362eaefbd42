//! The generated server crate's Rust: `server/src/lib.rs` (the crate's root),
//! `server/src/app.rs` (the app and its router), `server/src/entities.rs` (each entity's
//! description and SQL, for the runtime) and `server/src/models.rs` (typed rows). Built as syntax trees with `quote!`, printed with
//! `prettyplease`: never assembled from strings, so it is always well-formed Rust.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote};

use crate::backend::server::columns::Dialect;
use crate::backend::server::migrate::ServerStep;
use crate::backend::server::sql::{entity_statements, pull_statement};
use crate::model::{ConflictPolicy, DefaultValue, Entity, FieldType, Schema};
use crate::output::{FileSet, GENERATED_MARKER};

/// Rust keywords a field may be named: emitted as raw identifiers (`r#type`).
const RUST_KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "dyn", "else", "enum", "extern", "false",
    "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref",
    "return", "static", "struct", "trait", "true", "type", "unsafe", "use", "where", "while",
    "abstract", "become", "box", "do", "final", "gen", "macro", "override", "priv", "try",
    "typeof", "unsized", "virtual", "yield",
];

fn field_ident(snake: &str) -> Ident {
    if RUST_KEYWORDS.contains(&snake) {
        Ident::new_raw(snake, Span::call_site())
    } else {
        Ident::new(snake, Span::call_site())
    }
}

fn static_ident(entity: &Entity) -> Ident {
    format_ident!("{}", entity.table.snake.to_uppercase())
}

fn print(file: TokenStream) -> String {
    let tree: syn::File = syn::parse2(file).expect("generated Rust is built from syntax trees");
    prettyplease::unparse(&tree)
}

/// Adds the crate's source files.
pub fn generate(schema: &Schema, steps: &[ServerStep], files: &mut FileSet) {
    files.insert("server/src/lib.rs", print(lib(schema)));
    files.insert("server/src/app.rs", print(app(schema, steps)));
    files.insert("server/src/entities.rs", print(entities(schema)));
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

fn app(schema: &Schema, steps: &[ServerStep]) -> TokenStream {
    let header = format!(" {GENERATED_MARKER}. Do not edit.");
    let name = &schema.app.spec;
    let statics: Vec<Ident> = schema.entities.iter().map(static_ident).collect();
    let migrations = |dialect: Dialect| {
        let items = steps.iter().map(|step| {
            let number = step.number;
            let name = step.name();
            let path = format!("../{}", step.path(dialect).trim_start_matches("server/"));
            quote! { Migration { number: #number, name: #name, sql: include_str!(#path) } }
        });
        quote! { &[#(#items),*] }
    };
    let sqlite_steps = migrations(Dialect::Sqlite);
    let postgres_steps = migrations(Dialect::Postgres);
    let pull_sqlite = pull_statement(schema, Dialect::Sqlite);
    let pull_postgres = pull_statement(schema, Dialect::Postgres);
    quote! {
        #![doc = #header]
        #![doc = ""]
        #![doc = " The app's definition for the offgen runtime, and its routes."]

        use crate::entities;
        use offgen_runtime::model::{AppDef, Dialects, Migration};
        use offgen_runtime::server::axum::Router;
        use offgen_runtime::server::{Authenticate, Database};

        /// The app, as the runtime sees it.
        pub static APP: AppDef = AppDef {
            name: #name,
            entities: &[#(&entities::#statics),*],
            migrations: Dialects { sqlite: #sqlite_steps, postgres: #postgres_steps },
            pull: Dialects { sqlite: #pull_sqlite, postgres: #pull_postgres },
        };

        /// The OpenAPI 3.1 description served at `/openapi.json`.
        pub const OPENAPI: &str = include_str!("../../openapi.json");

        /// Every route of the app: `/sync/push`, `/sync/pull`, `/v1/<table>...`, `/healthz`,
        /// `/openapi.json`. Run [`Database::migrate`] with [`APP`] before serving.
        pub fn router(db: Database, auth: impl Authenticate) -> Router {
            offgen_runtime::server::router(&APP, db, auth, OPENAPI)
        }
    }
}

fn entities(schema: &Schema) -> TokenStream {
    let header = format!(" {GENERATED_MARKER}. Do not edit.");
    let items = schema
        .entities
        .iter()
        .map(|entity| entity_static(schema, entity));
    quote! {
        #![doc = #header]
        #![doc = ""]
        #![doc = " Each entity's fields, conflict policy and SQL (both dialects), for the runtime."]

        use offgen_runtime::model::{Dialects, EntityDef, EntitySql, FieldDef, Kind, Policy};

        #(#items)*
    }
}

fn entity_static(schema: &Schema, entity: &Entity) -> TokenStream {
    let ident = static_ident(entity);
    let table = entity.table.sql();
    let type_name = &entity.name.pascal;
    let doc = format!(
        " `{}`: {}",
        entity.name.spec,
        entity.doc.as_deref().unwrap_or("an entity of the app.")
    );
    let fields = entity.fields.iter().map(|f| {
        let key = f.name.json();
        let column = f.name.sql();
        let nullable = f.nullable;
        let kind = match &f.ty {
            FieldType::Text => quote!(Kind::Text),
            FieldType::Int => quote!(Kind::Int),
            FieldType::Real => quote!(Kind::Real),
            FieldType::Bool => quote!(Kind::Bool),
            FieldType::DateTime => quote!(Kind::DateTime),
            FieldType::Date => quote!(Kind::Date),
            FieldType::Uuid => quote!(Kind::Uuid),
            FieldType::Json => quote!(Kind::Json),
            FieldType::Blob => quote!(Kind::Blob),
            FieldType::Enum { values, .. } => {
                let values = values.iter().map(|v| v.spec.as_str());
                quote!(Kind::Enum(&[#(#values),*]))
            }
            FieldType::Reference { entity: target } => {
                let target = schema.entity(target).map_or("", |t| t.table.sql());
                quote!(Kind::Reference(#target))
            }
        };
        let default = match &f.default {
            Some(d) => {
                let json = default_json(d);
                quote!(Some(#json))
            }
            None => quote!(None),
        };
        quote! { FieldDef { key: #key, column: #column, kind: #kind, nullable: #nullable, default: #default } }
    });
    let index_of = |spec: &str| {
        entity
            .fields
            .iter()
            .position(|f| f.name.spec == spec)
            .unwrap_or(0)
    };
    let policy = match &entity.conflict {
        ConflictPolicy::Version => quote!(Policy::Version),
        ConflictPolicy::Lww => quote!(Policy::Lww),
        ConflictPolicy::ServerWins => quote!(Policy::ServerWins),
        ConflictPolicy::AppendOnly => quote!(Policy::AppendOnly),
    };
    let owner = match &entity.owner {
        Some(owner) => {
            let index = index_of(owner);
            quote!(Some(#index))
        }
        None => quote!(None),
    };
    let sql = |dialect: Dialect| {
        let s = entity_statements(entity, dialect);
        let (load, insert, update, existing, list) =
            (s.load, s.insert, s.update, s.existing, s.list);
        quote! { EntitySql { load: #load, insert: #insert, update: #update, existing: #existing, list: #list } }
    };
    let sqlite = sql(Dialect::Sqlite);
    let postgres = sql(Dialect::Postgres);
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

/// A default as JSON text of its wire value.
fn default_json(value: &DefaultValue) -> String {
    let json = match value {
        DefaultValue::Text(s)
        | DefaultValue::Date(s)
        | DefaultValue::Uuid(s)
        | DefaultValue::Enum(s) => serde_json::json!(s),
        DefaultValue::Int(i) | DefaultValue::DateTime(i) => serde_json::json!(i),
        DefaultValue::Real(f) => serde_json::json!(f),
        DefaultValue::Bool(b) => serde_json::json!(b),
        DefaultValue::Json(text) => serde_json::from_str(text).unwrap_or(serde_json::Value::Null),
    };
    json.to_string()
}

fn models(schema: &Schema) -> TokenStream {
    let header = format!(" {GENERATED_MARKER}. Do not edit.");
    let items = schema.entities.iter().map(model);
    quote! {
        #![doc = #header]
        #![doc = ""]
        #![doc = " Typed rows, in the flat form of the `/v1` endpoints."]

        use offgen_runtime::serde::{Deserialize, Serialize};
        use offgen_runtime::Syncable;

        #(#items)*
    }
}

fn model(entity: &Entity) -> TokenStream {
    let name = format_ident!("{}", entity.name.pascal);
    let statics = static_ident(entity);
    let doc = format!(" A `{}` row.", entity.name.spec);
    let mut enums = Vec::new();
    let fields = entity.fields.iter().map(|f| {
        let ident = field_ident(&f.name.snake);
        let key = f.name.json();
        let base = match &f.ty {
            FieldType::Int | FieldType::DateTime => quote!(i64),
            FieldType::Real => quote!(f64),
            FieldType::Bool => quote!(bool),
            FieldType::Json => quote!(offgen_runtime::serde_json::Value),
            FieldType::Enum { dart_type, values } => {
                let enum_name = format_ident!("{}", dart_type);
                let variants = values.iter().map(|v| {
                    let variant = format_ident!("{}", v.pascal);
                    let text = &v.spec;
                    quote! { #[serde(rename = #text)] #variant }
                });
                let enum_doc = format!(" Values of `{}.{}`.", entity.name.spec, f.name.spec);
                enums.push(quote! {
                    #[doc = #enum_doc]
                    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
    quote! {
        #(#enums)*

        #[doc = #doc]
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(crate = "offgen_runtime::serde")]
        pub struct #name {
            /// The row's id (a lowercase UUID made by the device).
            pub id: String,
            #(#fields,)*
            /// The server's version of the row.
            pub version: i64,
            /// Epoch milliseconds of the last change.
            #[serde(rename = "updatedAt")]
            pub updated_at: i64,
            /// Epoch milliseconds of the delete, for a tombstone.
            #[serde(rename = "deletedAt")]
            pub deleted_at: Option<i64>,
        }

        impl Syncable for #name {
            const ENTITY: &'static offgen_runtime::model::EntityDef = &crate::entities::#statics;
        }
    }
}
