#!/usr/bin/env bash
# Builds every example's generated output: next to its spec (examples/*/offgen.yaml), or, for an
# example whose entities are Rust structs (a crate using offgen-macros), from its sources into
# the folder its app names. On an unchanged checkout every file is reported unchanged; CI holds
# the checked-in output to this with `offgen build --check` (codegen/tests/cli.rs and
# codegen/tests/rust_sources.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
for spec in examples/*/offgen.yaml; do
  cargo run -q --bin offgen -- build "$spec" --out "$(dirname "$spec")"
done
for manifest in $(grep -l '^offgen-macros' examples/*/Cargo.toml); do
  cargo run -q --bin offgen -- build --rust "$(dirname "$manifest")/src"
done
