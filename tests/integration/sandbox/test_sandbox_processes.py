"""``python main.py sandbox`` as real processes: settings, a signed request, clean stops."""

from __future__ import annotations

import asyncio
import io
import json
import os
import select
import signal
import subprocess
import time
from decimal import Decimal
from pathlib import Path

from dotenv import dotenv_values

from kinetic.clock import RealClock
from kinetic.venues.binance.spot import BinanceSpotClient
from kinetic.venues.factory import DEFAULT_URLS
from kinetic.venues.fakes.sandbox import KEY_NAMES
from tests.integration.sandbox.support import alive, first_json_line, poll_until, spawn

VENUES = ("binance_spot", "binance_usdm", "kraken_spot", "kraken_futures")


def _start(*extra: str) -> tuple[subprocess.Popen[str], dict[str, object]]:
    proc = spawn(["main.py", "sandbox", "--json", "--speed", "60", *extra])
    return proc, first_json_line(proc)


async def _balances(info: dict[str, str]) -> dict[str, Decimal]:
    client = BinanceSpotClient(
        RealClock(), api_key=info["api_key"], api_secret=info["api_secret"], base_url=info["rest"]
    )
    try:
        return {a: b.free for a, b in (await client.get_balances()).items()}
    finally:
        await client.close()


def test_sandbox_json_points_at_four_funded_venues_and_sigterm_stops_them_all() -> None:
    proc, out = _start("--cash", "12345")
    try:
        assert set(out) == {*VENUES, "env"}
        env = out["env"]
        assert isinstance(env, dict)
        urls = json.loads(env["KINETIC_VENUE_URLS"])
        assert set(urls) == set(DEFAULT_URLS)  # every endpoint of the daemon is overridden
        assert all(u.split("//", 1)[1].startswith("127.0.0.1:") for u in urls.values())
        for venue in VENUES:
            info = out[venue]
            assert isinstance(info, dict)
            key_name, secret_name = KEY_NAMES[venue]
            assert (env[key_name], env[secret_name]) == (info["api_key"], info["api_secret"])
        binance = out["binance_spot"]
        assert isinstance(binance, dict)
        # a signed request (HMAC, timestamp) to one venue: the account holds the cash
        assert asyncio.run(_balances(binance)) == {"USDT": Decimal(12345)}
        pids = [int(out[v]["pid"]) for v in VENUES]  # type: ignore[index]
        assert all(alive(p) for p in pids)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
    assert code == 0
    assert not [p for p in pids if alive(p)], "a venue process outlived the sandbox"


def test_a_venue_that_dies_stops_the_sandbox_and_the_other_venues_with_exit_1() -> None:
    proc, out = _start()
    pids = {v: int(out[v]["pid"]) for v in VENUES}  # type: ignore[index]
    try:
        os.kill(pids["kraken_spot"], signal.SIGKILL)
        code = proc.wait(30)
        _, err = proc.communicate()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert code == 1
    assert "venue stopped: kraken_spot (exit -9)" in err
    assert not [p for p in pids.values() if alive(p)], "a venue process outlived the sandbox"


def _lines(proc: subprocess.Popen[str], count: int, limit_s: float = 30.0) -> str:
    """Read ``count`` lines from the raw pipe (no buffer hides a line from select)."""
    assert proc.stdout is not None
    fd, raw = proc.stdout.fileno(), b""
    deadline = time.monotonic() + limit_s
    while raw.count(b"\n") < count:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(fd, 65536) if ready else b""
        assert chunk, f"sandbox printed only: {raw!r}"
        raw += chunk
    return raw.decode()


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def test_key_value_lines_read_as_an_env_file_and_no_venue_outlives_a_killed_sandbox() -> None:
    proc = spawn(["main.py", "sandbox", "--speed", "60"])
    try:
        text = _lines(proc, 7)
        venues = _children(proc.pid)
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # no chance to stop its venues
        proc.wait(10)
    values = dotenv_values(stream=io.StringIO(text))
    assert set(values) == {"KINETIC_VENUE_URLS", *(n for pair in KEY_NAMES.values() for n in pair)}
    assert set(json.loads(str(values["KINETIC_VENUE_URLS"]))) == set(DEFAULT_URLS)
    assert len(venues) == 4
    poll_until(
        lambda: [p for p in venues if alive(p)], lambda left: not left, "orphan venues gone", 15
    )
