//! Run-time support shared by everything offgen generates.
//!
//! `protocol` holds the wire types of `/sync/push` and `/sync/pull`, exactly as the generated
//! Dart client, the Rust reference client and the generated server exchange them.
#![deny(missing_docs)]

pub mod protocol;
