"""Realistic Binance trading rules for the symbols the simulator knows out of the box.

Values follow the shape of Binance ``exchangeInfo`` filters (``PRICE_FILTER.tickSize``,
``LOT_SIZE.stepSize/minQty/maxQty`` and ``NOTIONAL.minNotional`` on spot,
``MIN_NOTIONAL.notional`` on USD-M futures).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from kinetic.domain import Instrument, MarketType
from kinetic.venues.base.errors import UnknownSymbol

# symbol -> (tick_size, step_size, min_qty, min_notional, max_qty)
_Rules = tuple[str, str, str, str, str]

_SPOT: dict[str, _Rules] = {
    "BTCUSDT": ("0.01", "0.00001", "0.00001", "5", "9000"),
    "ETHUSDT": ("0.01", "0.0001", "0.0001", "5", "9000"),
    "SOLUSDT": ("0.01", "0.001", "0.001", "5", "9000"),
    "BNBUSDT": ("0.01", "0.001", "0.001", "5", "9000"),
    "XRPUSDT": ("0.0001", "0.1", "0.1", "5", "9000000"),
}

_FUTURES: dict[str, _Rules] = {
    "BTCUSDT": ("0.10", "0.001", "0.001", "100", "1000"),
    "ETHUSDT": ("0.01", "0.001", "0.001", "20", "10000"),
    "SOLUSDT": ("0.0100", "1", "1", "5", "1000000"),
    "BNBUSDT": ("0.010", "0.01", "0.01", "5", "100000"),
    "XRPUSDT": ("0.0001", "0.1", "0.1", "5", "10000000"),
}

KNOWN_SYMBOLS: tuple[str, ...] = tuple(_SPOT)


def _split(symbol: str) -> tuple[str, str]:
    for quote in ("USDT", "USDC", "BUSD"):
        if symbol.endswith(quote):
            return symbol[: -len(quote)], quote
    raise UnknownSymbol(f"cannot split {symbol} into base/quote")


def _build(symbol: str, market: MarketType, rules: _Rules) -> Instrument:
    tick, step, min_qty, min_notional, max_qty = rules
    base, quote = _split(symbol)
    return Instrument(
        symbol=symbol,
        base=base,
        quote=quote,
        market=market,
        tick_size=Decimal(tick),
        step_size=Decimal(step),
        min_qty=Decimal(min_qty),
        min_notional=Decimal(min_notional),
        max_qty=Decimal(max_qty),
    )


def default_instruments(
    market: MarketType, symbols: Iterable[str] = KNOWN_SYMBOLS
) -> dict[str, Instrument]:
    """Return Binance-like instruments for ``symbols`` on ``market``.

    Raise ``UnknownSymbol`` (listing the known symbols) for a symbol without rules.
    """
    table = _SPOT if market is MarketType.SPOT else _FUTURES
    out: dict[str, Instrument] = {}
    for symbol in symbols:
        rules = table.get(symbol.upper())
        if rules is None:
            known = ", ".join(sorted(table))
            raise UnknownSymbol(f"no simulator rules for {symbol!r}; known: {known}")
        out[symbol.upper()] = _build(symbol.upper(), market, rules)
    return out
