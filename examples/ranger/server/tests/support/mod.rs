//! The ranger example to the test kit (offgen-testkit): its server, users and tokens, and the
//! rangers every test starts with. Every test runs on SQLite and on PostgreSQL.
#![allow(dead_code, unused_imports)]

pub mod fleet;

pub use offgen_testkit::{Backend, Example, Server, delete, insert, mutation_id, update, uuid};
use ranger_server::{APP, OPENAPI};
use serde_json::{Value, json};

/// Ranger ids, which are also the user ids the tokens map to (observations are owner-scoped by
/// their ranger).
pub const ANA: &str = "00000000-0000-4000-8000-00000000a0a0";
pub const BEN: &str = "00000000-0000-4000-8000-00000000b0b0";
pub const ANA_TOKEN: &str = "ana-token";
/// A station admin (`OFFGEN_ADMINS`): the admin endpoints are open to them.
pub const ADMIN: &str = "station-admin";
pub const ADMIN_TOKEN: &str = "admin-token";
pub const BEN_TOKEN: &str = "ben-token";

/// The example: its generated app, Ana's and Ben's rangers and tokens, and an admin.
pub static RANGER: Example = Example {
    app: &APP,
    openapi: OPENAPI,
    client_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/../client"),
    users: &[(ANA, ANA_TOKEN), (BEN, BEN_TOKEN), (ADMIN, ADMIN_TOKEN)],
    admins: &[ADMIN],
    seed: rangers,
};

/// The same app served by examples/ranger-rs: its entities are Rust structs deriving
/// Syncable, its build output made by `offgen build --rust` from them.
pub static RANGER_RS: Example = Example {
    app: <ranger_rs::App as offgen_runtime::SyncApp>::APP,
    openapi: <ranger_rs::App as offgen_runtime::SyncApp>::OPENAPI,
    client_dir: concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../ranger-rs/generated/client"
    ),
    ..RANGER
};

/// Each ranger's own row, pushed by them.
fn rangers() -> Vec<(&'static str, Value)> {
    [(ANA, "Ana", ANA_TOKEN), (BEN, "Ben", BEN_TOKEN)]
        .into_iter()
        .map(|(id, name, token)| {
            let ranger = json!({"name": name, "badgeNumber": format!("B-{name}")});
            (token, json!([insert("rangers", id, ranger)]))
        })
        .collect()
}

/// A server of the example on a fresh, migrated database, with Ana's and Ben's rangers.
pub async fn start(backend: Backend) -> Server {
    Server::start(backend, &RANGER).await
}

/// The data of a new observation by `ranger`.
pub fn observation(ranger: &str, modified_at: i64) -> Value {
    json!({"ranger": ranger, "kind": "wildlife", "latitude": -1.25, "longitude": 36.75,
           "recordedAt": 1_700_000_000_000i64, "modifiedAt": modified_at})
}

/// Defines one test for each backend and each server (`generated` from offgen.yaml,
/// `derived` from examples/ranger-rs), given a function of a started server.
#[macro_export]
macro_rules! on_both_servers {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;

            offgen_testkit::on_both!($crate::support::RANGER, generated, $body);
            offgen_testkit::on_both!($crate::support::RANGER_RS, derived, $body);
        }
    };
}

/// Defines one test for each backend, given a function of a started server.
#[macro_export]
macro_rules! on_both {
    ($name:ident, $body:expr) => {
        offgen_testkit::on_both!($crate::support::RANGER, $name, $body);
    };
}
