#!/usr/bin/env bash
# The benchmark in one command: rustgrpc vs tonic (and grpcio) side by side.
#
#   scripts/bench.sh                       # full run, ~8 minutes, table in target/bench-results.md
#   scripts/bench.sh --quick               # smoke run, a few seconds
#   scripts/bench.sh --scenario server/unary-10B --duration 10
#
# Installs what it needs, idempotently: h2load (Debian's nghttp2-client)
# when missing, and a Python venv under target/ with grpcio for the grpcio
# row (skipped with a message when it cannot be had).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v h2load >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "== installing h2load (nghttp2-client)"
        apt-get install -y nghttp2-client >/dev/null 2>&1 \
            || { apt-get update >/dev/null && apt-get install -y nghttp2-client >/dev/null; } \
            || echo "warning: could not install nghttp2-client; server-side rows will be skipped"
    else
        echo "warning: h2load missing and not root; server-side rows will be skipped"
    fi
fi

VENV=target/bench-venv
if ! "$VENV/bin/python" -c 'import grpc, grpc_tools' >/dev/null 2>&1; then
    echo "== making $VENV with grpcio"
    { python3 -m venv "$VENV" && "$VENV/bin/pip" install --quiet grpcio grpcio-tools; } \
        || echo "warning: no grpcio venv; the grpcio row will be skipped"
fi
if "$VENV/bin/python" -c 'import grpc, grpc_tools' >/dev/null 2>&1; then
    BENCH_PYTHON="$PWD/$VENV/bin/python"
    export BENCH_PYTHON
fi

# bench-alloc (the counting allocator) is a binary of its own: build it too.
cargo build --release -p rustgrpc-bench --bins
exec cargo run --release -p rustgrpc-bench --bin bench -- "$@"
