# The npm packages a benchmark peer needs (PouchDB), in a folder of their own under target/,
# installed once with npm. Usage: ensure_pouchdb; then $OFFGEN_BENCH_NODE_DIR is set.
# Needs Node.js and npm (Debian's nodejs and npm, installed when missing).

ensure_pouchdb() {
    need_command node nodejs
    need_command npm npm
    install_needed_packages
    export OFFGEN_BENCH_NODE_DIR="${OFFGEN_BENCH_NODE_DIR:-$PWD/target/bench-node}"
    if [ ! -e "$OFFGEN_BENCH_NODE_DIR/node_modules/pouchdb-server" ] ||
        [ ! -e "$OFFGEN_BENCH_NODE_DIR/node_modules/pouchdb-node" ]; then
        echo "== installing pouchdb-server and pouchdb-node into $OFFGEN_BENCH_NODE_DIR"
        mkdir -p "$OFFGEN_BENCH_NODE_DIR"
        # Versions the benchmark was measured with (docs/BENCHMARKS.md).
        npm install --prefix "$OFFGEN_BENCH_NODE_DIR" --no-audit --no-fund --loglevel=error \
            pouchdb-server@4.2.0 pouchdb-node@9.0.0 >&2
    fi
}
