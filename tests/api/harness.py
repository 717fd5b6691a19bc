"""A replay daemon running in its own thread and event loop, with its REST API bound on
127.0.0.1 (a free port), for tests that talk to it over real HTTP.

``LiveDaemon.call(coro_fn)`` runs a coroutine on the daemon's loop (to set up a scene
the way an engine would, e.g. a resting order); ``extra_server(...)`` binds one more
``ApiServer`` on the same daemon with another token / read-only setting.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from pydantic import SecretStr

from config import EnvConfig
from kinetic.api.server import ApiServer
from kinetic.app import Daemon
from tests.integration.daemon.support import fast_config

T = TypeVar("T")
START_LIMIT_S = 120.0


class LiveDaemon:
    """Start with ``start()``, stop with ``stop()``; ``url`` is its API."""

    def __init__(self, url: str, tmp: Path, **overrides: Any) -> None:
        config = fast_config(tmp / "unused.db", api_port=0, **overrides)
        self.daemon = Daemon(config, EnvConfig(), mode="replay", database_url=url)
        self.db_url = url
        self.loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._done: Future[None] = Future()
        self._thread = threading.Thread(target=self._main, name="test:daemon", daemon=True)
        self._servers: list[ApiServer] = []

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._run())
            self._done.set_result(None)
        except BaseException as exc:
            self._done.set_exception(exc)
        finally:
            self.loop.close()

    async def _run(self) -> None:
        self._stop = asyncio.Event()
        try:
            await self.daemon.run(self._stop)
        finally:
            for server in self._servers:
                await server.stop()

    def start(self) -> None:
        self._thread.start()
        self._wait(lambda: self.daemon.api is not None and self._engines_ready(), "API + engines")

    def _engines_ready(self) -> bool:
        orch = self.daemon.orchestrator
        return (
            orch is not None
            and bool(orch.engines)
            and all(getattr(e, "ready", False) for e in orch.engines.values())
        )

    def _wait(self, ok: Callable[[], bool], what: str) -> None:
        import time

        deadline = time.monotonic() + START_LIMIT_S
        while not ok():
            if self._done.done():
                self._done.result()
                raise AssertionError(f"daemon ended before {what}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.05)

    @property
    def url(self) -> str:
        assert self.daemon.api is not None
        return self.daemon.api.url

    def call(self, fn: Callable[[], Coroutine[Any, Any, T]], timeout: float = 30.0) -> T:
        """Run ``fn()`` on the daemon's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(fn(), self.loop).result(timeout)

    def extra_server(self, *, token: str | None = None, read_only: bool = False) -> str:
        """Bind another API server on this daemon (same objects, other settings)."""
        assert self.daemon.api is not None
        ctx = replace(
            self.daemon.api.ctx,
            token=SecretStr(token) if token else None,
            read_only=read_only,
            extra={},
        )
        server = ApiServer(ctx, "127.0.0.1", 0)

        async def start() -> None:
            await server.start()

        self.call(start)
        self._servers.append(server)
        return server.url

    def stop(self) -> None:
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self._done.result(timeout=60)
        self._thread.join(timeout=10)
