"""Headless Chromium for the browser tests (tests/server/test_browser_*.py):
found on PATH or the tests skip with a reason (CI installs it: .ci/run)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)

#: the module marks of a browser test: slow, and skipped without Chromium
BROWSER_TEST = [pytest.mark.slow, pytest.mark.skipif(CHROMIUM is None,
                                  reason="Chromium is not installed (Debian: apt-get install chromium)")]


def headless(profile: Path, *args: str) -> list[str]:
    """The command line of a headless Chromium with its own profile, quiet
    (no network of its own, no extensions or sync), then ``args``."""
    assert CHROMIUM is not None
    return [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-extensions", "--disable-dev-shm-usage", f"--user-data-dir={profile}", *args]
