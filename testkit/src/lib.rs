//! The end-to-end test kit of apps built with offgen.
//!
//! Every example (and any team's app) tests the same way: its generated server on a real
//! port over a fresh database (a SQLite file, or a new database on the PostgreSQL server
//! named by `OFFGEN_TEST_DATABASE_URL`, which `scripts/test.sh` starts), and phones (device
//! databases built by the app's generated migrations, synced by the reference client over
//! HTTP on loopback) whose transport loses, cuts or refuses requests on cue.
//!
//! - [`Example`]: what an app is to its tests (the generated `APP` and OpenAPI document, the
//!   build's `client/` folder, the users and their tokens, the rows every test starts with).
//! - [`server`]: [`Server`], the app's server on a port, with raw push and pull helpers.
//! - [`fleet`]: [`Env`] (a server on its own runtime, for blocking clients), [`Phone`],
//!   [`FaultyHttp`] and [`assert_converged`].
//! - [`builds`]: builds of a spec made in memory, each on the one before, served without
//!   compiling a crate (older and newer app versions in one fleet).

pub mod builds;
pub mod fleet;
pub mod server;

use std::path::Path;

use offgen_runtime::client::ClientSchema;
use offgen_runtime::model::AppDef;
use serde_json::Value;

pub use fleet::{Env, Fault, FaultyHttp, Phone, Sent, Settle, UploadFault, assert_converged};
/// The HTTP client of [`Server::request`], for tests that call an endpoint themselves.
pub use reqwest;
pub use server::{Backend, Server, delete, insert, mutation_id, update, uuid};

/// An app as its tests see it.
#[derive(Clone, Copy)]
pub struct Example {
    /// The app the server serves: the generated crate's `APP`, or one made from a build.
    pub app: &'static AppDef,
    /// The OpenAPI document the server serves at `/openapi.json`.
    pub openapi: &'static str,
    /// The build's `client/` folder (migrations and `sync.sql`): what new phones run.
    pub client_dir: &'static str,
    /// (user id, bearer token) of each user.
    pub users: &'static [(&'static str, &'static str)],
    /// The users the admin endpoints are open to.
    pub admins: &'static [&'static str],
    /// What every test starts with: (token, mutations) pushed through the server as each
    /// user, in order, every result asserted `accepted`.
    pub seed: fn() -> Vec<(&'static str, Value)>,
}

impl Example {
    /// The same example, its server serving `app` (another build of the app's spec).
    pub fn serving(self, app: &'static AppDef) -> Example {
        Example { app, ..self }
    }

    /// The device schema of the build's `client/` folder.
    pub fn client_schema(&self) -> ClientSchema {
        ClientSchema::from_dir(Path::new(self.client_dir))
            .unwrap_or_else(|e| panic!("{}: {e}", self.client_dir))
    }

    /// The token of a user.
    pub fn token_of(&self, user: &str) -> &'static str {
        self.users
            .iter()
            .find(|(id, _)| *id == user)
            .map(|(_, token)| *token)
            .unwrap_or_else(|| panic!("no user {user}"))
    }

    /// The user of a token.
    pub fn user_of(&self, token: &str) -> &'static str {
        self.users
            .iter()
            .find(|(_, t)| *t == token)
            .map(|(user, _)| *user)
            .unwrap_or_else(|| panic!("no token {token}"))
    }
}

/// Nothing to start with.
pub fn no_seed() -> Vec<(&'static str, Value)> {
    Vec::new()
}

/// Defines one async test for each backend, given a function of a started [`Server`] of
/// `$example`.
#[macro_export]
macro_rules! on_both {
    ($example:expr, $name:ident, $body:expr) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                ($body)($crate::Server::start($crate::Backend::Sqlite, &$example).await).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                ($body)($crate::Server::start($crate::Backend::Postgres, &$example).await).await
            }
        }
    };
}

/// Defines one end-to-end test for each backend, given a function of a started [`Env`] of
/// `$example`.
#[macro_export]
macro_rules! e2e {
    ($example:expr, $name:ident, $body:expr) => {
        mod $name {
            use super::*;

            #[test]
            fn sqlite() {
                ($body)($crate::Env::start($crate::Backend::Sqlite, &$example))
            }

            #[test]
            fn postgres() {
                ($body)($crate::Env::start($crate::Backend::Postgres, &$example))
            }
        }
    };
}
