"""Headless Chromium for the browser tests: Debian's binary and the flags a shared CI box needs.
The `chromium` fixture (conftest.py) skips without it, or fails under CI, where `make test`
installs it."""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
# Flags for a headless run on a shared CI box: no sandbox (root in a container), no GPU, nothing
# phoned home.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
