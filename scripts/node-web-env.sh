#!/usr/bin/env bash
# Installs the browser side of the browser test (examples/tests/browser.rs)
# from npm: @connectrpc/connect-web (Connect and gRPC-Web transports for
# browsers), @bufbuild/protobuf, and esbuild to bundle the test page, into
# TARGET_DIR/node-web-env (default <repo>/target).
#
#   scripts/node-web-env.sh [TARGET_DIR]
#
# Prints the directory holding node_modules on the last line. Idempotent
# (a stamp file records the versions) and flock'd.
set -euo pipefail

CONNECT_VERSION=2.2.0
PROTOBUF_VERSION=2.17.0
ESBUILD_VERSION=0.28.2

root="$(cd "$(dirname "$0")/.." && pwd)"
target="${1:-$root/target}"
env_dir="$target/node-web-env"
stamp="$env_dir/.rustgrpc-installed"
want="@connectrpc/connect@$CONNECT_VERSION @connectrpc/connect-web@$CONNECT_VERSION \
@bufbuild/protobuf@$PROTOBUF_VERSION esbuild@$ESBUILD_VERSION"
mkdir -p "$target"

exec 9>"$target/.node-web-env.lock"
if command -v flock >/dev/null 2>&1; then
    flock 9
fi

if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    node --version >&2 || { echo "node-web-env: node is needed" >&2; exit 1; }
    rm -rf "$env_dir"
    mkdir -p "$env_dir"
    echo '{"name": "rustgrpc-web-page", "private": true, "type": "module"}' >"$env_dir/package.json"
    echo "node-web-env: installing $want into $env_dir" >&2
    (cd "$env_dir" && npm install --silent --no-audit --no-fund --no-save $want >&2)
    echo "$want" >"$stamp"
fi

echo "$env_dir"
