#!/usr/bin/env bash
# Connect and gRPC-Web rows for docs/BENCHMARKS.md: unary calls of the
# benchmark's echo method (10-byte body) to the rustgrpc async server
# (`bench server --impl rustgrpc-async`) and, in the same run, to the peer
# implementations that serve the same scenario: connect-rust (crate
# `connectrpc`: Connect proto/JSON, gRPC-Web, gRPC) and tonic with
# tonic-web's layer (gRPC-Web). Load from h2load (Debian's nghttp2-client,
# a neutral load generator) over HTTP/1.1 (--h1) and HTTP/2.
#
#   scripts/bench-protocols.sh [SECONDS]     (default 5 per run)
#
# Each scenario is first checked once per server with curl (the response
# must carry the echoed body), then measured at 1 and 16 connections (one
# request in flight per connection). Besides req/s, each row has the
# server's CPU time per request (utime+stime of its process from /proc over
# the measured run): on a machine shared with other work the CPU per
# request is the figure to compare, req/s moves with the load. Ratios are
# rustgrpc ÷ peer (req/s: higher is better; CPU: lower is better).
set -euo pipefail

seconds="${1:-5}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
command -v h2load >/dev/null || { echo "h2load missing: apt-get install -y nghttp2-client" >&2; exit 1; }
cargo build --release -q -p rustgrpc-bench --bin bench
tmp="$(mktemp -d)"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"' EXIT
ticks="$(getconf CLK_TCK)"

# start IMPL: runs `bench server --impl IMPL` (prints "PORT n", runs until
# stdin closes); sets port_IMPL and pid_IMPL.
start() {
    local impl="$1" var="${1//-/_}"
    mkfifo "$tmp/in-$impl"
    target/release/bench server --impl "$impl" <"$tmp/in-$impl" >"$tmp/out-$impl" &
    pids+=("$!")
    printf -v "pid_$var" '%s' "$!"
    exec {fd}>"$tmp/in-$impl"
    for _ in $(seq 100); do grep -q PORT "$tmp/out-$impl" 2>/dev/null && break; sleep 0.1; done
    printf -v "port_$var" '%s' "$(awk '/PORT/ {print $2}' "$tmp/out-$impl")"
}
start rustgrpc-async
start connect-rust
start tonic-web

# bench.Payload{body: "xxxxxxxxxx"}: protobuf, JSON, and the 5-byte frame.
printf '\x0a\x0axxxxxxxxxx' >"$tmp/proto"
printf '{"body":"eHh4eHh4eHh4eA=="}' >"$tmp/json"
printf '\x00\x00\x00\x00\x0c\x0a\x0axxxxxxxxxx' >"$tmp/frame"

# name | http (1.1|2) | body file | peers (space-separated) | headers...
scenarios=(
    "grpc|2|frame|connect-rust|content-type: application/grpc|te: trailers"
    "connect-proto|1.1|proto|connect-rust|content-type: application/proto|connect-protocol-version: 1"
    "connect-proto|2|proto|connect-rust|content-type: application/proto|connect-protocol-version: 1"
    "connect-json|1.1|json|connect-rust|content-type: application/json|connect-protocol-version: 1"
    "connect-json|2|json|connect-rust|content-type: application/json|connect-protocol-version: 1"
    "grpc-web|1.1|frame|connect-rust tonic-web|content-type: application/grpc-web+proto|x-grpc-web: 1"
    "grpc-web|2|frame|connect-rust tonic-web|content-type: application/grpc-web+proto|x-grpc-web: 1"
)

# cpu_ticks PID: the process's utime + stime in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# check IMPL: the echoed body must come back from IMPL's server.
check() {
    local var="${1//-/_}" port_var
    port_var="port_$var"
    if ! curl -s "${version[@]}" --data-binary "@$tmp/$body" -H "$h1" -H "$h2" \
        "http://127.0.0.1:${!port_var}/bench.Bench/Unary" \
        | grep -a -q -e xxxxxxxxxx -e eHh4eHh4eHh4eA; then
        echo "bench-protocols: $name over HTTP/$http to $1 did not echo the request" >&2
        exit 1
    fi
}

# measure IMPL CONNS: prints "req/s cpu-µs-per-request failed".
measure() {
    local var="${1//-/_}" port_var pid_var out before after
    port_var="port_$var"
    pid_var="pid_$var"
    # A warm-up run of its own, so the CPU window covers the measured run only.
    h2load "${load[@]}" -D 1 -c "$2" -m 1 -t 1 -d "$tmp/$body" -H "$h1" -H "$h2" \
        "http://127.0.0.1:${!port_var}/bench.Bench/Unary" >/dev/null 2>&1
    before="$(cpu_ticks "${!pid_var}")"
    out="$(h2load "${load[@]}" -D "$seconds" -c "$2" -m 1 -t 1 -d "$tmp/$body" -H "$h1" -H "$h2" \
        "http://127.0.0.1:${!port_var}/bench.Bench/Unary" 2>&1)"
    after="$(cpu_ticks "${!pid_var}")"
    awk -v before="$before" -v after="$after" -v ticks="$ticks" '
        /^finished in/ {gsub(",", "", $4); rps = $4}
        /^requests:/ {failed = $10; done = $8}
        END {
            cpu = done > 0 ? (after - before) / ticks * 1e6 / done : 0
            printf "%.0f %.1f %s\n", rps, cpu, failed
        }' <<<"$out"
}

echo "| scenario | HTTP | conns | server | req/s ↑ | CPU µs/req ↓ | failed | rustgrpc ÷ server req/s | rustgrpc ÷ server CPU/req |"
echo "|---|---|--:|---|--:|--:|--:|--:|--:|"
for scenario in "${scenarios[@]}"; do
    IFS='|' read -r name http body peers h1 h2 <<<"$scenario"
    version=(--http2-prior-knowledge)
    load=()
    if [[ "$http" == 1.1 ]]; then version=(--http1.1); load=(--h1); fi
    for impl in rustgrpc-async $peers; do check "$impl"; done
    for conns in 1 16; do
        read -r ours_rps ours_cpu ours_failed < <(measure rustgrpc-async "$conns")
        printf '| unary-10B %s | %s | %s | rustgrpc | %s | %s | %s | | |\n' \
            "$name" "$http" "$conns" "$ours_rps" "$ours_cpu" "$ours_failed"
        for peer in $peers; do
            read -r rps cpu failed < <(measure "$peer" "$conns")
            awk -v n="$name" -v h="$http" -v c="$conns" -v p="$peer" -v r="$rps" -v u="$cpu" \
                -v f="$failed" -v orps="$ours_rps" -v ocpu="$ours_cpu" 'BEGIN {
                printf "| unary-10B %s | %s | %s | %s | %s | %s | %s | %.2f | %.2f |\n",
                    n, h, c, p, r, u, f, (r > 0 ? orps / r : 0), (u > 0 ? ocpu / u : 0)
            }'
        done
    done
done
