"""SymbolBlacklist expiry on an injected time."""

from __future__ import annotations

import pytest

from kinetic.risk import SymbolBlacklist


def test_blacklisted_until_duration_elapses() -> None:
    bl = SymbolBlacklist(duration_minutes=60)
    assert bl.add("ETHUSDT", now_s=1_000.0) == 1_000.0 + 3_600.0
    assert bl.is_blacklisted("ETHUSDT", 1_000.0)
    assert bl.is_blacklisted("ETHUSDT", 4_599.9)
    assert not bl.is_blacklisted("ETHUSDT", 4_600.0)
    assert not bl.is_blacklisted("BTCUSDT", 1_000.0)


def test_active_drops_expired_entries() -> None:
    bl = SymbolBlacklist(duration_minutes=1)
    bl.add("A", 0.0)
    bl.add("B", 30.0)
    assert bl.active(10.0) == {"A": 60.0, "B": 90.0}
    assert bl.active(60.0) == {"B": 90.0}
    assert bl.active(90.0) == {}


def test_re_adding_extends_and_remove_lifts() -> None:
    bl = SymbolBlacklist(duration_minutes=1)
    bl.add("A", 0.0)
    bl.add("A", 50.0)
    assert bl.is_blacklisted("A", 100.0)
    bl.remove("A")
    assert not bl.is_blacklisted("A", 100.0)


def test_zero_duration_never_blacklists_and_negative_rejected() -> None:
    bl = SymbolBlacklist(duration_minutes=0)
    bl.add("A", 5.0)
    assert not bl.is_blacklisted("A", 5.0)
    assert bl.active(5.0) == {}
    with pytest.raises(ValueError):
        SymbolBlacklist(duration_minutes=-1)
