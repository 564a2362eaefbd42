//! Run-time support shared by everything offgen generates.
//!
//! - [`attachments`]: attachment references and where their bytes live.
//! - [`protocol`]: the wire types of `/sync/push` and `/sync/pull`.
//! - [`bookkeeping`]: the columns offgen adds to every entity table.
//! - [`derive`]: what offgen-macros' derives build on: [`Ref`], [`SyncEnum`], [`SyncApp`].
//! - [`model`]: the static description of an app that generated code hands to the runtime.
//! - [`values`]: checking wire values against their fields.
//! - [`limits`]: the limits the server enforces (and the OpenAPI document states).
//! - [`problems`]: the problem types the server answers with.
//! - [`etag`]: entity tags and `If-Match` / `If-None-Match` (RFC 9110).
//! - [`reals`]: doubles as JSON numbers, exactly (SQLite's own conversions are not).
//! - [`scripts`]: the device SQL files `offgen build` writes (migration steps, `sync.sql`), read back.
//! - [`server`] (feature `server`): the axum + sqlx engine behind generated servers.
//! - [`client`] (feature `client`): the reference sync client over rusqlite.
#![deny(missing_docs)]

pub mod attachments;
pub mod bookkeeping;
pub mod derive;
pub mod etag;
pub mod limits;
pub mod model;
pub mod problems;
pub mod protocol;
pub mod reals;
pub mod scripts;
pub mod support_tables;
pub mod values;

/// Re-exported for generated code, so an app's crate needs no serde dependency of its own.
pub use serde;
/// Re-exported for generated code.
pub use serde_json;

/// A type that stores an entity: its description for the runtime. `offgen build` implements
/// it for the typed rows it generates (which also (de)serialize in the flat REST form: `id`,
/// the fields by wire key, `version`, `updatedAt`, `deletedAt`); `#[derive(Syncable)]`
/// (offgen-macros) for a struct of your own.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an offgen entity",
    label = "not a struct deriving `Syncable`",
    note = "a reference (`Ref<T>`) and an app's `entities(...)` name structs that derive `Syncable`"
)]
pub trait Syncable {
    /// The entity the type stores.
    const ENTITY: &'static model::EntityDef;
}

pub use derive::{Ref, SyncApp, SyncEnum};

#[cfg(feature = "server")]
pub mod server;

#[cfg(feature = "client")]
pub mod client;
