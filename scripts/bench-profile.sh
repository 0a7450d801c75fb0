#!/usr/bin/env bash
# Profiles one side of a benchmark scenario with perf (cpu-clock sampling:
# this VM has no hardware counters) and prints the top functions.
#
#   scripts/bench-profile.sh server rustgrpc-blocking [SIZE] [SECS]  # unary server under h2load -c8 -m32
#   scripts/bench-profile.sh client rustgrpc-async    [SIZE] [SECS]  # unary client, 256 in flight, against the bare h2 server
#   scripts/bench-profile.sh stream rustgrpc-async    [SIZE] [SECS]  # server-streaming server, driven by its own client
#
# IMPL is rustgrpc-blocking, rustgrpc-async or tonic (h2-bare too for
# `server`). Server on core 0, load on core 1, as in the benchmark.
# perf.data files and the reports land in target/profile/.
set -euo pipefail
cd "$(dirname "$0")/.."
SIDE=${1:?server, client or stream}
IMPL=${2:?implementation name}
SIZE=${3:-}
SECS=${4:-5}
OUT=target/profile
mkdir -p "$OUT"
command -v perf >/dev/null || { echo "perf missing: apt-get install -y linux-perf"; exit 1; }
cargo build --release -p rustgrpc-bench --bins
BIN=target/release/bench
PERF=(perf record -q -e cpu-clock -F 4999 -g)

start_server() { # $1 = server impl; sets SERVER_PID and PORT
    coproc SERVER { exec taskset -c 0 "$BIN" server --impl "$1"; }
    SERVER_PID=$SERVER_PID
    read -r _ PORT <&"${SERVER[0]}"
}

case "$SIDE" in
server)
    command -v h2load >/dev/null || { echo "h2load missing: apt-get install -y nghttp2-client"; exit 1; }
    start_server "$IMPL"
    "$BIN" frame --size "${SIZE:-10}" --out "$OUT/body.bin"
    H2LOAD=(taskset -c 1 h2load -t1 -c8 -m32 -d "$OUT/body.bin" -H 'content-type: application/grpc' -H 'te: trailers')
    "${H2LOAD[@]}" -D 1 "http://127.0.0.1:$PORT/bench.Bench/Unary" >/dev/null
    "${H2LOAD[@]}" -D "$((SECS + 1))" "http://127.0.0.1:$PORT/bench.Bench/Unary" | grep -E "finished|requests:" &
    LOAD=$!
    sleep 0.5
    "${PERF[@]}" -p "$SERVER_PID" -o "$OUT/$SIDE-$IMPL.data" -- sleep "$SECS"
    wait "$LOAD"
    ;;
client)
    start_server h2-bare
    "${PERF[@]}" -o "$OUT/$SIDE-$IMPL.data" -- \
        taskset -c 1 "$BIN" client --impl "$IMPL" --port "$PORT" --size "${SIZE:-10}" \
        --concurrency 256 --conns 8 --warmup 1 --duration "$SECS"
    ;;
stream)
    start_server "$IMPL"
    taskset -c 1 "$BIN" client --impl "$IMPL" --port "$PORT" --rpc stream --size "${SIZE:-16}" \
        --count 10000 --warmup 1.5 --duration "$SECS" &
    LOAD=$!
    sleep 1
    "${PERF[@]}" -p "$SERVER_PID" -o "$OUT/$SIDE-$IMPL.data" -- sleep "$SECS"
    wait "$LOAD"
    ;;
*)
    echo "unknown side $SIDE"; exit 1 ;;
esac
kill "$SERVER_PID" 2>/dev/null || true
perf report -i "$OUT/$SIDE-$IMPL.data" --stdio --no-children --sort dso,symbol \
    --percent-limit 0.7 -g none 2>/dev/null | grep -v "^#" | grep -v "^$" \
    | sed "s/[[:space:]-]*$//" > "$OUT/$SIDE-$IMPL.txt"
echo "== top functions ($OUT/$SIDE-$IMPL.txt)"
head -40 "$OUT/$SIDE-$IMPL.txt"
