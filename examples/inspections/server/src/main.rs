//! The inspections sync server. `offgen build` wrote this file once; it is yours to change.
//! Every setting comes from the environment (docs/operations.md lists them).

fn main() -> std::process::ExitCode {
    offgen_runtime::server::serve::main(&inspections_server::APP, inspections_server::OPENAPI)
}
