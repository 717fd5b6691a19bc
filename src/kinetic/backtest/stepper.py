"""The stepped path of a one-symbol run that skips nothing: every bar is one step.

``step_every_bar`` is ``Driver.run``'s loop for that case, with ``Driver._step``,
``Driver._publish`` and the risk step inline (group ``k`` is bar ``k``): the same calls
on the same objects in the same order, without the group lists, the index reads and a
coroutine per bar. The portfolio is marked again only when an engine's books changed
(one engine, see ``_unchanged``). Close times and curve values go through Python lists
a block at a time. (No ``zip(..., strict=True)`` per bar: it cost about 2,400
instructions a bar here, callgrind.)
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from kinetic.backtest.bars import BLOCK, Bars

if TYPE_CHECKING:
    import numpy as np

    from kinetic.backtest.driver import Curve, Driver
    from kinetic.domain import Position, PositionSide
    from kinetic.portfolio.positions import PositionManager

DAY_S = 86_400


async def step_every_bar(  # noqa: C901 - ``Driver._step`` inline, on purpose
    driver: Driver, bars: Bars, close: np.ndarray, curve: Curve
) -> None:
    """Step bars ``0..n-1`` of ``bars`` (closing at ``close``) and fill ``curve``."""
    world = driver.world
    slots, clock = world.slots, world.clock
    monitor = world.orchestrator.risk_monitor
    funding, progress, marked = driver.funding, driver.progress, driver._marked
    next_open = driver.fill == "next_open"
    # one engine: ``_marked`` is not called again while its books are the very same
    # objects as at the last call (``_unchanged``): not after its steps, and not at the
    # next close while it is flat (a flat engine's value is its cash; no close is read)
    pm = slots[0].engine.d.positions if len(slots) == 1 else None
    cash: Decimal | None = None  # the books at the last ``_marked`` (one engine)
    book: Book | None = None  # None: no shortcut (several engines or positions)
    value = 0.0
    n = len(close)
    for lo in range(0, n, BLOCK):
        values: list[float] = []
        held: list[bool] = []
        hi = min(lo + BLOCK, n)
        # the block's bars and (``next_open``) the opening ticks of the bars after them
        candles = bars.candles(lo, hi)
        ticks = bars.opening_ticks(lo + 1, hi + 1) if next_open else candles
        for k, t in enumerate(close[lo:hi].tolist(), lo):
            # ``Driver._step``: the clock just past the close, due funding, the bar (and
            # the next open) to every venue and store, the value to the risk monitor,
            # then each engine's scan and monitor steps
            now = (t + 1) / 1000.0
            clock.set(now)
            if funding is not None:
                driver._settle_funding(funding, t)
            candle = candles[k - lo]
            for slot in slots:
                slot.venue.on_candle(candle)
                slot.store.add(candle)
            last = k + 1 == n
            if next_open and not last:
                tick = ticks[k - lo]
                for slot in slots:
                    slot.venue.on_candle(tick)
            # ``_unchanged`` for a flat engine, inline: its books are the last mark's
            if not (book == () and pm.cash is cash and not pm.positions):  # type: ignore[union-attr]
                value = marked(None)[0]
                if pm is not None:
                    cash, book = pm.cash, _book(pm.positions)
            # ``Driver._risk_changed`` and ``_check_risk``, inline (``now`` is the time of
            # the clock): the monitor is fed only when the value or the UTC day changed
            risk = (value, int(now) // DAY_S)
            if risk != driver._last_risk or monitor.circuit_breaker_active:
                driver._last_risk = risk
                trip = monitor.update(value)
                if trip is not None:
                    await driver._tripped(trip)
            scan = not (last and next_open)  # no next open to fill at
            for slot in slots:
                engine = slot.engine
                if scan:
                    await engine.scan_once()
                if not engine.idle_monitor_step():  # a flat idle engine: cursors only
                    await engine.monitor_once()
            if book is None or not _unchanged(pm, cash, book):  # type: ignore[arg-type]
                value, exposed = marked(None)
                if pm is not None:
                    cash, book = pm.cash, _book(pm.positions)
            else:  # ``_marked``'s ``exposed``: something is held
                exposed = bool(book)
            values.append(value)
            held.append(exposed)
            if progress is not None:
                progress(k + 1, n)
        curve.equity[lo : lo + len(values)] = values
        curve.exposed[lo : lo + len(held)] = held
        curve.n = lo + len(values)


Book = tuple["Position", "Decimal", "Decimal", "PositionSide"] | tuple[()]


def _book(positions: dict[str, Position]) -> Book | None:
    """What ``Driver._marked`` reads from one position (or none): the position and its
    quantity, entry price and side, compared by identity (None: several positions)."""
    if not positions:
        return ()
    if len(positions) > 1:
        return None
    for pos in positions.values():
        return (pos, pos.quantity, pos.entry_price, pos.side)
    return None  # pragma: no cover - not reached (one position)


def _unchanged(pm: PositionManager, cash: Decimal | None, book: Book) -> bool:
    """True when ``pm`` holds the very cash object and position state ``_book`` saw.

    ``_marked`` reads nothing else but the closes in the engine's store, and nothing is
    published between the two marks of a step: its value is then the same float.
    Decimals are immutable and a position's fields are replaced, not mutated, when a
    fill or a takeover changes them, so identical objects are identical values.
    """
    if pm.cash is not cash:
        return False
    positions = pm.positions
    if not book:
        return not positions
    pos, quantity, entry_price, side = book
    return (
        len(positions) == 1
        and positions.get(pos.symbol) is pos
        and pos.quantity is quantity
        and pos.entry_price is entry_price
        and pos.side is side
    )
