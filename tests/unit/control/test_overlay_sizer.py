"""A run-time ``futures_min_confidence`` reaches the futures sizer as well as the risk
limit: the sizer gives 0 % below its own floor, so a lowered limit alone would let an
entry through that sizing then refuses."""

from __future__ import annotations

from types import SimpleNamespace

from config import UnifiedConfig
from kinetic.control import overlay
from kinetic.risk.sizing import ConfidencePositionSizer


def _supervisor(config: UnifiedConfig) -> SimpleNamespace:
    def engine(sizer: object) -> SimpleNamespace:
        return SimpleNamespace(d=SimpleNamespace(config=config, risk=SimpleNamespace()),
                               sizer=sizer)  # fmt: skip

    futures = ConfidencePositionSizer(
        config.futures_position_size_min_pct,
        config.futures_position_size_max_pct,
        config.futures_min_confidence,
    )
    return SimpleNamespace(
        config=config, engines={"spot": engine(None), "futures": engine(futures)}
    )


def test_a_lowered_floor_sizes_the_entries_it_lets_through() -> None:
    base = UnifiedConfig()
    assert base.futures_min_confidence == 65
    sup = _supervisor(base)
    sizer = sup.engines["futures"].sizer
    assert sizer.size_pct(50) == 0.0  # below the start's floor
    overlay.apply(sup, base.model_copy(update={"futures_min_confidence": 40}))
    assert sup.engines["futures"].d.risk.limits.min_confidence == 40
    assert sizer.size_pct(40) == base.futures_position_size_min_pct  # the floor's size
    assert sizer.size_pct(50) > sizer.size_pct(40)
    assert sizer.size_pct(39) == 0.0
    assert sup.engines["spot"].sizer is None  # the spot engine has no such sizer
