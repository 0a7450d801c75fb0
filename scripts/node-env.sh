#!/usr/bin/env bash
# Installs the npm tools the ecosystem tests drive: the buf CLI
# (@bufbuild/buf, whose package ships the binary) for `buf curl --reflect`.
#
#   scripts/node-env.sh [TARGET_DIR]      (default: <repo>/target)
#
# Writes TARGET_DIR/node-env and prints the path of `buf` on the last line.
# Idempotent: installed once (a stamp file records the version); flock'd,
# so tests may call it in parallel. Needs node and npm.
set -euo pipefail

BUF_VERSION=1.75.0

root="$(cd "$(dirname "$0")/.." && pwd)"
target="${1:-$root/target}"
prefix="$target/node-env"
stamp="$prefix/.rustgrpc-installed"
want="@bufbuild/buf@$BUF_VERSION"
mkdir -p "$target"

exec 9>"$target/.node-env.lock"
if command -v flock >/dev/null 2>&1; then
    flock 9
fi

if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    command -v npm >/dev/null 2>&1 || { echo "node-env: npm is needed" >&2; exit 1; }
    rm -rf "$prefix"
    mkdir -p "$prefix"
    echo "node-env: installing $want into $prefix" >&2
    # A package.json of its own keeps npm from looking at parent directories.
    echo '{"name": "rustgrpc-node-env", "private": true}' >"$prefix/package.json"
    npm install --prefix "$prefix" --no-audit --no-fund --no-save --silent "$want" >&2
    echo "$want" >"$stamp"
fi

buf="$prefix/node_modules/.bin/buf"
"$buf" --version >/dev/null
echo "$buf"
