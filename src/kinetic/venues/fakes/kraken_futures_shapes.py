"""Kraken Futures order JSON as the venue writes it: order events and ``orders/status``.

``sendorder`` and ``cancelorder`` answer with ``orderEvents``: ``PLACE`` carries the
whole order (``orderTrigger`` for a stop), ``EXECUTION`` the fill with the order as it
was before it, ``CANCEL`` the cancelled order. Orders are the fake's dicts (``order_id``,
``cliOrdId``, ``symbol``, ``side``, ``orderType``, ``size``, ``filled``, ``limitPrice``,
``stopPrice``, ``reduceOnly``, ``time``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def _num(value: Any) -> float | None:
    return None if value is None else float(Decimal(str(value)))


def _trigger_side(o: dict[str, Any]) -> str:
    return "trigger_above" if o["side"] == "buy" else "trigger_below"


def order_json(o: dict[str, Any], *, filled: Decimal | None = None) -> dict[str, Any]:
    """The ``order`` object of an order event (``filled`` overrides the current fill)."""
    return {
        "orderId": o["order_id"],
        "cliOrdId": o["cliOrdId"] or None,
        "type": o["orderType"],
        "symbol": o["symbol"],
        "side": o["side"],
        "quantity": _num(o["size"]),
        "filled": _num(o["filled"] if filled is None else filled),
        "limitPrice": _num(o["limitPrice"]),
        "stopPrice": _num(o["stopPrice"]),
        "reduceOnly": o["reduceOnly"],
        "timestamp": o["time"],
        "lastUpdateTimestamp": o["time"],
    }


def trigger_json(o: dict[str, Any]) -> dict[str, Any]:
    """The ``orderTrigger`` object of a stop's ``PLACE`` event."""
    return {
        "uid": o["order_id"],
        "clientId": o["cliOrdId"] or None,
        "type": "lmt" if o["limitPrice"] is not None else "ioc",
        "symbol": o["symbol"],
        "side": o["side"],
        "quantity": _num(o["size"]),
        "limitPrice": _num(o["limitPrice"]),
        "triggerPrice": _num(o["stopPrice"]),
        "triggerSide": _trigger_side(o),
        "triggerSignal": "last_price",
        "reduceOnly": o["reduceOnly"],
        "timestamp": o["time"],
        "lastUpdateTimestamp": o["time"],
    }


def place_event(o: dict[str, Any]) -> dict[str, Any]:
    """``{"type": "PLACE", ...}`` for a new order (a stop carries ``orderTrigger``)."""
    if o["orderType"] == "stp":
        return {"type": "PLACE", "orderTrigger": trigger_json(o)}
    return {
        "type": "PLACE",
        "uid": o["order_id"],
        "order": order_json(o, filled=Decimal(0)),
        "reducedQuantity": None,
    }


def execution_event(
    o: dict[str, Any], execution_id: str, amount: Decimal, price: Decimal
) -> dict[str, Any]:
    """``{"type": "EXECUTION", ...}``: ``amount`` filled at ``price``."""
    return {
        "type": "EXECUTION",
        "executionId": execution_id,
        "price": float(price),
        "amount": float(amount),
        "orderPriorEdit": None,
        "orderPriorExecution": order_json(o, filled=Decimal(o["filled"]) - amount),
        "takerReducedQuantity": None,
    }


def cancel_event(o: dict[str, Any]) -> dict[str, Any]:
    """``{"type": "CANCEL", ...}`` for a cancelled order."""
    return {"type": "CANCEL", "uid": o["order_id"], "order": order_json(o)}


STATES = {"open": "ENTERED_BOOK", "filled": "FULLY_EXECUTED", "cancelled": "CANCELLED"}


def status_entry(o: dict[str, Any]) -> dict[str, Any]:
    """One ``orders/status`` entry."""
    stop = o["stopPrice"]
    state = STATES[o["status"]]
    if stop and o["status"] == "open":
        state = "TRIGGER_PLACED"
    return {
        "order": {
            "type": "TRIGGER_ORDER" if stop else "ORDER",
            "orderId": o["order_id"],
            "cliOrdId": o["cliOrdId"] or None,
            "symbol": o["symbol"],
            "side": o["side"],
            "orderType": o["orderType"],
            "quantity": str(o["size"]),
            "filled": str(o["filled"]),
            "limitPrice": o["limitPrice"],
            "reduceOnly": o["reduceOnly"],
            "timestamp": o["time"],
            "lastUpdateTimestamp": o["time"],
            "priceTriggerOptions": (
                {
                    "triggerPrice": stop,
                    "triggerSide": _trigger_side(o),
                    "triggerSignal": "last_price",
                }
                if stop
                else None
            ),
        },
        "status": state,
        "updateReason": None,
        "error": None,
    }
