"""The API's aiohttp application and its lifecycle in the daemon.

``create_app(ctx)`` builds the application: middlewares, then every module in
``ROUTE_MODULES`` adds its routes (``add_routes(app, ctx)``). ``ApiServer`` binds it
(``start``: a port already in use is a ``StartupError`` naming api_host/api_port) and
``stop`` closes it (open connections and streams are cancelled by aiohttp's cleanup,
within ``SHUTDOWN_S``). The daemon starts it after the graph is built and stops it
before the engines drain, so no operator action arrives during the shutdown.
"""

from __future__ import annotations

import importlib

from aiohttp import web

from kinetic.api.context import CTX, ApiContext
from kinetic.api.hosts import is_loopback as is_loopback  # re-exported
from kinetic.api.middleware import MIDDLEWARES
from kinetic.api.registry import init_registry
from kinetic.errors import StartupError
from kinetic.logging import get_logger

# modules with ``add_routes(app, ctx)``; other helpers add theirs here (one line each)
ROUTE_MODULES: tuple[str, ...] = (
    "kinetic.api.routes.system",
    "kinetic.api.routes.portfolio",
    "kinetic.api.routes.risk",
    "kinetic.api.routes.engines",
    "kinetic.api.routes.execution",
    "kinetic.api.dashboard",  # /, /static/, /api/live (SSE), /metrics
)
MAX_BODY_BYTES = 64 * 1024
SHUTDOWN_S = 2.0
log = get_logger(component="api")


def create_app(ctx: ApiContext, modules: tuple[str, ...] = ROUTE_MODULES) -> web.Application:
    """The aiohttp application with every module's routes."""
    app = web.Application(middlewares=list(MIDDLEWARES), client_max_size=MAX_BODY_BYTES)
    app[CTX] = ctx
    init_registry(app)
    for name in modules:
        importlib.import_module(name).add_routes(app, ctx)
    return app


class ApiServer:
    """The HTTP server of the daemon: owned by it, started and stopped with it."""

    def __init__(self, ctx: ApiContext, host: str, port: int) -> None:
        self.ctx = ctx
        self.host = host
        self.requested_port = port
        self.port = port
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Bind and serve; the bound port is ``self.port`` (``api_port: 0`` picks a free one)."""
        runner = web.AppRunner(create_app(self.ctx), access_log=None, shutdown_timeout=SHUTDOWN_S)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.requested_port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise StartupError(
                f"api_host {self.host} / api_port {self.requested_port}: cannot listen "
                f"({exc.strerror or exc}); pick another api_port or set api_enabled: false"
            ) from None
        self._runner = runner
        sockets = [s for s in runner.addresses if isinstance(s, tuple)]
        if sockets:
            self.port = int(sockets[0][1])
        log.info(
            "API listening", url=self.url, auth=self.ctx.auth_enabled, read_only=self.ctx.read_only
        )

    async def stop(self) -> None:
        """Close the listening socket and every open connection."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
            log.info("API stopped")
