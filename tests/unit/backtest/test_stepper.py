"""The one-symbol stepped loop (``stepper.step_every_bar``) against ``Driver._step``.

The loop has ``_step`` and ``_publish`` inline and marks the portfolio once per bar when
an engine's books did not change during its steps; its reports must be the bytes the
plain ``_step`` loop (two marks per bar) gives.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kinetic.backtest import driver as driver_module
from kinetic.backtest.bars import Bars
from kinetic.backtest.options import BacktestOptions
from kinetic.backtest.report import write_report
from kinetic.backtest.stepper import _book, _unchanged
from kinetic.domain import Candle, Direction, MarketType, Position, PositionSide, Signal
from kinetic.portfolio.positions import PositionManager
from kinetic.strategy import registry
from tests.unit.backtest.bt_kit import run_async, write_candles

FILES = ("summary.json", "trades.csv", "equity.csv", "report.html")


async def _reference(
    driver: driver_module.Driver, bars: Bars, close: np.ndarray, curve: driver_module.Curve
) -> None:
    """Every bar through ``Driver._step``: the loop ``run`` uses for several symbols."""
    n = len(close)
    for k, t in enumerate(close.tolist()):
        curve.add(t, *await driver._step(t, [(bars, k, n)], k + 1 == n))


async def _reports(
    opts: BacktestOptions, folder: Path, skipped_ok: bool = False
) -> dict[str, bytes]:
    result = await run_async(opts)
    assert skipped_ok or result.skipped == 0
    write_report(result, folder)
    return {f: (folder / f).read_bytes() for f in FILES}


def _closes(n: int, seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    return [round(x, 2) for x in (100 + rng.normal(0, 0.6, n).cumsum()).tolist()]


CASES: dict[str, dict[str, Any]] = {
    # sma_cross trades often on a random walk; whole units at next_open (the bench row)
    "spot_raw_next_open": {
        "strategy": "sma_cross", "params": {"fast": "3", "slow": "8"}, "fill": "next_open",
        "units": "whole", "raw": True, "sets": {"slippage_bps": "0"}, "cash": 1e6,
    },
    # stops and take-profits in force, fills at the close, fractional units
    "spot_levels_close": {
        "strategy": "sma_cross", "params": {"fast": "3", "slow": "8"}, "fill": "close",
        "units": "fractional",
        "sets": {"spot_stop_loss_pct": "0.4", "spot_take_profit_pct": "0.6"},
    },
    # futures reversals with leverage: the position's side and entry price change
    "futures_reversals": {
        "engines": ("futures",), "strategy": "random_signals",
        "params": {"seed": "3", "p": "0.05"}, "leverage": 3, "allow_short": True,
        "fill": "next_open",
    },
    # two engines: every step marks twice (the one-engine shortcut is off)
    "both_engines": {
        "engines": ("spot", "futures"), "strategy": "random_signals", "params": {"seed": "5"},
    },
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
async def test_stepper_reports_are_the_step_loops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    data = write_candles(tmp_path / "BTCUSDT_1m.csv", _closes(3000, len(case)))
    opts = BacktestOptions(symbols=("BTCUSDT",), data=(data,), skip=False, **CASES[case])
    got = await _reports(opts, tmp_path / "stepper")
    monkeypatch.setattr(driver_module, "step_every_bar", _reference)
    want = await _reports(opts, tmp_path / "reference")
    for f in FILES:
        assert got[f] == want[f], f"{f} differs from the _step loop's"
    assert b"\n" in want["trades.csv"].strip()  # some round trips were made


def _pm() -> PositionManager:
    return PositionManager("spot", MarketType.SPOT, Decimal("1000"))


def _position(qty: str = "2") -> Position:
    return Position("BTCUSDT", PositionSide.LONG, Decimal(qty), Decimal("100"), 0, Decimal("90"))


def test_unchanged_books_are_the_same_objects() -> None:
    pm = _pm()
    cash, book = pm.cash, _book(pm.positions)
    assert book == ()
    assert _unchanged(pm, cash, book)
    pm.cash = Decimal("1000")  # an equal value, another object: marked again
    assert not _unchanged(pm, cash, book)
    pm.cash = cash
    pm.positions["BTCUSDT"] = _position()
    assert not _unchanged(pm, cash, book)  # a position was opened

    book = _book(pm.positions)
    assert book is not None
    assert _unchanged(pm, cash, book)
    pos = pm.positions["BTCUSDT"]
    pos.stop_price = Decimal("95")  # not read by the marking
    assert _unchanged(pm, cash, book)
    for field, value in (
        ("quantity", Decimal("2")),
        ("entry_price", Decimal("100")),
        ("side", PositionSide.SHORT),
    ):
        before = getattr(pos, field)
        setattr(pos, field, value)
        assert not _unchanged(pm, cash, book), field
        setattr(pos, field, before)
        assert _unchanged(pm, cash, book)
    pm.positions["BTCUSDT"] = _position()  # another position object
    assert not _unchanged(pm, cash, book)
    pm.positions["BTCUSDT"] = pos
    pm.positions["ETHUSDT"] = _position()
    assert not _unchanged(pm, cash, book)
    assert _book(pm.positions) is None  # several positions: always marked again
    del pm.positions["ETHUSDT"], pm.positions["BTCUSDT"]
    assert not _unchanged(pm, cash, book)  # closed


async def test_flat_books_are_not_marked_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``_marked`` never sees the very same flat books twice in a row (the stepper reuses
    its value), and is still called on every held bar (the close moved)."""
    data = write_candles(tmp_path / "BTCUSDT_1m.csv", _closes(2000, 11))
    calls: list[tuple[object, object]] = []
    marked = driver_module.Driver._marked

    def spy(self: driver_module.Driver, price: float | None) -> tuple[float, bool]:
        pm = self.world.slots[0].engine.d.positions
        calls.append((pm.cash, _book(pm.positions)))
        return marked(self, price)

    monkeypatch.setattr(driver_module.Driver, "_marked", spy)
    opts = BacktestOptions(symbols=("BTCUSDT",), data=(data,), skip=False,
                           **CASES["spot_raw_next_open"])  # fmt: skip
    result = await run_async(opts)
    assert result.trades
    held = int(result.curve.exposed.sum())
    assert held < len(calls) < held + 4 * len(result.trades) + 3
    for (cash, book), (cash_before, book_before) in zip(calls[1:], calls, strict=False):
        assert not (book == () and book_before == () and cash is cash_before)


class _EnterOnce:
    """LONG on the second candle (the first is history), FLAT afterwards: one position."""

    name = "enter_once"
    warmup = 0

    def __init__(self) -> None:
        self.seen = 0

    def with_params(self, params: dict[str, str]) -> _EnterOnce:
        return _EnterOnce()

    def on_candle(self, candle: Candle) -> Signal:
        self.seen += 1
        direction = Direction.LONG if self.seen == 2 else Direction.FLAT
        return Signal(candle.symbol, direction, 100 if self.seen == 2 else 0, candle.close,
                      candle.close_time_ms, atr=1.0)  # fmt: skip

    def reset(self, symbol: str) -> None:
        """Nothing per symbol."""


@pytest.fixture(autouse=True)
def _enter_once_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """``enter_once`` in the registry for this module's tests only: a name left behind
    would change the list other tests read (``available()``)."""
    monkeypatch.setitem(registry._REGISTRY, "enter_once", lambda _c, _e: _EnterOnce())


async def test_a_new_day_reaches_the_risk_monitor_at_an_unchanged_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The day's start value is the first value of the UTC day even when it equals the
    last one of the day before: the daily-loss breaker trips where ``_step`` trips it."""
    # flat until 10 bars past the first midnight, then down 0.1 % a bar
    closes = [100.0] * 1450 + [round(100 * 0.999**k, 4) for k in range(1, 40)]
    data = write_candles(tmp_path / "BTCUSDT_1m.csv", closes)
    opts = BacktestOptions(
        symbols=("BTCUSDT",), data=(data,), skip=False, strategy="enter_once", all_in=True,
        fee=0.0, units="fractional",
        sets={"global_daily_loss_limit_pct": "1.0", "spot_stop_loss_pct": "50",
              "slippage_bps": "0"},
    )  # fmt: skip
    got = await _reports(opts, tmp_path / "stepper")
    assert b'"daily_loss": 1' in got["summary.json"]
    monkeypatch.setattr(driver_module, "step_every_bar", _reference)
    want = await _reports(opts, tmp_path / "reference")
    assert got == want


async def test_an_engine_with_its_own_scan_step_keeps_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An engine class with its own ``scan_once`` gets it called on every bar (not on
    the last with ``next_open``), with the same reports."""
    from kinetic.engines.spot import SpotEngine

    data = write_candles(tmp_path / "BTCUSDT_1m.csv", _closes(600, 2))
    opts = BacktestOptions(symbols=("BTCUSDT",), data=(data,), skip=False,
                           **CASES["spot_raw_next_open"])  # fmt: skip
    plain = await _reports(opts, tmp_path / "plain")
    calls: list[int] = []

    class Counted(SpotEngine):
        async def scan_once(self) -> None:
            calls.append(1)
            await super().scan_once()

    def counted(*args: Any, **kwargs: Any) -> Any:
        world = build(*args, **kwargs)
        for slot in world.slots:
            slot.engine.__class__ = Counted
        return world

    from kinetic.backtest import runner

    build = runner.build_world
    monkeypatch.setattr(runner, "build_world", counted)
    assert await _reports(opts, tmp_path / "counted") == plain
    assert len(calls) == 599


async def test_no_scan_on_the_last_bar_with_next_open(tmp_path: Path) -> None:
    """A signal on the last bar has no next open to fill at: it is not scanned."""
    data = write_candles(tmp_path / "BTCUSDT_1m.csv", [100.0, 101.0])  # LONG on the last
    opts = BacktestOptions(symbols=("BTCUSDT",), data=(data,), skip=False,
                           strategy="enter_once", all_in=True, fill="next_open")  # fmt: skip
    assert (await run_async(opts)).trades == []
    closed = BacktestOptions(**(vars(opts) | {"fill": "close"}))
    assert len((await run_async(closed)).trades) == 1  # at the close it is traded
