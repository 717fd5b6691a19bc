"""Bounded retries with exponential backoff for the venue calls of a live start-up.

A start that meets a transient venue error (timeout, 5xx, rate limit, a client halted
by consecutive failures) waits and tries again, on the injected clock, logging every
attempt, for at most ``budget_s`` seconds of waiting; then it gives up with
``VenueUnavailable`` (exit 1, which the systemd unit restarts). Anything else (bad
keys, unknown symbols, refused requests) is raised at once, as before.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from kinetic.clock import Clock
from kinetic.errors import VenueUnavailable
from kinetic.logging import get_logger
from kinetic.venues.base.errors import TransientError, VenueHalted
from kinetic.venues.base.protocols import CountsFailures

T = TypeVar("T")
TRANSIENT = (TransientError, VenueHalted, TimeoutError)
STARTUP_RETRY_BUDGET_S = 120.0  # about two minutes of waiting in all
FIRST_DELAY_S = 1.0
MAX_DELAY_S = 30.0

log = get_logger(component="startup")


async def retry_transient(
    op: Callable[[], Awaitable[T]],
    clock: Clock,
    what: str,
    *,
    budget_s: float = STARTUP_RETRY_BUDGET_S,
    client: object = None,
) -> T:
    """Return ``await op()``, retrying transient venue errors with exponential backoff.

    Waits 1, 2, 4 ... up to 30 s between attempts while the total wait stays within
    ``budget_s``; ``budget_s`` 0 means one attempt and the original error. ``client``,
    if it counts failures, starts each retry with a clean count (so a client halted by
    the outage is usable again once the venue answers).
    """
    if budget_s <= 0:
        return await op()
    delay, waited, attempt = FIRST_DELAY_S, 0.0, 0
    while True:
        attempt += 1
        try:
            return await op()
        except TRANSIENT as exc:
            if waited + delay > budget_s:
                log.error("venue unavailable at start-up; giving up", what=what,
                          attempts=attempt, waited_s=waited, error=str(exc))  # fmt: skip
                raise VenueUnavailable(
                    f"{what}: still failing after {attempt} attempts over {waited:.0f}s: {exc}"
                ) from exc
            log.warning("transient venue error at start-up; retrying", what=what,
                        attempt=attempt, retry_in_s=delay, error=str(exc))  # fmt: skip
        if isinstance(client, CountsFailures):
            client.reset_failures()
        await clock.sleep(delay)
        waited += delay
        delay = min(delay * 2, MAX_DELAY_S)
