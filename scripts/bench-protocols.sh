#!/usr/bin/env bash
# Connect and gRPC-Web rows for docs/BENCHMARKS.md: unary calls of the
# benchmark's echo method (10-byte body) to the rustgrpc async server
# (`bench server --impl rustgrpc-async`), driven by h2load (Debian's
# nghttp2-client, a neutral load generator) over HTTP/1.1 (--h1) and
# HTTP/2, with gRPC over HTTP/2 as the baseline on the same server.
#
#   scripts/bench-protocols.sh [SECONDS]     (default 5 per run)
#
# Each scenario is first checked once with curl (the response must carry
# the echoed body), then measured at 1 and 16 connections (one request in
# flight per connection, HTTP/1.1 and HTTP/2 alike). Prints a Markdown
# table: req/s, mean latency and the failed count as h2load reports them.
set -euo pipefail

seconds="${1:-5}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
command -v h2load >/dev/null || { echo "h2load missing: apt-get install -y nghttp2-client" >&2; exit 1; }
cargo build --release -q -p rustgrpc-bench --bin bench
tmp="$(mktemp -d)"
trap 'kill "$server" 2>/dev/null || true; rm -rf "$tmp"' EXIT

# The server: prints "PORT n", runs until stdin closes.
mkfifo "$tmp/in"
target/release/bench server --impl rustgrpc-async <"$tmp/in" >"$tmp/out" &
server=$!
exec 8>"$tmp/in"
for _ in $(seq 100); do grep -q PORT "$tmp/out" 2>/dev/null && break; sleep 0.1; done
port="$(awk '/PORT/ {print $2}' "$tmp/out")"
url="http://127.0.0.1:$port/bench.Bench/Unary"

# bench.Payload{body: "xxxxxxxxxx"}: protobuf, JSON, and the 5-byte frame.
printf '\x0a\x0axxxxxxxxxx' >"$tmp/proto"
printf '{"body":"eHh4eHh4eHh4eA=="}' >"$tmp/json"
printf '\x00\x00\x00\x00\x0c\x0a\x0axxxxxxxxxx' >"$tmp/frame"

# name | http (1.1|2) | body file | headers...
scenarios=(
    "grpc|2|frame|content-type: application/grpc|te: trailers"
    "connect-proto|1.1|proto|content-type: application/proto|connect-protocol-version: 1"
    "connect-proto|2|proto|content-type: application/proto|connect-protocol-version: 1"
    "connect-json|1.1|json|content-type: application/json|connect-protocol-version: 1"
    "connect-json|2|json|content-type: application/json|connect-protocol-version: 1"
    "grpc-web|1.1|frame|content-type: application/grpc-web+proto|x-grpc-web: 1"
    "grpc-web|2|frame|content-type: application/grpc-web+proto|x-grpc-web: 1"
)

echo "| scenario | HTTP | conns | req/s ↑ | mean latency µs ↓ | failed |"
echo "|---|---|--:|--:|--:|--:|"
for scenario in "${scenarios[@]}"; do
    IFS='|' read -r name http body h1 h2 <<<"$scenario"
    version=(--http2-prior-knowledge)
    load=()
    if [[ "$http" == 1.1 ]]; then version=(--http1.1); load=(--h1); fi
    # The check: the echoed body must come back.
    if ! curl -s "${version[@]}" --data-binary "@$tmp/$body" -H "$h1" -H "$h2" "$url" \
        | grep -a -q -e xxxxxxxxxx -e eHh4eHh4eHh4eA; then
        echo "bench-protocols: $name over HTTP/$http did not echo the request" >&2
        exit 1
    fi
    for conns in 1 16; do
        out="$(h2load "${load[@]}" -D "$seconds" --warm-up-time=1 -c "$conns" -m 1 -t 1 \
            -d "$tmp/$body" -H "$h1" -H "$h2" "$url" 2>&1)"
        rps="$(awk '/^finished in/ {gsub(",", "", $4); print $4}' <<<"$out")"
        failed="$(awk '/^requests:/ {print $10}' <<<"$out")"
        mean="$(awk '/^time for request:/ {print $6}' <<<"$out")"
        case "$mean" in
            *ms) mean="$(awk -v v="${mean%ms}" 'BEGIN {printf "%.0f", v * 1000}')" ;;
            *us) mean="${mean%us}" ;;
            *s) mean="$(awk -v v="${mean%s}" 'BEGIN {printf "%.0f", v * 1000000}')" ;;
        esac
        printf '| unary-10B %s | %s | %s | %.0f | %s | %s |\n' "$name" "$http" "$conns" "$rps" "$mean" "$failed"
    done
done
