"""``venue_urls`` that point the daemon at fake Binance servers on 127.0.0.1."""

from __future__ import annotations

from kinetic.venues.fakes.binance_server import FakeBinance
from kinetic.venues.fakes.serve import endpoints


def binance_urls(
    *, spot: FakeBinance | None = None, futures: FakeBinance | None = None
) -> dict[str, str]:
    """The ``venue_urls`` entries for a fake Spot and/or USD-M server (the sandbox's map)."""
    urls: dict[str, str] = {}
    if spot is not None:
        urls |= endpoints("binance_spot", spot.url, spot.ws_url)[1]
    if futures is not None:
        urls |= endpoints("binance_usdm", futures.url, futures.ws_url)[1]
    return urls
