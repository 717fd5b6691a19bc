"""Every built-in strategy fast-forwards, and skipping never changes a report (issue 13).

Each run is made twice, skipping and stepping every bar (``--no-skip``); the four report
files must be byte-identical. Strategies that declare their acting bars
(``ActionBars`` / ``FastForward``) must actually skip; the others are stepped.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kinetic.backtest.data import parse_time_ms
from kinetic.backtest.options import BacktestOptions
from kinetic.backtest.report import write_report
from kinetic.strategy import registry
from tests.unit.backtest.bt_kit import CRASH_5M, ROOT, run_async

DATA = ROOT / "data/backtest"
FILES = ("summary.json", "trades.csv", "equity.csv", "report.html")
BUILT_IN = ("confluence", "futures_regime", "sma_cross", "smc", "spot_trend")
SKIPPING = set(BUILT_IN)  # every built-in declares where it could act
ETH_5M = DATA / "binance_ETHUSDT_5m_2021-04-15_2021-05-31.csv.gz"
BTC_1M = DATA / "binance_BTCUSDT_1m_2021-04-20_2021-05-20.csv.gz"
ETH_1M = DATA / "binance_ETHUSDT_1m_2021-04-20_2021-05-20.csv.gz"


async def _both(opts: BacktestOptions, tmp: Path) -> int:
    """Run skipping and stepping; assert identical reports; return the bars skipped."""
    outs, skipped = [], []
    for skip in (True, False):
        result = await run_async(BacktestOptions(**(vars(opts) | {"skip": skip})))
        folder = tmp / str(skip)
        write_report(result, folder)
        outs.append({f: (folder / f).read_bytes() for f in FILES})
        skipped.append(result.skipped)
    assert skipped[1] == 0
    for f in FILES:
        a, b = outs[0][f], outs[1][f]
        assert a == b, f"{f} differs between skip and no-skip"
    return skipped[0]


def test_the_built_ins_are_the_ones_tested() -> None:
    assert set(BUILT_IN) <= set(registry.available())


@pytest.mark.slow
@pytest.mark.parametrize("strategy", BUILT_IN)
@pytest.mark.parametrize("engines", [("spot",), ("futures",), ("spot", "futures")])
async def test_may_2021_crash_is_identical(
    tmp_path: Path, strategy: str, engines: tuple[str, ...]
) -> None:
    """The default config (stops, take-profit, trailing, breakers) over the May-2021 crash."""
    opts = BacktestOptions(
        engines=engines, symbols=("BTCUSDT",), data=(CRASH_5M,), strategy=strategy,
        start_ms=parse_time_ms("2021-05-05", "--from"), end_ms=parse_time_ms("2021-05-25", "--to"),
    )  # fmt: skip
    skipped = await _both(opts, tmp_path)
    assert (skipped > 0) == (strategy in SKIPPING)


@pytest.mark.slow
@pytest.mark.parametrize("strategy", sorted(SKIPPING))
@pytest.mark.parametrize(("engines", "short"), [(("spot", "futures"), False), (("futures",), True)])
async def test_two_symbols_both_engines_short_and_leverage_are_identical(
    tmp_path: Path, strategy: str, engines: tuple[str, ...], short: bool
) -> None:
    opts = BacktestOptions(
        engines=engines, symbols=("BTCUSDT", "ETHUSDT"), data=(BTC_1M, ETH_1M),
        strategy=strategy, start_ms=parse_time_ms("2021-05-10", "--from"),
        end_ms=parse_time_ms("2021-05-16", "--to"), leverage=5,
        allow_short=short and strategy == "sma_cross",  # the others short on futures anyway
        fill="next_open",
    )  # fmt: skip
    assert await _both(opts, tmp_path) > 0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("strategy", "engines"),
    [
        ("spot_trend", ("futures",)),
        ("futures_regime", ("futures",)),
        ("confluence", ("futures",)),  # min_confidence 0: an entry on nearly every bar
        ("confluence", ("spot",)),
    ],
)
async def test_raw_futures_and_eth_are_identical(
    tmp_path: Path, strategy: str, engines: tuple[str, ...]
) -> None:
    """--raw: no limits, positions most of the time; ETH 5m, another data set."""
    opts = BacktestOptions(
        engines=engines, symbols=("ETHUSDT",), data=(ETH_5M,), strategy=strategy,
        raw=True, fee=0.001,
    )  # fmt: skip
    assert await _both(opts, tmp_path) > 0


_SETS = st.fixed_dictionaries(
    {
        "spot_stop_loss_pct": st.sampled_from(["0.5", "1.5", "3.0"]),
        "spot_take_profit_pct": st.sampled_from(["1.0", "3.0", "6.0"]),
        "futures_trailing_activation_pct": st.sampled_from(["0.5", "2.0"]),
        "futures_atr_stop_multiplier": st.sampled_from(["1.0", "2.0", "4.0"]),
        "spot_min_confidence": st.sampled_from(["30", "60", "80"]),
        "futures_min_confidence": st.sampled_from(["20", "50", "85"]),
    }
)


@pytest.mark.slow
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    strategy=st.sampled_from(sorted(SKIPPING)),
    engines=st.sampled_from([("spot",), ("futures",), ("spot", "futures")]),
    sets=_SETS,
    start_day=st.integers(0, 40),
    days=st.integers(2, 6),
    fill=st.sampled_from(["close", "next_open"]),
    leverage=st.sampled_from([2, 5, 20]),
    short=st.booleans(),
)
def test_random_parameters_and_slices_are_identical(
    tmp_path_factory: pytest.TempPathFactory,
    strategy: str,
    engines: tuple[str, ...],
    sets: dict[str, str],
    start_day: int,
    days: int,
    fill: str,
    leverage: int,
    short: bool,
) -> None:
    start = parse_time_ms("2021-04-15", "--from") + start_day * 86_400_000
    params = {"fast": "8", "slow": "21"} if strategy == "sma_cross" else {}
    short = short and engines == ("futures",) and bool(params)  # sma_cross's own switch
    opts = BacktestOptions(
        engines=engines, symbols=("ETHUSDT",), data=(ETH_5M,), strategy=strategy,
        params=params, start_ms=start, end_ms=start + days * 86_400_000, sets=sets,
        fill=fill, leverage=leverage, allow_short=short,  # type: ignore[arg-type]
    )  # fmt: skip
    asyncio.run(_both(opts, tmp_path_factory.mktemp("ff")))
