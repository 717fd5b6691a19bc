"""Secrets and signatures never reach logs or exception texts."""

from __future__ import annotations

import io
import logging
from decimal import Decimal
from typing import Any

import structlog

from kinetic.domain import OrderIntent, OrderType, Side
from kinetic.logging import configure_logging
from kinetic.venues.base.errors import VenueError
from kinetic.venues.fakes.binance_server import API_KEY, API_SECRET
from tests.fake_venues.fast_clock import FastClock


async def test_failures_when_logged_and_raised_then_no_secret_or_signature_appears(
    make_pair: Any,
) -> None:
    stream = io.StringIO()
    saved = structlog.get_config()  # restored as is: capture_logs edits its processor list
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging("DEBUG", json=True, stream=stream)
    clock = FastClock()
    texts: list[str] = []
    try:
        server, client = await make_pair(clock, timeout_seconds=0.3)
        server.set_price("BTCUSDT", Decimal(50000))
        for fault in ("500", "hang_after_accept", "429"):
            server.inject(fault, path="/api/v3/order")
            try:
                await client.place_order(
                    OrderIntent(
                        "spot", "BTCUSDT", Side.BUY, OrderType.MARKET, Decimal("0.01"), f"s-{fault}"
                    )
                )
            except VenueError as exc:
                texts += [str(exc), repr(exc), repr(exc.__cause__), repr(exc.__context__)]
        client.rest._secret = "another-wrong-secret"
        try:
            await client.get_balances()
        except VenueError as exc:
            texts += [str(exc), repr(exc)]
        texts.append(repr(client.rest))
    finally:
        structlog.configure(**saved)
        root.handlers[:] = handlers
        root.setLevel(level)
    texts.append(stream.getvalue())
    blob = "\n".join(texts)
    signatures = list(server.signatures)
    assert "venue request failed" in blob  # something was logged
    assert len(signatures) >= 5
    for secret in [API_SECRET, API_KEY, *signatures]:
        assert secret not in blob
