"""The dashboard's side of the control plane: static page, live feed and ``/metrics``.

``Dashboard`` bundles the ``LiveHub`` (SSE feed) and ``DaemonMetrics`` (Prometheus) for
one daemon. The composition root builds it, ``attach``es it to the engines once they
exist, starts it with the API server and stops it before the server. The API's app
factory calls ``add_routes`` (listed in ``kinetic.api.server.ROUTE_MODULES``). The page
itself is static (``static/``, shipped as package data, no build step) and talks to the
REST API for everything it changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from kinetic.api.context import ApiContext
from kinetic.api.live import LiveHub, OrchestratorSource
from kinetic.api.metrics import DaemonMetrics
from kinetic.api.registry import PROTECTED_PATHS
from kinetic.clock import Clock, RealClock
from kinetic.supervisor.orchestrator import Orchestrator

STATIC_DIR = Path(__file__).parent / "static"
LIVE_PATH = "/api/live"
METRICS_PATH = "/metrics"
EXTRA_KEY = "dashboard"  # ApiContext.extra: the daemon's Dashboard


class Dashboard:
    """Live feed + metrics of one daemon."""

    def __init__(
        self, source: OrchestratorSource, clock: Clock, *, mode: str, interval_s: float = 1.0
    ) -> None:
        self.hub = LiveHub(source, clock, mode=mode, interval_s=interval_s)
        self.metrics = DaemonMetrics(source)

    def attach(self, orch: Orchestrator, listeners: list[Any]) -> None:
        """Hook metrics and the feed into the engines and ``DbRecorder.listeners``."""
        self.metrics.attach(orch, listeners)
        listeners.append(self.hub)

    def add_routes(self, app: web.Application) -> None:
        """``/`` (the page), ``/static/*``, ``/api/live`` (SSE) and ``/metrics``."""
        app.router.add_get("/", index)
        app.router.add_static("/static/", STATIC_DIR)
        app.router.add_get(LIVE_PATH, self.hub.handle)
        app.router.add_get(METRICS_PATH, self.metrics.handle)
        app[PROTECTED_PATHS].append(METRICS_PATH)  # with a token set, scrapes send it too
        app.on_shutdown.append(self.hub.close_streams)

    def start(self) -> None:
        self.hub.start()

    async def stop(self) -> None:
        await self.hub.stop()


def add_routes(app: web.Application, ctx: ApiContext) -> None:
    """The API's route hook: the daemon's ``Dashboard`` (``ctx.extra["dashboard"]``).

    A context without one (an API built on its own) gets a dashboard over its
    orchestrator, without the hot-path hooks (its latency histograms stay empty), started
    and stopped with that app. ``ctx`` None (an app built only to list its routes, as
    the OpenAPI tests do) gets the routes over no daemon.
    """
    extra: dict[str, Any] | None = getattr(ctx, "extra", None)  # None: routes only (docs)
    dashboard = extra.get(EXTRA_KEY) if extra is not None else None
    if not isinstance(dashboard, Dashboard):
        orch = ctx.orchestrator if extra is not None else None
        dashboard = Dashboard(lambda: orch, RealClock(), mode=getattr(ctx, "mode", ""))
        if extra is not None:
            extra[EXTRA_KEY] = dashboard
            app.on_startup.append(_start_later(dashboard))
            app.on_cleanup.append(_stop_later(dashboard))
    dashboard.add_routes(app)


def _start_later(dashboard: Dashboard) -> Any:
    async def start(_app: web.Application) -> None:
        dashboard.start()

    return start


def _stop_later(dashboard: Dashboard) -> Any:
    async def stop(_app: web.Application) -> None:
        await dashboard.stop()

    return stop


async def index(_request: web.Request) -> web.FileResponse:
    """The dashboard page (never cached: a new daemon version ships a new page)."""
    return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})
