"""Strictly increasing nonces per API key, across restarts.

Kraken Spot rejects any nonce not greater than the last one it accepted for the key
(``EAPI:Invalid nonce``) and there is no way to reset it. The generator therefore
returns ``max(clock microseconds, last + 1)`` and persists a *high-water mark* a
little ahead of what it hands out, written atomically (temp file + ``os.replace``).
After a restart — even with the wall clock stepped backwards — the first nonce is
above everything the previous run could have sent. Persisting a reservation rather
than every value keeps file writes to about one per ``reserve_us``.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from kinetic.clock import Clock

DEFAULT_RESERVE_US = 5_000_000


def nonce_file_for(state_dir: Path, venue: str, api_key: str) -> Path:
    """Return the state file for ``api_key`` (named by a hash, never the key itself)."""
    digest = hashlib.sha256(api_key.encode("utf-8")).hexdigest()[:16]
    return state_dir / f"{venue}-nonce-{digest}.txt"


class NonceGenerator:
    """Hand out strictly increasing integer nonces; optionally persisted to ``path``."""

    def __init__(
        self, clock: Clock, path: Path | None = None, *, reserve_us: int = DEFAULT_RESERVE_US
    ) -> None:
        self._clock = clock
        self._path = path
        self._reserve = max(1, reserve_us)
        self._last = 0
        self._high_water = 0
        if path is not None:
            self._high_water = _read(path)
            self._last = self._high_water

    @property
    def last(self) -> int:
        """Return the last nonce handed out (0 before the first)."""
        return self._last

    def next(self) -> str:
        """Return the next nonce as a decimal string."""
        now_us = int(self._clock.time() * 1_000_000)
        value = max(now_us, self._last + 1)
        self._last = value
        if self._path is not None and value >= self._high_water:
            self._high_water = value + self._reserve
            _write_atomic(self._path, self._high_water)
        return str(value)

    def bump(self, at_least: int) -> None:
        """Make the next nonce exceed ``at_least`` (after an ``Invalid nonce`` answer)."""
        self._last = max(self._last, at_least)


def _read(path: Path) -> int:
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return 0
    return int(text) if text.isdigit() else 0


def _write_atomic(path: Path, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(f"{value}\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
