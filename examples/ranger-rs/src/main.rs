//! The ranger sync server, from the derived structs: the same settings as `ranger-server`
//! (docs/operations.md lists them).

use offgen_runtime::SyncApp;
use ranger_rs::App;

fn main() -> std::process::ExitCode {
    offgen_runtime::server::serve::main(App::APP, App::OPENAPI)
}
