//! The server: a Rust crate (axum + sqlx over offgen-runtime) and its migrations, under
//! `server/`, for SQLite and PostgreSQL.

pub mod app_def;
pub mod columns;
pub mod migrate;
pub mod rust;
pub mod sql;

pub use crate::backend::Dialect;
