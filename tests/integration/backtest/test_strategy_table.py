"""The published strategy table (docs/strategies.md) is what the command produces (issue 15)."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import UnifiedConfig
from kinetic.backtest.strategy_table import (
    OUT_OF_SAMPLE,
    Row,
    WindowResult,
    block,
    parse_block,
    passes,
    published,
    run_window,
)
from kinetic.backtest.validated import BUILT_IN, ENGINES, VALIDATED, is_experimental

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "strategies.md"
TABLE = published(DOC)


def test_the_table_covers_every_built_in_strategy_on_both_engines() -> None:
    assert set(TABLE) == {(s, e) for s in BUILT_IN for e in ENGINES}
    for windows in TABLE.values():
        assert set(windows) == {"in-sample", "out-of-sample"}


def test_validated_set_follows_the_published_verdicts() -> None:
    verdicts = {k for k, w in TABLE.items() if "default-eligible" in w["out-of-sample"][-1]}
    assert verdicts == set(VALIDATED)
    assert all(not is_experimental(s, e) for s, e in verdicts)


def test_the_default_config_enables_an_engine_exactly_when_its_strategy_is_validated() -> None:
    config = UnifiedConfig()
    for engine, enabled in config.engine_enabled.items():
        strategy = getattr(config, f"{engine}_strategy")
        assert enabled == ((strategy, engine) in VALIDATED), (engine, strategy)
    assert any(config.engine_enabled.values())


def test_rendered_rows_parse_back_to_their_cells() -> None:
    win = WindowResult(-1.25, 3.5, None, 0, None, 12.0)
    ok = WindowResult(2.0, 4.0, 1.234, 10, 20.0, -5.0)
    rows = [Row("spot_trend", "spot", win, ok, passes(ok))]
    parsed = parse_block(block(rows))
    assert parsed[("spot_trend", "spot")]["in-sample"][:6] == win.cells()
    assert parsed[("spot_trend", "spot")]["out-of-sample"][:6] == ok.cells()


def test_a_strategy_worse_than_flat_or_beyond_the_drawdown_limit_does_not_pass() -> None:
    assert passes(WindowResult(0.0, 1.0, None, 0, None, 5.0))
    assert not passes(WindowResult(-0.01, 1.0, None, 3, None, 5.0))
    assert not passes(WindowResult(5.0, 15.01, None, 3, None, 5.0))
    assert not passes(WindowResult(5.0, 15.0, None, 3, None, 5.0))  # reached the breaker
    good = WindowResult(5.0, 14.9, None, 3, None, 5.0)
    assert passes(good, ins=good)
    assert not passes(good, ins=WindowResult(-0.7, 15.0, None, 3, None, 5.0))


@pytest.mark.slow
@pytest.mark.parametrize(("strategy", "engine"), sorted(TABLE))
def test_published_out_of_sample_figures_are_what_the_command_produces(
    strategy: str, engine: str
) -> None:
    oos = run_window(strategy, engine, OUT_OF_SAMPLE, ROOT)
    published_cells = TABLE[(strategy, engine)]["out-of-sample"]
    assert published_cells[:6] == oos.cells()
    ins = TABLE[(strategy, engine)]["in-sample"]  # its drawdown cell, e.g. "15.0%"
    ins_dd = WindowResult(0.0, float(ins[1].rstrip("%")), None, 0, None, 0.0)
    assert ("default-eligible" in published_cells[-1]) == passes(oos, ins=ins_dd)
