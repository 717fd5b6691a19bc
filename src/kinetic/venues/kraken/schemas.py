"""Kraken Spot payloads -> frozen schema objects -> domain types.

Venue JSON stops here. Every ``parse`` raises ``SchemaError`` on a malformed item;
the clients log it (venue, endpoint) and skip the item instead of failing the call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from kinetic.domain import (
    ZERO,
    Balance,
    Candle,
    Fill,
    Instrument,
    MarketType,
    Order,
    OrderStatus,
    OrderType,
    Side,
)
from kinetic.venues.kraken.symbols import common_asset, spot_symbol, ws_v2_symbol

ORDER_TYPES = {
    OrderType.MARKET: "market",
    OrderType.LIMIT: "limit",
    OrderType.STOP_MARKET: "stop-loss",
}
_FROM_ORDER_TYPE = {v: k for k, v in ORDER_TYPES.items()}


class SchemaError(ValueError):
    """A venue payload did not have the expected shape."""


def dec(raw: Any, name: str = "value") -> Decimal:
    """Parse a Kraken number (string or JSON number) into a ``Decimal``."""
    try:
        return Decimal(str(raw))
    except (InvalidOperation, ValueError):
        raise SchemaError(f"{name}: not a number: {raw!r}") from None


def obj(raw: Any, name: str = "object") -> Mapping[str, Any]:
    """Return ``raw`` if it is a JSON object, else raise ``SchemaError``."""
    if not isinstance(raw, Mapping):
        raise SchemaError(f"{name}: expected an object, got {type(raw).__name__}")
    return raw


def field(raw: Mapping[str, Any], key: str) -> Any:
    """Return ``raw[key]`` or raise ``SchemaError`` naming the missing key."""
    try:
        return raw[key]
    except KeyError:
        raise SchemaError(f"missing field {key!r}") from None


@dataclass(frozen=True, slots=True)
class SpotPair:
    """One AssetPairs entry (tradable pair and its trading rules)."""

    key: str
    altname: str
    base: str
    quote: str
    tick_size: Decimal
    lot_decimals: int
    ordermin: Decimal
    costmin: Decimal
    status: str

    @classmethod
    def parse(cls, key: str, raw: Any) -> SpotPair:
        """Parse one ``result`` entry of ``/0/public/AssetPairs``."""
        r = obj(raw, key)
        tick = r.get("tick_size")
        tick_size = (
            dec(tick, "tick_size")
            if tick is not None
            else Decimal(1).scaleb(-int(field(r, "pair_decimals")))
        )
        return cls(
            key=key,
            altname=str(field(r, "altname")),
            base=str(field(r, "base")),
            quote=str(field(r, "quote")),
            tick_size=tick_size,
            lot_decimals=int(field(r, "lot_decimals")),
            ordermin=dec(r.get("ordermin", "0"), "ordermin"),
            costmin=dec(r.get("costmin", "0"), "costmin"),
            status=str(r.get("status", "online")),
        )

    @property
    def symbol(self) -> str:
        """Return the Kinetic symbol (``BTCUSDT``)."""
        return spot_symbol(self.base, self.quote)

    @property
    def ws_symbol(self) -> str:
        """Return the WS v2 symbol (``BTC/USDT``)."""
        return ws_v2_symbol(self.base, self.quote)

    def to_instrument(self) -> Instrument:
        """Return the domain instrument (step from ``lot_decimals``, minimums as given)."""
        step = Decimal(1).scaleb(-self.lot_decimals)
        return Instrument(
            symbol=self.symbol,
            base=common_asset(self.base),
            quote=common_asset(self.quote),
            market=MarketType.SPOT,
            tick_size=self.tick_size,
            step_size=step,
            min_qty=max(self.ordermin, step),
            min_notional=self.costmin,
        )


def parse_ohlc_row(row: Any, symbol: str, interval_ms: int) -> Candle:
    """Parse ``[time, open, high, low, close, vwap, volume, count]`` into a ``Candle``."""
    if not isinstance(row, list) or len(row) < 7:
        raise SchemaError(f"OHLC row: unexpected shape {row!r}")
    try:
        open_ms = int(row[0]) * 1000
        o, h, lo, c, v = (float(row[i]) for i in (1, 2, 3, 4, 6))
    except (TypeError, ValueError):
        raise SchemaError(f"OHLC row: bad number in {row!r}") from None
    return Candle(symbol, open_ms, open_ms + interval_ms - 1, o, h, lo, c, v)


def parse_balances(raw: Any) -> dict[str, Balance]:
    """Parse ``BalanceEx`` (``{asset: {balance, hold_trade}}``) into balances by common code."""
    out: dict[str, Balance] = {}
    for asset, entry in obj(raw, "balances").items():
        e = obj(entry, asset)
        total = dec(field(e, "balance"), "balance")
        hold = dec(e.get("hold_trade", "0"), "hold_trade")
        code = common_asset(asset)
        prev = out.get(code)
        free, locked = total - hold, hold
        if prev is not None:
            free, locked = free + prev.free, locked + prev.locked
        out[code] = Balance(code, free, locked)
    return out


def _status(raw_status: str, vol: Decimal, executed: Decimal) -> OrderStatus:
    if raw_status in ("pending", "open"):
        return OrderStatus.PARTIALLY_FILLED if executed > 0 else OrderStatus.NEW
    if raw_status == "closed":
        return OrderStatus.FILLED if executed > 0 else OrderStatus.CANCELED
    if raw_status == "canceled":
        return OrderStatus.CANCELED
    if raw_status == "expired":
        return OrderStatus.EXPIRED
    raise SchemaError(f"order status {raw_status!r} unknown")


def parse_order(txid: str, raw: Any, symbol_of: Callable[[str], str | None]) -> Order:
    """Parse an OpenOrders/ClosedOrders/QueryOrders entry into an ``Order``."""
    r = obj(raw, txid)
    descr = obj(field(r, "descr"), "descr")
    symbol = symbol_of(str(field(descr, "pair")))
    if symbol is None:
        raise SchemaError(f"order {txid}: unknown pair {descr.get('pair')!r}")
    kind = _FROM_ORDER_TYPE.get(str(field(descr, "ordertype")))
    if kind is None:
        raise SchemaError(f"order {txid}: unsupported type {descr.get('ordertype')!r}")
    vol, executed = dec(field(r, "vol"), "vol"), dec(r.get("vol_exec", "0"), "vol_exec")
    price = dec(descr.get("price", "0"), "price")
    opened = int(float(r.get("opentm", 0)) * 1000)
    return Order(
        client_order_id=str(r.get("cl_ord_id") or ""),
        symbol=symbol,
        side=Side.BUY if field(descr, "type") == "buy" else Side.SELL,
        order_type=kind,
        quantity=vol,
        status=_status(str(field(r, "status")), vol, executed),
        price=price if kind is OrderType.LIMIT else None,
        stop_price=price if kind is OrderType.STOP_MARKET else None,
        reduce_only="reduce_only" in str(r.get("oflags", "")),
        venue_order_id=txid,
        filled_qty=executed,
        avg_price=dec(r.get("price", "0"), "price") if executed > 0 else ZERO,
        created_ms=opened,
        updated_ms=int(float(r.get("closetm", r.get("opentm", 0))) * 1000),
    )


@dataclass(frozen=True, slots=True)
class SpotTrade:
    """One TradesHistory entry."""

    trade_id: str
    order_txid: str
    pair: str
    side: Side
    price: Decimal
    volume: Decimal
    fee: Decimal
    ts_ms: int
    is_maker: bool

    @classmethod
    def parse(cls, trade_id: str, raw: Any) -> SpotTrade:
        """Parse one ``trades`` entry of ``/0/private/TradesHistory``."""
        r = obj(raw, trade_id)
        return cls(
            trade_id=trade_id,
            order_txid=str(field(r, "ordertxid")),
            pair=str(field(r, "pair")),
            side=Side.BUY if field(r, "type") == "buy" else Side.SELL,
            price=dec(field(r, "price"), "price"),
            volume=dec(field(r, "vol"), "vol"),
            fee=dec(r.get("fee", "0"), "fee"),
            ts_ms=int(float(field(r, "time")) * 1000),
            is_maker=bool(r.get("maker", False)),
        )

    def to_fill(self, client_order_id: str, symbol: str, fee_asset: str) -> Fill:
        """Return the domain fill (Kraken charges spot fees in the quote asset by default)."""
        return Fill(
            trade_id=self.trade_id,
            client_order_id=client_order_id,
            symbol=symbol,
            side=self.side,
            quantity=self.volume,
            price=self.price,
            fee=self.fee,
            fee_asset=fee_asset,
            ts_ms=self.ts_ms,
            is_maker=self.is_maker,
        )
