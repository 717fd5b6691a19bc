"""``check_twin``: the unfrozen twins hot paths build Candles and Signals with."""

from __future__ import annotations

import pytest

from kinetic.domain import Candle, Direction, Signal, check_twin
from kinetic.strategy.base import UnfrozenSignal, new_flat


class _Swapped:
    __slots__ = ("direction", "symbol", "confidence", "price", "ts_ms", "atr", "regime",  # noqa: RUF023
                 "reason", "components")  # fmt: skip


class _Short:
    __slots__ = ("symbol", "direction")  # noqa: RUF023 - Signal's first two, in order


@pytest.mark.parametrize("twin", [_Swapped, _Short])
def test_a_twin_of_another_layout_is_refused(twin: type) -> None:
    with pytest.raises(TypeError, match="slots must be Signal's fields"):
        check_twin(twin, Signal)


def test_a_twin_of_another_class_is_refused() -> None:
    with pytest.raises(TypeError):
        check_twin(UnfrozenSignal, Candle)


def test_the_signal_twin_builds_what_signal_builds() -> None:
    check_twin(UnfrozenSignal, Signal)  # the layout the builders rely on
    got = new_flat("BTCUSDT", 1.5, 60_000, 0.25, None, "quiet")
    want = Signal("BTCUSDT", Direction.FLAT, 0, 1.5, 60_000, 0.25, None, "quiet")
    assert type(got) is Signal
    assert got == want
    assert repr(got) == repr(want)
    with pytest.raises(AttributeError):
        got.confidence = 5  # type: ignore[misc]  # frozen, as Signal(...) is
