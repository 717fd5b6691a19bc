"""Order-book state of the fake Binance server: instruments, orders, fills, candles.

Speaks Binance JSON shapes (spot ``/api/v3`` or USD-M ``/fapi``); deliberately simple:
market orders fill at the last price, resting limits fill when ``set_price`` crosses them,
stop orders (spot ``STOP_LOSS``, USD-M algo ``STOP_MARKET``) fill at the price that
triggers them; a spot ``STOP_LOSS_LIMIT`` triggers the same way and then trades as a
limit at its ``price`` (at the market price while that is at or better than the limit).
A triggered USD-M algo order is executed, as on the venue, by a new regular MARKET order
(its own ``orderId`` and an auto-generated ``clientOrderId``, reduce-only as the algo
order): the trades carry that order's id, the algo order turns ``FINISHED`` and reports
it as ``actualOrderId``.
Spot fills move the balances; USD-M fills move the position and the wallet (fees and
realized PnL).
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any


class ApiError(Exception):
    """A Binance ``{"code", "msg"}`` answer with an HTTP status."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.code, self.msg, self.status = code, msg, status


@dataclass
class Sym:
    symbol: str
    base: str
    tick: Decimal
    step: Decimal
    min_qty: Decimal
    min_notional: Decimal


D = Decimal
SPOT_SYMBOLS = [
    Sym("BTCUSDT", "BTC", D("0.01"), D("0.00001"), D("0.00001"), D(5)),
    Sym("ETHUSDT", "ETH", D("0.01"), D("0.0001"), D("0.0001"), D(5)),
    Sym("SOLUSDT", "SOL", D("0.01"), D("0.001"), D("0.001"), D(5)),
    Sym("BNBUSDT", "BNB", D("0.01"), D("0.001"), D("0.001"), D(5)),
    Sym("XRPUSDT", "XRP", D("0.0001"), D("0.1"), D("0.1"), D(5)),
]
FUTURES_SYMBOLS = [
    Sym("BTCUSDT", "BTC", D("0.10"), D("0.001"), D("0.001"), D(100)),
    Sym("ETHUSDT", "ETH", D("0.01"), D("0.001"), D("0.001"), D(20)),
    Sym("SOLUSDT", "SOL", D("0.01"), D("1"), D("1"), D(5)),
    Sym("BNBUSDT", "BNB", D("0.01"), D("0.01"), D("0.01"), D(5)),
    Sym("XRPUSDT", "XRP", D("0.0001"), D("0.1"), D("0.1"), D(5)),
]
STOP_TYPES = ("STOP_MARKET", "STOP", "STOP_LOSS", "TAKE_PROFIT_MARKET", "TAKE_PROFIT")
STOP_LIMIT_TYPES = ("STOP_LOSS_LIMIT",)  # spot
# Memory stays bounded however long the sandbox runs: like the venue, which archives old
# orders (a query answers -2013), the fake forgets final orders beyond the newest
# FINAL_ORDERS_KEPT and keeps the newest TRADES_KEPT trades (open orders are never dropped).
FINAL_ORDERS_KEPT = 10_000
TRADES_KEPT = 10_000
# What the fake's matching handles: exchangeInfo lists exactly these (the real venues
# list more; an unlisted type would rest forever here).
SPOT_ORDER_TYPES = ["LIMIT", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT"]
USDM_ORDER_TYPES = ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET"]
SPOT_SYMBOL_FIELDS: dict[str, Any] = {
    "quoteAssetPrecision": 8,
    "baseCommissionPrecision": 8,
    "quoteCommissionPrecision": 8,
    "orderTypes": SPOT_ORDER_TYPES,
    "icebergAllowed": False,
    "ocoAllowed": False,
    "otoAllowed": False,
    "quoteOrderQtyMarketAllowed": False,
    "allowTrailingStop": False,
    "cancelReplaceAllowed": False,
    "amendAllowed": False,
    "isSpotTradingAllowed": True,
    "isMarginTradingAllowed": False,
    "permissions": [],
    "permissionSets": [["SPOT"]],
    "defaultSelfTradePreventionMode": "NONE",
    "allowedSelfTradePreventionModes": ["NONE"],
}


def _decimals(step: Decimal) -> int:
    return max(0, -int(step.normalize().as_tuple().exponent))


def _usdm_contract_fields(s: Sym) -> dict[str, Any]:
    """The perpetual-contract fields of a USD-M ``exchangeInfo`` symbol."""
    return {
        "pair": s.symbol,
        "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000,
        "onboardDate": 1569398400000,
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "marginAsset": "USDT",
        "pricePrecision": _decimals(s.tick),
        "quantityPrecision": _decimals(s.step),
        "underlyingType": "COIN",
        "underlyingSubType": [],
        "settlePlan": 0,
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
        "orderTypes": USDM_ORDER_TYPES,
        "timeInForce": ["GTC"],
    }


@dataclass
class FakeOrder:
    order_id: int
    client_id: str
    symbol: str
    side: str
    type: str
    qty: Decimal
    price: Decimal
    stop: Decimal
    reduce_only: bool
    time_ms: int
    status: str = "NEW"
    filled: Decimal = Decimal(0)
    quote: Decimal = Decimal(0)
    fills: list[dict[str, Any]] = field(default_factory=list)
    algo: bool = False
    triggered: bool = False  # a STOP_LOSS_LIMIT whose stop traded: now a limit
    actual_order_id: int = 0  # an algo order: the regular order that executed it
    algo_client_id: str = ""  # an actual order: the clientAlgoId of its algo order
    update_ms: int = 0


class Book:
    """Everything the fake venue remembers for one market (spot or futures)."""

    def __init__(self, futures: bool) -> None:
        self.futures = futures
        syms = FUTURES_SYMBOLS if futures else SPOT_SYMBOLS
        self.symbols = {s.symbol: s for s in syms}
        self.prices: dict[str, Decimal] = {}
        self.orders: dict[str, FakeOrder] = {}
        self.trades: list[dict[str, Any]] = []
        self.candles: dict[str, list[list[Any]]] = {}
        self.mark_candles: dict[str, list[list[Any]]] = {}  # markPriceKlines rows
        self.funding_rates: dict[str, list[dict[str, Any]]] = {}  # fundingRate rows
        self.positions: dict[str, tuple[Decimal, Decimal]] = {}
        self.leverage: dict[str, int] = {}
        self.margin_type: dict[str, str] = {}
        self.countdowns: dict[str, int] = {}
        self.dual_side = False
        self.balances: dict[str, Decimal] = {"USDT": D(100000), "BTC": D("1.5")}
        self.wallet = D(100000)  # USD-M wallet balance (USDT)
        self.move_balances = False  # the sandbox turns on balance and wallet accounting
        # market orders fill this many bps against the taker, rounded to the tick against
        # the taker (0: at the last price); a known slippage for parity tests
        self.market_slippage_bps = Decimal(0)
        self.income: list[dict[str, Any]] = []  # USD-M /fapi/v1/income rows, oldest first
        self._ids = itertools.count(1000)
        self._final: deque[str] = deque()  # client ids of final orders, oldest first
        self.test_orders = 0  # orders checked by order/test (validate_only), never placed

    def fund(self, cash: Decimal) -> None:
        """Fund the test account with ``cash`` USDT and move balances with fills."""
        self.balances = {"USDT": cash}
        self.wallet = cash
        self.move_balances = True

    def add_funding(self, symbol: str, amount: Decimal, ts_ms: int) -> dict[str, Any]:
        """Book a USD-M funding payment (signed, USDT): an income row; the wallet moves."""
        row = {
            "symbol": symbol,
            "incomeType": "FUNDING_FEE",
            "income": str(amount),
            "asset": "USDT",
            "info": "FUNDING_FEE",
            "time": ts_ms,
            "tranId": next(self._ids),
            "tradeId": "",
        }
        self.income.append(row)
        self.wallet += amount
        return row

    # ---------------------------------------------------------------- metadata
    def exchange_info(self, now_ms: int = 0) -> dict[str, Any]:
        """The venue's ``exchangeInfo`` (every field ccxt and the daemon read)."""
        out: dict[str, Any] = {
            "timezone": "UTC",
            "serverTime": now_ms,
            "rateLimits": [],  # the fake enforces none (faults are injected instead)
            "exchangeFilters": [],
            "symbols": [self._symbol_json(s) for s in self.symbols.values()],
        }
        if self.futures:
            out["futuresType"] = "U_MARGINED"
            out["assets"] = [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "0"}]
        return out

    def _symbol_json(self, s: Sym) -> dict[str, Any]:
        filters: list[dict[str, Any]] = [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": str(s.tick),
                "maxPrice": "1000000",
                "tickSize": str(s.tick),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": str(s.min_qty),
                "maxQty": "9000",
                "stepSize": str(s.step),
            },
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": str(s.min_qty),
                "maxQty": "9000",
                "stepSize": str(s.step),
            },
        ]
        common = {
            "symbol": s.symbol,
            "status": "TRADING",
            "baseAsset": s.base,
            "quoteAsset": "USDT",
            "baseAssetPrecision": 8,
            "quotePrecision": 8,
        }
        if self.futures:
            filters.append({"filterType": "MIN_NOTIONAL", "notional": str(s.min_notional)})
            return {**common, **_usdm_contract_fields(s), "filters": filters}
        filters.append(
            {
                "filterType": "NOTIONAL",
                "minNotional": str(s.min_notional),
                "applyMinToMarket": True,
                "maxNotional": "9000000",
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            }
        )
        return {**common, **SPOT_SYMBOL_FIELDS, "filters": filters}

    def sym(self, symbol: str) -> Sym:
        if symbol not in self.symbols:
            raise ApiError(-1121, "Invalid symbol.")
        return self.symbols[symbol]

    # ---------------------------------------------------------------- orders
    def test_order(self, p: dict[str, str]) -> None:
        """``POST .../order/test``: every check of a new order; nothing is placed."""
        self._checked(p, algo=False)
        self.test_orders += 1

    def new_order(self, p: dict[str, str], now_ms: int, *, algo: bool = False) -> FakeOrder:
        s, cid, otype, qty, price, stop = self._checked(p, algo=algo)
        order = FakeOrder(
            next(self._ids),
            cid,
            s.symbol,
            p.get("side", ""),
            otype,
            qty,
            price,
            stop,
            p.get("reduceOnly") == "true",
            now_ms,
            algo=algo,
        )
        self.orders[cid] = order
        if otype == "MARKET":
            self._fill(order, self._market_price(s, order.side), now_ms)
        return order

    def _checked(
        self, p: dict[str, str], *, algo: bool
    ) -> tuple[Any, str, str, Decimal, Decimal, Decimal]:
        s = self.sym(p.get("symbol", ""))
        cid = p.get("clientAlgoId" if algo else "newClientOrderId") or f"auto{next(self._ids)}"
        if cid in self.orders:
            raise (
                ApiError(-4116, "ClientOrderId is duplicated.")
                if self.futures
                else ApiError(-2010, "Duplicate order sent.")
            )
        otype = p.get("type", "")
        if self.futures and otype in ("STOP_MARKET", "STOP") and not algo:
            raise ApiError(-4120, "Order type not supported for this endpoint.")
        qty = Decimal(p.get("quantity", "0"))
        price = Decimal(p.get("price", "0"))
        stop = Decimal(p.get("triggerPrice" if algo else "stopPrice", "0"))
        if otype in STOP_LIMIT_TYPES and not (price and stop and p.get("timeInForce")):
            raise ApiError(-1102, "Mandatory parameter price, stopPrice or timeInForce missing.")
        self._check_filters(
            s,
            qty,
            price or stop or self.prices.get(s.symbol, Decimal(0)),
            p.get("reduceOnly") == "true",
        )
        return s, cid, otype, qty, price, stop

    def _market_price(self, s: Sym, side: str) -> Decimal:
        price = self.prices[s.symbol]
        if not self.market_slippage_bps:
            return price
        move = price * self.market_slippage_bps / Decimal(10_000)
        slipped = price + move if side == "BUY" else price - move
        rounding = ROUND_CEILING if side == "BUY" else ROUND_FLOOR
        return (slipped / s.tick).to_integral_value(rounding) * s.tick

    def _check_filters(self, s: Sym, qty: Decimal, price: Decimal, reduce_only: bool) -> None:
        if qty < s.min_qty or qty % s.step != 0:
            raise ApiError(-4023 if self.futures else -1013, "Filter failure: LOT_SIZE")
        if not reduce_only and qty * price < s.min_notional:
            raise ApiError(-4164 if self.futures else -1013, "Filter failure: NOTIONAL")

    def find(self, p: dict[str, str], *, algo: bool = False) -> FakeOrder:
        cid = p.get("clientAlgoId" if algo else "origClientOrderId")
        order = self.orders.get(cid or "")
        oid = p.get("algoId" if algo else "orderId")
        if order is None and oid:
            order = next((o for o in self.orders.values() if str(o.order_id) == oid), None)
        if order is None or order.algo != algo or ("symbol" in p and order.symbol != p["symbol"]):
            raise ApiError(-2013, "Order does not exist.")
        return order

    def cancel(self, order: FakeOrder) -> FakeOrder:
        if order.status not in ("NEW", "PARTIALLY_FILLED"):
            raise ApiError(-2011, "Unknown order sent.")
        order.status = "CANCELED"
        self._retire(order)
        return order

    def _retire(self, order: FakeOrder) -> None:
        """Note a final order; forget the oldest final ones beyond FINAL_ORDERS_KEPT."""
        self._final.append(order.client_id)
        while len(self._final) > FINAL_ORDERS_KEPT:
            old = self.orders.get(self._final.popleft())
            if old is not None and old.status not in ("NEW", "PARTIALLY_FILLED"):
                del self.orders[old.client_id]

    def open_orders(self, symbol: str | None, *, algo: bool = False) -> list[FakeOrder]:
        return [
            o
            for o in self.orders.values()
            if o.status in ("NEW", "PARTIALLY_FILLED")
            and o.algo == algo
            and (symbol is None or o.symbol == symbol)
        ]

    def set_price(self, symbol: str, price: Decimal, now_ms: int) -> None:
        self.prices[symbol] = price
        for o in self.open_orders(symbol) + self.open_orders(symbol, algo=True):
            if o.type == "LIMIT" and (o.price >= price if o.side == "BUY" else o.price <= price):
                self._fill(o, o.price, now_ms)
            elif o.type in STOP_TYPES and o.stop and o.algo and _triggered(o, price):
                self._trigger_algo(o, price, now_ms)
            elif o.type in STOP_TYPES and o.stop and _triggered(o, price):
                self._fill(o, price, now_ms)
            elif o.type in STOP_LIMIT_TYPES and (o.triggered or _triggered(o, price)):
                o.triggered = True
                if o.price <= price if o.side == "SELL" else o.price >= price:
                    self._fill(o, price, now_ms)

    def _trigger_algo(self, algo: FakeOrder, price: Decimal, now_ms: int) -> None:
        """Execute a triggered algo order as the venue does: a new regular MARKET order
        (own orderId, auto-generated clientOrderId) fills; the algo order is FINISHED and
        names it in ``actualOrderId``. The fake's STOP/TAKE_PROFIT fill at the trigger's
        price too (their limit price is not used)."""
        order_id = next(self._ids)
        actual = FakeOrder(
            order_id,
            f"auto{order_id}",
            algo.symbol,
            algo.side,
            "MARKET",
            algo.qty,
            Decimal(0),
            Decimal(0),
            algo.reduce_only,
            now_ms,
            algo_client_id=algo.client_id,
        )
        self.orders[actual.client_id] = actual
        algo.actual_order_id, algo.update_ms = order_id, now_ms
        self._fill(actual, price, now_ms)
        algo.filled, algo.quote = actual.filled, actual.quote
        algo.status = "FINISHED" if actual.filled > 0 else "EXPIRED"
        self._retire(algo)

    def _fill(self, order: FakeOrder, price: Decimal, now_ms: int) -> None:
        qty = order.qty - order.filled
        if self.futures and order.reduce_only:
            # reduce-only never opens or grows a position: it executes at most what it
            # reduces, the rest expires (a second stop triggered after the first one
            # closed the position expires unfilled)
            amt = self.positions.get(order.symbol, (Decimal(0), Decimal(0)))[0]
            qty = min(qty, max(-amt if order.side == "BUY" else amt, Decimal(0)))
            if qty <= 0:
                order.status, order.update_ms = "EXPIRED", now_ms
                self._retire(order)
                return
        order.filled, order.quote = order.filled + qty, order.quote + qty * price
        order.status = "FILLED" if order.filled == order.qty else "EXPIRED"
        fee = (qty * price * Decimal("0.001")).quantize(Decimal("0.00000001"))
        trade = {
            "symbol": order.symbol,
            "id": next(self._ids),
            "orderId": order.order_id,
            "price": str(price),
            "qty": str(qty),
            "commission": str(fee),
            "commissionAsset": "USDT",
            "time": now_ms,
            "isMaker": order.type == "LIMIT",
        }
        if self.futures:
            trade.update(side=order.side, buyer=order.side == "BUY", maker=trade["isMaker"])
            pnl = self._move_position(order.symbol, qty if order.side == "BUY" else -qty, price)
            trade["realizedPnl"] = str(pnl)
            if self.move_balances:
                self.wallet += pnl - fee
        else:
            trade["isBuyer"] = order.side == "BUY"
            if self.move_balances:
                self._move_balances(order, qty, price, fee)
        self.trades.append(trade)
        if len(self.trades) > 2 * TRADES_KEPT:  # trimmed in batches: amortised O(1)
            del self.trades[:-TRADES_KEPT]
        self._retire(order)
        order.fills.append(
            {
                "price": str(price),
                "qty": str(qty),
                "commission": str(fee),
                "commissionAsset": "USDT",
                "tradeId": trade["id"],
            }
        )

    def _move_balances(self, order: FakeOrder, qty: Decimal, price: Decimal, fee: Decimal) -> None:
        base = self.symbols[order.symbol].base
        sign = 1 if order.side == "BUY" else -1
        self.balances[base] = self.balances.get(base, D(0)) + sign * qty
        self.balances["USDT"] = self.balances.get("USDT", D(0)) - sign * qty * price - fee

    def _move_position(self, symbol: str, delta: Decimal, price: Decimal) -> Decimal:
        """Apply a signed fill to the position; return the realized PnL."""
        amt, entry = self.positions.get(symbol, (Decimal(0), Decimal(0)))
        new = amt + delta
        pnl = D(0)
        if amt == 0 or (amt > 0) == (delta > 0):
            entry = (abs(amt) * entry + abs(delta) * price) / abs(new) if new else Decimal(0)
        else:
            closed = min(abs(delta), abs(amt))
            pnl = (price - entry) * closed * (1 if amt > 0 else -1)
            if abs(delta) > abs(amt):  # flipped: the rest opens at this price
                entry = price
        self.positions[symbol] = (new, entry if new else Decimal(0))
        return pnl

    def used_margin(self) -> Decimal:
        """Initial margin of the open positions at their leverage (USD-M)."""
        total = D(0)
        for symbol, (amt, entry) in self.positions.items():
            total += abs(amt) * self.prices.get(symbol, entry) / self.leverage.get(symbol, 20)
        return total

    # ---------------------------------------------------------------- JSON
    def order_json(self, o: FakeOrder) -> dict[str, Any]:
        if o.algo:
            return {
                "algoId": o.order_id,
                "clientAlgoId": o.client_id,
                "algoType": "CONDITIONAL",
                "orderType": o.type,
                "symbol": o.symbol,
                "side": o.side,
                "positionSide": "BOTH",
                "quantity": str(o.qty),
                "algoStatus": o.status,
                "triggerPrice": str(o.stop),
                "reduceOnly": o.reduce_only,
                "actualOrderId": str(o.actual_order_id) if o.actual_order_id else "",
                "actualPrice": str(o.quote / o.filled if o.filled else Decimal(0)),
                "createTime": o.time_ms,
                "updateTime": o.update_ms or o.time_ms,
                "triggerTime": o.update_ms if o.actual_order_id else 0,
            }
        out: dict[str, Any] = {
            "symbol": o.symbol,
            "orderId": o.order_id,
            "clientOrderId": o.client_id,
            "price": str(o.price),
            "origQty": str(o.qty),
            "executedQty": str(o.filled),
            "status": o.status,
            "timeInForce": "GTC",
            "type": o.type,
            "side": o.side,
            "stopPrice": str(o.stop),
            "time": o.time_ms,
            "updateTime": o.time_ms,
        }
        if self.futures:
            avg = o.quote / o.filled if o.filled else Decimal(0)
            out.update(
                avgPrice=str(avg),
                cumQuote=str(o.quote),
                reduceOnly=o.reduce_only,
                positionSide="BOTH",
                origType=o.type,
            )
        else:
            out.update(
                cummulativeQuoteQty=str(o.quote),
                transactTime=o.time_ms,
                orderListId=-1,
                fills=o.fills,
            )
        return out

    def position_rows(self) -> list[dict[str, Any]]:
        rows = []
        for symbol, (amt, entry) in self.positions.items():
            notional = amt * self.prices.get(symbol, entry)
            lev = self.leverage.get(symbol, 20)
            rows.append(
                {
                    "symbol": symbol,
                    "positionSide": "BOTH",
                    "positionAmt": str(amt),
                    "entryPrice": str(entry),
                    "markPrice": str(self.prices.get(symbol)),
                    "unRealizedProfit": "0",
                    "liquidationPrice": "0",
                    "isolatedMargin": str(abs(notional) / lev),
                    "notional": str(notional),
                    "positionInitialMargin": str(abs(notional) / lev),
                    "marginAsset": "USDT",
                    "updateTime": 0,
                }
            )
        return rows


def _triggered(order: FakeOrder, price: Decimal) -> bool:
    """Whether ``price`` triggers a stop (sell stops below, buy stops above)."""
    take_profit = order.type.startswith("TAKE_PROFIT")
    below = price <= order.stop
    above = price >= order.stop
    if order.side == "SELL":
        return above if take_profit else below
    return below if take_profit else above
