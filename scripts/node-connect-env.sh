#!/usr/bin/env bash
# Installs the Node.js peers of the Connect / gRPC-Web tests from npm:
# @connectrpc/connect-node (Connect, gRPC-Web and gRPC transports) and
# @bufbuild/protobuf, into TARGET_DIR/node-connect-env (default <repo>/target).
#
#   scripts/node-connect-env.sh [TARGET_DIR]
#
# Prints the directory holding node_modules on the last line. Idempotent:
# installs once (a stamp file records the versions); flock'd, so tests
# starting in parallel install once.
set -euo pipefail

CONNECT_VERSION=2.2.0
PROTOBUF_VERSION=2.17.0

root="$(cd "$(dirname "$0")/.." && pwd)"
target="${1:-$root/target}"
env_dir="$target/node-connect-env"
stamp="$env_dir/.rustgrpc-installed"
want="@connectrpc/connect@$CONNECT_VERSION @connectrpc/connect-node@$CONNECT_VERSION @bufbuild/protobuf@$PROTOBUF_VERSION"
mkdir -p "$target"

exec 9>"$target/.node-connect-env.lock"
if command -v flock >/dev/null 2>&1; then
    flock 9
fi

if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    node --version >&2 || { echo "node-env: node is needed" >&2; exit 1; }
    rm -rf "$env_dir"
    mkdir -p "$env_dir"
    echo '{"name": "rustgrpc-node-peers", "private": true, "type": "module"}' >"$env_dir/package.json"
    echo "node-env: installing $want into $env_dir" >&2
    (cd "$env_dir" && npm install --silent --no-audit --no-fund --no-save $want >&2)
    echo "$want" >"$stamp"
fi

echo "$env_dir"
