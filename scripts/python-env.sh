#!/usr/bin/env bash
# Creates the Python environment the interop tests talk to: a virtualenv
# with grpcio, grpcio-tools, grpcio-status, grpcio-health-checking,
# grpcio-reflection and grpcio-channelz from PyPI, connectrpc and hypercorn
# (the Connect peer and its ASGI server), and the grpc.testing stubs
# generated from proto/grpc/testing/*.proto with grpcio-tools' protoc.
#
#   scripts/python-env.sh [TARGET_DIR]      (default: <repo>/target)
#
# Writes TARGET_DIR/py-venv (the virtualenv) and TARGET_DIR/py-interop-gen
# (the stubs), and prints the virtualenv's python on the last line.
# Idempotent: the packages are installed once (a stamp file records the
# versions); the stubs are regenerated each run (well under a second).
set -euo pipefail

GRPCIO_VERSION=1.85.1
GRPCIO_TOOLS_VERSION=1.85.1
# rpc_status (google.rpc.Status details) for the rich-error tests.
GRPCIO_STATUS_VERSION=1.85.1
# grpcio-channelz has no 1.85.1 release; 1.85.0 works with grpcio 1.85.1.
GRPCIO_CHANNELZ_VERSION=1.85.0
# The Connect peer (connect-python, the client of the Connect tests).
CONNECTRPC_VERSION=0.13.0
# The ASGI server (HTTP/1.1 and h2c on one port) that serves connect-python's
# application to our client (tests/python/connect_server.py).
HYPERCORN_VERSION=0.18.0

root="$(cd "$(dirname "$0")/.." && pwd)"
target="${1:-$root/target}"
venv="$target/py-venv"
gen="$target/py-interop-gen"
stamp="$venv/.rustgrpc-installed"
# The ecosystem packages (status, health, reflection, channelz) release with
# grpcio; connectrpc is the Connect peer.
want="grpcio==$GRPCIO_VERSION grpcio-tools==$GRPCIO_TOOLS_VERSION \
grpcio-status==$GRPCIO_STATUS_VERSION \
grpcio-health-checking==$GRPCIO_VERSION grpcio-reflection==$GRPCIO_VERSION \
grpcio-channelz==$GRPCIO_CHANNELZ_VERSION connectrpc==$CONNECTRPC_VERSION \
hypercorn==$HYPERCORN_VERSION"
mkdir -p "$target"

# One installer at a time (tests may start in parallel).
exec 9>"$target/.py-venv.lock"
if command -v flock >/dev/null 2>&1; then
    flock 9
fi

if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    python3 --version >&2 || { echo "python-env: python3 is needed" >&2; exit 1; }
    rm -rf "$venv"
    echo "python-env: creating $venv with $want" >&2
    python3 -m venv "$venv" >&2
    # Wheels only: no compiler, no surprises, and quick.
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        --no-input --only-binary=:all: $want >&2
    echo "$want" >"$stamp"
fi

rm -rf "$gen.tmp"
mkdir -p "$gen.tmp"
"$venv/bin/python" -m grpc_tools.protoc -I "$root/proto" \
    --python_out="$gen.tmp" --grpc_python_out="$gen.tmp" \
    "$root"/proto/grpc/testing/empty.proto \
    "$root"/proto/grpc/testing/messages.proto \
    "$root"/proto/grpc/testing/test.proto \
    "$root"/proto/testing.proto
rm -rf "$gen"
mv "$gen.tmp" "$gen"

echo "$venv/bin/python"
