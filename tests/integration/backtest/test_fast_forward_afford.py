"""Fast-forward over entries the account cannot afford (``backtest.affordable``).

A flat engine whose cash buys less than one lot at the fill price drops its entry
signals without a trace; the driver skips those bars too. Each run is made skipping and
stepping every bar: the four report files and the refusal counts must be identical, and
the bars above the affordable price must actually be skipped.

The strategy signals on a fixed pattern of bars (a function of the bar's time, declared
exactly by ``action_bars``), so a run is mostly signals; the prices cross the price at
which one lot becomes affordable again and again, and come within 3e-5 of it from
either side: a ceiling 1e-4 too high steps bars whose signals are certainly dropped
(fewer bars skipped), one 1e-4 too low skips an entry that happens (the reports differ).
"""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kinetic.backtest import affordable
from kinetic.backtest.data import parse_time_ms
from kinetic.backtest.options import RAW_OVERRIDES, BacktestOptions
from kinetic.backtest.report import write_report
from kinetic.domain import Candle, Direction, Regime, Signal
from kinetic.engines import futures as futures_engine
from kinetic.marketdata.files import CandleArrays
from kinetic.risk.sizing import ConfidencePositionSizer
from kinetic.strategy import registry
from tests.unit.backtest.bt_kit import MINUTE_MS, ROOT, T0_MS, run_async, write_candles

BTC_1M = ROOT / "data/backtest/binance_BTCUSDT_1m_2021-04-20_2021-05-20.csv.gz"
ETH_1M = ROOT / "data/backtest/binance_ETHUSDT_1m_2021-04-20_2021-05-20.csv.gz"
FILES = ("summary.json", "trades.csv", "equity.csv", "report.html")
BARS = 3000


def _pattern(open_ms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(long, short, confidence) per bar from its open time: 1 bar in 9 is SHORT."""
    k = (open_ms // MINUTE_MS) % 9973
    long = (k % 9) != 4
    short = ~long
    confidence = 20 + (k * 37) % 81  # 20..100
    return long, short, confidence


class Patterned:
    """LONG on 8 bars of 9, SHORT on the 9th; stateless, so ``fast_forward`` is a no-op."""

    name = "patterned"
    warmup = 0

    def on_candle(self, candle: Candle) -> Signal:
        long, _short, confidence = _pattern(np.array([candle.open_time_ms]))
        direction = Direction.LONG if long[0] else Direction.SHORT
        return Signal(
            candle.symbol, direction, int(confidence[0]), candle.close, candle.close_time_ms,
            atr=candle.close * 0.01, regime=Regime.TRENDING,
        )  # fmt: skip

    def action_bars(self, symbol: str, arrays: CandleArrays) -> tuple[np.ndarray, np.ndarray]:
        long, short, _confidence = _pattern(arrays.open_time_ms)
        return long, short

    def fast_forward(self, symbol: str, arrays: CandleArrays, start: int, stop: int) -> None:
        """Nothing to advance."""

    def reset(self, symbol: str) -> None:
        """Nothing per symbol."""


if "patterned" not in registry.available():
    registry.register("patterned")(lambda _config, _engine: Patterned())


def _prices(afford: float) -> tuple[list[float], list[float]]:
    """Closes and opens around the price ``afford`` at which one lot is just affordable:
    long runs above it, dips below it, and bars within 3e-5 of it on both sides. Bars
    open at the previous close, but in the second phase some open just below ``afford``
    after a close just above it (an entry with ``--fill next_open``, not with close)."""
    closes: list[float] = []
    opens: list[float] = []
    for i in range(BARS):
        phase = (i // 300) % 4
        if phase == 0:  # well above, then just above
            c = afford * (1.5 + 0.3 * math.sin(i / 7)) if i % 300 < 150 else afford * 1.00003
        elif phase == 1:  # just below (affordable) once in a while, else just above
            c = afford * (0.99997 if i % 97 == 0 else 1.00003)
        elif phase == 2:  # far below: entries and exits
            c = afford * (0.6 + 0.1 * math.sin(i / 5))
        else:
            c = afford * (1.2 + 0.2 * math.sin(i / 11))
        o = afford * 0.99997 if phase == 1 and i % 89 == 1 else (closes[-1] if closes else c)
        closes.append(round(c, 2))
        opens.append(round(o, 2))
    return closes, opens


async def _both(opts: BacktestOptions, tmp: Path) -> int:
    outs, skipped, refusals = [], [], []
    for skip in (True, False):
        result = await run_async(BacktestOptions(**(vars(opts) | {"skip": skip})))
        folder = tmp / str(skip)
        write_report(result, folder)
        outs.append({f: (folder / f).read_bytes() for f in FILES})
        skipped.append(result.skipped)
        refusals.append(result.refusals)
    assert skipped[1] == 0
    for f in FILES:
        assert outs[0][f] == outs[1][f], f"{f} differs between skip and no-skip"
    assert refusals[0] == refusals[1]
    return skipped[0]


def _opts(tmp: Path, afford: float, **kw: object) -> BacktestOptions:
    closes, opens = _prices(afford)
    data = write_candles(tmp / "BTCUSDT_1m.csv", closes, opens=opens)
    return BacktestOptions(**({
        "symbols": ("BTCUSDT",), "data": (data,), "strategy": "patterned", "fee": 0.001,
        "raw": True, "fill": "close", "units": "whole", "all_in": True,
    } | kw))  # type: ignore[arg-type]  # fmt: skip


@pytest.mark.parametrize("fill", ["close", "next_open"])
async def test_spot_whole_units_skips_what_it_cannot_buy(tmp_path: Path, fill: str) -> None:
    """With ``next_open`` the price that counts is the next bar's open (some open just
    below the affordable price after a close above it: entries)."""
    cash = 1000.0
    afford = cash / 1.001  # one whole coin with the fee
    skipped = await _both(_opts(tmp_path, afford, cash=cash, fill=fill), tmp_path)
    # measured with the exact ceiling (bars above it: 2391; the SHORT bars of a flat
    # spot engine are skipped anyway); a ceiling 1e-4 too high steps more of them
    assert skipped >= 2502


@pytest.mark.parametrize("fill", ["close", "next_open"])
async def test_spot_after_losses_skips_and_buys_again_below(tmp_path: Path, fill: str) -> None:
    """Cash 1000 buys one coin below ~999; each round trip loses fees, and prices fall
    back below the affordable one again and again: entries resume, reports identical."""
    afford = 1000.0 / 1.001
    opts = _opts(tmp_path, afford * 0.995, cash=1000.0, fill=fill)
    assert await _both(opts, tmp_path) > BARS // 3


async def test_spot_fractional_step_and_fixed_fee(tmp_path: Path) -> None:
    """A lot of 0.1 and a fixed fee per fill taken from the margin first."""
    cash, fixed = 100.0, 2.0
    afford = (cash - fixed) / 0.1 / 1.001
    opts = _opts(tmp_path, afford, cash=cash, units="0.1", fee_fixed=fixed)
    assert await _both(opts, tmp_path) >= 2976  # measured with the exact ceiling


async def test_spot_stake_below_one_lot_skips_everything(tmp_path: Path) -> None:
    opts = _opts(tmp_path, 500.0, cash=1e6, stake=0.5)
    assert await _both(opts, tmp_path) > BARS - 5


async def test_spot_stake_of_one_lot_steps_the_signals(tmp_path: Path) -> None:
    """A stake of a lot is sent at any price (the venue refuses what the cash cannot pay
    for): the signals are stepped, the reports stay the same."""
    opts = _opts(tmp_path, 500.0, cash=600.0, stake=1)
    await _both(opts, tmp_path)


async def test_spot_min_notional_binds_below_the_lot_price(tmp_path: Path) -> None:
    """The exchange's lot (0.00001 BTC) and minimum notional (5 USDT): a cash of 4.9
    buys lots whose notional the venue refuses; the refusals must be the same."""
    opts = _opts(tmp_path, 4.0, cash=4.9, units="exchange")
    await _both(opts, tmp_path)


async def test_spot_min_confidence_is_not_skipped(tmp_path: Path) -> None:
    """A minimum confidence refuses (and counts) some signals: the rule stays off."""
    opts = _opts(
        tmp_path, 1000.0 / 1.001, cash=1000.0, raw=False, all_in=True,
        sets={"spot_min_confidence": "60", "spot_stop_loss_pct": "50",
              "spot_take_profit_pct": "500", "global_max_drawdown_pct": "99",
              "global_daily_loss_limit_pct": "99"},
    )  # fmt: skip
    await _both(opts, tmp_path)


@pytest.mark.parametrize("units", ["whole", "0.1"])
async def test_futures_either_side_skips_what_it_cannot_margin(tmp_path: Path, units: str) -> None:
    """Leverage 1..3 by confidence (trending regime): the ceiling takes the largest."""
    cash = 1000.0
    step = 1.0 if units == "whole" else 0.1
    afford = cash / step / (1 / 3 + 0.001)
    opts = _opts(
        tmp_path, afford, engines=("futures",), cash=cash, units=units,
        sets={"futures_leverage_min": "1", "futures_leverage_max": "3"},
    )  # fmt: skip
    assert await _both(opts, tmp_path) >= 2713  # measured with the exact ceiling


@pytest.mark.slow
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    futures=st.booleans(),
    units=st.sampled_from(["whole", "0.1", "0.001", "exchange"]),
    fill=st.sampled_from(["close", "next_open"]),
    fee=st.sampled_from([0.0, 0.001, 0.004]),
    fee_fixed=st.sampled_from([None, 0.5]),
    stake=st.sampled_from([None, None, 0.5, 1.0]),
    slippage=st.sampled_from(["0", "5"]),
    cash=st.floats(50.0, 5000.0),
    afford=st.floats(100.0, 3000.0),
)
def test_random_frictions_and_sizes_are_identical(
    tmp_path_factory: pytest.TempPathFactory,
    futures: bool,
    units: str,
    fill: str,
    fee: float,
    fee_fixed: float | None,
    stake: float | None,
    slippage: str,
    cash: float,
    afford: float,
) -> None:
    """Fees, a fixed fee, slippage (the sizer's tick), stakes, lot steps and fill timing
    drawn at random; prices around a level that may or may not be affordable."""
    tmp = tmp_path_factory.mktemp("afford")
    sets = {"slippage_bps": slippage}
    if futures:
        sets |= {"futures_leverage_min": "1", "futures_leverage_max": "4"}
    opts = _opts(
        tmp, afford, engines=("futures",) if futures else ("spot",), cash=cash, units=units,
        fill=fill, fee=fee, fee_fixed=fee_fixed, stake=stake, sets=sets,
    )  # fmt: skip
    asyncio.run(_both(opts, tmp))


class _SizerFrom60(ConfidencePositionSizer):
    """The futures sizer with its own minimum confidence 60 whatever the config says (the
    wiring builds it and the risk limit from one setting; this pulls them apart)."""

    def __init__(self, min_pct: float, max_pct: float, min_confidence: int) -> None:
        super().__init__(min_pct, max_pct, 60)


async def test_futures_sizer_min_confidence_above_the_limit_is_not_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The risk limit lets every confidence through, but the sizer gives 0 % below 60:
    ``check_entry`` refuses (and counts) those signals as "size", so the rule stays off."""
    monkeypatch.setattr(futures_engine, "ConfidencePositionSizer", _SizerFrom60)
    cash = 1000.0
    opts = _opts(
        tmp_path, cash / (1 / 3 + 0.001), engines=("futures",), cash=cash,
        sets={"futures_leverage_min": "1", "futures_leverage_max": "3"},
    )  # fmt: skip
    assert await _both(opts, tmp_path) < 100  # 30: the rule off (on: 2713 and more)


# --raw refuses --engine both: its limits as settings instead, at the largest valid value
# where --raw goes beyond it (no breaker trips, no stop or take-profit is reached here)
RAW_SETS = {k: str(v) for k, v in RAW_OVERRIDES.items()} | {
    "global_daily_loss_limit_pct": "100", "global_max_drawdown_pct": "100",
    "spot_take_profit_pct": "1000", "futures_atr_stop_multiplier": "50",
    "futures_trailing_activation_pct": "100",
}  # fmt: skip


async def _skipped_without_the_rule(opts: BacktestOptions, monkeypatch: pytest.MonkeyPatch) -> int:
    """Bars the skipping run skips with the affordability rule off (no engine qualifies)."""
    with monkeypatch.context() as m:
        m.setattr(affordable, "configured_for_it", lambda _engine: False)
        return (await run_async(BacktestOptions(**(vars(opts) | {"skip": True})))).skipped


@pytest.mark.parametrize("fill", ["close", "next_open"])
async def test_spot_and_futures_both_flat_skip_what_neither_can_buy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fill: str
) -> None:
    """Both engines on one symbol, all-in, no limits: a bar is skipped only while every
    engine is flat (a position held by one moves the other's allocation and margin)."""
    cash = 2000.0
    opts = _opts(
        tmp_path, cash / 2 / 1.001, engines=("spot", "futures"), cash=cash, raw=False,
        fill=fill, sets=RAW_SETS | {"futures_leverage_min": "1", "futures_leverage_max": "1"},
    )  # fmt: skip
    skipped = await _both(opts, tmp_path)
    without = await _skipped_without_the_rule(opts, monkeypatch)
    assert skipped > without


def _two_symbols(tmp: Path, btc: float, eth: float, late: int, **kw: object) -> BacktestOptions:
    """BTC from the first bar, ETH from bar ``late`` on (its bar i is group i + late)."""
    opts = _opts(tmp, btc, **kw)
    closes, opens = _prices(eth)
    data = write_candles(tmp / "ETHUSDT_full.csv", closes, opens=opens)
    rows = data.read_text().splitlines()
    eth_data = tmp / "ETHUSDT_1m.csv"
    eth_data.write_text("\n".join([rows[0], *rows[1 + late :]]) + "\n")
    return BacktestOptions(**(vars(opts) | {
        "symbols": ("BTCUSDT", "ETHUSDT"), "data": (opts.data[0], eth_data),
    }))  # fmt: skip


@pytest.mark.parametrize("fill", ["close", "next_open"])
async def test_two_symbols_skip_what_the_account_cannot_buy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fill: str
) -> None:
    """BTC and ETH at different price levels, ETH starting 500 bars later: each symbol's
    acting bars are priced from its own series (groups are not its bars)."""
    cash = 1000.0
    opts = _two_symbols(tmp_path, cash / 1.001, cash / 2 / 1.001, 500, cash=cash, fill=fill)
    skipped = await _both(opts, tmp_path)
    without = await _skipped_without_the_rule(opts, monkeypatch)
    assert skipped > without


class ShortOnce:
    """SHORT on the 10th bar (as ``action_bars`` declares), FLAT on the others: the
    futures engine holds that short to the end."""

    name = "short_once"
    warmup = 0

    def on_candle(self, candle: Candle) -> Signal:
        short = candle.open_time_ms == T0_MS + 9 * MINUTE_MS
        return Signal(
            candle.symbol, Direction.SHORT if short else Direction.FLAT, 100 if short else 0,
            candle.close, candle.close_time_ms, atr=candle.close * 0.01, regime=Regime.TRENDING,
        )  # fmt: skip

    def action_bars(self, symbol: str, arrays: CandleArrays) -> tuple[np.ndarray, np.ndarray]:
        short = arrays.open_time_ms == T0_MS + 9 * MINUTE_MS
        return np.zeros_like(short), short

    def fast_forward(self, symbol: str, arrays: CandleArrays, start: int, stop: int) -> None:
        """Nothing to advance."""

    def reset(self, symbol: str) -> None:
        """Nothing per symbol."""


if "patterned_short_futures" not in registry.available():
    registry.register("patterned_short_futures")(
        lambda _config, engine: ShortOnce() if engine == "futures" else Patterned()
    )


async def test_a_held_short_elsewhere_keeps_the_rule_off(tmp_path: Path) -> None:
    """Futures holds a short from bar 9 while spot is flat and signalling. The short's
    profit grows spot's allocation as prices fall, so spot's affordable price is higher
    than the one its state at a stretch's start gives: with another engine holding, the
    rule must stay off (a ceiling from that state skips entries that happen)."""
    closes = [1000.0] + [round(1000 + 15 * math.sin(i / 13), 2) for i in range(1, BARS)]
    data = write_candles(tmp_path / "BTCUSDT_1m.csv", closes)
    opts = BacktestOptions(
        symbols=("BTCUSDT",), data=(data,), strategy="patterned_short_futures",
        engines=("spot", "futures"), cash=2000.0, fee=0.001, fill="close", units="0.1",
        sets=RAW_SETS | {
            "futures_leverage_min": "1", "futures_leverage_max": "1",
            "futures_position_size_min_pct": "100", "futures_position_size_max_pct": "100",
            "spot_capital_pct": "50", "futures_capital_pct": "50", "spot_position_size_pct": "10",
        },
    )  # fmt: skip
    # spot trades (167 round trips) while futures holds; the rule, made to look at this
    # engine's positions only, skips 2,662 bars and misses an entry
    assert await _both(opts, tmp_path) > 0


async def test_btc_and_eth_minutes_spot_and_futures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real data, 2021-05-10..12, BTC (~55k) and ETH (~4k) minutes, both engines with a
    cash that never buys a whole BTC and buys an ETH only at times (futures 241 round
    trips, spot 8)."""
    opts = BacktestOptions(
        engines=("spot", "futures"), symbols=("BTCUSDT", "ETHUSDT"), data=(BTC_1M, ETH_1M),
        strategy="patterned", start_ms=parse_time_ms("2021-05-10", "--from"),
        end_ms=parse_time_ms("2021-05-12", "--to"), cash=10000.0, fee=0.001, units="whole",
        all_in=True, fill="next_open",
        sets=RAW_SETS | {"futures_leverage_min": "1", "futures_leverage_max": "1"},
    )  # fmt: skip
    skipped = await _both(opts, tmp_path)
    without = await _skipped_without_the_rule(opts, monkeypatch)
    assert skipped > without
