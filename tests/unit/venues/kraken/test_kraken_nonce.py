"""Kraken Spot nonces increase strictly per key, across restarts and clock steps back."""

from __future__ import annotations

import itertools
from pathlib import Path

from kinetic.clock import ManualClock
from kinetic.venues.kraken.nonce import NonceGenerator, nonce_file_for


def test_nonces_strictly_increase_when_clock_stands_still() -> None:
    gen = NonceGenerator(ManualClock(1_700_000_000.0))
    values = [int(gen.next()) for _ in range(1000)]
    assert all(b > a for a, b in itertools.pairwise(values))


def test_nonce_after_restart_exceeds_previous_run_even_if_clock_went_back(tmp_path: Path) -> None:
    path = nonce_file_for(tmp_path, "kraken", "key-1")
    clock = ManualClock(1_700_000_000.0)
    first = NonceGenerator(clock, path)
    sent = [int(first.next()) for _ in range(50)]
    clock.set(1_600_000_000.0)  # the host clock stepped back a long way
    second = NonceGenerator(clock, path)
    assert int(second.next()) > max(sent)


def test_state_file_is_per_key_and_does_not_contain_the_key(tmp_path: Path) -> None:
    a = nonce_file_for(tmp_path, "kraken", "secret-key-A")
    b = nonce_file_for(tmp_path, "kraken", "secret-key-B")
    assert a != b
    assert "secret-key" not in a.name


def test_state_is_written_atomically_without_temp_leftovers(tmp_path: Path) -> None:
    path = nonce_file_for(tmp_path, "kraken", "k")
    clock = ManualClock()
    gen = NonceGenerator(clock, path, reserve_us=10)
    for _ in range(30):
        gen.next()
        clock.advance(0.001)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    assert int(path.read_text()) >= gen.last
