#!/usr/bin/env bash
# A throwaway S3-compatible server on loopback, for the attachment tests: moto's server mode
# (PyPI `moto[server]`, pinned in scripts/lib/python.sh), in memory, with one bucket.
#
#   scripts/s3.sh start   installs moto into target/py if missing, starts it, makes the bucket
#                         `offgen-test`, and prints the attachment store URL for it
#                         (OFFGEN_ATTACHMENT_STORE's form; the tests read OFFGEN_TEST_S3_URL)
#   scripts/s3.sh stop    stops it (everything it held is gone)
#
# Port: OFFGEN_S3_PORT (default 54330). It takes any credentials: set AWS_ACCESS_KEY_ID and
# AWS_SECRET_ACCESS_KEY to anything (scripts/test.sh does).
set -euo pipefail
cd "$(dirname "$0")/.."

port="${OFFGEN_S3_PORT:-54330}"
pid_file="target/moto-${port}.pid"
bucket="offgen-test"

start() {
    # shellcheck source=lib/packages.sh
    . scripts/lib/packages.sh
    # shellcheck source=lib/python.sh
    . scripts/lib/python.sh
    # Progress to stderr: stdout carries only the URL.
    ensure_moto >&2
    stop >/dev/null 2>&1 || true
    target/py/bin/moto_server -H 127.0.0.1 -p "$port" >"target/moto-${port}.log" 2>&1 &
    echo $! >"$pid_file"
    # Up when the bucket can be made (moto takes anything signed or not).
    local tries=0
    until target/py/bin/python - "$port" "$bucket" <<'PY' >/dev/null 2>&1
import sys, urllib.request
port, bucket = sys.argv[1], sys.argv[2]
request = urllib.request.Request(f"http://127.0.0.1:{port}/{bucket}", method="PUT")
urllib.request.urlopen(request, timeout=2).read()
PY
    do
        tries=$((tries + 1))
        if [ "$tries" -ge 100 ] || ! kill -0 "$(cat "$pid_file")" 2>/dev/null; then
            echo "error: moto did not start on 127.0.0.1:$port (see target/moto-${port}.log)" >&2
            stop
            return 1
        fi
        sleep 0.2
    done
    echo "s3://${bucket}?endpoint=http://127.0.0.1:${port}&region=us-east-1"
}

stop() {
    if [ -f "$pid_file" ]; then
        kill "$(cat "$pid_file")" 2>/dev/null || true
        rm -f "$pid_file"
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: scripts/s3.sh start|stop" >&2; exit 2 ;;
esac
