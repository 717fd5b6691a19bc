"""The backtest world's engines ask the orchestrator itself: its global monitor's gate
and its allocation (bound once the world is built, no closure per entry)."""

from __future__ import annotations

from decimal import Decimal

from kinetic.backtest.options import BacktestOptions
from kinetic.backtest.world import build_world
from kinetic.domain import Direction, Signal
from kinetic.risk.manager import HELD_CODE
from tests.unit.backtest.bt_kit import base_config

SYM = "BTCUSDT"


def test_world_engines_ask_the_orchestrators_monitor_and_allocation() -> None:
    opts = BacktestOptions(engines=("spot", "futures"), symbols=(SYM,), data=())
    world = build_world(base_config(), opts, [SYM], 1.0)
    orch = world.orchestrator
    sig = Signal(SYM, Direction.LONG, 100, 100.0, 0)
    for slot in world.slots:
        d = slot.engine.d
        assert d.allocation() == orch.get_allocation(slot.name)
        assert d.risk.check_entry(sig, 0, False, Decimal(10), Decimal(10)).allowed
    orch.risk_monitor.update(10_000.0)
    orch.risk_monitor.update(1_000.0)  # a 90 % loss: the breaker holds new entries
    assert not orch.risk_monitor.can_open_new_trade()
    for slot in world.slots:
        decision = slot.engine.d.risk.check_entry(sig, 0, False, Decimal(10), Decimal(10))
        assert (decision.allowed, decision.code) == (False, HELD_CODE)
