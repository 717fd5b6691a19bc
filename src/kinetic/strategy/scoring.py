"""Confluence scoring (seed 004): weigh indicator and pattern evidence into one confidence.

Each piece of ``Evidence`` names a component, the side it supports and a strength in
``[0, 1]``. Its points are ``weight x strength`` (weights in ``DEFAULT_WEIGHTS`` add up
to 100). The side with more points wins; the confidence is the winner's points minus
half the loser's (opposing evidence costs), clamped to 0..100. ``Score.components`` has
every contribution, signed: ``+`` for the chosen side, ``-`` against it, so the numbers
in ``Signal.components`` and the ``reason`` explain the confidence exactly:
``confidence = round(sum of + parts + 0.5 * sum of - parts)`` (clamped). Opposing
evidence under a name that also supports the side is listed as ``<name>_against``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from kinetic.domain import Direction
from kinetic.strategy.base import clamp01, to_confidence

DEFAULT_WEIGHTS: Mapping[str, float] = {
    # indicator evidence (55)
    "ema_trend": 15.0,  # fast EMA vs slow EMA, strength by spread (full at 1 %)
    "macd": 10.0,  # MACD histogram sign
    "rsi": 15.0,  # RSI below 35 / above 65, full at 20 / 80
    "stochastic": 15.0,  # %K below 20 / above 80 with %K crossing %D that way
    # pattern evidence (45)
    "support_resistance": 20.0,  # close within 0.5 ATR above support / below resistance
    "engulfing": 15.0,  # bullish / bearish engulfing
    "hammer_star": 10.0,  # hammer (long) / shooting star (short)
}
DOJI_AT_LEVEL = 0.5  # a doji at a level adds this strength to support_resistance
OPPOSING_COST = 0.5


@dataclass(frozen=True, slots=True)
class Evidence:
    """One observation for ``side`` with ``strength`` in ``[0, 1]`` (clamped)."""

    name: str
    side: Direction
    strength: float
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Score:
    """The scorer's verdict: side, confidence 0..100, signed contributions and reason."""

    side: Direction
    confidence: int
    components: dict[str, float] = field(default_factory=dict)
    reason: str = ""


class SignalScorer:
    """Combine ``Evidence`` into a ``Score`` with per-component weights."""

    def __init__(self, weights: Mapping[str, float] | None = None) -> None:
        self.weights = dict(DEFAULT_WEIGHTS if weights is None else weights)
        if any(w < 0 for w in self.weights.values()):
            raise ValueError("weights must be >= 0")

    def points(self, evidence: Evidence) -> float:
        """Return ``weight x strength`` of one piece of evidence (0 for unknown names)."""
        return self.weights.get(evidence.name, 0.0) * clamp01(evidence.strength)

    def _totals(
        self, evidence: Iterable[Evidence]
    ) -> tuple[list[Evidence], list[float], float, float]:
        """The pieces that count (a side and points > 0), their points and each side's
        total, summed in the evidence's order."""
        items: list[Evidence] = []
        points: list[float] = []
        long_ = short = 0.0
        weights = self.weights
        for e in evidence:
            side = e.side
            if side is Direction.FLAT:
                continue
            s = e.strength
            p = weights.get(e.name, 0.0) * (0.0 if s < 0.0 else 1.0 if s > 1.0 else s)
            if p > 0:  # clamp01 inline: the same value as ``points``
                items.append(e)
                points.append(p)
                if side is Direction.LONG:
                    long_ += p
                else:
                    short += p
        return items, points, long_, short

    def decide(self, evidence: Iterable[Evidence]) -> tuple[Direction, int]:
        """``score``'s side and confidence alone (nothing explained: cheaper)."""
        _, _, long_, short = self._totals(evidence)
        if long_ == short:
            return Direction.FLAT, 0
        side = Direction.LONG if long_ > short else Direction.SHORT
        return side, _confidence(long_, short)

    def score(self, evidence: Iterable[Evidence]) -> Score:
        """Return the winning side and its confidence with every contribution explained."""
        items, points, long_, short = self._totals(evidence)
        if long_ == short:
            tied = {e.name: 0.0 for e in items}
            return Score(Direction.FLAT, 0, tied, "tied evidence" if items else "no evidence")
        side = Direction.LONG if long_ > short else Direction.SHORT
        parts: dict[str, float] = {}
        for_side = {e.name for e in items if e.side is side}
        for e, p in zip(items, points, strict=True):
            if e.side is side:
                key, signed = e.name, p
            else:  # keep a same-named opposite part apart so the sums stay explicit
                key = f"{e.name}_against" if e.name in for_side else e.name
                signed = -p
            parts[key] = round(parts.get(key, 0.0) + signed, 6)
        confidence = _confidence(long_, short)
        return Score(side, confidence, parts, _explain(side, confidence, items, parts))


def _confidence(long_: float, short: float) -> int:
    """The winner's points minus ``OPPOSING_COST`` x the loser's, as a confidence."""
    return to_confidence(max(long_, short) - OPPOSING_COST * min(long_, short))


def _explain(
    side: Direction, confidence: int, items: list[Evidence], parts: dict[str, float]
) -> str:
    details = {e.name: e.detail for e in items if e.detail}
    text = ", ".join([
        f"{name} {value:+.1f} ({details[name]})" if name in details else f"{name} {value:+.1f}"
        for name, value in sorted(parts.items(), key=_descending)
    ])  # fmt: skip
    return f"{side.value} confluence {confidence}: {text}"


def _descending(kv: tuple[str, float]) -> float:
    return -kv[1]
