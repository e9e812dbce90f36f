"""Headless Chromium for the browser tests: Playwright driving Debian's chromium.

Playwright never downloads a browser here; it launches /usr/bin/chromium with the flags
this closed network needs (no background networking, no QUIC, no first-run work).
"""

import os
import shutil
from contextlib import contextmanager

from playwright.sync_api import sync_playwright

FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path():
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(path):
        raise SystemExit("chromium not found: run scripts/test-deps.sh")
    return path


@contextmanager
def browser():
    """Yields a launched headless browser; closes it afterwards."""
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), headless=True, args=FLAGS)
        try:
            yield b
        finally:
            b.close()
