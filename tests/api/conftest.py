"""One replay daemon per database backend for the whole ``tests/api`` package.

The daemon runs in its own thread and loop (``tests.api.harness``); tests talk to its
REST API over real HTTP on 127.0.0.1. SQLite always; PostgreSQL as in
``tests/integration/daemon`` (fails when the server is down unless KINETIC_SKIP_PG=1).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from kinetic.storage import resolve_database_url
from tests.api.harness import LiveDaemon
from tests.integration.daemon.conftest import temp_pg_database


@pytest.fixture(
    scope="package", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveDaemon]:
    tmp = tmp_path_factory.mktemp(f"api-{request.param}")
    if request.param == "sqlite":
        urls: Iterator[str] = iter([resolve_database_url(None, str(tmp / "kinetic.db"))])
    else:
        urls = temp_pg_database()
    for url in urls:
        daemon = LiveDaemon(url, tmp)
        daemon.start()
        try:
            yield daemon
        finally:
            daemon.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession, method: str, url: str, body: Any = None, **kw: Any
) -> tuple[int, dict[str, Any]]:
    """One request; the status and the decoded envelope."""
    async with http.request(method, url, json=body, **kw) as resp:
        return resp.status, await resp.json(content_type=None)
