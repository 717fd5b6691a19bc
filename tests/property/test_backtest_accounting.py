"""Backtest accounting: final equity = start + realized PnL - fees + funding, for random
strategies (seeded random signals) on random price paths, spot and futures, both fill
timings, with and without the limits; the SimExchange's own books must agree."""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from kinetic.backtest.options import BacktestOptions
from tests.unit.backtest.bt_kit import MINUTE_MS, T0_MS, run, write_candles

TOLERANCE = Decimal("1e-12")
prices = st.lists(st.floats(-0.03, 0.03, allow_nan=False), min_size=20, max_size=120)


def _path(steps: list[float]) -> list[float]:
    out, p = [], 100.0
    for r in steps:
        p = round(p * (1 + r), 2)
        out.append(max(p, 1.0))
    return out


@settings(max_examples=100, deadline=None)
@given(
    steps=prices,
    seed=st.integers(0, 10_000),
    engine=st.sampled_from(["spot", "futures"]),
    fill=st.sampled_from(["close", "next_open"]),
    raw=st.booleans(),
    leverage=st.integers(1, 3),
    fee=st.sampled_from([0.0, 0.0004, 0.001]),
    funding=st.lists(st.floats(-0.001, 0.001, allow_nan=False), min_size=0, max_size=5),
)
def test_final_equity_is_start_plus_realized_minus_fees_plus_funding(
    steps: list[float],
    seed: int,
    engine: str,
    fill: str,
    raw: bool,
    leverage: int,
    fee: float,
    funding: list[float],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = write_candles(Path(tmp) / "BTCUSDT_1m.csv", _path(steps))
        funding_file = None
        if engine == "futures" and funding:
            funding_file = Path(tmp) / "funding.csv"
            every = max(1, len(steps) // (len(funding) + 1))
            rows = [f"{T0_MS + (k + 1) * every * MINUTE_MS},{r}" for k, r in enumerate(funding)]
            funding_file.write_text("timestamp,funding_rate\n" + "\n".join(rows) + "\n")
        opts = BacktestOptions(
            engines=(engine,),
            symbols=("BTCUSDT",),
            data=(data,),
            strategy="random_signals",
            params={"seed": str(seed)},
            fill=fill,
            raw=raw,
            leverage=leverage,
            fee=fee,  # type: ignore[arg-type]
            units="fractional",
            cash=10_000.0,
            funding=funding_file,
        )
        result = run(opts)
    zero = Decimal(0)
    gross = sum((t.pnl + t.fees for t in result.trades), zero)
    assert sum((t.fees for t in result.trades), zero) == result.fees
    expected = result.start_equity + gross - result.fees + result.funding
    # exact but for the 28-digit Decimal context rounding funding payments (qty x mark x rate)
    assert abs(result.final_equity - expected) < TOLERANCE
    assert abs(result.venue_equity - result.final_equity) < TOLERANCE
    assert result.curve.equity[-1] == float(result.final_equity)
