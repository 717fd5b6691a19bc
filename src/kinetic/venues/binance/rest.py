"""``BinanceRest``: public and signed calls over the shared HTTP layer.

Owns the HTTP client, the clock offset (resynced once and re-signed on ``-1021``) and
the weight/order budgets. Every signed request is built afresh per attempt, so the
timestamp and signature are never stale. Signed parameters go in the query string
(allowed for every method); nothing here logs them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kinetic.clock import Clock
from kinetic.logging import REDACTOR
from kinetic.venues.binance.errors import classify
from kinetic.venues.binance.signing import encode_params, signed_query
from kinetic.venues.http import (
    ClockOffset,
    HttpClient,
    HttpSettings,
    Request,
    RequestKind,
    Response,
    Window,
    WindowLimiter,
)

SPOT_WINDOWS = [
    Window("weight_1m", 60, 6000, "X-MBX-USED-WEIGHT-1M"),
    Window("orders_10s", 10, 100, "X-MBX-ORDER-COUNT-10S", counts_orders=True),
    Window("orders_1d", 86_400, 200_000, "X-MBX-ORDER-COUNT-1D", counts_orders=True),
]
FUTURES_WINDOWS = [
    Window("weight_1m", 60, 2400, "X-MBX-USED-WEIGHT-1M"),
    Window("orders_10s", 10, 300, "X-MBX-ORDER-COUNT-10S", counts_orders=True),
    Window("orders_1m", 60, 1200, "X-MBX-ORDER-COUNT-1M", counts_orders=True),
]


@dataclass(frozen=True, slots=True)
class RestConfig:
    """Where and how one Binance REST client talks."""

    venue: str
    base_url: str
    time_path: str
    windows: tuple[Window, ...]
    recv_window_ms: int = 5000


class BinanceRest:
    """Send public and signed Binance REST requests."""

    def __init__(
        self,
        config: RestConfig,
        clock: Clock,
        *,
        api_key: str = "",
        api_secret: str = "",
        settings: HttpSettings | None = None,
    ) -> None:
        REDACTOR.add([api_key, api_secret])
        self.config = config
        self.offset = ClockOffset(clock)
        self._secret = api_secret
        self.http = HttpClient(
            config.venue,
            config.base_url,
            clock,
            lambda resp: classify(config.venue, resp),
            limiter=WindowLimiter(clock, list(config.windows)),
            settings=settings,
            on_timestamp_error=self.sync_time,
            headers={"X-MBX-APIKEY": api_key} if api_key else None,
        )

    def __repr__(self) -> str:
        return f"BinanceRest({self.config.venue!r}, {self.config.base_url!r})"

    async def public(
        self,
        method: str,
        path: str,
        params: Mapping[str, object] | None = None,
        *,
        weight: float = 1,
    ) -> Any:
        """Send an unsigned request and return its decoded JSON."""
        req = Request(method, path, encode_params(params or {}))
        resp = await self.http.send(lambda: req, weight=weight)
        return resp.json()

    async def signed(
        self,
        method: str,
        path: str,
        params: Mapping[str, object] | None = None,
        *,
        weight: float = 1,
        orders: int = 0,
        kind: RequestKind = RequestKind.READ,
        client_order_id: str = "",
    ) -> Any:
        """Send a signed request (fresh timestamp + signature per attempt); return JSON."""
        if not self.offset.synced:
            await self.sync_time()
        base = dict(params or {})

        def build() -> Request:
            full = {
                **base,
                "recvWindow": self.config.recv_window_ms,
                "timestamp": self.offset.now_ms(),
            }
            return Request(method, path, signed_query(self._secret, full))

        resp: Response = await self.http.send(
            build, weight=weight, orders=orders, kind=kind, client_order_id=client_order_id
        )
        return resp.json()

    async def server_time_ms(self) -> int:
        """Return the venue's time in milliseconds (one request)."""
        data = await self.public("GET", self.config.time_path)
        return int(data["serverTime"])

    async def sync_time(self) -> None:
        """Re-measure the offset between the local clock and the venue's."""
        await self.offset.sync(self.server_time_ms)

    def reset_failures(self) -> None:
        """Forget the HTTP client's consecutive-failure count."""
        self.http.reset_failures()

    async def close(self) -> None:
        """Close the HTTP session."""
        await self.http.close()
