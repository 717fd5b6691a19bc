"""Kraken Spot (REST + WS v2) and Kraken Futures (REST v3) venue clients.

Public API::

    from kinetic.venues.kraken import (
        KrakenSpotClient, KrakenFuturesClient, KrakenCandleStream, DeadManSwitch,
        sign_spot, sign_futures, sign_challenge, NonceGenerator,
    )
"""

from kinetic.venues.kraken.deadman import DeadManSwitch
from kinetic.venues.kraken.futures import KrakenFuturesClient
from kinetic.venues.kraken.nonce import NonceGenerator
from kinetic.venues.kraken.signing import sign_challenge, sign_futures, sign_spot
from kinetic.venues.kraken.spot import KrakenSpotClient
from kinetic.venues.kraken.streams import KrakenCandleStream

__all__ = [
    "DeadManSwitch",
    "KrakenCandleStream",
    "KrakenFuturesClient",
    "KrakenSpotClient",
    "NonceGenerator",
    "sign_challenge",
    "sign_futures",
    "sign_spot",
]
