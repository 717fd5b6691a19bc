"""Kraken Futures payloads -> domain types (instruments, orders, fills, positions)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from kinetic.domain import (
    ZERO,
    Balance,
    Candle,
    Fill,
    FundingPayment,
    FundingRate,
    Instrument,
    MarketType,
    Order,
    OrderStatus,
    OrderType,
    PositionSide,
    Side,
    VenuePosition,
)
from kinetic.venues.kraken.schemas import SchemaError, dec, field, obj
from kinetic.venues.kraken.symbols import futures_symbol

ORDER_TYPES = {OrderType.MARKET: "mkt", OrderType.LIMIT: "lmt", OrderType.STOP_MARKET: "stp"}
_OPEN_TYPES = {
    "lmt": OrderType.LIMIT,
    "stop": OrderType.STOP_MARKET,
    "stp": OrderType.STOP_MARKET,
    "mkt": OrderType.MARKET,
}
_STATUS = {
    "ENTERED_BOOK": OrderStatus.NEW,
    "TRIGGER_PLACED": OrderStatus.NEW,
    "TRIGGER_ACTIVATING": OrderStatus.NEW,
    "FULLY_EXECUTED": OrderStatus.FILLED,
    "CANCELLED": OrderStatus.CANCELED,
    "REJECTED": OrderStatus.REJECTED,
}


def iso_ms(raw: Any) -> int:
    """Parse Kraken's ISO-8601 timestamps (``2019-09-05T16:33:50.734Z``) to epoch ms."""
    if isinstance(raw, int | float):
        return int(raw)
    try:
        return int(datetime.fromisoformat(str(raw).replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        raise SchemaError(f"bad timestamp {raw!r}") from None


def parse_instrument(raw: Any) -> Instrument | None:
    """Return the instrument for a tradeable ``PF_`` perpetual; ``None`` for other products."""
    r = obj(raw, "instrument")
    symbol = futures_symbol(str(field(r, "symbol")))
    if symbol is None or not r.get("tradeable", True):
        return None
    precision = int(r.get("contractValueTradePrecision", 0))
    step = Decimal(1).scaleb(-precision)
    quote = "USD"
    return Instrument(
        symbol=symbol,
        base=symbol[: -len(quote)],
        quote=quote,
        market=MarketType.FUTURES,
        tick_size=dec(field(r, "tickSize"), "tickSize"),
        step_size=step,
        min_qty=step,
        min_notional=ZERO,
        max_qty=dec(r.get("maxPositionSize", "1e12"), "maxPositionSize"),
    )


def parse_open_order(raw: Any) -> Order:
    """Parse an ``openorders`` entry."""
    r = obj(raw, "openOrder")
    symbol = _symbol(r)
    filled = dec(r.get("filledSize", "0"), "filledSize")
    unfilled = dec(field(r, "unfilledSize"), "unfilledSize")
    kind = _OPEN_TYPES.get(str(field(r, "orderType")), OrderType.LIMIT)
    return Order(
        client_order_id=str(r.get("cliOrdId") or ""),
        symbol=symbol,
        side=_side(r["side"]),
        order_type=kind,
        quantity=filled + unfilled,
        status=OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.NEW,
        price=dec(r["limitPrice"]) if kind is OrderType.LIMIT else None,
        stop_price=dec(r["stopPrice"]) if kind is OrderType.STOP_MARKET else None,
        reduce_only=bool(r.get("reduceOnly", False)),
        venue_order_id=str(field(r, "order_id")),
        filled_qty=filled,
        created_ms=iso_ms(r.get("receivedTime", 0)),
        updated_ms=iso_ms(r.get("lastUpdateTime", r.get("receivedTime", 0))),
    )


def parse_order_status(raw: Any) -> Order:
    """Parse an ``orders/status`` entry (``{"order": {...}, "status": ...}``)."""
    r = obj(raw, "orderStatus")
    o = obj(field(r, "order"), "order")
    status = _STATUS.get(str(field(r, "status")))
    if status is None:
        raise SchemaError(f"order status {r.get('status')!r} unknown")
    qty, filled = dec(field(o, "quantity"), "quantity"), dec(o.get("filled", "0"), "filled")
    if status is OrderStatus.NEW and filled > 0:
        status = OrderStatus.PARTIALLY_FILLED
    trigger = o.get("priceTriggerOptions") or {}
    kind = _OPEN_TYPES.get(str(o.get("orderType", "")))
    if kind is None:
        kind = OrderType.STOP_MARKET if trigger else OrderType.LIMIT
    return Order(
        client_order_id=str(o.get("cliOrdId") or ""),
        symbol=_symbol(o),
        side=_side(o["side"]),
        order_type=kind,
        quantity=qty,
        status=status,
        price=dec(o["limitPrice"]) if kind is OrderType.LIMIT else None,
        stop_price=dec(trigger["triggerPrice"]) if trigger else None,
        reduce_only=bool(o.get("reduceOnly", False)),
        venue_order_id=str(field(o, "orderId")),
        filled_qty=filled,
        created_ms=iso_ms(o.get("timestamp", 0)),
        updated_ms=iso_ms(o.get("lastUpdateTimestamp", o.get("timestamp", 0))),
    )


def parse_fill(raw: Any) -> Fill:
    """Parse a ``fills`` entry (fees are not reported here; they settle in the account)."""
    r = obj(raw, "fill")
    return Fill(
        trade_id=str(field(r, "fill_id")),
        client_order_id=str(r.get("cliOrdId") or ""),
        symbol=_symbol(r),
        side=_side(r["side"]),
        quantity=dec(field(r, "size"), "size"),
        price=dec(field(r, "price"), "price"),
        fee=ZERO,
        fee_asset="USD",
        ts_ms=iso_ms(field(r, "fillTime")),
        is_maker=r.get("fillType") == "maker",
    )


def parse_position(raw: Any, leverage: int) -> VenuePosition:
    """Parse an ``openpositions`` entry."""
    r = obj(raw, "position")
    return VenuePosition(
        symbol=_symbol(r),
        side=PositionSide.LONG if r.get("side") == "long" else PositionSide.SHORT,
        quantity=dec(field(r, "size"), "size"),
        entry_price=dec(field(r, "price"), "price"),
        leverage=leverage,
        isolated_margin=ZERO,
        liquidation_price=ZERO,
        unrealized_pnl=dec(r.get("unrealizedPnl", r.get("unrealizedFunding", "0"))),
    )


def parse_balances(raw: Any) -> dict[str, Balance]:
    """Return the multi-collateral (``flex``) account as a USD balance: free = available."""
    accounts = obj(raw, "accounts")
    flex = accounts.get("flex")
    if not isinstance(flex, Mapping):
        return {}
    available = dec(flex.get("availableMargin", "0"), "availableMargin")
    total = dec(flex.get("portfolioValue", flex.get("balanceValue", "0")), "portfolioValue")
    return {"USD": Balance("USD", available, max(ZERO, total - available))}


def parse_funding(raw: Any) -> FundingPayment | None:
    """Parse an ``/api/history/v3/account-log`` entry; None unless it books funding.

    Funding is booked as ``realized_funding`` (signed, positive received) on the entry
    that closes a funding period (``info`` "funding rate change") and on trades that
    change a position's size; only USD-collateral entries on a ``PF_`` contract count.
    The id is the booking's ``booking_uid``.
    """
    r = obj(raw, "log entry")
    amount = dec(r.get("realized_funding") or "0", "realized_funding")
    collateral = str(r.get("collateral") or r.get("asset") or "").upper()
    if amount == 0 or collateral != "USD":
        return None
    symbol = futures_symbol(str(r.get("contract") or ""))
    if symbol is None:
        return None
    return FundingPayment(
        symbol=symbol,
        amount=amount,
        ts_ms=iso_ms(field(r, "date")),
        id=str(r.get("booking_uid") or field(r, "id")),
    )


def parse_chart_candle(raw: Any, symbol: str, interval_ms: int) -> Candle:
    """Parse a charts-API candle (``time`` in ms, prices as strings)."""
    r = obj(raw, "candle")
    try:
        open_ms = int(field(r, "time"))
        o, h, lo, c = (float(field(r, k)) for k in ("open", "high", "low", "close"))
        v = float(r.get("volume", 0))
    except (TypeError, ValueError):
        raise SchemaError(f"bad candle {raw!r}") from None
    return Candle(symbol, open_ms, open_ms + interval_ms - 1, o, h, lo, c, v)


def parse_funding_rate(raw: Any, symbol: str) -> FundingRate:
    """Parse a ``historical-funding-rates`` entry: ``relativeFundingRate`` is the fraction.

    (``fundingRate`` is the absolute amount per contract, in the quote currency.)
    """
    r = obj(raw, "funding rate")
    try:
        rate = float(field(r, "relativeFundingRate"))
    except (TypeError, ValueError):
        raise SchemaError(f"bad funding rate {raw!r}") from None
    if not math.isfinite(rate):
        raise SchemaError(f"bad funding rate {raw!r}")
    return FundingRate(symbol, iso_ms(field(r, "timestamp")), rate)


def _symbol(r: Mapping[str, Any]) -> str:
    raw = str(r.get("symbol") or r.get("instrument") or "")
    symbol = futures_symbol(raw)
    if symbol is None:
        raise SchemaError(f"unsupported futures symbol {raw!r}")
    return symbol


def _side(raw: Any) -> Side:
    if raw in ("buy", "long"):
        return Side.BUY
    if raw in ("sell", "short"):
        return Side.SELL
    raise SchemaError(f"bad side {raw!r}")
