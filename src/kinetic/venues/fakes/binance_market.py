"""Market-data and account answers of the fake Binance that third-party clients read.

Tickers (``ticker/24hr``, ``ticker/price``, ``ticker/bookTicker``, ``premiumIndex``) with
and without a symbol, and the USD-M account views (``/fapi/v2|v3/account``,
``leverageBracket``), in the venue's JSON shapes. The 24-hour figures come from the
candle tape when the venue has one (hourly bars of the last day), else from the last
price alone. There is no order book: bid and ask are the last price.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from kinetic.venues.fakes.binance_state import ApiError

if TYPE_CHECKING:
    from kinetic.venues.fakes.binance_server import FakeBinance

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
D = Decimal


def _symbols(srv: FakeBinance, q: dict[str, str]) -> list[str] | None:
    """The symbol asked for (a list of one), or None for all; -1121 if unknown."""
    if "symbol" not in q:
        return None
    srv.book.sym(q["symbol"])
    if q["symbol"] not in srv.book.prices:
        raise ApiError(-1121, "Invalid symbol.")
    return [q["symbol"]]


def _one_or_all(rows: list[dict[str, Any]], single: bool) -> Any:
    return rows[0] if single else rows


def _day(srv: FakeBinance, symbol: str, last: Decimal) -> tuple[Decimal, Decimal, Decimal, D]:
    """(open, high, low, base volume) of the last 24 hours."""
    tape = srv.tape
    if tape is None or symbol not in tape.series:
        return last, last, last, D(0)
    now = tape.market_now_ms()
    bars = tape.bars(symbol, HOUR_MS, start_ms=now - DAY_MS, end_ms=now, limit=25)
    if not bars:
        return last, last, last, D(0)
    high = max(b[2] for b in bars)
    low = min(b[3] for b in bars)
    volume = sum(b[5] for b in bars)
    tick = srv.book.symbols[symbol].tick
    return (
        D(repr(bars[0][1])).quantize(tick),
        max(D(repr(high)).quantize(tick), last),
        min(D(repr(low)).quantize(tick), last),
        D(f"{volume:.8f}"),
    )


def ticker_24hr(srv: FakeBinance, q: dict[str, str]) -> Any:
    """``GET /api/v3/ticker/24hr`` and ``/fapi/v1/ticker/24hr``."""
    wanted = _symbols(srv, q)
    now = srv.now_ms()
    rows = []
    for symbol, last in srv.book.prices.items():
        if wanted is not None and symbol not in wanted:
            continue
        open_, high, low, volume = _day(srv, symbol, last)
        change = last - open_
        row: dict[str, Any] = {
            "symbol": symbol,
            "priceChange": str(change),
            "priceChangePercent": f"{(change / open_ * 100) if open_ else D(0):.3f}",
            "weightedAvgPrice": str(last),
            "lastPrice": str(last),
            "lastQty": "0",
            "openPrice": str(open_),
            "highPrice": str(high),
            "lowPrice": str(low),
            "volume": str(volume),
            "quoteVolume": f"{volume * last:.8f}",
            "openTime": now - DAY_MS,
            "closeTime": now,
            "firstId": 0,
            "lastId": 0,
            "count": 0,
        }
        if not srv.futures:
            row.update(
                prevClosePrice=str(open_),
                bidPrice=str(last),
                bidQty="1",
                askPrice=str(last),
                askQty="1",
            )
        rows.append(row)
    return _one_or_all(rows, wanted is not None)


def ticker_price(srv: FakeBinance, q: dict[str, str]) -> Any:
    """``GET /api/v3/ticker/price`` and ``/fapi/v1|v2/ticker/price``."""
    wanted = _symbols(srv, q)
    extra = {"time": srv.now_ms()} if srv.futures else {}
    rows = [
        {"symbol": s, "price": str(p), **extra}
        for s, p in srv.book.prices.items()
        if wanted is None or s in wanted
    ]
    return _one_or_all(rows, wanted is not None)


def book_ticker(srv: FakeBinance, q: dict[str, str]) -> Any:
    """``GET .../ticker/bookTicker``: no order book here, bid = ask = last price."""
    wanted = _symbols(srv, q)
    extra = {"time": srv.now_ms()} if srv.futures else {}
    rows = [
        {"symbol": s, "bidPrice": str(p), "bidQty": "1", "askPrice": str(p), "askQty": "1", **extra}
        for s, p in srv.book.prices.items()
        if wanted is None or s in wanted
    ]
    return _one_or_all(rows, wanted is not None)


def premium_index(srv: FakeBinance, q: dict[str, str]) -> Any:
    """``GET /fapi/v1/premiumIndex``: mark = index = last price, no funding."""
    wanted = _symbols(srv, q)
    now = srv.now_ms()
    rows = [
        {
            "symbol": s,
            "markPrice": str(p),
            "indexPrice": str(p),
            "estimatedSettlePrice": str(p),
            "lastFundingRate": "0.00000000",
            "interestRate": "0.00000000",
            "nextFundingTime": (now // (8 * HOUR_MS) + 1) * 8 * HOUR_MS,
            "time": now,
        }
        for s, p in srv.book.prices.items()
        if wanted is None or s in wanted
    ]
    return _one_or_all(rows, wanted is not None)


def leverage_brackets(srv: FakeBinance, q: dict[str, str]) -> Any:
    """``GET /fapi/v1/leverageBracket``: one bracket per symbol (125x up to 50,000 USDT)."""
    symbols = [q["symbol"]] if "symbol" in q else list(srv.book.symbols)
    for s in symbols:
        srv.book.sym(s)
    rows = [
        {
            "symbol": s,
            "notionalCoef": 1.0,
            "brackets": [
                {
                    "bracket": 1,
                    "initialLeverage": 125,
                    "notionalCap": 50000,
                    "notionalFloor": 0,
                    "maintMarginRatio": 0.004,
                    "cum": 0.0,
                },
                {
                    "bracket": 2,
                    "initialLeverage": 20,
                    "notionalCap": 10000000,
                    "notionalFloor": 50000,
                    "maintMarginRatio": 0.025,
                    "cum": 1050.0,
                },
            ],
        }
        for s in symbols
    ]
    return rows[0] if "symbol" in q else rows


def usdm_account(srv: FakeBinance, version: int) -> dict[str, Any]:
    """``GET /fapi/v3/account`` (``version`` 3) or ``/fapi/v2/account`` (2)."""
    b = srv.book
    margin = b.used_margin()
    available = b.wallet - margin if b.move_balances else b.wallet - 10000
    now = srv.now_ms()
    asset = {
        "asset": "USDT",
        "walletBalance": str(b.wallet),
        "unrealizedProfit": "0",
        "marginBalance": str(b.wallet),
        "maintMargin": "0",
        "initialMargin": str(margin),
        "positionInitialMargin": str(margin),
        "openOrderInitialMargin": "0",
        "crossWalletBalance": str(b.wallet),
        "crossUnPnl": "0",
        "availableBalance": str(available),
        "maxWithdrawAmount": str(available),
        "updateTime": now,
    }
    positions = []
    for row in b.position_rows():
        pos = {
            "symbol": row["symbol"],
            "positionSide": "BOTH",
            "positionAmt": row["positionAmt"],
            "unrealizedProfit": "0",
            "isolatedMargin": "0",
            "notional": row["notional"],
            "isolatedWallet": "0",
            "initialMargin": row["positionInitialMargin"],
            "maintMargin": "0",
            "updateTime": now,
        }
        if version == 2:
            lev = b.leverage.get(row["symbol"], 20)
            pos.update(
                leverage=str(lev),
                entryPrice=row["entryPrice"],
                isolated=False,
                maxNotional="50000",
                positionInitialMargin=row["positionInitialMargin"],
                openOrderInitialMargin="0",
            )
        positions.append(pos)
    out: dict[str, Any] = {
        "totalInitialMargin": str(margin),
        "totalMaintMargin": "0",
        "totalWalletBalance": str(b.wallet),
        "totalUnrealizedProfit": "0",
        "totalMarginBalance": str(b.wallet),
        "totalPositionInitialMargin": str(margin),
        "totalOpenOrderInitialMargin": "0",
        "totalCrossWalletBalance": str(b.wallet),
        "totalCrossUnPnl": "0",
        "availableBalance": str(available),
        "maxWithdrawAmount": str(available),
        "assets": [asset],
        "positions": positions,
    }
    if version == 2:
        out.update(feeTier=0, canTrade=True, canDeposit=True, canWithdraw=True, updateTime=0)
    return out
