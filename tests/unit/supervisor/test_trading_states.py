"""TradingStates: escalate never relaxes, effective = worst of daemon and engine, only an
operator clears, every change is an event, states persist and come back, and an
escalation holds even when the store cannot be written."""

from __future__ import annotations

from typing import Any

import pytest

from kinetic.clock import ManualClock
from kinetic.domain import TradingState
from kinetic.supervisor.trading_states import DAEMON, TradingStates
from tests.fakes import MemorySink

A, R, H = TradingState.ACTIVE, TradingState.REDUCE_ONLY, TradingState.HALTED
T0 = 1_760_000_000.0


class MemoryStore:
    """``repos.trading_states`` in a dict; ``broken`` makes every save raise."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.broken = False

    async def save(
        self, scope: str, state: str, cause: str = "", source: str = "", since_ms: int = 0
    ) -> None:
        if self.broken:
            raise OSError("disk full")
        self.rows[scope] = {"state": state, "cause": cause, "source": source,
                            "since_ms": since_ms}  # fmt: skip

    async def load_all(self) -> dict[str, dict[str, Any]]:
        return dict(self.rows)


def _states(store: MemoryStore | None = None, sink: MemorySink | None = None) -> TradingStates:
    return TradingStates(ManualClock(T0), store, sink, ("spot", "futures"))


async def test_escalate_never_relaxes_and_keeps_the_first_cause() -> None:
    states = _states()
    await states.escalate("futures", H, "drift", "drift")
    await states.escalate("futures", R, "journal", "oms")
    await states.escalate("futures", H, "second", "x")
    own = states.own("futures")
    assert (own.state, own.cause, own.source) == (H, "drift", "drift")
    assert own.since_ms == int(T0 * 1000)


async def test_effective_state_is_the_worst_of_daemon_and_engine() -> None:
    states = _states()
    await states.escalate("spot", R, "invariant", "invariants")
    assert states.state("spot") is R
    assert states.state("futures") is A
    await states.escalate(DAEMON, H, "kill switch: test", "operator")
    assert states.state("spot") is H
    assert states.state("futures") is H
    assert states.state(DAEMON) is H
    assert states.own("futures").state is A  # its own state is untouched


async def test_only_an_operator_clears_and_clear_can_step_down_partly() -> None:
    states = _states()
    await states.escalate(DAEMON, H, "kill switch", "operator")
    with pytest.raises(PermissionError):
        await states.clear(DAEMON, by="risk_monitor")
    assert states.state(DAEMON) is H
    assert await states.clear(DAEMON, reason="flatten", to=R)
    assert (states.own(DAEMON).state, states.own(DAEMON).cause) == (R, "flatten")
    assert not await states.clear(DAEMON, to=H)  # "clearing" upwards changes nothing
    assert await states.clear(DAEMON, reason="all good")
    assert states.own(DAEMON).state is A
    assert not await states.clear(DAEMON)  # already ACTIVE


async def test_every_change_is_an_event_with_from_to_cause_and_source() -> None:
    sink = MemorySink()
    states = _states(sink=sink)
    await states.escalate("futures", R, "journal not writable", "oms")
    await states.escalate("futures", R, "again", "oms")  # no change: no event
    await states.clear("futures", reason="fixed the disk")
    events = [e for e in sink.events if e[0] == "trading_state"]
    assert [(e[2], e[3]["from"], e[3]["to"]) for e in events] == [
        ("futures", "ACTIVE", "REDUCE_ONLY"),
        ("futures", "REDUCE_ONLY", "ACTIVE"),
    ]
    assert events[0][3]["cause"] == "journal not writable"
    assert events[0][3]["source"] == "oms"
    assert events[1][3]["cause"] == "fixed the disk"
    assert events[1][3]["source"] == "operator"


async def test_states_persist_and_a_new_instance_restores_them() -> None:
    store = MemoryStore()
    first = _states(store)
    await first.escalate(DAEMON, R, "drawdown: 16% > 15%", "risk_monitor")
    await first.escalate("spot", H, "restart budget exhausted", "supervisor")
    second = _states(store)
    held = await second.restore()
    assert set(held) == {DAEMON, "spot"}
    assert second.own(DAEMON).cause == "drawdown: 16% > 15%"
    assert second.state("spot") is H
    assert second.state("futures") is R


async def test_escalation_holds_in_memory_when_the_store_fails_and_is_saved_later() -> None:
    store = MemoryStore()
    store.broken = True
    states = _states(store)
    await states.escalate("futures", R, "journal not writable", "oms")  # does not raise
    assert states.state("futures") is R
    assert not await states.flush()
    store.broken = False
    assert await states.flush()
    assert store.rows["futures"]["state"] == "REDUCE_ONLY"


async def test_a_clear_that_cannot_be_written_does_not_happen() -> None:
    store = MemoryStore()
    states = _states(store)
    await states.escalate(DAEMON, H, "kill switch", "operator")
    store.broken = True
    with pytest.raises(OSError, match="disk full"):
        await states.clear(DAEMON)
    assert states.state(DAEMON) is H


async def test_an_unknown_saved_state_is_read_as_halted() -> None:
    store = MemoryStore()
    store.rows["spot"] = {"state": "PAUSED", "cause": "future build", "source": "x",
                          "since_ms": 1}  # fmt: skip
    states = _states(store)
    await states.restore()
    assert states.state("spot") is H


async def test_restore_with_a_filter_sets_dropped_states_active_and_says_why() -> None:
    store, sink = MemoryStore(), MemorySink()
    first = _states(store)
    await first.escalate(DAEMON, R, "drawdown: 16% > 15%", "risk_monitor")
    await first.escalate("spot", H, "kill switch: test", "operator")
    second = _states(store, sink)
    held = await second.restore(lambda s: s.source == "operator")  # what replay keeps
    assert set(held) == {"spot"}
    assert second.state(DAEMON) is A
    assert store.rows[DAEMON]["state"] == "ACTIVE"
    [event] = [e for e in sink.events if e[0] == "trading_state"]
    assert "not restored: drawdown" in event[3]["cause"]
