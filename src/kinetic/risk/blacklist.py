"""Temporary symbol blacklist (e.g. after a stop-out), driven by an injected time."""

from __future__ import annotations


class SymbolBlacklist:
    """Keep symbols out of trading for ``duration_minutes`` after ``add``.

    Times are seconds (the Clock's ``time()``); nothing here reads the wall clock.
    """

    def __init__(self, duration_minutes: float) -> None:
        if duration_minutes < 0:
            raise ValueError(f"duration_minutes must be >= 0, got {duration_minutes}")
        self.duration_s = duration_minutes * 60.0
        self._until: dict[str, float] = {}

    def add(self, symbol: str, now_s: float) -> float:
        """Blacklist ``symbol`` from ``now_s``; return its expiry (extends, never shortens)."""
        until = max(self._until.get(symbol, 0.0), now_s + self.duration_s)
        if until > now_s:
            self._until[symbol] = until
        return until

    def remove(self, symbol: str) -> None:
        """Lift the blacklist of ``symbol`` now."""
        self._until.pop(symbol, None)

    def is_blacklisted(self, symbol: str, now_s: float) -> bool:
        """Return True while ``symbol``'s entry has not expired."""
        until = self._until.get(symbol)
        if until is None:
            return False
        if now_s >= until:
            del self._until[symbol]
            return False
        return True

    def active(self, now_s: float) -> dict[str, float]:
        """Drop expired entries; return ``{symbol: expiry_s}`` of the rest."""
        self._until = {s: t for s, t in self._until.items() if t > now_s}
        return dict(self._until)
