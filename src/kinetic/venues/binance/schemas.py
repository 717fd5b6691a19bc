"""Binance JSON -> frozen schema objects -> domain types. Venue JSON stops here.

Every ``parse`` raises ``SchemaError`` on a malformed payload; ``parse_many`` logs
such items (venue and endpoint, never the payload's credentials) and skips them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from kinetic.domain import (
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
from kinetic.logging import get_logger

T = TypeVar("T")

ORDER_STATUS = {
    "NEW": OrderStatus.NEW,
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELED,
    "PENDING_CANCEL": OrderStatus.NEW,
    "REJECTED": OrderStatus.REJECTED,
    "EXPIRED": OrderStatus.EXPIRED,
    "EXPIRED_IN_MATCH": OrderStatus.EXPIRED,
    # algo (conditional) order statuses
    "TRIGGERING": OrderStatus.NEW,
    "TRIGGERED": OrderStatus.FILLED,
    "FINISHED": OrderStatus.FILLED,
}
ORDER_TYPES = {
    "MARKET": OrderType.MARKET,
    "LIMIT": OrderType.LIMIT,
    "STOP_MARKET": OrderType.STOP_MARKET,
    "STOP_LOSS": OrderType.STOP_MARKET,  # spot's market stop
    "STOP_LOSS_LIMIT": OrderType.STOP_LIMIT,  # spot's stop-limit
}


class SchemaError(ValueError):
    """A venue payload did not have the expected shape."""


def dec(raw: Any, field: str) -> Decimal:
    """Parse a Binance decimal string (or number) strictly."""
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        raise SchemaError(f"{field}: not a decimal: {raw!r}") from None
    if not value.is_finite():
        raise SchemaError(f"{field}: not finite")
    return value


def req(obj: Any, key: str) -> Any:
    """Return ``obj[key]`` or raise ``SchemaError``."""
    if not isinstance(obj, dict) or key not in obj:
        raise SchemaError(f"missing field {key!r}")
    return obj[key]


def parse_many(items: Any, parse: Callable[[Any], T], *, venue: str, endpoint: str) -> list[T]:
    """Parse every item of a JSON list; log and skip the malformed ones."""
    if not isinstance(items, list):
        get_logger(venue=venue).warning(
            "malformed payload", endpoint=endpoint, error="expected a list"
        )
        return []
    out: list[T] = []
    for item in items:
        try:
            out.append(parse(item))
        except (SchemaError, KeyError, TypeError, ValueError) as exc:
            get_logger(venue=venue).warning(
                "malformed payload item skipped", endpoint=endpoint, error=str(exc)
            )
    return out


@dataclass(frozen=True, slots=True)
class SymbolInfo:
    """One ``exchangeInfo.symbols[]`` entry, reduced to what orders need."""

    symbol: str
    base: str
    quote: str
    status: str
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_notional: Decimal

    @classmethod
    def parse(cls, raw: Any) -> SymbolInfo:
        """Parse a symbol entry; the min notional comes from NOTIONAL or MIN_NOTIONAL."""
        filters = {f.get("filterType"): f for f in req(raw, "filters") if isinstance(f, dict)}
        price, lot = req(filters, "PRICE_FILTER"), req(filters, "LOT_SIZE")
        return cls(
            str(req(raw, "symbol")),
            str(req(raw, "baseAsset")),
            str(req(raw, "quoteAsset")),
            str(raw.get("status", "TRADING")),
            dec(req(price, "tickSize"), "tickSize"),
            dec(req(lot, "stepSize"), "stepSize"),
            dec(req(lot, "minQty"), "minQty"),
            dec(req(lot, "maxQty"), "maxQty"),
            _min_notional(filters),
        )

    def to_instrument(self, market: MarketType) -> Instrument:
        """Convert to the domain ``Instrument``."""
        return Instrument(
            self.symbol,
            self.base,
            self.quote,
            market,
            self.tick_size,
            self.step_size,
            self.min_qty,
            self.min_notional,
            self.max_qty,
        )


def _min_notional(filters: dict[Any, Any]) -> Decimal:
    """Spot: NOTIONAL.minNotional wins over MIN_NOTIONAL.minNotional; USD-M: .notional."""
    best = Decimal(0)
    for name in ("MIN_NOTIONAL", "NOTIONAL"):
        f = filters.get(name)
        if not isinstance(f, dict):
            continue
        raw = f.get("minNotional", f.get("notional"))
        if raw is not None:
            best = dec(raw, f"{name}.minNotional")
    return best


def parse_kline(symbol: str) -> Callable[[Any], Candle]:
    """Return a parser of one REST kline row (12 columns) for ``symbol``."""

    def parse(row: Any) -> Candle:
        if not isinstance(row, list) or len(row) < 7:
            raise SchemaError("kline row: expected >= 7 columns")
        return Candle(
            symbol,
            int(row[0]),
            int(row[6]),
            float(row[1]),
            float(row[2]),
            float(row[3]),
            float(row[4]),
            float(row[5]),
        )

    return parse


def parse_order(raw: Any) -> Order:
    """Parse a spot or USD-M order object (new/query/cancel answers)."""
    status = ORDER_STATUS.get(str(req(raw, "status")))
    otype = ORDER_TYPES.get(str(raw.get("origType", req(raw, "type"))))
    if status is None or otype is None:
        raise SchemaError(f"unsupported status/type {raw.get('status')}/{raw.get('type')}")
    qty, filled = dec(req(raw, "origQty"), "origQty"), dec(raw.get("executedQty", 0), "exec")
    price = dec(raw.get("price", 0), "price")
    stop = dec(raw.get("stopPrice", 0), "stopPrice")
    updated = int(raw.get("updateTime", raw.get("transactTime", raw.get("time", 0))))
    return Order(
        str(req(raw, "clientOrderId")),
        str(req(raw, "symbol")),
        Side(str(req(raw, "side"))),
        otype,
        qty,
        status,
        price or None,
        stop or None,
        bool(raw.get("reduceOnly", False)),
        str(req(raw, "orderId")),
        filled,
        _avg_price(raw, filled),
        int(raw.get("time", raw.get("transactTime", updated))),
        updated,
    )


def _avg_price(raw: dict[str, Any], filled: Decimal) -> Decimal:
    if "avgPrice" in raw:
        return dec(raw["avgPrice"], "avgPrice")
    quote = dec(raw.get("cummulativeQuoteQty", 0), "cummulativeQuoteQty")
    return quote / filled if filled > 0 and quote > 0 else Decimal(0)


@dataclass(frozen=True, slots=True)
class AlgoOrder:
    """A USD-M algo (conditional) order: the domain ``Order`` and the ids that
    attribute its fills.

    A triggered algo order is executed by a regular order of the matching engine; the
    trades carry that order's id, which the algo order reports as ``actualOrderId``
    (``""`` until it triggered).
    """

    order: Order
    algo_id: str
    actual_order_id: str

    @classmethod
    def parse(cls, raw: Any) -> AlgoOrder:
        """Parse a ``GET/POST /fapi/v1/algoOrder`` or ``openAlgoOrders`` item."""
        order = parse_algo_order(raw)
        actual = raw.get("actualOrderId")
        return cls(order, str(req(raw, "algoId")), "" if actual in (None, 0, "0") else str(actual))


def parse_algo_order(raw: Any) -> Order:
    """Parse a USD-M algo (conditional) order as a STOP_MARKET ``Order``."""
    status = ORDER_STATUS.get(str(req(raw, "algoStatus")))
    if status is None:
        raise SchemaError(f"unsupported algoStatus {raw.get('algoStatus')}")
    updated = int(raw.get("updateTime", 0))
    return Order(
        str(req(raw, "clientAlgoId")),
        str(req(raw, "symbol")),
        Side(str(req(raw, "side"))),
        OrderType.STOP_MARKET,
        dec(req(raw, "quantity"), "quantity"),
        status,
        None,
        dec(req(raw, "triggerPrice"), "triggerPrice"),
        bool(raw.get("reduceOnly")),
        f"algo:{req(raw, 'algoId')}",
        created_ms=int(raw.get("createTime", updated)),
        updated_ms=updated,
    )


def parse_trade(client_ids: Mapping[str, str]) -> Callable[[Any], Fill]:
    """Return a parser of ``myTrades``/``userTrades`` rows; ids map orderId -> client id."""

    def parse(raw: Any) -> Fill:
        order_id = str(req(raw, "orderId"))
        side = raw.get("side") or ("BUY" if raw.get("isBuyer") else "SELL")
        return Fill(
            str(req(raw, "id")),
            client_ids.get(order_id, ""),
            str(req(raw, "symbol")),
            Side(str(side)),
            dec(req(raw, "qty"), "qty"),
            dec(req(raw, "price"), "price"),
            dec(raw.get("commission", 0), "commission"),
            str(raw.get("commissionAsset", "")),
            int(req(raw, "time")),
            bool(raw.get("isMaker", raw.get("maker", False))),
        )

    return parse


def parse_balance(raw: Any) -> Balance:
    """Parse a spot ``balances[]`` or USD-M ``/fapi/v3/balance`` entry."""
    if "free" in raw:
        return Balance(
            str(req(raw, "asset")), dec(raw["free"], "free"), dec(raw.get("locked", 0), "locked")
        )
    total, free = dec(req(raw, "balance"), "balance"), dec(req(raw, "availableBalance"), "av")
    return Balance(str(req(raw, "asset")), free, total - free)


def parse_funding(asset: str) -> Callable[[Any], FundingPayment | None]:
    """Parse a USD-M ``/fapi/v1/income`` row; None unless a FUNDING_FEE in ``asset``.

    ``income`` is signed (positive received); ``tranId`` is unique per income type.
    """

    def parse(raw: Any) -> FundingPayment | None:
        if req(raw, "incomeType") != "FUNDING_FEE" or raw.get("asset", asset) != asset:
            return None
        return FundingPayment(
            symbol=str(req(raw, "symbol")),
            amount=dec(req(raw, "income"), "income"),
            ts_ms=int(req(raw, "time")),
            id=str(req(raw, "tranId")),
        )

    return parse


def parse_funding_rate(raw: Any) -> FundingRate:
    """Parse a USD-M ``/fapi/v1/fundingRate`` row (``fundingTime`` ms, ``fundingRate``)."""
    rate = float(req(raw, "fundingRate"))
    if not math.isfinite(rate):
        raise SchemaError(f"fundingRate {rate!r} is not a number")
    ts_ms = int(req(raw, "fundingTime"))
    return FundingRate(symbol=str(req(raw, "symbol")), ts_ms=ts_ms, rate=rate)


def parse_position(leverage: dict[str, int]) -> Callable[[Any], VenuePosition | None]:
    """Return a parser of positionRisk v3 rows (``None`` for flat rows)."""

    def parse(raw: Any) -> VenuePosition | None:
        amt = dec(req(raw, "positionAmt"), "positionAmt")
        if amt == 0:
            return None
        symbol = str(req(raw, "symbol"))
        notional = abs(dec(raw.get("notional", 0), "notional"))
        margin = dec(raw.get("positionInitialMargin", raw.get("initialMargin", 0)), "margin")
        lev = leverage.get(symbol) or (int(notional / margin) if margin > 0 else 1)
        return VenuePosition(
            symbol,
            PositionSide.LONG if amt > 0 else PositionSide.SHORT,
            abs(amt),
            dec(req(raw, "entryPrice"), "entryPrice"),
            max(1, lev),
            dec(raw.get("isolatedMargin", 0), "isolatedMargin"),
            dec(raw.get("liquidationPrice", 0), "liquidationPrice"),
            dec(raw.get("unRealizedProfit", 0), "unRealizedProfit"),
        )

    return parse


def present(items: Iterable[T | None]) -> list[T]:
    """Drop ``None`` entries."""
    return [i for i in items if i is not None]
