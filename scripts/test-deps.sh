#!/usr/bin/env bash
# Installs what the black-box tests drive the server with, besides Rust:
# Python's `websockets`, `kosoku` (the Autobahn TestSuite's runner) and `playwright`
# (the driver only: it runs Debian's Chromium, never a downloaded browser) and Debian's
# chromium. Idempotent; needs root (or sudo)
# for the Debian packages. `cargo xtask test` and `.ci/run` call it.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -r tests/py/requirements.txt

if ! command -v chromium >/dev/null 2>&1; then
    sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
