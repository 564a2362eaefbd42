//! The IR and the names it carries.
//!
//! `draft` is what front-ends produce, `schema` is the validated IR back-ends read, `names`
//! holds every spelling of a name.

pub mod draft;
pub mod names;
pub mod schema;

pub use names::Name;
pub use schema::{
    ConflictPolicy, DefaultValue, Entity, Field, FieldType, Index, MigrateHints, Schema,
};
