//! The housing sync server. `offgen build` wrote this file once; it is yours to change.
//! Every setting comes from the environment (docs/operations.md lists them).

fn main() -> std::process::ExitCode {
    offgen_runtime::server::serve::main(&housing_server::APP, housing_server::OPENAPI)
}
