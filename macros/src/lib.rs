//! offgen's entities written as Rust structs.
//!
//! - `#[derive(Syncable)]` on a struct with named fields: an entity. Its fields are the
//!   entity's fields (`Option<T>` nullable, `Ref<Entity>` a reference, an enum deriving
//!   `SyncEnum` an enum field); `#[syncable(...)]` says what a spec's entity says.
//! - `#[derive(SyncEnum)]` on a fieldless enum: the values of enum fields of its type.
//! - `#[derive(SyncApp)]` on a unit struct: the app, its entities in order, served from the
//!   build output `offgen build --rust` wrote.
//!
//! Each derive is a thin shell: the work is `offgen_codegen::derive`'s, the same front-end,
//! checks and server back-end as `offgen build`. docs/derive.md has the whole reference.

use proc_macro::TokenStream;

/// An entity: implements `offgen_runtime::Syncable` with the descriptor `offgen build`
/// writes for the same entity in a YAML spec.
#[proc_macro_derive(Syncable, attributes(syncable))]
pub fn derive_syncable(input: TokenStream) -> TokenStream {
    offgen_codegen::derive::syncable(input.into()).into()
}

/// The values of enum fields: implements `offgen_runtime::SyncEnum`.
#[proc_macro_derive(SyncEnum, attributes(syncable))]
pub fn derive_sync_enum(input: TokenStream) -> TokenStream {
    offgen_codegen::derive::sync_enum(input.into()).into()
}

/// The app: implements `offgen_runtime::SyncApp` from the build output and the structs it
/// lists, each held to that output at compile time.
#[proc_macro_derive(SyncApp, attributes(syncable))]
pub fn derive_sync_app(input: TokenStream) -> TokenStream {
    offgen_codegen::derive::sync_app(input.into()).into()
}
