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


def test_slipped_prices_each_slippage_with_its_own_factors() -> None:
    # ``1 +/- slippage`` is remembered for the last slippage given: two venues (or a
    # zero and a non-zero one) alternating never price with each other's
    from decimal import Decimal as D

    from kinetic.domain import Side
    from kinetic.venues.sim.pricing import slipped

    tick = D("0.01")
    for _ in range(2):
        for slip in (D("0.001"), D("0"), D("0.0005")):
            assert slipped(D("100"), Side.BUY, slip, tick) == (D("100") * (1 + slip)).quantize(
                tick, "ROUND_CEILING"
            )
            assert slipped(D("100"), Side.SELL, slip, tick) == (D("100") * (1 - slip)).quantize(
                tick, "ROUND_FLOOR"
            )
