#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what the tests need, runs every check CI
# runs (format, lints, tests), and cleans up after itself, also when something fails.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# shellcheck source=lib/packages.sh
. scripts/lib/packages.sh
# shellcheck source=lib/python.sh
. scripts/lib/python.sh
# The device SQL is also run by Debian's sqlite3 command line, an independent consumer.
need_command sqlite3 sqlite3
# ...with the device's real-conversion functions from a C extension the tests build.
need_command cc gcc
need_path /usr/include/sqlite3ext.h libsqlite3-dev
need_command python3 python3
install_needed_packages
# openapi-spec-validator, for the generated openapi.json.
ensure_python_tools

# The server tests run on SQLite and on a real PostgreSQL: a throwaway one on loopback,
# stopped and removed when this script ends, however it ends (and so is the S3 server below).
trap './scripts/pg.sh stop; ./scripts/s3.sh stop' EXIT
OFFGEN_TEST_DATABASE_URL="$(./scripts/pg.sh start)"
export OFFGEN_TEST_DATABASE_URL
# Servers on PostgreSQL keep attachment files in a real S3-compatible server (moto) on
# loopback, stopped when this script ends; it takes any credentials.
OFFGEN_TEST_S3_URL="$(./scripts/s3.sh start)"
export OFFGEN_TEST_S3_URL
export AWS_ACCESS_KEY_ID=offgen-test AWS_SECRET_ACCESS_KEY=offgen-test

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
