"""A replay at 1,000,000x (inside the documented range) trades and never calls its data stale.

Staleness used to be judged on the ``ScaledClock``, which runs on wall time: every
millisecond the feed lagged behind it was 1,000 market seconds, and entries were
refused as "stale market data". The replay stores now judge it on the feed's time.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from structlog.testing import capture_logs

from config import EnvConfig
from kinetic.app import Daemon
from kinetic.storage import resolve_database_url
from tests.integration.daemon.support import both_filled, fast_config, fill_counts, wait_until

SPEED = 1_000_000.0


async def test_replay_at_a_million_x_places_orders_and_never_logs_stale_data(
    tmp_path: Path,
) -> None:
    path = tmp_path / "fast.db"
    config = fast_config(path, replay_speed=SPEED)
    daemon = Daemon(
        config, EnvConfig(), mode="replay", database_url=resolve_database_url(None, str(path))
    )
    stop = asyncio.Event()
    with capture_logs() as logs:
        task = asyncio.create_task(daemon.run(stop), name="test:fast-replay")
        try:
            await wait_until(
                lambda: fill_counts(daemon.db), both_filled, "fills from both engines", task=task
            )
        finally:
            stop.set()
            await task
    stale = [e for e in logs if str(e.get("event", "")).startswith("stale market data")]
    assert stale == [], f"{len(stale)} stale warnings, first: {stale[0]}"
