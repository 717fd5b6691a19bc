"""ApiContext: everything the HTTP handlers may use, built by the composition root."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import SecretStr

from config import UnifiedConfig
from kinetic.clock import Clock, RealClock
from kinetic.control.service import ControlService
from kinetic.storage.db import Database
from kinetic.storage.repositories import Repositories
from kinetic.supervisor.orchestrator import Orchestrator

TOKEN_COOKIE = "kinetic_api_token"  # noqa: S105 (a cookie name, not a secret)


@dataclass
class ApiContext:
    """The daemon's objects the API reads (and, through ``control``, acts on)."""

    config: UnifiedConfig
    control: ControlService
    orchestrator: Orchestrator
    repos: Repositories
    db: Database
    mode: str
    token: SecretStr | None = None
    read_only: bool = False
    clock: Clock = field(default_factory=RealClock)
    started_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)  # for other modules' state

    def __post_init__(self) -> None:
        if not self.started_s:
            self.started_s = self.clock.time()

    @property
    def auth_enabled(self) -> bool:
        return self.token is not None and bool(self.token.get_secret_value())

    def token_ok(self, request: web.Request) -> bool:
        """True when no token is set, or the request carries it (compared in constant time)."""
        if self.token is None or not self.token.get_secret_value():
            return True
        expected = self.token.get_secret_value().encode()
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected):
            return True
        cookie = request.cookies.get(TOKEN_COOKIE, "")
        return bool(cookie) and hmac.compare_digest(cookie.encode(), expected)


CTX: web.AppKey[ApiContext] = web.AppKey("kinetic_api_ctx", ApiContext)


def ctx_of(request: web.Request) -> ApiContext:
    """The ``ApiContext`` of the app serving ``request``."""
    return request.app[CTX]
