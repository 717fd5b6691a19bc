"""The notify protocol against a real datagram socket (a fake systemd)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kinetic.clock import ManualClock
from kinetic.ops.systemd import SystemdNotifier
from tests.fake_systemd import FakeSystemd


@pytest.fixture
def systemd(tmp_path: Path) -> Iterator[FakeSystemd]:
    fake = FakeSystemd(tmp_path / "notify.sock")
    yield fake
    fake.close()


def test_without_notify_socket_every_call_is_a_no_op() -> None:
    n = SystemdNotifier.from_environ({})
    assert not n.enabled
    n.ready("x")
    n.watchdog("y")
    n.stopping()
    assert n.sent == 0


def test_ready_status_and_stopping_arrive_as_datagrams(systemd: FakeSystemd) -> None:
    n = SystemdNotifier.from_environ({"NOTIFY_SOCKET": str(systemd.path)})
    n.ready("replay: spot running/ACTIVE")
    assert systemd.receive(5) == ["READY=1", "STATUS=replay: spot running/ACTIVE"]
    n.status("replay: spot running/ACTIVE")  # unchanged: not sent again
    n.status("replay: spot error/ACTIVE")
    assert systemd.receive(5) == ["STATUS=replay: spot error/ACTIVE"]
    n.stopping()
    assert systemd.receive(5) == ["STOPPING=1", "STATUS=stopping: staged shutdown"]
    assert systemd.drain() == []


def test_watchdog_pings_at_a_quarter_of_the_interval(systemd: FakeSystemd) -> None:
    clock = ManualClock(1000.0)
    env = {"NOTIFY_SOCKET": str(systemd.path), "WATCHDOG_USEC": "8000000"}
    n = SystemdNotifier.from_environ(env, clock)
    assert n.ping_every_s == 2.0
    n.watchdog("s1")
    assert systemd.receive(5) == ["WATCHDOG=1", "STATUS=s1"]
    clock.advance(1.0)
    n.watchdog("s1")  # not due, status unchanged: nothing
    assert systemd.drain() == []
    clock.advance(1.0)
    n.watchdog("s1")
    assert systemd.receive(5) == ["WATCHDOG=1"]
    n.stopping()
    systemd.drain()
    clock.advance(10.0)
    n.watchdog("s1")  # after STOPPING=1 the watchdog is never pinged again
    assert systemd.drain() == []


def test_watchdog_for_another_pid_is_not_ours(systemd: FakeSystemd) -> None:
    env = {"NOTIFY_SOCKET": str(systemd.path), "WATCHDOG_USEC": "8000000",
           "WATCHDOG_PID": str(os.getpid() + 1)}  # fmt: skip
    assert not SystemdNotifier.from_environ(env).watchdog_enabled
    env["WATCHDOG_PID"] = str(os.getpid())
    assert SystemdNotifier.from_environ(env).watchdog_enabled


def test_abstract_socket_address(tmp_path: Path) -> None:
    import socket

    name = f"kinetic-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name.encode())
        sock.settimeout(5)
        SystemdNotifier(f"@{name}").ready("r")
        assert sock.recv(100) == b"READY=1\nSTATUS=r"


def test_a_vanished_socket_is_logged_not_raised(tmp_path: Path) -> None:
    n = SystemdNotifier(str(tmp_path / "gone.sock"))
    n.ready("r")
    n.watchdog("w")
    assert n.sent == 0
