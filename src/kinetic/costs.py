"""The cost of a trade: fees both ways, slippage and expected funding (one model).

The SimExchange charges its fees and slippage through this model, the backtester sizes
entries with it and every engine (replay, paper, live) prices an entry's round trip
with it before the RiskManager lets it through. All rates are fractions (0.001 = 0.1 %)
of the notional; ``round_trip`` is a fraction of the notional, ``of_margin`` scales a
fraction of the notional by the leverage (what the trade costs the margin it ties up).

Pure and I/O-free; it sits beside ``domain`` so the venues layer can use it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kinetic.domain import ZERO

FUNDING_INTERVAL_S = 8 * 3600.0  # Binance USD-M and Kraken Futures settle every 8 h
BPS = Decimal(10_000)
PCT = Decimal(100)


def _pct(value: float) -> Decimal:
    return Decimal(str(value)) / PCT


@dataclass(frozen=True, slots=True)
class CostModel:
    """Fees, slippage and expected funding of one engine's venue.

    ``taker_fee`` / ``maker_fee`` and ``slippage`` are fractions per fill;
    ``funding_rate`` is the expected funding rate per 8-hour interval that a position
    pays (0 on spot). Entries and exits are market orders (taker) in Kinetic.
    """

    taker_fee: Decimal
    maker_fee: Decimal
    slippage: Decimal
    funding_rate: Decimal = ZERO

    def __post_init__(self) -> None:
        for name in ("taker_fee", "maker_fee", "slippage"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")

    @classmethod
    def for_engine(cls, config: Any, engine: str) -> CostModel:
        """The model of ``engine`` ("spot" or "futures") from a ``UnifiedConfig``."""
        slip = Decimal(str(config.slippage_bps)) / BPS
        if engine == "spot":
            return cls(_pct(config.taker_fee_pct), _pct(config.maker_fee_pct), slip)
        return cls(
            _pct(config.futures_taker_fee_pct),
            _pct(config.futures_maker_fee_pct),
            slip,
            _pct(getattr(config, "futures_expected_funding_rate_pct", 0.0)),
        )

    def fee(self, notional: Decimal, *, maker: bool = False) -> Decimal:
        """The fee of one fill of ``notional`` (quote currency)."""
        return notional * (self.maker_fee if maker else self.taker_fee)

    def funding(self, holding_s: float) -> Decimal:
        """Expected funding over ``holding_s`` seconds, as a fraction of the notional."""
        if holding_s <= 0 or self.funding_rate == 0:
            return ZERO
        return abs(self.funding_rate) * Decimal(str(holding_s / FUNDING_INTERVAL_S))

    def round_trip(self, holding_s: float = 0.0) -> Decimal:
        """Entry and exit at market plus expected funding, as a fraction of the notional."""
        return 2 * (self.taker_fee + self.slippage) + self.funding(holding_s)

    def exit_cost(self) -> Decimal:
        """The cost of the exit fill alone (fee and slippage), fraction of the notional."""
        return self.taker_fee + self.slippage

    @staticmethod
    def of_margin(fraction: Decimal, leverage: int) -> Decimal:
        """A fraction of the notional as a fraction of the margin (``x leverage``)."""
        if leverage < 1:
            raise ValueError(f"leverage must be >= 1, got {leverage}")
        return fraction * leverage
