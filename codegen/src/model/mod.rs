//! The IR and the names it carries.
//!
//! `draft` is what front-ends produce, `schema` is the validated IR back-ends read, `names`
//! holds every spelling of a name, `links` the links between IR items, `vocabulary` the words
//! each target language reserves.

pub mod draft;
pub mod links;
pub mod names;
pub mod schema;
pub mod vocabulary;

pub use links::Link;
pub use names::Name;
pub use schema::{
    ConflictPolicy, DefaultValue, Entity, Field, FieldType, Index, LwwClock, MigrateHints, Schema,
};
