"""Parsing of Kraken private-stream messages into domain ``Order``s and ``Fill``s.

Spot WS v2 ``executions`` reports (possibly partial, merged into the last known order
state) and Kraken Futures WS v1 ``open_orders`` / ``fills`` feed entries. Malformed
entries raise one of ``PARSE_ERRORS``; the streams log and skip them.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from kinetic.domain import ZERO, Fill, Order, OrderStatus, OrderType, Side
from kinetic.venues.kraken.schemas import SchemaError, dec, field, obj
from kinetic.venues.kraken.symbols import common_asset, futures_symbol

SymbolLookup = Callable[[str], str | None]
PARSE_ERRORS = (SchemaError, KeyError, TypeError, ValueError, ArithmeticError)

_TS_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?")

# ---------------------------------------------------------------------- Spot parsing

_SPOT_STATUS = {
    "pending_new": OrderStatus.NEW,
    "new": OrderStatus.NEW,
    "partially_filled": OrderStatus.PARTIALLY_FILLED,
    "filled": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "expired": OrderStatus.EXPIRED,
}
_SPOT_TYPES = {
    "market": OrderType.MARKET,
    "limit": OrderType.LIMIT,
    "stop-loss": OrderType.STOP_MARKET,
}


def rfc3339_ms(raw: Any) -> int:
    """Parse Kraken's RFC 3339 timestamps (up to nanoseconds, ``Z``) to epoch ms."""
    match = _TS_RE.match(str(raw))
    if match is None:
        raise SchemaError(f"bad timestamp {raw!r}")
    base = datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC)
    frac = (match.group(2) or "0")[:3].ljust(3, "0")
    return int(base.timestamp()) * 1000 + int(frac)


def spot_ws_symbol(name: str, symbol_of: SymbolLookup) -> str:
    """Return the Kinetic symbol for a WS v2 pair name (``BTC/USDT`` -> ``BTCUSDT``)."""
    known = symbol_of(name)
    if known is not None:
        return known
    base, sep, quote = name.partition("/")
    if not sep or not base or not quote:
        raise SchemaError(f"bad pair name {name!r}")
    return common_asset(base) + common_asset(quote)


def _spot_side(raw: Any) -> Side:
    if raw in ("buy", "sell"):
        return Side.BUY if raw == "buy" else Side.SELL
    raise SchemaError(f"bad side {raw!r}")


def _new_spot_order(r: Mapping[str, Any], order_id: str, symbol_of: SymbolLookup) -> Order:
    kind = _SPOT_TYPES.get(str(field(r, "order_type")))
    if kind is None:
        raise SchemaError(f"order {order_id}: unsupported type {r.get('order_type')!r}")
    created = rfc3339_ms(r["timestamp"]) if r.get("timestamp") else 0
    return Order(
        client_order_id=str(r.get("cl_ord_id") or ""),
        symbol=spot_ws_symbol(str(field(r, "symbol")), symbol_of),
        side=_spot_side(field(r, "side")),
        order_type=kind,
        quantity=dec(field(r, "order_qty"), "order_qty"),
        status=OrderStatus.NEW,
        venue_order_id=order_id,
        created_ms=created,
    )


def _spot_status(r: Mapping[str, Any], order: Order) -> OrderStatus:
    raw = r.get("order_status")
    if raw is None:
        raw = {"canceled": "canceled", "expired": "expired", "filled": "filled"}.get(
            str(r.get("exec_type"))
        )
    if raw is None:
        if order.status.is_terminal or order.filled_qty <= 0:
            return order.status
        if order.filled_qty >= order.quantity:
            return OrderStatus.FILLED
        return OrderStatus.PARTIALLY_FILLED
    status = _SPOT_STATUS.get(str(raw))
    if status is None:
        raise SchemaError(f"order status {raw!r} unknown")
    return status


def _apply_spot_update(r: Mapping[str, Any], order: Order) -> Order:
    new = dataclasses.replace(order)
    if r.get("cl_ord_id"):
        new.client_order_id = str(r["cl_ord_id"])
    if "order_qty" in r:
        new.quantity = dec(r["order_qty"], "order_qty")
    if "cum_qty" in r:
        new.filled_qty = dec(r["cum_qty"], "cum_qty")
    if "avg_price" in r:
        new.avg_price = dec(r["avg_price"], "avg_price")
    if "limit_price" in r and new.order_type is OrderType.LIMIT:
        new.price = dec(r["limit_price"], "limit_price")
    triggers = r.get("triggers")
    if isinstance(triggers, Mapping) and "price" in triggers:
        new.stop_price = dec(triggers["price"], "triggers.price")
    if "reduce_only" in r:
        new.reduce_only = bool(r["reduce_only"])
    new.status = _spot_status(r, new)
    if r.get("timestamp"):
        new.updated_ms = rfc3339_ms(r["timestamp"])
    return new


def _spot_fee(r: Mapping[str, Any], symbol_name: str) -> tuple[Decimal, str]:
    fees = r.get("fees") or []
    if not isinstance(fees, list) or not fees:
        return ZERO, common_asset(symbol_name.partition("/")[2])
    total = sum((dec(obj(f, "fee").get("qty", 0), "fee") for f in fees), ZERO)
    return total, common_asset(str(obj(fees[0], "fee").get("asset", "")))


def _spot_fill(r: Mapping[str, Any], order: Order | None, symbol_of: SymbolLookup) -> Fill:
    name = str(r.get("symbol") or "")
    symbol = spot_ws_symbol(name, symbol_of) if name else None
    side = _spot_side(r["side"]) if "side" in r else None
    if order is not None:
        symbol, side = symbol or order.symbol, side or order.side
    if symbol is None or side is None:
        raise SchemaError("trade without symbol/side for an unknown order")
    fee, fee_asset = _spot_fee(r, name)
    return Fill(
        trade_id=str(field(r, "exec_id")),
        client_order_id=str(r.get("cl_ord_id") or (order.client_order_id if order else "")),
        symbol=symbol,
        side=side,
        quantity=dec(field(r, "last_qty"), "last_qty"),
        price=dec(field(r, "last_price"), "last_price"),
        fee=fee,
        fee_asset=fee_asset,
        ts_ms=rfc3339_ms(r["timestamp"]) if r.get("timestamp") else 0,
        is_maker=r.get("liquidity_ind") == "m",
        reduce_only=bool(r.get("reduce_only", order.reduce_only if order else False)),
    )


def parse_execution(
    raw: Any, known: Order | None, symbol_of: SymbolLookup
) -> tuple[Order | None, Fill | None]:
    """Parse one WS v2 ``executions`` entry (snapshot or update).

    ``known`` is the last state of the same order; partial updates are merged into it.
    Returns the new order state (``None`` if the order is unknown and the entry too
    partial to build one) and the fill of an ``exec_type == "trade"`` entry.
    """
    r = obj(raw, "execution")
    order_id = str(field(r, "order_id"))
    base = known
    if base is None and "order_qty" in r and "order_type" in r:
        base = _new_spot_order(r, order_id, symbol_of)
    order = _apply_spot_update(r, base) if base is not None else None
    fill = _spot_fill(r, order, symbol_of) if r.get("exec_type") == "trade" else None
    return order, fill


# ---------------------------------------------------------------------- Futures parsing

_FUTURES_TYPES = {
    "limit": OrderType.LIMIT,
    "stop": OrderType.STOP_MARKET,
    "market": OrderType.MARKET,
}
_CANCEL_STATUS = {
    "full_fill": OrderStatus.FILLED,
    "contract_expired": OrderStatus.EXPIRED,
    "ioc_order_failed_because_it_would_not_be_executed": OrderStatus.EXPIRED,
    "post_order_failed_because_it_would_filled": OrderStatus.REJECTED,
    "post_order_failed_because_it_would_be_filled": OrderStatus.REJECTED,
    "would_execute_self": OrderStatus.REJECTED,
    "would_not_reduce_position": OrderStatus.REJECTED,
    "not_enough_margin": OrderStatus.REJECTED,
    "market_inactive": OrderStatus.REJECTED,
}


def _futures_symbol(raw: Mapping[str, Any]) -> str | None:
    return futures_symbol(str(field(raw, "instrument")))


def parse_futures_order(raw: Any) -> Order | None:
    """Parse an ``open_orders`` order object; ``None`` for non-``PF_`` products."""
    r = obj(raw, "order")
    symbol = _futures_symbol(r)
    if symbol is None:
        return None
    kind = _FUTURES_TYPES.get(str(field(r, "type")))
    if kind is None:
        raise SchemaError(f"unsupported futures order type {r.get('type')!r}")
    direction = field(r, "direction")
    if direction not in (0, 1):
        raise SchemaError(f"bad direction {direction!r}")
    qty, filled = dec(field(r, "qty"), "qty"), dec(r.get("filled", 0), "filled")
    status = OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.NEW
    stop = r.get("stop_price")
    return Order(
        client_order_id=str(r.get("cli_ord_id") or ""),
        symbol=symbol,
        side=Side.BUY if direction == 0 else Side.SELL,
        order_type=kind,
        quantity=qty,
        status=OrderStatus.FILLED if qty > 0 and filled >= qty else status,
        price=dec(r["limit_price"]) if kind is OrderType.LIMIT and "limit_price" in r else None,
        stop_price=dec(stop) if kind is OrderType.STOP_MARKET and stop else None,
        reduce_only=bool(r.get("reduce_only", False)),
        venue_order_id=str(field(r, "order_id")),
        filled_qty=filled,
        created_ms=int(r.get("time", 0)),
        updated_ms=int(r.get("last_update_time", r.get("time", 0))),
    )


def cancel_status(reason: str) -> OrderStatus:
    """Map an ``open_orders`` ``is_cancel`` reason to the order's final status."""
    return _CANCEL_STATUS.get(reason, OrderStatus.CANCELED)


def parse_futures_fill(raw: Any) -> Fill | None:
    """Parse a ``fills`` entry; ``None`` for non-``PF_`` products."""
    r = obj(raw, "fill")
    symbol = _futures_symbol(r)
    if symbol is None:
        return None
    buy = field(r, "buy")
    if not isinstance(buy, bool):
        raise SchemaError(f"bad buy flag {buy!r}")
    return Fill(
        trade_id=str(field(r, "fill_id")),
        client_order_id=str(r.get("cli_ord_id") or ""),
        symbol=symbol,
        side=Side.BUY if buy else Side.SELL,
        quantity=dec(field(r, "qty"), "qty"),
        price=dec(field(r, "price"), "price"),
        fee=dec(r.get("fee_paid", 0), "fee_paid"),
        fee_asset=common_asset(str(r.get("fee_currency") or "USD")),
        ts_ms=int(field(r, "time")),
        is_maker=r.get("fill_type") == "maker",
    )


# ---------------------------------------------------------------------- shared loop
