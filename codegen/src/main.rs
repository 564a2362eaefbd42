//! The `offgen` command.

fn main() -> std::process::ExitCode {
    offgen_codegen::cli::main()
}
