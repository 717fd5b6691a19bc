"""Protection monitor: every open futures position has a resting stop for its full size.

The monitor is the bookkeeping half of the protection step; the engine does the venue
calls. Each step the engine reads the venue's open orders (one call for every symbol)
and positions, and ``ProtectionMonitor.assess`` says, per position of the book, what it
needs:

* ``ok``: a reduce-only stop of ours, on the exit side, rests for exactly the size;
* ``adopt``: the tracked stop is gone but another of ours covers the position (an order
  whose placement outcome was unknown, a stop of an earlier run): track that one;
* ``place``: no stop covers the position (missing, cancelled on the venue, wrong size);
  the engine places one and then cancels ``stale``.

A stop that cannot be placed leaves the position unprotected; ``failed`` starts its
clock, and once ``grace_seconds`` have passed without a stop the engine closes the
position at market (``expired``). The size is the larger of the book's and the venue's
(they differ only until fills are learnt or the takeover resizes): a reduce-only stop
cannot fill beyond the position, so erring large never opens anything.

A book position the venue does not hold gets no stop (there is nothing to protect;
its closing fill is on its way, or drift detection reports it); stops of ours resting
on a symbol where the book holds nothing are ``stale`` and cancelled, so a later entry
cannot be closed by an old stop.

Liquidation: ``estimated_liquidation`` prices an isolated-margin position before entry
(``stop_beyond_liquidation`` refuses entries whose stop it would never reach), and
``near_liquidation`` tells when a mark is within a percentage of the venue's figure.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from kinetic.domain import ZERO, Order, OrderType, Position, PositionSide

# Binance USD-M's first maintenance tier is 0.4% (BTC) to 0.5% (ETH); Kraken Futures'
# is similar. Taking the upper figure prices liquidation nearer the entry: on the safe side.
MAINTENANCE_MARGIN_RATE = Decimal("0.005")


class Need(enum.StrEnum):
    OK = "ok"
    ADOPT = "adopt"
    PLACE = "place"


@dataclass(frozen=True, slots=True)
class Verdict:
    """What one position needs from this protection step."""

    symbol: str
    need: Need
    quantity: Decimal  # the size the stop must cover
    detail: str = ""  # why a stop is needed: "missing", "wrong size", "no stop"
    keep: str | None = None  # the client id to track (ok, adopt)
    stale: tuple[str, ...] = ()  # our other stops on the symbol: cancel once covered


class ProtectionMonitor:
    """Compare the book's positions with the venue's stops; time unprotected positions."""

    def __init__(self, grace_seconds: float, ours: Callable[[str], bool]) -> None:
        self.grace_seconds = grace_seconds
        self.ours = ours
        self._since: dict[str, float] = {}  # symbol -> when it was first seen unprotected

    # ------------------------------------------------------------------ assess
    def assess(
        self,
        positions: Iterable[Position],
        venue_orders: Iterable[Order],
        venue_sizes: Mapping[str, Decimal],
        tracked: Mapping[str, str],
    ) -> tuple[list[Verdict], list[Order]]:
        """Return a verdict per protectable position, and our stale stops elsewhere.

        ``venue_sizes`` is the venue's position size per symbol; a position it does not
        hold gets no verdict. ``tracked`` maps a symbol to the client id of its stop.
        """
        stops: dict[str, list[Order]] = {}
        for order in venue_orders:
            if _is_stop(order) and self.ours(order.client_order_id):
                stops.setdefault(order.symbol, []).append(order)
        verdicts: list[Verdict] = []
        held: set[str] = set()
        for pos in positions:
            held.add(pos.symbol)
            venue_size = venue_sizes.get(pos.symbol, ZERO)
            if venue_size <= 0:
                continue
            mine = [o for o in stops.get(pos.symbol, []) if o.side is pos.side.exit_side]
            wrong_side = [o for o in stops.get(pos.symbol, []) if o.side is not pos.side.exit_side]
            verdict = _verdict(pos, max(pos.quantity, venue_size), mine, tracked.get(pos.symbol))
            if wrong_side:
                extra = tuple(o.client_order_id for o in wrong_side)
                verdict = Verdict(
                    verdict.symbol,
                    verdict.need,
                    verdict.quantity,
                    verdict.detail,
                    verdict.keep,
                    verdict.stale + extra,
                )
            verdicts.append(verdict)
        orphans = [o for symbol, os_ in stops.items() if symbol not in held for o in os_]
        return verdicts, orphans

    # ------------------------------------------------------------------ timing
    def protected(self, symbol: str) -> None:
        """``symbol``'s position has its stop: stop its unprotected clock."""
        self._since.pop(symbol, None)

    def failed(self, symbol: str, now_s: float) -> float:
        """A stop for ``symbol`` could not be placed; return seconds unprotected so far."""
        since = self._since.setdefault(symbol, now_s)
        return now_s - since

    def expired(self, symbol: str, now_s: float) -> bool:
        """True once ``symbol`` has been unprotected for the grace period."""
        since = self._since.get(symbol)
        return since is not None and now_s - since >= self.grace_seconds

    def forget(self, symbol: str) -> None:
        """The position is gone: nothing to time."""
        self._since.pop(symbol, None)

    @property
    def pending(self) -> bool:
        """True while some position waits for its stop."""
        return bool(self._since)

    def unprotected(self) -> dict[str, float]:
        """Symbol -> when it was first seen without a stop."""
        return dict(self._since)


def _is_stop(order: Order) -> bool:
    return (
        order.order_type is OrderType.STOP_MARKET
        and order.reduce_only
        and not order.status.is_terminal
    )


def _verdict(pos: Position, size: Decimal, mine: list[Order], tracked: str | None) -> Verdict:
    covering = [o for o in mine if o.remaining == size]
    keep = next((o for o in covering if o.client_order_id == tracked), None)
    need = Need.OK
    if keep is None and covering:
        keep, need = covering[0], Need.ADOPT
    if keep is not None:
        stale = tuple(o.client_order_id for o in mine if o is not keep)
        return Verdict(pos.symbol, need, size, "", keep.client_order_id, stale)
    if tracked is None:
        detail = "no stop"
    elif any(o.client_order_id == tracked for o in mine):
        detail = "wrong size"
    else:
        detail = "missing on the venue"
    return Verdict(
        pos.symbol, Need.PLACE, size, detail, None, tuple(o.client_order_id for o in mine)
    )


# ---------------------------------------------------------------------- liquidation
def estimated_liquidation(
    side: PositionSide, entry: Decimal, leverage: int, mmr: Decimal = MAINTENANCE_MARGIN_RATE
) -> Decimal:
    """Isolated-margin liquidation price (no fees, first maintenance tier).

    Margin ``entry x qty / leverage`` is used up when the loss reaches it less the
    maintenance margin ``mmr x entry x qty``.
    """
    inverse = Decimal(1) / Decimal(leverage)
    if side is PositionSide.LONG:
        return entry * (1 - inverse + mmr)
    return entry * (1 + inverse - mmr)


def stop_beyond_liquidation(side: PositionSide, stop: Decimal, liquidation: Decimal) -> bool:
    """True when the position would be liquidated before its stop triggers."""
    return stop <= liquidation if side is PositionSide.LONG else stop >= liquidation


def near_liquidation(mark: Decimal, liquidation: Decimal, pct: float) -> bool:
    """True when ``mark`` is within ``pct`` percent (of the mark) of ``liquidation``."""
    if mark <= 0 or liquidation <= 0:
        return False
    return abs(mark - liquidation) * 100 <= mark * Decimal(str(pct))


# ---------------------------------------------------------------------- close retries
CLOSE_MAX_ATTEMPTS = 12
CLOSE_BACKOFF_S = 1.0
CLOSE_BACKOFF_CAP_S = 60.0


@dataclass(slots=True)
class PendingClose:
    """A close that has not closed its position yet (in flight, or waiting to retry)."""

    reason: str
    protective: bool
    attempts: int = 0  # failed tries so far
    next_try_s: float = 0.0
    client_order_id: str | None = None  # the close in flight, if any


class CloseRetries:
    """Closes that were refused or failed, retried with capped exponential backoff.

    The position keeps its stop meanwhile. After ``max_attempts`` failures (about ten
    minutes with the defaults) the close is given up: the stop stays and stays watched,
    and the next exit decision starts a new close.
    """

    def __init__(
        self,
        max_attempts: int = CLOSE_MAX_ATTEMPTS,
        backoff_s: float = CLOSE_BACKOFF_S,
        cap_s: float = CLOSE_BACKOFF_CAP_S,
    ) -> None:
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.cap_s = cap_s
        self._pending: dict[str, PendingClose] = {}

    def get(self, symbol: str) -> PendingClose | None:
        return self._pending.get(symbol)

    def sent(self, symbol: str, reason: str, protective: bool, client_order_id: str) -> None:
        """A close for ``symbol`` is in flight; its fills will tell."""
        pending = self._pending.setdefault(symbol, PendingClose(reason, protective))
        pending.client_order_id = client_order_id

    def failed(self, symbol: str, reason: str, protective: bool, now_s: float) -> PendingClose:
        """Count a failed close; schedule the next try (``attempts`` says how many so far)."""
        pending = self._pending.setdefault(symbol, PendingClose(reason, protective))
        pending.client_order_id = None
        pending.protective = pending.protective or protective
        pending.attempts += 1
        delay = min(self.cap_s, self.backoff_s * 2 ** (pending.attempts - 1))
        pending.next_try_s = now_s + delay
        if pending.attempts >= self.max_attempts:
            del self._pending[symbol]
        return pending

    def backing_off(self, symbol: str, now_s: float) -> bool:
        """True while ``symbol``'s failed close waits for its next try."""
        pending = self._pending.get(symbol)
        return (
            pending is not None and pending.client_order_id is None and now_s < pending.next_try_s
        )

    def done(self, symbol: str) -> None:
        """The position is closed (or gone): forget its close."""
        self._pending.pop(symbol, None)

    def items(self) -> list[tuple[str, PendingClose]]:
        return list(self._pending.items())

    @property
    def pending(self) -> bool:
        return bool(self._pending)
