"""Parsing of the documented Binance payloads (fixtures copied into tests/data)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from kinetic.domain import MarketType, OrderStatus, OrderType, PositionSide, Side
from kinetic.venues.base.filters import check_order, round_price, round_quantity
from kinetic.venues.binance.schemas import (
    SymbolInfo,
    parse_algo_order,
    parse_kline,
    parse_many,
    parse_order,
    parse_position,
)

FIXTURES = Path(__file__).parents[3] / "data" / "exchange_fixtures"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def test_spot_filters_when_notional_and_min_notional_then_notional_wins() -> None:
    raw = {
        "symbol": "LTCBTC",
        "baseAsset": "LTC",
        "quoteAsset": "BTC",
        **load("binance_spot_symbol_filters.json"),
    }
    inst = SymbolInfo.parse(raw).to_instrument(MarketType.SPOT)
    assert inst.tick_size == Decimal("0.000001")
    assert inst.step_size == Decimal("0.001")
    assert inst.min_qty == Decimal("0.001")
    assert inst.min_notional == Decimal("10")
    assert round_price(Decimal("0.01234567"), inst.tick_size) == Decimal("0.012346")
    assert round_quantity(Decimal("1.23456"), inst) == Decimal("1.234")


def test_usdm_filters_when_min_notional_uses_notional_key_then_parsed() -> None:
    inst = SymbolInfo.parse(load("binance_usdm_exchangeinfo_symbol.json")).to_instrument(
        MarketType.FUTURES
    )
    assert (inst.tick_size, inst.step_size, inst.min_notional) == (
        Decimal("0.0001"),
        Decimal("1"),
        Decimal("5.0"),
    )
    check_order(inst, Decimal("100"), Decimal("0.1"))  # 10 USDT >= 5


def test_spot_order_full_fixture_when_parsed_then_filled_market_sell() -> None:
    order = parse_order(load("binance_spot_order_full.json"))
    assert order.status is OrderStatus.FILLED
    assert (order.side, order.order_type) == (Side.SELL, OrderType.MARKET)
    assert order.filled_qty == Decimal("10")
    assert order.venue_order_id == "28"


def test_usdm_ack_fixture_when_unsupported_type_then_skipped_not_crashing() -> None:
    parsed = parse_many(
        [load("binance_usdm_new_order_ack.json"), {"junk": 1}],
        parse_order,
        venue="binance_usdm",
        endpoint="/fapi/v1/order",
    )
    assert parsed == []  # TRAILING_STOP_MARKET is not a domain order type; junk is junk


def test_algo_fixture_when_parsed_then_client_algo_id_is_client_id() -> None:
    raw = dict(load("binance_usdm_new_algo_order.json"), orderType="STOP_MARKET")
    order = parse_algo_order(raw)
    assert order.client_order_id == "6B2I9XVcJpCjqPAJ4YoFX7"
    assert order.stop_price == Decimal("750.000")
    assert order.status is OrderStatus.NEW


def test_position_v3_fixture_when_one_way_long_then_domain_position() -> None:
    rows = [
        r
        for r in map(parse_position({}), load("binance_usdm_positionrisk_v3_oneway.json"))
        if r is not None
    ]
    assert len(rows) == 1
    pos = rows[0]
    assert (pos.symbol, pos.side, pos.quantity) == ("ADAUSDT", PositionSide.LONG, Decimal(30))
    assert pos.liquidation_price == 0
    assert pos.leverage == 20  # 12.31 notional / 0.6157 initial margin


def test_kline_rows_when_one_malformed_then_skipped() -> None:
    ws = load("binance_spot_ws_kline.json")["k"]
    row = [ws["t"], ws["o"], ws["h"], ws["l"], ws["c"], ws["v"], ws["T"], ws["q"], 1, "0", "0", "0"]
    candles = parse_many([row, ["bad"]], parse_kline("BNBBTC"), venue="b", endpoint="/klines")
    assert [c.open_time_ms for c in candles] == [1672515780000]
