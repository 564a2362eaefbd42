#!/usr/bin/env bash
# Every benchmark of docs/BENCHMARKS.md, with a throwaway PostgreSQL for the server's and
# PouchDB (from npm) as the peer of the initial sync. `scripts/bench.sh quick` runs the
# end-to-end ones at a tenth of their size, to try the script.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=lib/packages.sh
. scripts/lib/packages.sh
# shellcheck source=lib/node.sh
. scripts/lib/node.sh
ensure_pouchdb

trap './scripts/pg.sh stop' EXIT
OFFGEN_TEST_DATABASE_URL="$(./scripts/pg.sh start)"
export OFFGEN_TEST_DATABASE_URL

scale=1
if [ "${1:-}" = "quick" ]; then
    scale=10
fi

cargo build --release --locked -p ranger-server -p offgen-bench
bench=target/release/offgen-bench

echo "== initial sync"
"$bench" initial-sync --rows $((100000 / scale))
echo "== a week offline"
"$bench" week-offline
"$bench" week-offline --postgres "$OFFGEN_TEST_DATABASE_URL"
echo "== fleet"
"$bench" fleet --devices $((10000 / scale)) --users $((1000 / scale))
echo "== server: push and pull against raw SQL"
cargo bench --locked -p ranger-server --bench sync
echo "== device: what the sync-queue triggers cost"
cargo bench --locked -p offgen-codegen --bench device_triggers
echo "== server SQLite: exact reals"
cargo bench --locked -p offgen-runtime --features server --bench sqlite_reals
