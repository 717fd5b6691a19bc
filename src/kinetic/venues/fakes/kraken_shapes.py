"""Kraken spot JSON shapes that third-party clients read: Assets, Ticker, ``descr.order``.

``Assets`` lists every asset of the fake's pairs; ``Ticker`` answers one pair, several
or (without ``pair``) all, in the venue's array shapes (``a``, ``b``, ``c``, ``v``,
``p``, ``t``, ``l``, ``h``, ``o``). There is no order book and no trade tape here: bid,
ask, the day's range and its opening all sit at the last price, volumes are 0.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

# Kraken's legacy-prefixed asset ids and their altnames (the rest are their own altname)
_ALTNAMES = {"XXBT": "XBT", "XETH": "ETH", "XXRP": "XRP", "ZUSD": "USD", "ZEUR": "EUR"}
_DECIMALS = {"ZUSD": 4, "ZEUR": 4, "USDT": 8}


def assets(pairs: dict[str, dict[str, Any]], wanted: str | None) -> dict[str, Any]:
    """The ``Assets`` result for the assets of ``pairs`` (``asset`` filter: comma list)."""
    ids = sorted({p["base"] for p in pairs.values()} | {p["quote"] for p in pairs.values()})
    if wanted:
        names = set(wanted.split(","))
        ids = [a for a in ids if a in names or _ALTNAMES.get(a, a) in names]
    return {
        a: {
            "aclass": "currency",
            "altname": _ALTNAMES.get(a, a),
            "decimals": _DECIMALS.get(a, 10),
            "display_decimals": 5,
            "collateral_value": 1.0,
            "status": "enabled",
        }
        for a in ids
    }


def ticker_entry(price: Decimal) -> dict[str, Any]:
    """One pair's ``Ticker`` entry, everything at the last price."""
    p = str(price)
    return {
        "a": [p, "1", "1.000"],
        "b": [p, "1", "1.000"],
        "c": [p, "0"],
        "v": ["0", "0"],
        "p": [p, p],
        "t": [0, 0],
        "l": [p, p],
        "h": [p, p],
        "o": p,
    }


def describe(p: dict[str, str], volume: Decimal, altname: str) -> str:
    """``descr.order`` as the venue writes it: ``buy 0.01000000 XBTUSDT @ limit 25000.1``."""
    head = f"{p['type']} {volume:.8f} {altname} @ "
    kind = p["ordertype"]
    if kind == "market":
        return head + "market"
    if kind == "limit":
        return head + f"limit {p.get('price', '0')}"
    trigger = kind.removesuffix("-limit").replace("-", " ")  # "stop loss", "take profit"
    tail = f"{trigger} {p.get('price', '0')}"
    if kind.endswith("-limit"):
        tail += f" -> limit {p.get('price2', '0')}"
    return head + tail
