"""Kraken <-> Kinetic names, in one place.

Kinetic symbols are ``BASE + QUOTE`` with common asset codes (``BTCUSDT``). Kraken
uses its own asset codes (``XBT`` for BTC, ``XDG`` for DOGE) and, for older assets,
a legacy four-letter form with an ``X`` (crypto) or ``Z`` (fiat) prefix (``XXBT``,
``ZUSD``). Futures perpetuals are named ``PF_<kraken base><quote>`` (``PF_XBTUSD``),
which maps to the Kinetic symbol ``BTCUSD``.
"""

from __future__ import annotations

from kinetic.venues.base.errors import PermanentError

_KRAKEN_TO_COMMON = {"XBT": "BTC", "XDG": "DOGE"}
_COMMON_TO_KRAKEN = {v: k for k, v in _KRAKEN_TO_COMMON.items()}
_LEGACY_PREFIXED = 4
FUTURES_PERP_PREFIX = "PF_"

# Kinetic interval -> Kraken Spot OHLC minutes
SPOT_INTERVAL_MINUTES: dict[str, int] = {
    "1m": 1,
    "5m": 5,
    "15m": 15,
    "30m": 30,
    "1h": 60,
    "4h": 240,
    "1d": 1440,
    "1w": 10080,
}
# Kinetic interval -> Kraken Futures charts resolution (same spelling, listed explicitly)
FUTURES_RESOLUTIONS: frozenset[str] = frozenset(
    {"1m", "5m", "15m", "30m", "1h", "4h", "12h", "1d", "1w"}
)


def common_asset(kraken_asset: str) -> str:
    """Return the common code for a Kraken asset (``XXBT`` -> ``BTC``, ``ZUSD`` -> ``USD``).

    Balance-only suffixes such as ``.F`` (flex) or ``.S`` (staked) are kept as they are
    so a caller can tell those holdings apart from spendable ones.
    """
    code, dot, suffix = kraken_asset.upper().partition(".")
    if len(code) == _LEGACY_PREFIXED and code[0] in "XZ" and code[1:] in _LEGACY_SET:
        code = code[1:]
    code = _KRAKEN_TO_COMMON.get(code, code)
    return code + dot + suffix


# three-letter codes Kraken still reports with a legacy X/Z prefix
_LEGACY_SET = frozenset(
    {
        "XBT",
        "ETH",
        "LTC",
        "XRP",
        "XLM",
        "XMR",
        "ZEC",
        "ETC",
        "REP",
        "MLN",
        "XDG",
        "USD",
        "EUR",
        "GBP",
        "JPY",
        "CAD",
        "AUD",
        "CHF",
    }
)


def kraken_asset(common: str) -> str:
    """Return Kraken's (non-legacy) code for a common asset (``BTC`` -> ``XBT``)."""
    return _COMMON_TO_KRAKEN.get(common.upper(), common.upper())


def spot_symbol(base: str, quote: str) -> str:
    """Return the Kinetic symbol for Kraken base/quote asset codes."""
    return common_asset(base) + common_asset(quote)


def ws_v2_symbol(base: str, quote: str) -> str:
    """Return the WS v2 name (``BTC/USDT``) for Kraken base/quote asset codes."""
    return f"{common_asset(base)}/{common_asset(quote)}"


def futures_symbol(kraken_symbol: str) -> str | None:
    """Return ``BTCUSD`` for ``PF_XBTUSD``; ``None`` for products Kinetic does not trade."""
    upper = kraken_symbol.upper()
    if not upper.startswith(FUTURES_PERP_PREFIX):
        return None
    body = upper[len(FUTURES_PERP_PREFIX) :]
    for quote in ("USDT", "USDC", "USD", "EUR", "GBP"):
        if body.endswith(quote) and len(body) > len(quote):
            return common_asset(body[: -len(quote)]) + quote
    return None


def futures_kraken_symbol(symbol: str, quote: str = "USD") -> str:
    """Return ``PF_XBTUSD`` for the Kinetic symbol ``BTCUSD``."""
    upper = symbol.upper()
    if not upper.endswith(quote):
        raise PermanentError(f"kraken futures: {symbol!r} does not end in {quote}")
    return f"{FUTURES_PERP_PREFIX}{kraken_asset(upper[: -len(quote)])}{quote}"


def spot_interval_minutes(interval: str) -> int:
    """Return OHLC minutes for a Kinetic interval such as ``1m`` or ``4h``."""
    try:
        return SPOT_INTERVAL_MINUTES[interval]
    except KeyError:
        allowed = ", ".join(SPOT_INTERVAL_MINUTES)
        msg = f"kraken: interval {interval!r} not supported; use {allowed}"
        raise PermanentError(msg) from None


def futures_resolution(interval: str) -> str:
    """Return the Futures charts resolution for a Kinetic interval."""
    if interval not in FUTURES_RESOLUTIONS:
        allowed = ", ".join(sorted(FUTURES_RESOLUTIONS))
        raise PermanentError(f"kraken futures: interval {interval!r} not supported; use {allowed}")
    return interval


def interval_ms(interval: str) -> int:
    """Return the length of a Kinetic interval in milliseconds."""
    units = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
    return int(interval[:-1]) * units[interval[-1]]
