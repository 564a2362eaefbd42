//! Front-ends: spec text in, [`SchemaDraft`](crate::model::draft::SchemaDraft) out.
//!
//! Front-ends only describe what the spec says; validation and the IR are shared by all of them.

pub mod rust;
pub mod yaml;
