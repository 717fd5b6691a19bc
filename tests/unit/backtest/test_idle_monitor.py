"""``BaseEngine.idle_monitor_step``: the stepped paths take it instead of awaiting
``monitor_once`` when an engine is flat with nothing tracked, pending or due.

Against runs whose engines always await ``monitor_once`` (the idle step patched to
refuse): the same report bytes, the same equity snapshots taken at the same times, and
the same monitor cursors before every scan step. Skip and ``--no-skip`` runs, the
stepper's one-symbol loop and ``Driver._step`` (two engines) alike.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kinetic.backtest.options import BacktestOptions
from kinetic.engines.base import BaseEngine
from kinetic.engines.futures import FuturesEngine
from tests.unit.backtest.test_stepper import CASES, FILES, _closes, _reports, write_candles

_SNAPSHOT, _SCAN, _IDLE = (
    BaseEngine.maybe_snapshot,
    BaseEngine.scan_once,
    BaseEngine.idle_monitor_step,
)


async def _traced(
    opts: BacktestOptions, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[str, bytes], list[Any], list[Any]]:
    """The run's reports, its snapshots (engine, time) and the cursors at each scan."""
    snapshots: list[Any] = []
    cursors: list[Any] = []
    snapshot, scan = _SNAPSHOT, _SCAN  # the originals (a second call finds wrappers)

    async def maybe_snapshot(self: BaseEngine, force: bool = False) -> None:
        before = self._next_snapshot_s
        await snapshot(self, force)
        if self._next_snapshot_s != before:  # one was taken
            snapshots.append((self.name, self.d.clock.time()))

    async def scan_once(self: BaseEngine) -> None:
        cursors.append((self.name, dict(self._monitor_cursor)))
        await scan(self)

    monkeypatch.setattr(BaseEngine, "maybe_snapshot", maybe_snapshot)
    monkeypatch.setattr(BaseEngine, "scan_once", scan_once)
    return await _reports(opts, folder, skipped_ok=True), snapshots, cursors


@pytest.mark.parametrize("skip", [False, True])
@pytest.mark.parametrize("case", sorted(CASES))
async def test_idle_steps_change_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, skip: bool
) -> None:
    data = write_candles(tmp_path / "BTCUSDT_1m.csv", _closes(3000, len(case)))
    sets = {"equity_snapshot_interval_seconds": "600", **CASES[case].get("sets", {})}
    opts = BacktestOptions(
        symbols=("BTCUSDT",), data=(data,), skip=skip, **{**CASES[case], "sets": sets}
    )
    taken = 0

    def counting(self: BaseEngine) -> bool:
        nonlocal taken
        idle = real(self)
        taken += idle
        return idle

    real = _IDLE
    monkeypatch.setattr(BaseEngine, "idle_monitor_step", counting)
    got = await _traced(opts, tmp_path / "idle", monkeypatch)
    assert taken > 0  # the idle step was taken: the comparison below is not vacuous
    monkeypatch.setattr(BaseEngine, "idle_monitor_step", lambda self: False)
    want = await _traced(opts, tmp_path / "monitor", monkeypatch)
    for f in FILES:
        assert got[0][f] == want[0][f], f"{f} differs from always awaiting monitor_once"
    assert got[1] == want[1], "equity snapshots differ"
    assert want[1]  # snapshots were taken
    assert got[2] == want[2], "monitor cursors differ"


async def test_client_side_exits_are_checked_while_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No exchange stop: a held position has no order, its exits are the monitor's."""
    data = write_candles(tmp_path / "BTCUSDT_1m.csv", _closes(3000, 7))
    case = CASES["spot_levels_close"]
    sets = {**case["sets"], "spot_exchange_stop_enabled": "false"}
    opts = BacktestOptions(symbols=("BTCUSDT",), data=(data,), **{**case, "sets": sets})
    got = await _traced(opts, tmp_path / "idle", monkeypatch)
    monkeypatch.setattr(BaseEngine, "idle_monitor_step", lambda self: False)
    want = await _traced(opts, tmp_path / "monitor", monkeypatch)
    assert got == want
    assert b"stop" in want[0]["trades.csv"] or b"take" in want[0]["trades.csv"]


class _Fake:
    """The state ``idle_monitor_step`` reads, idle: flat, nothing tracked or due."""

    def __init__(self) -> None:
        store = SimpleNamespace(last=lambda s: SimpleNamespace(open_time_ms=600_000))
        oms = SimpleNamespace(idle=lambda: self.oms_idle)
        clock = SimpleNamespace(time=lambda: 100.0)
        positions = SimpleNamespace(positions={})
        self.d = SimpleNamespace(positions=positions, oms=oms, clock=clock, store=store,
                                 symbols=["BTCUSDT"])  # fmt: skip
        self.oms_idle = True
        self._deferred_takeover: object = None
        self.closes = SimpleNamespace(pending=False)
        self.funding: object = None
        self.drift: object = None
        self._next_snapshot_s = 200.0
        self._monitor_cursor: dict[str, int] = {"BTCUSDT": 0}
        self.reversals = SimpleNamespace(waiting={})
        self._stop_orders: dict[str, str] = {}

    def hooks_idle(self) -> bool:
        return FuturesEngine.hooks_idle(self)  # type: ignore[arg-type]


BUSY = {
    "held": lambda f: f.d.positions.positions.update(BTCUSDT=object()),
    "order tracked": lambda f: setattr(f, "oms_idle", False),
    "takeover deferred": lambda f: setattr(f, "_deferred_takeover", object()),
    "close pending": lambda f: setattr(f.closes, "pending", True),
    "funding": lambda f: setattr(f, "funding", object()),
    "drift": lambda f: setattr(f, "drift", object()),
    "reversal waiting": lambda f: f.reversals.waiting.update(BTCUSDT=object()),
    "stop tracked": lambda f: f._stop_orders.update(BTCUSDT="cid"),
    "snapshot due": lambda f: setattr(f, "_next_snapshot_s", 100.0),
}


@pytest.mark.parametrize("why", sorted(BUSY))
def test_anything_to_do_takes_the_monitor_step(why: str) -> None:
    idle = _Fake()
    assert BaseEngine.idle_monitor_step(idle)  # type: ignore[arg-type]
    assert idle._monitor_cursor == {"BTCUSDT": 600_000}  # as monitor_once moves it
    busy = _Fake()
    BUSY[why](busy)
    assert not BaseEngine.idle_monitor_step(busy)  # type: ignore[arg-type]
    assert busy._monitor_cursor == {"BTCUSDT": 0}  # nothing done
