"""systemd's notify protocol (``sd_notify(3)``), spoken directly.

No library: the protocol is one ``AF_UNIX`` datagram per message, ``KEY=VALUE`` lines,
sent to the socket named by ``$NOTIFY_SOCKET`` (a leading ``@`` is Linux's abstract
namespace). That is the dozen lines of :meth:`SystemdNotifier.send`; ``python-systemd``
would add a C extension and libsystemd for it.

Messages Kinetic sends: ``READY=1`` once the database is ready and the engines are
spawned, ``STATUS=...`` lines (mode, engines, trading state), ``WATCHDOG=1`` from the
HealthMonitor while the event loop turns and an engine or the protection of a halted
one is alive, and ``STOPPING=1`` when the staged shutdown begins. Without
``$NOTIFY_SOCKET`` (not started by systemd) every call is a no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Mapping

from kinetic.clock import Clock, RealClock
from kinetic.logging import get_logger
from kinetic.tasks import cancel_and_wait

log = get_logger(component="systemd")
# the start-up pings (before READY, while the database and venues are being set up)
STARTUP_PING_MAX_S = 5.0


class SystemdNotifier:
    """Send notify messages to systemd; never raises (a lost datagram is only logged)."""

    def __init__(
        self,
        socket_path: str | None,
        watchdog_usec: int | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._address = _address(socket_path) if socket_path else None
        self._clock = clock or RealClock()
        # ping at a quarter of the watchdog interval: two pings may be late before systemd acts
        self.ping_every_s = watchdog_usec / 4_000_000 if watchdog_usec else None
        self._last_ping_s: float | None = None
        self._last_status = ""
        self._warned = False
        self._stopping = False
        self.sent = 0

    @classmethod
    def from_environ(
        cls, environ: Mapping[str, str] | None = None, clock: Clock | None = None
    ) -> SystemdNotifier:
        """Read ``NOTIFY_SOCKET``, ``WATCHDOG_USEC`` and ``WATCHDOG_PID`` (sd_watchdog_enabled)."""
        env = os.environ if environ is None else environ
        usec: int | None = None
        pid = env.get("WATCHDOG_PID", "")
        if env.get("WATCHDOG_USEC", "").isdigit() and (not pid or pid == str(os.getpid())):
            usec = int(env["WATCHDOG_USEC"]) or None
        return cls(env.get("NOTIFY_SOCKET") or None, usec, clock)

    @property
    def enabled(self) -> bool:
        return self._address is not None

    @property
    def watchdog_enabled(self) -> bool:
        return self._address is not None and self.ping_every_s is not None

    def send(self, *lines: str) -> bool:
        """Send one datagram with ``lines``; False when it could not be delivered."""
        if self._address is None:
            return False
        payload = "\n".join(lines).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.setblocking(False)  # never stall the event loop on a full socket
                sock.sendto(payload, self._address)
        except OSError as exc:
            if not self._warned:  # once: a vanished socket would repeat every second
                log.warning("systemd notify failed", error=repr(exc))
                self._warned = True
            return False
        self.sent += 1
        return True

    def ready(self, status: str) -> None:
        self._last_status = status
        self.send("READY=1", f"STATUS={status}")

    def status(self, status: str) -> None:
        """Send ``STATUS=`` when it changed."""
        if status != self._last_status:
            self._last_status = status
            self.send(f"STATUS={status}")

    def stopping(self, status: str = "stopping: staged shutdown") -> None:
        self._stopping = True  # no watchdog pings or status updates after this
        self._last_status = status
        self.send("STOPPING=1", f"STATUS={status}")

    def watchdog(self, status: str | None = None) -> None:
        """``WATCHDOG=1`` (at most every ``ping_every_s``), with ``STATUS=`` when it changed."""
        if self._stopping:
            return
        lines: list[str] = []
        if status is not None and status != self._last_status:
            self._last_status = status
            lines.append(f"STATUS={status}")
        now = self._clock.time()
        due = self._last_ping_s is None or now - self._last_ping_s >= (self.ping_every_s or 0)
        if self.ping_every_s is not None and due:
            self._last_ping_s = now
            lines.insert(0, "WATCHDOG=1")
        if lines:
            self.send(*lines)

    @contextlib.asynccontextmanager
    async def startup_pings(self, status: str) -> AsyncIterator[None]:
        """Ping while the daemon starts (database, venues): systemd's watchdog already runs.

        The pings come from a task on the event loop, so a start-up that blocks the loop
        stops them; once ``READY=1`` is sent the HealthMonitor pings instead.
        """
        self.status(status)
        if not self.watchdog_enabled:
            yield
            return
        task = asyncio.create_task(self._startup_loop(), name="systemd:startup-watchdog")
        try:
            yield
        finally:
            await cancel_and_wait(task)

    async def _startup_loop(self) -> None:
        while not self._stopping:
            self.watchdog()
            every = self.ping_every_s or STARTUP_PING_MAX_S
            await self._clock.sleep(min(every, STARTUP_PING_MAX_S))


def _address(path: str) -> str | bytes:
    if path.startswith("@"):  # abstract namespace
        return b"\0" + path[1:].encode()
    return path
