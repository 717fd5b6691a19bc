"""One replay daemon (SQLite) with its API on a free 127.0.0.1 port, and one headless
Debian chromium driven by Playwright, for the dashboard tests.

Chromium is Debian's ``/usr/bin/chromium`` (``.ci/run`` installs it); Playwright's own
browser download is never used. Screenshots go to a pytest temp directory (and to
``KINETIC_SCREENSHOT_DIR`` when set, e.g. to refresh the one in docs/).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kinetic.storage import resolve_database_url
from tests.api.harness import LiveDaemon

CHROMIUM = Path("/usr/bin/chromium")
REPLAY_SPEED = 1200.0  # the default: about four 5-minute candles a second


@pytest.fixture(scope="package")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveDaemon]:
    tmp = tmp_path_factory.mktemp("dashboard")
    live = LiveDaemon(resolve_database_url(None, str(tmp / "kinetic.db")), tmp,
                      replay_speed=REPLAY_SPEED)  # fmt: skip
    live.start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (apt-get install chromium; .ci/run does)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


class Shots:
    """Where screenshots go: a pytest temp directory (+ KINETIC_SCREENSHOT_DIR)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.extra = os.environ.get("KINETIC_SCREENSHOT_DIR")

    def save(self, page: Any, name: str, *, full_page: bool = True) -> Path:
        path = self.root / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        if self.extra:
            Path(self.extra).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(self.extra) / path.name)
        print(f"screenshot: {path}")
        return path


@pytest.fixture(scope="package")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Shots:
    return Shots(tmp_path_factory.mktemp("dashboard-screenshots"))
