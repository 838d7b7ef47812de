"""Debian's chromium, driven by Playwright: never a downloaded browser."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import ViewportSize

CHROMIUM = "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).exists()
PHONE: ViewportSize = {"width": 360, "height": 740}
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
# As root and without a network, Chromium needs these (see the machine notes); none changes what pages do.
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
