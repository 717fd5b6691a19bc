"""Binance Spot and USD-M futures clients (REST + WebSocket streams)."""

from kinetic.venues.binance.futures import BinanceFuturesClient
from kinetic.venues.binance.spot import BinanceSpotClient

__all__ = ["BinanceFuturesClient", "BinanceSpotClient"]
