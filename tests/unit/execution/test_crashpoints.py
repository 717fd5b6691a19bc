"""Crash points: unset they do nothing; armed they SIGKILL the process at the n-th pass."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from kinetic.execution import crashpoints

SCRIPT = (
    "from kinetic.execution.crashpoints import crash_point\n"
    "for i in range(3):\n"
    "    print(i, flush=True)\n"
    "    crash_point('after_send')\n"
)


def _run(armed: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KINETIC_TEST_CRASH_AT": armed}
    return subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60
    )


def test_crash_point_when_armed_for_second_pass_then_killed_there() -> None:
    done = _run("after_send:2")
    assert done.returncode == -signal.SIGKILL
    assert done.stdout.split() == ["0", "1"]


def test_crash_point_when_other_point_armed_then_process_runs_through() -> None:
    done = _run("before_stop:1")
    assert done.returncode == 0
    assert done.stdout.split() == ["0", "1", "2"]


def test_crash_point_when_unknown_name_then_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown point 'nowhere'"):
        crashpoints._parse("nowhere:1")


OMS_SCRIPT = """
import asyncio
from decimal import Decimal
from kinetic.domain import OrderIntent, OrderType, Side
from kinetic.execution.oms import OrderManager
from kinetic.execution.recorder import MemoryRecorder
from tests.unit.execution.flaky_venue import AutoClock, make_sim_spot

async def main():
    clock = AutoClock()
    oms = OrderManager("spot", make_sim_spot(clock), MemoryRecorder(), clock)
    cid = oms.next_client_order_id("BTCUSDT")
    await oms.submit(
        OrderIntent("spot", "BTCUSDT", Side.BUY, OrderType.MARKET, Decimal("1"), cid)
    )
    print(">sent", flush=True)
    print(">applied", len(await oms.sync_fills("BTCUSDT")), flush=True)

asyncio.run(main())
"""


@pytest.mark.parametrize(
    ("armed", "out"), [("after_fill", [">sent"]), ("", [">sent", ">applied 1"])]
)
def test_the_oms_fill_sync_passes_after_fill_when_armed(armed: str, out: list[str]) -> None:
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    env = {**os.environ, "KINETIC_TEST_CRASH_AT": armed}
    done = subprocess.run(
        [sys.executable, "-c", OMS_SCRIPT], env=env, capture_output=True, text=True, timeout=60,
        cwd=root,
    )  # fmt: skip
    assert done.returncode == (-signal.SIGKILL if armed else 0), done.stderr
    assert [line for line in done.stdout.splitlines() if line.startswith(">")] == out
