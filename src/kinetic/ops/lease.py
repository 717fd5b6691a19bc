"""Hot standby: one trading daemon per database, chosen by a PostgreSQL advisory lock.

Two daemons on two machines share one PostgreSQL database (``ha_role: primary`` on one,
``standby`` on the other; both behave alike, the role only says which one is expected
to lead). Whoever holds the session advisory lock ``LOCK_KEY`` on its own connection
trades; the other waits in ``LeaderLease.acquire``, asking again every
``ha_poll_seconds``, and builds nothing until it wins: no venue client, no engine, no
operator-command poller.

The lock lives as long as the leader's database session. When the leader process dies
the server ends the session at once (the socket closes) and the standby's next try wins.
When the leader's machine or network dies, the server notices through TCP keepalives
that this connection sets for itself (``tcp_keepalives_idle/interval/count``, about
``DEAD_PEER_S`` in all) and only then frees the lock. The leader checks its lock every
``ha_check_seconds`` (``LeaderLease.holds``: the session answers within the check's
timeout and still holds the lock); a failed check makes it REDUCE_ONLY at once and shut
down (``LeaseWatch``), well before the server could hand the lock to the standby: the
two never send entries at the same time. Every order is journaled in the shared database
before it is sent, so a leader cut off from the database cannot send one either.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from kinetic.logging import get_logger
from kinetic.tasks import cancel_and_wait

LOCK_KEY = 0x4B494E45  # "KINE": one lock per database, whatever the installation
KEEPALIVE = {  # the server gives up on a silent leader after about DEAD_PEER_S
    "tcp_keepalives_idle": "5",
    "tcp_keepalives_interval": "2",
    "tcp_keepalives_count": "3",
}
DEAD_PEER_S = 5 + 2 * 3
CONNECT_TIMEOUT_S = 5.0

log = get_logger(component="ha")


def lease_dsn(database_url: str) -> str:
    """The asyncpg DSN of a ``postgresql+asyncpg://`` database URL."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise ValueError("ha_role needs PostgreSQL (DATABASE_URL postgresql+asyncpg://...)")
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class LeaderLease:
    """The advisory lock on a connection of its own."""

    def __init__(self, dsn: str, *, check_timeout_s: float = 2.0, key: int = LOCK_KEY) -> None:
        self._dsn = dsn
        self._key = key
        self._check_timeout_s = check_timeout_s
        self._conn: Any = None
        self.held = False

    @property
    def server_pid(self) -> int | None:
        """The PostgreSQL backend process of the lock's session (None: no session)."""
        return None if self._conn is None else int(self._conn.get_server_pid())

    async def try_acquire(self) -> bool:
        """One attempt: True if this process now holds the lock."""
        try:
            if self._conn is None or self._conn.is_closed():
                self._conn = await asyncpg.connect(
                    self._dsn, timeout=CONNECT_TIMEOUT_S, server_settings=KEEPALIVE
                )
            got = await asyncio.wait_for(
                self._conn.fetchval("SELECT pg_try_advisory_lock($1::bigint)", self._key),
                self._check_timeout_s,
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError,
                asyncpg.InternalClientError) as exc:  # fmt: skip
            log.warning("leader lease: database unreachable", error=type(exc).__name__)
            await self._drop()
            return False
        self.held = bool(got)
        return self.held

    async def acquire(
        self, stop: asyncio.Event, poll_s: float, sleep: Callable[[float], Awaitable[None]]
    ) -> bool:
        """Wait until the lock is ours (True) or ``stop`` is set (False)."""
        announced = False
        while not stop.is_set():
            if await self.try_acquire():
                log.info("leader lease acquired: this daemon trades")
                return True
            if not announced:
                log.info("standing by: another daemon holds the leader lease", poll_s=poll_s)
                announced = True
            await sleep(poll_s)
        return False

    async def holds(self) -> bool:
        """True while the session answers in time and still holds the lock."""
        if self._conn is None or not self.held:
            return False
        try:
            count = await asyncio.wait_for(
                self._conn.fetchval(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND pid = pg_backend_pid() AND objid = $1::oid",
                    self._key & 0xFFFFFFFF,
                ),
                self._check_timeout_s,
            )
        except Exception:  # any failure: we cannot say we hold it
            count = 0
        self.held = bool(count)
        if not self.held:  # give the session up for good: the lock is the standby's now
            await self._drop()
        return self.held

    async def release(self) -> None:
        """Give the lock back (a clean stop: the standby takes over without waiting)."""
        if self._conn is not None and self.held and not self._conn.is_closed():
            with contextlib.suppress(Exception):
                await self._conn.fetchval("SELECT pg_advisory_unlock($1::bigint)", self._key)
        self.held = False
        await self._drop()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close(timeout=1.0)


class LeaseWatch:
    """The leader's check loop: on a lost lease, ``on_lost`` (REDUCE_ONLY, then stop)."""

    def __init__(
        self,
        lease: LeaderLease,
        check_s: float,
        sleep: Callable[[float], Awaitable[None]],
        on_lost: Callable[[], Awaitable[None]],
    ) -> None:
        self.lease = lease
        self.check_s = check_s
        self._sleep = sleep
        self._on_lost = on_lost
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="ha:lease-watch")

    async def _run(self) -> None:
        while True:
            await self._sleep(self.check_s)
            if not await self.lease.holds():
                log.error("leader lease lost: no new entries, shutting down")
                await self._on_lost()
                return

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None


async def stand_by(
    lease: LeaderLease,
    stop: asyncio.Event,
    poll_s: float,
    check_s: float,
    sleep: Callable[[float], Awaitable[None]],
    on_lost: Callable[[], Awaitable[None]],
) -> LeaseWatch | None:
    """Wait for ``lease`` (a set ``stop`` ends the wait at once), then watch it.

    Returns the started watch, or None when ``stop`` came first.
    """

    async def pause(seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)

    if not await lease.acquire(stop, poll_s, pause):
        return None
    watch = LeaseWatch(lease, check_s, sleep, on_lost)
    watch.start()
    return watch
