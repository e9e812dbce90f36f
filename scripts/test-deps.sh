#!/usr/bin/env bash
# Installs what the black-box tests drive the server with, besides Rust:
# Python's `websockets`, `kosoku` (the Autobahn TestSuite's runner) and `playwright`
# (the driver only: it runs Debian's Chromium, never a downloaded browser), Debian's
# chromium, componentize-py (for the Python plugins) and redis-server (the cluster
# suite). Idempotent; needs root (or sudo) for the Debian packages. `cargo xtask test` and `.ci/run` call it.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -r tests/py/requirements.txt

# componentize-py, which builds the Python plugins (examples/python, tests/python), in
# the cache virtualenv `berth build` looks for (it would make it itself on first use).
CPY_VERSION=0.25.1
CPY_VENV="${XDG_CACHE_HOME:-$HOME/.cache}/berth-tools/componentize-py-$CPY_VERSION"
if ! "$CPY_VENV/bin/componentize-py" --version 2>/dev/null | grep -q "$CPY_VERSION"; then
    rm -rf "$CPY_VENV"
    if ! python3 -m venv "$CPY_VENV"; then
        sudo=""
        if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv >/dev/null
        rm -rf "$CPY_VENV"
        python3 -m venv "$CPY_VENV"
    fi
    "$CPY_VENV/bin/pip" install --quiet --disable-pip-version-check "componentize-py==$CPY_VERSION"
fi

# promtool (Debian's prometheus package) checks the metrics exposition (tests/tests/metrics.rs);
# about 40 s to install here with --no-install-recommends.
# curl (with nghttp2) drives HTTP/2 in tests/tests/http2.rs.
if ! command -v promtool >/dev/null 2>&1 || ! command -v curl >/dev/null 2>&1; then
    sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus curl >/dev/null
fi

if ! command -v chromium >/dev/null 2>&1; then
    sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi

# redis-server, for the cluster suite (tests/tests/cluster.rs starts its own on a free
# loopback port; no system service is needed or used).
if ! command -v redis-server >/dev/null 2>&1; then
    sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server >/dev/null
fi
