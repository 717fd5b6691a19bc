"""The ``Strategy`` protocol every strategy implements."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from kinetic.domain import Candle, Direction, Regime, Signal, check_twin

if TYPE_CHECKING:
    import numpy as np

    from kinetic.marketdata.files import CandleArrays


@runtime_checkable
class Strategy(Protocol):
    """Turn closed candles into signals; pure, deterministic, one state per symbol.

    ``on_candle`` must be called with closed candles in time order per symbol. During
    the first ``warmup`` candles of a symbol it returns a FLAT signal with confidence 0.
    A signal only depends on candles up to and including the one passed in.
    """

    name: str
    warmup: int

    def on_candle(self, candle: Candle) -> Signal:
        """Consume one closed candle and return the decision for its symbol."""
        ...

    def reset(self, symbol: str) -> None:
        """Forget all state of ``symbol`` (e.g. after a data gap)."""
        ...


@runtime_checkable
class FastForward(Protocol):
    """Optional capability: say which bars cannot change a decision, and skip them.

    A backtest driver may then skip such bars (when nothing else can happen on them)
    instead of calling ``on_candle`` on each; it calls ``fast_forward`` so the state is
    exactly what stepping would have produced. When in doubt, a bar is not quiet.
    """

    def quiet_bars(self, symbol: str, arrays: CandleArrays) -> np.ndarray:
        """Bool per bar: ``on_candle`` on it certainly returns a FLAT signal with no cross.

        Computed once per series, vectorised; must hold whatever bars precede it as
        long as they are ``arrays``' own bars in order (from the first one).
        """
        ...

    def fast_forward(self, symbol: str, arrays: CandleArrays, start: int, stop: int) -> None:
        """Advance ``symbol``'s state over the quiet bars ``start..stop-1`` of ``arrays``.

        The state must afterwards equal the state after ``on_candle`` on each of them;
        bars ``0..start-1`` have been passed to ``on_candle`` (or fast-forwarded) before.
        """
        ...


@runtime_checkable
class ActionBars(Protocol):
    """Optional capability: say, vectorised, on which bars a signal could act.

    A backtest driver skips bars on which no engine can act given its position: a flat
    spot engine acts on LONG only, a flat futures engine on LONG or SHORT, an open
    position on the opposite side only. Skipped bars are then passed to
    ``fast_forward``, whatever ``on_candle`` would have returned on them.
    """

    def action_bars(self, symbol: str, arrays: CandleArrays) -> tuple[np.ndarray, np.ndarray]:
        """``(may_long, may_short)``: bool per bar, ``on_candle`` on it could return
        LONG / SHORT. A superset is fine, a subset is a bug. Computed once per series;
        must hold for ``arrays``' own bars fed in order from the first one.
        """
        ...

    def fast_forward(self, symbol: str, arrays: CandleArrays, start: int, stop: int) -> None:
        """Advance ``symbol``'s state over bars ``start..stop-1`` exactly as ``on_candle``
        on each would (called only for bars both masks leave unmarked, or bars the
        engines would ignore)."""
        ...


_SIGNAL_FIELDS = (
    "symbol", "direction", "confidence", "price", "ts_ms", "atr", "regime", "reason", "components"
)  # fmt: skip
_FLAT = Direction.FLAT


class UnfrozenSignal:
    """``Signal``'s very layout (its slots, in order) without the frozen ``__setattr__``.

    Plain slot stores on an ``UnfrozenSignal`` whose class is then switched to
    ``Signal`` build the object ``Signal(...)`` builds, at a fraction of the cost of its
    ``__init__`` (``object.__setattr__`` per field) or of the slot descriptors'
    ``__set__``; a strategy builds one on every bar (``check_twin``). ``Signal``'s
    ``__post_init__`` (the confidence within 0..100) does not run: a builder whose
    confidence is not a constant in range calls it.
    """

    __slots__ = _SIGNAL_FIELDS
    symbol: str
    direction: Direction
    confidence: int
    price: float
    ts_ms: int
    atr: float
    regime: Regime | None
    reason: str
    components: dict[str, float]


check_twin(UnfrozenSignal, Signal)


def new_flat(
    symbol: str, price: float, ts_ms: int, atr: float, regime: Regime | None, reason: str
) -> Signal:
    """``Signal(symbol, FLAT, 0, price, ts_ms, atr, regime, reason)``, slot by slot."""
    sig = UnfrozenSignal()  # confidence 0: in range
    sig.symbol = symbol
    sig.direction = _FLAT
    sig.confidence = 0
    sig.price = price
    sig.ts_ms = ts_ms
    sig.atr = atr
    sig.regime = regime
    sig.reason = reason
    sig.components = {}
    sig.__class__ = Signal  # type: ignore[assignment]
    return sig  # type: ignore[return-value]


def flat_signal(
    candle: Candle, reason: str, atr: float = 0.0, regime: Regime | None = None
) -> Signal:
    """Return a FLAT, zero-confidence signal for ``candle``."""
    return new_flat(candle.symbol, candle.close, candle.close_time_ms, atr, regime, reason)


def clamp01(x: float) -> float:
    """Clamp ``x`` into ``[0, 1]``."""
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else x


def to_confidence(score: float) -> int:
    """Round a 0..100 score into a valid ``Signal.confidence``."""
    return max(0, min(100, round(score)))


def _convert(key: str, raw: str, current: object) -> object:
    """Parse ``raw`` as the type of the parameter's current value."""
    try:
        if isinstance(current, bool):
            if raw.lower() not in {"1", "0", "true", "false", "yes", "no"}:
                raise ValueError(raw)
            return raw.lower() in {"1", "true", "yes"}
        if isinstance(current, int):
            return int(raw)
        if isinstance(current, float):
            return float(raw)
    except ValueError:
        kind = type(current).__name__
        raise ValueError(f"parameter {key}={raw!r} is not a valid {kind}") from None
    return raw


class Tunable:
    """Mixin: ``with_params`` rebuilds the strategy with some constructor arguments changed.

    A strategy keeps its scalar constructor arguments in ``params`` (name -> value); the
    backtester's ``--param KEY=VALUE`` and the optimizer change them by name. Values are
    parsed as the type of the current value; an unknown name is a ``ValueError`` that
    lists the known ones.
    """

    name: str
    params: dict[str, object]

    def with_params(self, params: dict[str, str]) -> Any:
        """Return a copy configured from ``KEY=VALUE`` strings."""
        known = {k: v for k, v in self.params.items() if isinstance(v, int | float | str)}
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise ValueError(
                f"{self.name}: unknown parameter(s) {unknown}; known: {', '.join(sorted(known))}"
            )
        changed = {k: _convert(k, v, known[k]) for k, v in params.items()}
        return type(self)(**{**self.params, **changed})
