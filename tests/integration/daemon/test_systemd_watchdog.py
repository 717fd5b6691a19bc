"""systemd Type=notify against a fake systemd (a real datagram socket), issue 14 item 2:
READY=1 arrives once the engines are spawned, a frozen event loop stops the watchdog
pings (they resume when it thaws), STOPPING=1 arrives on SIGTERM; the unit file passes
``systemd-analyze verify`` where the tool exists."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from config import EnvConfig
from kinetic.app import Daemon
from kinetic.ops.systemd import SystemdNotifier
from kinetic.storage.db import resolve_database_url
from tests.fake_systemd import FakeSystemd
from tests.integration.daemon.support import MAIN, REPLAY_DIR, REPO_ROOT, cli_env, fast_config

PING_S = 0.1  # WATCHDOG_USEC / 4
UNIT = REPO_ROOT / "scripts" / "kinetic.service"


@pytest.fixture
def systemd(tmp_path: Path) -> Iterator[FakeSystemd]:
    fake = FakeSystemd(tmp_path / "notify.sock")
    yield fake
    fake.close()


def _is(key: str) -> object:
    return lambda lines: key in lines


def test_frozen_event_loop_stops_the_watchdog_pings(tmp_path: Path, systemd: FakeSystemd) -> None:
    notifier = SystemdNotifier(str(systemd.path), watchdog_usec=int(PING_S * 4_000_000))
    url = resolve_database_url(None, str(tmp_path / "k.db"))
    daemon = Daemon(fast_config(tmp_path / "k.db"), EnvConfig(), mode="replay",
                    database_url=url, systemd=notifier)  # fmt: skip
    started = threading.Event()
    box: dict[str, object] = {}

    async def run() -> None:
        box["loop"], box["stop"] = asyncio.get_running_loop(), asyncio.Event()
        started.set()
        await daemon.run(box["stop"])  # type: ignore[arg-type]

    thread = threading.Thread(target=asyncio.run, args=(run(),), name="test:daemon")
    thread.start()
    thawed = threading.Event()
    try:
        started.wait(30)
        loop: asyncio.AbstractEventLoop = box["loop"]  # type: ignore[assignment]
        ready = systemd.wait_for(_is("READY=1"), "READY=1")
        assert any(line.startswith("STATUS=replay: spot ") for line in ready), ready
        systemd.wait_for(_is("WATCHDOG=1"), "a watchdog ping after READY")
        frozen = threading.Event()

        def freeze() -> None:  # blocks the event loop thread, as a hung call would
            frozen.set()
            thawed.wait(60)

        loop.call_soon_threadsafe(freeze)
        assert frozen.wait(30)
        systemd.drain()  # pings sent before the freeze
        assert systemd.receive(10 * PING_S) is None  # ten intervals: nothing while frozen
        thawed.set()
        systemd.wait_for(_is("WATCHDOG=1"), "pings after the loop thawed")
    finally:
        thawed.set()
        if "loop" in box:
            box["loop"].call_soon_threadsafe(box["stop"].set)  # type: ignore[attr-defined]
        thread.join(60)
    stopping = systemd.wait_for(_is("STOPPING=1"), "STOPPING=1")
    assert stopping[0] == "STOPPING=1"
    assert not [m for m in systemd.drain() if "WATCHDOG=1" in m]  # no ping after STOPPING


def test_run_process_notifies_ready_then_stopping_on_sigterm(
    tmp_path: Path, systemd: FakeSystemd
) -> None:
    yml = tmp_path / "x.yaml"
    yml.write_text(f"replay_data_dir: {REPLAY_DIR}\nreplay_speed: 30000\n"
                   "monitor_interval_seconds: 0.1\n")  # fmt: skip
    env = cli_env(NOTIFY_SOCKET=str(systemd.path), WATCHDOG_USEC="2000000")
    argv = [sys.executable, str(MAIN), "run", "--config", str(yml), "--db", str(tmp_path / "y.db"),
            "--env-file", "/dev/null"]  # fmt: skip
    proc = subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        systemd.wait_for(_is("READY=1"), "READY=1", limit_s=90)
        systemd.wait_for(_is("WATCHDOG=1"), "a watchdog ping")
        proc.send_signal(signal.SIGTERM)
        systemd.wait_for(_is("STOPPING=1"), "STOPPING=1")
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        assert proc.stderr is not None
        proc.stderr.close()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    # verify resolves ExecStart: point it at the Python that exists on this machine
    names = ["kinetic.service", "kinetic-backup.service", "kinetic-backup.timer"]
    for name in names:
        text = (UNIT.parent / name).read_text()
        (tmp_path / name).write_text(text.replace("/opt/kinetic/.venv/bin/python", sys.executable))
    proc = subprocess.run(["systemd-analyze", "verify", *(str(tmp_path / n) for n in names)],
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    problems = [ln for ln in proc.stderr.splitlines() if any(n in ln for n in names)]
    assert proc.returncode == 0, proc.stderr
    assert problems == [], problems


def test_unit_is_type_notify_with_a_watchdog() -> None:
    keys = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            k, _, v = line.partition("=")
            keys.setdefault(k.strip(), v.strip())
    assert keys["Type"] == "notify"
    assert keys["NotifyAccess"] == "main"
    assert keys["WatchdogSec"]
    assert keys["MemoryMax"]
    assert keys["LoadCredential"].startswith("kinetic-master-password:")
