//! Ranger phones for end-to-end tests (the test kit's fleet, on the example).

use offgen_runtime::client::ClientSchema;
pub use offgen_testkit::fleet::*;

use super::{Backend, RANGER};

/// The example's device schema, as `offgen build` wrote it.
pub fn schema() -> ClientSchema {
    RANGER.client_schema()
}

/// A fresh server of the example on `backend`.
pub fn start(backend: Backend) -> Env {
    Env::start(backend, &RANGER)
}

/// Defines one end-to-end test for each backend, given a function of a started [`Env`].
#[macro_export]
macro_rules! e2e {
    ($name:ident, $body:expr) => {
        offgen_testkit::e2e!($crate::support::RANGER, $name, $body);
    };
}
