#!/usr/bin/env bash
# The long schemathesis run: the example server held to its openapi.json with every check, the
# stateful phase included, on SQLite and PostgreSQL (examples/ranger/server/tests/schemathesis.rs;
# the suite runs the same test with 8 examples per operation, a fixed seed, and no coverage
# phase on PostgreSQL).
#
#   scripts/schemathesis.sh [EXAMPLES] [SEED]
#
# EXAMPLES per operation (default 200); SEED a number to replay a run, or `random` (default).
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=lib/packages.sh
. scripts/lib/packages.sh
# shellcheck source=lib/python.sh
. scripts/lib/python.sh
need_command python3 python3
install_needed_packages
ensure_python_tools

trap './scripts/pg.sh stop; ./scripts/s3.sh stop' EXIT
OFFGEN_TEST_DATABASE_URL="$(./scripts/pg.sh start)"
export OFFGEN_TEST_DATABASE_URL
# Servers on PostgreSQL keep attachment files in a real S3-compatible server (moto) on
# loopback, stopped when this script ends; it takes any credentials.
OFFGEN_TEST_S3_URL="$(./scripts/s3.sh start)"
export OFFGEN_TEST_S3_URL
export AWS_ACCESS_KEY_ID=offgen-test AWS_SECRET_ACCESS_KEY=offgen-test
export OFFGEN_SCHEMATHESIS_EXAMPLES="${1:-200}"
export OFFGEN_SCHEMATHESIS_SEED="${2:-random}"
export OFFGEN_SCHEMATHESIS_PHASES=all
cargo test -p ranger-server --test schemathesis -- --nocapture --test-threads 1
