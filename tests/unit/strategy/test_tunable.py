"""``with_params``: every scalar constructor argument of a built-in strategy by name."""

from __future__ import annotations

import pytest

from kinetic.strategy.confluence import ConfluenceStrategy
from kinetic.strategy.futures_regime import FuturesRegimeStrategy
from kinetic.strategy.smc import SMCStrategy
from kinetic.strategy.spot_trend import SpotTrendStrategy
from kinetic.strategy.tuned import TUNED


def test_with_params_rebuilds_with_the_named_arguments_parsed_as_their_types() -> None:
    s = SpotTrendStrategy(min_confidence=60).with_params({"fast": "30", "slow": "90"})
    assert isinstance(s, SpotTrendStrategy)
    assert (s.params["fast"], s.params["slow"], s.min_confidence) == (30, 90, 60)
    assert s.warmup == 90
    f = FuturesRegimeStrategy(50).with_params({"bb_std": "2.5", "adx_trending": "30"})
    assert (f.params["bb_std"], f.detector.adx_trending) == (2.5, 30.0)
    assert SMCStrategy(50).with_params({"htf_factor": "24"}).params["htf_factor"] == 24
    c = ConfluenceStrategy(60).with_params({"confidence_scale": "2"})
    assert c.confidence_scale == 2.0


def test_unknown_or_malformed_parameter_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['fats'\]; known: .*fast"):
        SpotTrendStrategy(60).with_params({"fats": "3"})
    with pytest.raises(ValueError, match="fast='x' is not a valid int"):
        SpotTrendStrategy(60).with_params({"fast": "x"})
    with pytest.raises(ValueError, match="scorer"):
        ConfluenceStrategy(60).with_params({"scorer": "x"})


def test_confluence_confidence_is_the_raw_score_times_the_scale() -> None:
    from kinetic.domain import Candle

    raw, scaled = ConfluenceStrategy(0, confidence_scale=1.0), ConfluenceStrategy(0)
    t = 1_700_000_000_000
    for i in range(120):
        price = 100.0 + (i % 7) - (i % 5) * 0.7
        c = Candle("X", t + i * 60_000, t + i * 60_000 + 59_999, price, price + 1.0,
                   price - 1.0, price + 0.3 * ((i % 3) - 1), 1.0)  # fmt: skip
        a, b = raw.on_candle(c), scaled.on_candle(c)
        assert (
            b.confidence == min(100, round(a.confidence * 1.5))
            or abs(b.confidence - a.confidence * 1.5) <= 1
        )


def test_strategy_params_config_field_builds_the_tuned_strategy_or_refuses_to_start() -> None:
    from config import UnifiedConfig, load_config
    from kinetic.errors import StartupError
    from kinetic.wiring import configured_strategy

    env = {"KINETIC_STRATEGY_PARAMS": '{"spot_trend": {"fast": 30, "slow": 90}}'}
    strategy = configured_strategy("spot_trend", load_config(environ=env), "spot")
    assert isinstance(strategy, SpotTrendStrategy)
    assert (strategy.params["fast"], strategy.params["slow"]) == (30, 90)
    untouched = configured_strategy("futures_regime", load_config(environ=env), "futures")
    tuned = TUNED["futures"]["futures_regime"]
    assert untouched.params["slow"] == int(tuned["slow"])  # type: ignore[attr-defined]
    bad = UnifiedConfig(strategy_params={"spot_trend": {"fats": 3}})
    with pytest.raises(StartupError, match=r"strategy_params\.spot_trend: .*unknown parameter"):
        configured_strategy("spot_trend", bad, "spot")


def _value(strategy: object, name: str) -> object:
    params = getattr(strategy, "params", None)
    return params[name] if isinstance(params, dict) else getattr(strategy, name)


def test_registry_builds_each_engine_with_its_tuned_parameters_and_config_wins() -> None:
    from config import UnifiedConfig
    from kinetic.strategy.registry import create_strategy
    from kinetic.wiring import configured_strategy

    config = UnifiedConfig(spot_min_confidence=70, futures_min_confidence=55)
    checked = 0
    for engine, per in TUNED.items():
        for name, params in per.items():
            built = create_strategy(name, config, engine)
            for key, text in params.items():
                value = _value(built, key)
                assert value == type(value)(text), f"{name}/{engine}: {key}"
                checked += 1
            if hasattr(built, "min_confidence"):  # the engine's threshold still comes from config
                assert built.min_confidence == (70 if engine == "spot" else 55)
    assert checked
    # the tuned values differ per engine where the searches disagreed; config overrides them
    name, params = next(iter(TUNED["futures"].items()))
    key = next(iter(params))
    override = UnifiedConfig(strategy_params={name: {key: 21}})
    assert _value(configured_strategy(name, override, "futures"), key) == 21
