#!/usr/bin/env bash
# Every benchmark of docs/BENCHMARKS.md, with a throwaway PostgreSQL for the server's.
set -euo pipefail
cd "$(dirname "$0")/.."
trap './scripts/pg.sh stop' EXIT
OFFGEN_TEST_DATABASE_URL="$(./scripts/pg.sh start)"
export OFFGEN_TEST_DATABASE_URL
cargo bench -p offgen-codegen --bench device_triggers
cargo bench -p ranger-server --bench sync
cargo bench -p offgen-runtime --features server --bench sqlite_reals
