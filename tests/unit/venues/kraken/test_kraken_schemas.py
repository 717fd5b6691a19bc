"""Kraken payloads from the documented fixtures map to Kinetic instruments and candles."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from kinetic.domain import MarketType
from kinetic.venues.base.errors import (
    AuthError,
    DuplicateOrder,
    InsufficientFunds,
    OrderNotFound,
    OrderRejected,
    OutcomeUnknown,
    PermanentError,
    RateLimited,
    TransientError,
    UnknownSymbol,
)
from kinetic.venues.base.filters import round_price, round_quantity
from kinetic.venues.kraken.errors import futures_error, send_status_error, spot_error
from kinetic.venues.kraken.schemas import SchemaError, SpotPair, parse_ohlc_row
from kinetic.venues.kraken.symbols import (
    common_asset,
    futures_kraken_symbol,
    futures_symbol,
    spot_symbol,
)

FIXTURES = Path(__file__).resolve().parents[3] / "data" / "exchange_fixtures"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def test_assetpairs_fixture_maps_to_instrument_with_kraken_rules() -> None:
    raw = load("kraken_assetpairs_XETHXXBT.json")["result"]["XETHXXBT"]
    inst = SpotPair.parse("XETHXXBT", raw).to_instrument()
    assert inst.symbol == "ETHBTC"
    assert (inst.base, inst.quote, inst.market) == ("ETH", "BTC", MarketType.SPOT)
    assert inst.tick_size == Decimal("0.00001")
    assert inst.step_size == Decimal("0.00000001")
    assert inst.min_qty == Decimal("0.01")
    assert inst.min_notional == Decimal("0.00002")
    assert round_price(Decimal("0.0512345"), inst.tick_size) == Decimal("0.05123")
    assert round_quantity(Decimal("1.123456789"), inst) == Decimal("1.12345678")


def test_ohlc_fixture_last_row_is_open_and_rows_parse_to_candles() -> None:
    rows = load("kraken_ohlc_XXBTZUSD.json")["result"]["XXBTZUSD"]
    candles = [parse_ohlc_row(r, "BTCUSD", 60_000) for r in rows[:-1]]
    assert [c.open_time_ms for c in candles] == [1688671200000, 1688671260000, 1688671320000]
    assert candles[0].close_time_ms == 1688671259999
    assert candles[1].close == 30300.0


def test_malformed_ohlc_row_raises_schema_error() -> None:
    with pytest.raises(SchemaError):
        parse_ohlc_row([1688671200, "x"], "BTCUSD", 60_000)


@pytest.mark.parametrize(
    ("kraken", "common"),
    [
        ("XXBT", "BTC"),
        ("XBT", "BTC"),
        ("ZUSD", "USD"),
        ("XETH", "ETH"),
        ("USDT", "USDT"),
        ("XXDG", "DOGE"),
        ("XTZ", "XTZ"),
        ("XBT.F", "BTC.F"),
    ],
)
def test_asset_codes_map_to_common_codes(kraken: str, common: str) -> None:
    assert common_asset(kraken) == common


def test_symbol_mapping_spot_and_futures_round_trip() -> None:
    assert spot_symbol("XXBT", "USDT") == "BTCUSDT"
    assert spot_symbol("XXBT", "ZUSD") == "BTCUSD"
    assert futures_symbol("PF_XBTUSD") == "BTCUSD"
    assert futures_kraken_symbol("BTCUSD") == "PF_XBTUSD"
    assert futures_symbol("PI_XBTUSD") is None  # inverse contracts are not traded


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("EAPI:Rate limit exceeded", RateLimited),
        ("EOrder:Rate limit exceeded", RateLimited),
        ("EGeneral:Too many requests", RateLimited),
        ("EService:Throttled:1700000030", RateLimited),
        ("EGeneral:Temporary lockout", RateLimited),
        ("EService:Unavailable", OutcomeUnknown),
        ("EGeneral:Internal error", OutcomeUnknown),
        ("EAPI:Invalid nonce", TransientError),
        ("EAPI:Invalid key", AuthError),
        ("EAPI:Invalid signature", AuthError),
        ("EGeneral:Permission denied", AuthError),
        ("EOrder:Insufficient funds", InsufficientFunds),
        ("EOrder:Order minimum not met", OrderRejected),
        ("EOrder:Cost minimum not met", OrderRejected),
        ("EQuery:Unknown asset pair", UnknownSymbol),
        ("EOrder:Unknown order", OrderNotFound),
        ("EOrder:Duplicate order", DuplicateOrder),
        ("EGeneral:Invalid arguments", PermanentError),
    ],
)
def test_spot_error_strings_are_classified(text: str, kind: type) -> None:
    err = spot_error([text], venue="kraken", endpoint="", now_s=1_700_000_000.0)
    assert type(err) is kind


def test_throttled_retry_after_comes_from_the_timestamp() -> None:
    err = spot_error(["EService:Throttled:1700000030"], venue="k", endpoint="", now_s=1.7e9)
    assert isinstance(err, RateLimited)
    assert err.retry_after == pytest.approx(30.0)


def test_spot_warnings_alone_are_not_errors() -> None:
    assert spot_error(["WGeneral:Something"], venue="k", endpoint="", now_s=0) is None


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("apiLimitExceeded", RateLimited),
        ("nonceBelowThreshold", TransientError),
        ("Unavailable", OutcomeUnknown),
        ("authenticationError", AuthError),
        ("insufficientFunds", InsufficientFunds),
        ("invalidArgument", PermanentError),
    ],
)
def test_futures_error_strings_are_classified(text: str, kind: type) -> None:
    assert type(futures_error(text, venue="kf", endpoint="")) is kind


def test_futures_send_status_classification() -> None:
    assert send_status_error("placed", venue="kf", client_order_id="c") is None
    dup = send_status_error("clientOrderIdAlreadyExist", venue="kf", client_order_id="c")
    assert isinstance(dup, DuplicateOrder)
    assert dup.client_order_id == "c"
    funds = send_status_error("insufficientAvailableFunds", venue="kf", client_order_id="c")
    assert isinstance(funds, InsufficientFunds)
