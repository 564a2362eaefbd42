#!/usr/bin/env bash
# Builds every example's generated output next to its spec (examples/*/offgen.yaml). On an
# unchanged checkout every file is reported unchanged; CI holds the checked-in output to this
# with `offgen build --check` (codegen/tests/cli.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
for spec in examples/*/offgen.yaml; do
  cargo run -q --bin offgen -- build "$spec" --out "$(dirname "$spec")"
done
