"""What the control service works with: results, the supervisor it needs, order helpers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from kinetic.supervisor.trading_states import TradingStates


class Supervised(Protocol):
    """What the service needs of the orchestrator."""

    @property
    def engines(self) -> Mapping[str, Any]: ...

    @property
    def states(self) -> TradingStates: ...

    async def request_close_all(self, reason: str) -> dict[str, int]: ...


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What a command did: one line for the operator, details for the API."""

    ok: bool
    message: str
    data: dict[str, Any] = field(default_factory=dict)
    error: str = ""  # "" | not_found | invalid | conflict | failed


async def cancel_entries(engine: Any) -> int:
    """Cancel ``engine``'s entry and take-profit orders; protective stops stay.

    Uses the engine's own ``cancel_entries`` when it has one; otherwise cancels every
    open order without a stop price (entries, take-profit limits), holding the engine's
    step lock so no step interleaves.
    """
    own = getattr(engine, "cancel_entries", None)
    if own is not None:
        return int(await own())
    oms = engine.d.oms
    lock = getattr(engine, "_step_lock", None)
    if lock is None:
        return await _cancel_non_stops(oms)
    async with lock:
        return await _cancel_non_stops(oms)


async def cancel_entries_everywhere(
    engines: Mapping[str, Any], on_error: Callable[[str, Exception], None] | None = None
) -> tuple[dict[str, int], dict[str, str]]:
    """``cancel_entries`` on every engine: how many each cancelled, and each failure.

    One engine's failure does not stop the others; it is reported (``on_error`` at once,
    and in the returned failures), never hidden.
    """
    cancelled: dict[str, int] = {}
    failed: dict[str, str] = {}
    for name, engine in engines.items():
        try:
            cancelled[name] = await cancel_entries(engine)
        except Exception as exc:
            failed[name] = repr(exc)
            if on_error is not None:
                on_error(name, exc)
    return cancelled, failed


async def _cancel_non_stops(oms: Any) -> int:
    count = 0
    for order in oms.open_orders():
        if order.stop_price is not None:  # a stop (futures stop-market, spot stop-limit)
            continue
        await oms.cancel(order.client_order_id)
        count += 1
    return count


def open_positions(engine: Any) -> int:
    """How many positions ``engine`` holds (its snapshot's count)."""
    return int(engine.snapshot().open_positions)
