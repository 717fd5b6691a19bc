"""Confirmation tokens (one use, 60 s, bound to action and arguments) and the operator
gate of ControlService (confirm rule, audit rows), on the manual clock."""

from __future__ import annotations

from kinetic.clock import ManualClock
from kinetic.control.audit import AUDIT_KIND, clean_args
from kinetic.control.confirm import Confirmations
from kinetic.control.poller import CommandPoller
from kinetic.control.service import ControlService, needs_confirmation
from kinetic.storage.records import StoredCommand
from kinetic.supervisor.orchestrator import Orchestrator
from tests.fakes import MemorySink
from tests.unit.engines.kit import futures_world


def test_a_token_confirms_once_within_60_s_only_its_action_and_args() -> None:
    clock = ManualClock(1000.0)
    conf = Confirmations(clock)
    t = conf.issue("cancel_all", {"reason": "x"})
    assert conf.redeem(t.token, "cancel_all", {"reason": "x"})
    assert not conf.redeem(t.token, "cancel_all", {"reason": "x"})  # once
    t = conf.issue("cancel_all", {"reason": "x"})
    assert not conf.redeem(t.token, "flatten_all", {"reason": "x"})
    assert not conf.redeem(t.token, "cancel_all", {"reason": "x"})  # the wrong try spent it
    t = conf.issue("cancel_all", {"reason": "x"})
    assert not conf.redeem(t.token, "cancel_all", {"reason": "y"})
    t = conf.issue("cancel_all", {})
    clock.set(1000.0 + 59.9)
    assert conf.redeem(t.token, "cancel_all", {})
    t = conf.issue("cancel_all", {})
    clock.set(clock.time() + 60.0)
    assert not conf.redeem(t.token, "cancel_all", {})  # expired
    assert conf.pending == 0


def test_pending_tokens_are_bounded() -> None:
    conf = Confirmations(ManualClock())
    for i in range(1000):
        conf.issue("cancel_all", {"i": i})
    assert conf.pending <= 256


def test_destructive_actions_are_the_ones_named_by_the_issue() -> None:
    assert needs_confirmation("kill_switch", {"active": False})
    assert not needs_confirmation("kill_switch", {"active": True})
    assert needs_confirmation("engine_update", {"enabled": False})
    assert not needs_confirmation("engine_update", {"enabled": True})
    assert not needs_confirmation("engine_update", {"entries_paused": True})
    for action in ("flatten_all", "cancel_all", "risk_config"):
        assert needs_confirmation(action, {})
    assert not needs_confirmation("cancel_order", {"client_order_id": "x"})


def test_audit_args_mask_tokens_and_cut_long_text() -> None:
    cleaned = clean_args({"confirm_token": "abc", "reason": "r" * 5000, "n": 1})
    assert cleaned["confirm_token"] == "***"
    assert len(cleaned["reason"]) == 500
    assert cleaned["n"] == 1


async def test_operate_issues_then_runs_and_audits_every_step() -> None:
    fw = futures_world()
    sink = MemorySink()
    orch = Orchestrator(fw.config, {"futures": fw.engine}, sink, fw.clock, fw.clock)  # type: ignore[dict-item]
    service = ControlService(orch, sink, fw.clock)
    first = await service.operate("cancel_all", {"reason": "r"}, via="test", remote="1.2.3.4")
    assert first.outcome == "unconfirmed"
    assert first.confirmation is not None
    bad = await service.operate("cancel_all", {"reason": "r"}, via="test", confirm_token="nope")
    assert (bad.outcome, bad.error) == ("refused", "confirmation")
    done = await service.operate("cancel_all", {"reason": "r"}, via="test",
                                 confirm_token=first.confirmation.token)  # fmt: skip
    assert done.outcome == "done"
    unknown = await service.operate("engine_update", {"engine": "nope", "enabled": False},
                                    via="test")  # fmt: skip
    assert (unknown.outcome, unknown.error) == ("refused", "not_found")  # no token for it
    invalid = await service.operate("risk_config", {"changes": {"spot_max_positions": -3}},
                                    via="test")  # fmt: skip
    assert (invalid.outcome, invalid.error) == ("refused", "invalid")
    assert "spot_max_positions" in invalid.message
    audits = [e for e in sink.events if e[0] == AUDIT_KIND]
    assert [a[3]["outcome"] for a in audits] == [
        "unconfirmed", "refused", "done", "refused", "refused"
    ]  # fmt: skip
    assert audits[0][3]["remote"] == "1.2.3.4"
    assert audits[0][3]["via"] == "test"


class _Queue:
    def __init__(self, commands: list[StoredCommand]) -> None:
        self.commands = commands
        self.finished: list[tuple[int, str, str]] = []

    async def pending(self) -> list[StoredCommand]:
        out, self.commands = self.commands, []
        return out

    async def finish(self, command_id: int, status: str, result: str = "") -> None:
        self.finished.append((command_id, status, result))


class _KV:
    async def put(self, key: str, value: str) -> None:
        return None


async def test_cli_commands_are_audited_like_api_requests() -> None:
    fw = futures_world()
    sink = MemorySink()
    orch = Orchestrator(fw.config, {"futures": fw.engine}, sink, fw.clock, fw.clock)  # type: ignore[dict-item]
    service = ControlService(orch, sink, fw.clock)
    now = fw.clock.time_ms()
    queue = _Queue([
        StoredCommand(1, "killswitch", {"action": "on", "reason": "r"}, "pending", "", now, 0),
        StoredCommand(2, "flatten", {"reason": "old"}, "pending", "", now - 120_000, 0),
    ])  # fmt: skip
    poller = CommandPoller(queue, _KV(), service, fw.clock)
    assert await poller.poll_once() == 2
    audits = [e[3] for e in sink.events if e[0] == AUDIT_KIND]
    assert [(a["action"], a["outcome"], a["via"]) for a in audits] == [
        ("killswitch", "done", "cli"), ("flatten", "refused", "cli")
    ]  # fmt: skip
    assert audits[0]["remote"] == "command #1"
