"""``LastPrices``: a candle's float close read back as the Decimal it prints as."""

from __future__ import annotations

from decimal import Decimal

from kinetic.venues.sim.pricing import LastPrices


def test_float_close_is_read_as_the_decimal_it_prints_as_and_kept() -> None:
    last = LastPrices()
    assert last.get("BTCUSDT") is None
    assert last.get("BTCUSDT", Decimal(7)) == Decimal(7)
    last.set("BTCUSDT", 0.1 + 0.2)  # repr 0.30000000000000004: exact, not rounded
    first = last.get("BTCUSDT")
    assert first == Decimal("0.30000000000000004")
    assert last.get("BTCUSDT") is first  # converted once
    last.set("BTCUSDT", Decimal("50001.5"))
    assert last.get("BTCUSDT") == Decimal("50001.5")
    last.set("BTCUSDT", 49999.25)
    assert last.get("BTCUSDT", Decimal(0)) == Decimal("49999.25")
