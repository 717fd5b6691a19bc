"""Owned asyncio tasks (ARCHITECTURE principle 7): stopping them."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


async def cancel_and_wait(*tasks: asyncio.Future[Any] | None) -> None:
    """Cancel ``tasks`` (``None`` is skipped), then wait until each has finished.

    A task's ``CancelledError`` is the end asked for and is swallowed; any other exception
    a task ended with propagates.
    """
    owned = [t for t in tasks if t is not None]
    for task in owned:
        task.cancel()
    for task in owned:
        with contextlib.suppress(asyncio.CancelledError):
            await task
