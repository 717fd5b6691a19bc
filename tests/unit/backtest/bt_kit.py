"""Backtest test kit: candle files built by hand, a seeded random-signal strategy, a runner."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from pathlib import Path

from config import UnifiedConfig, load_config
from kinetic.backtest.options import BacktestOptions
from kinetic.backtest.runner import BacktestResult, BacktestRunner
from kinetic.domain import Candle, Direction, Signal
from kinetic.strategy import registry

MINUTE_MS = 60_000
T0_MS = 1_600_000_000_000 - 1_600_000_000_000 % 86_400_000  # a UTC midnight
ROOT = Path(__file__).resolve().parents[3]
CRASH_5M = ROOT / "data/backtest/binance_BTCUSDT_5m_2020-12-01_2021-07-17.csv.gz"


def write_candles(
    path: Path,
    closes: Sequence[float],
    step_ms: int = MINUTE_MS,
    opens: Sequence[float] | None = None,
) -> Path:
    """Write a candle CSV; each bar opens at ``opens[i]`` (default: previous close)."""
    rows = ["timestamp,open,high,low,close,volume"]
    prev = closes[0]
    for i, c in enumerate(closes):
        o = opens[i] if opens is not None else prev
        rows.append(f"{T0_MS + i * step_ms},{o},{max(o, c)},{min(o, c)},{c},1.0")
        prev = c
    path.write_text("\n".join(rows) + "\n")
    return path


class RandomSignals:
    """Seeded random LONG/SHORT/FLAT signals with a positive ATR (both engines can act)."""

    name = "random_signals"
    warmup = 0

    def __init__(self, seed: int = 0, p: float = 0.2) -> None:
        self.rng = random.Random(seed)
        self.p = p

    def with_params(self, params: dict[str, str]) -> RandomSignals:
        return RandomSignals(int(params.get("seed", "0")), float(params.get("p", "0.2")))

    def on_candle(self, candle: Candle) -> Signal:
        roll = self.rng.random()
        if roll < self.p:
            direction = Direction.LONG
        elif roll < 2 * self.p:
            direction = Direction.SHORT
        else:
            direction = Direction.FLAT
        return Signal(
            candle.symbol,
            direction,
            100 if direction is not Direction.FLAT else 0,
            candle.close,
            candle.close_time_ms,
            atr=candle.close * 0.01,
        )

    def reset(self, symbol: str) -> None:
        """Nothing per symbol."""


if "random_signals" not in registry.available():
    registry.register("random_signals")(lambda _config, _engine: RandomSignals())


def base_config() -> UnifiedConfig:
    return load_config(environ={})


def run(opts: BacktestOptions, config: UnifiedConfig | None = None) -> BacktestResult:
    """Run a backtest synchronously (tests may call this from sync code)."""
    return asyncio.run(BacktestRunner(config or base_config(), opts, progress=False).run())


async def run_async(opts: BacktestOptions, config: UnifiedConfig | None = None) -> BacktestResult:
    return await BacktestRunner(config or base_config(), opts, progress=False).run()
