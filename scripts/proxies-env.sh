#!/usr/bin/env bash
# Installs the proxies the channel tests run our servers behind: nginx
# (grpc_pass) and HAProxy (HTTP/2 end to end), from Debian's packages,
# without root: `apt-get download` + `dpkg -x` into TARGET_DIR/proxies.
#
#   scripts/proxies-env.sh [TARGET_DIR]      (default: <repo>/target)
#
# Prints `nginx <path>`, `haproxy <path>` and, on the last line, the
# library directory both need on LD_LIBRARY_PATH. Idempotent and flock'd.
set -euo pipefail

PACKAGES="nginx haproxy liblua5.3-0 libopentracing-c-wrapper0 libopentracing1"

root="$(cd "$(dirname "$0")/.." && pwd)"
target="${1:-$root/target}"
dir="$target/proxies"
tree="$dir/root"
libs="$tree/usr/lib/x86_64-linux-gnu"
mkdir -p "$dir"
exec 9>"$dir/.lock"
if command -v flock >/dev/null 2>&1; then
    flock 9
fi

if [ ! -f "$dir/.installed" ]; then
    command -v apt-get >/dev/null || { echo "apt-get is needed to fetch nginx and haproxy" >&2; exit 1; }
    rm -rf "$dir/debs" "$tree"
    mkdir -p "$dir/debs" "$tree"
    # apt-get download works without root; it needs the package lists.
    if ! (cd "$dir/debs" && apt-get download $PACKAGES >&2); then
        echo "apt-get download failed; refresh the package lists (apt-get update) and retry" >&2
        exit 1
    fi
    for deb in "$dir"/debs/*.deb; do
        dpkg -x "$deb" "$tree"
    done
    touch "$dir/.installed"
fi

for tool in "$tree/usr/sbin/nginx" "$tree/usr/sbin/haproxy"; do
    if ! LD_LIBRARY_PATH="$libs" "$tool" -v >/dev/null 2>&1; then
        echo "$tool does not run:" >&2
        LD_LIBRARY_PATH="$libs" "$tool" -v >&2 || true
        exit 1
    fi
done
echo "nginx $tree/usr/sbin/nginx"
echo "haproxy $tree/usr/sbin/haproxy"
echo "$libs"
