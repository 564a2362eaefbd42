//! The farm sync server. `offgen build` wrote this file once; it is yours to change.
//! Every setting comes from the environment (docs/operations.md lists them).

fn main() -> std::process::ExitCode {
    offgen_runtime::server::serve::main(&farm_server::APP, farm_server::OPENAPI)
}
