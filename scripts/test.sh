#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what the tests need, runs every check CI
# runs (format, lints, tests), and cleans up after itself, also when something fails.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# shellcheck source=lib/packages.sh
. scripts/lib/packages.sh
# The device SQL is also run by Debian's sqlite3 command line, an independent consumer.
need_command sqlite3 sqlite3
install_needed_packages

echo "== format"
cargo fmt --all --check

echo "== lints"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== tests"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --locked --no-fail-fast
    # nextest does not run doc tests.
    cargo test --workspace --locked --doc
else
    cargo test --workspace --locked --no-fail-fast
fi
