"""Helpers for the sandbox tests: real processes, polled with deadlines (never blind sleeps)."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

REPO_ROOT = Path(__file__).resolve().parents[3]
T = TypeVar("T")


def clean_env() -> dict[str, str]:
    """The environment without the developer's Kinetic/venue settings."""
    prefixes = ("KINETIC_", "BINANCE_", "KRAKEN_")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}


def spawn(args: list[str]) -> subprocess.Popen[str]:
    """Start ``python <args>`` in the repository (stdout piped, text)."""
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=REPO_ROOT,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def first_json_line(proc: subprocess.Popen[str], deadline_s: float = 30.0) -> dict[str, Any]:
    """Read the process's first stdout line (JSON) before the deadline."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], deadline_s)
    line = proc.stdout.readline() if ready else ""
    if not line:
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"no JSON line within {deadline_s}s; stderr: {err[-2000:]}")
    data: dict[str, Any] = json.loads(line)
    return data


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def poll_until(probe: Callable[[], T], ok: Callable[[T], bool], what: str, limit_s: float) -> T:
    """Poll ``probe`` until ``ok`` holds; fail with the last value after ``limit_s``."""
    deadline = time.monotonic() + limit_s
    while True:
        value = probe()
        if ok(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached in {limit_s}s; last: {value!r}")
        time.sleep(0.02)
