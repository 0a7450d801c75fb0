#!/usr/bin/env bash
# Makes Debian's Chromium available for the browser test
# (tests/tests/browser.rs) and prints its path on the last line.
#
#   scripts/chromium-env.sh
#
# Uses /usr/bin/chromium when it is there; otherwise, as root, installs the
# Debian package `chromium` with apt-get (its library dependencies come
# with it). Without root and without Chromium it fails with a message that
# says what to install: Chromium's dozens of shared-library dependencies do
# not run reliably from a `dpkg -x` tree. Idempotent and flock'd.
set -euo pipefail

lock="${TMPDIR:-/tmp}/rustgrpc-chromium-env.lock"
exec 9>"$lock"
if command -v flock >/dev/null 2>&1; then
    flock 9
fi

if [[ ! -x /usr/bin/chromium ]]; then
    if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        echo "chromium-env: /usr/bin/chromium is missing and this user cannot install it;" \
            "install the Debian package 'chromium' (apt-get install chromium)" >&2
        exit 1
    fi
    echo "chromium-env: installing the Debian package chromium" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends chromium >&2 \
        || { apt-get update >&2 && apt-get install -y --no-install-recommends chromium >&2; }
fi

/usr/bin/chromium --version >&2
echo /usr/bin/chromium
