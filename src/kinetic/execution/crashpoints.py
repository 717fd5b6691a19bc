"""Crash points: let the crash harness SIGKILL the daemon at a named point of the order path.

``KINETIC_TEST_CRASH_AT="after_send:3"`` (read once, at import) kills this process with SIGKILL
the third time the order path passes ``after_send``; several points may be listed,
comma-separated. Unset (always, outside ``scripts/chaos.py``), ``crash_point`` is one
dictionary lookup on an empty dict. The points:

* ``before_send``: the order is journaled PENDING, not yet sent;
* ``after_send``: the venue accepted the order; its answer is not journaled yet;
* ``after_fill``: a fill is journaled; the position book has not applied it;
* ``before_stop``: an entry has filled; its protective stop is not placed yet;
* ``before_close_filled``: a close was sent while the stop rests; not yet confirmed.

A kill by wall-clock timer lands mostly in idle waits; these points put it inside the
windows where a crash can lose money, so every trial of the harness tests one of them.
"""

from __future__ import annotations

import os
import signal

POINTS = ("before_send", "after_send", "after_fill", "before_stop", "before_close_filled")


def _parse(raw: str) -> dict[str, int]:
    armed: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        name, _, count = item.partition(":")
        if name not in POINTS:
            raise ValueError(f"KINETIC_TEST_CRASH_AT: unknown point {name!r}; known: {POINTS}")
        armed[name] = int(count or "1")
    return armed


_ARMED = _parse(os.environ.get("KINETIC_TEST_CRASH_AT", ""))
ARMED = bool(_ARMED)  # read once: hot paths skip the call entirely when nothing is armed


def crash_point(name: str) -> None:
    """SIGKILL this process if ``name`` is armed and this is its n-th pass."""
    if not _ARMED or name not in _ARMED:
        return
    _ARMED[name] -= 1
    if _ARMED[name] <= 0:
        os.kill(os.getpid(), signal.SIGKILL)
