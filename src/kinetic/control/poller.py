"""CommandPoller: carry out the operator command rows the CLI writes, and say we are alive.

One named task owned by the daemon. Every ``interval_s`` (on the injected clock) it
reads the pending ``operator_commands`` rows, runs each through ``ControlService`` and
marks it ``done`` or ``failed`` with the result line, and writes the ``operator`` audit
entry (``via`` cli) as the API's requests get. Every ``alive_every_s`` it writes
the liveness row (``installation`` key ``daemon_alive``: pid and time) the CLI reads to
tell a running daemon from none; ``stop`` writes it as stopped.

A command older than ``ttl_s`` when first seen is not carried out (``failed``,
"expired"): a flatten queued while no daemon ran must not fire at the next start.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any, Protocol

from kinetic.clock import Clock
from kinetic.control.service import CommandResult, ControlService
from kinetic.logging import get_logger
from kinetic.storage.records import StoredCommand
from kinetic.tasks import cancel_and_wait

ALIVE_KEY = "daemon_alive"  # read by kinetic.control.cli
POLL_INTERVAL_S = 0.5
ALIVE_EVERY_S = 2.0  # the CLI calls a row older than 10 s stale
COMMAND_TTL_S = 60.0


class CommandQueue(Protocol):
    async def pending(self) -> list[StoredCommand]: ...

    async def finish(self, command_id: int, status: str, result: str = "") -> None: ...


class KeyValue(Protocol):
    async def put(self, key: str, value: str) -> None: ...


def alive_value(pid: int, ms: int, mode: str) -> str:
    """The liveness row's value (``ms == 0``: stopped cleanly)."""
    return json.dumps({"pid": pid, "ms": ms, "mode": mode})


class CommandPoller:
    """Poll command rows and refresh the liveness row; a task named ``control:commands``."""

    def __init__(
        self,
        commands: CommandQueue,
        installation: KeyValue,
        service: ControlService,
        clock: Clock,
        *,
        mode: str = "",
        interval_s: float = POLL_INTERVAL_S,
        alive_every_s: float = ALIVE_EVERY_S,
        ttl_s: float = COMMAND_TTL_S,
    ) -> None:
        self.commands = commands
        self.installation = installation
        self.service = service
        self.clock = clock
        self.mode = mode
        self.interval_s = interval_s
        self.alive_every_s = alive_every_s
        self.ttl_s = ttl_s
        self.pid = os.getpid()
        self._next_alive = 0.0
        self._task: asyncio.Task[None] | None = None
        self.log = get_logger(component="control")

    def start(self) -> None:
        """Start the polling task (idempotent)."""
        if self._task is not None and not self._task.done():
            return
        self._task = asyncio.create_task(self._run(), name="control:commands")
        self._task.add_done_callback(self._on_done)

    def _on_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.log.error("command poller ended", error=repr(task.exception()))

    async def stop(self) -> None:
        """Cancel the task and mark the daemon stopped in the liveness row."""
        await cancel_and_wait(self._task)
        self._task = None
        try:
            await self.installation.put(ALIVE_KEY, alive_value(self.pid, 0, self.mode))
        except Exception as exc:  # shutdown goes on; the row goes stale on its own
            self.log.warning("liveness row not cleared", error=repr(exc))

    async def _run(self) -> None:
        while True:
            try:
                await self.poll_once()
            except Exception:  # a database hiccup must not end operator control
                self.log.exception("command poll failed")
            await self.clock.sleep(self.interval_s)

    async def poll_once(self) -> int:
        """Refresh liveness when due and carry out pending commands; return how many."""
        now = self.clock.time()
        if now >= self._next_alive:
            await self.installation.put(ALIVE_KEY, alive_value(self.pid, self.clock.time_ms(),
                                                               self.mode))  # fmt: skip
            self._next_alive = now + self.alive_every_s
        done = 0
        for command in await self.commands.pending():
            status, line = await self._carry_out(command)
            await self.commands.finish(command.id, status, line)
            outcome = "refused" if line.startswith("expired") else status
            await self.service.audit(command.kind, command.args, outcome, line, via="cli",
                                     remote=f"command #{command.id}")  # fmt: skip
            self.log.info("operator command", id=command.id, kind=command.kind, status=status,
                          result=line)  # fmt: skip
            done += 1
        return done

    async def _carry_out(self, command: StoredCommand) -> tuple[str, str]:
        age_s = (self.clock.time_ms() - command.created_ms) / 1000
        if age_s > self.ttl_s:
            return "failed", f"expired: not carried out within {self.ttl_s:g} s of being queued"
        try:
            result = await self._dispatch(command.kind, command.args)
        except Exception as exc:  # reported to the operator, never swallowed
            self.log.exception("operator command failed", id=command.id, kind=command.kind)
            return "failed", f"{command.kind} failed: {type(exc).__name__}: {exc}"[:500]
        return ("done" if result.ok else "failed"), result.message

    async def _dispatch(self, kind: str, args: dict[str, Any]) -> CommandResult:
        reason = str(args.get("reason") or "")
        if kind == "killswitch":
            action = args.get("action")
            if action not in ("on", "off"):
                return CommandResult(False, f"killswitch: action {action!r}, expected on or off")
            engine = args.get("engine")
            return await self.service.kill_switch(
                action == "on", reason, engine=str(engine) if engine else None
            )
        if kind == "flatten":
            return await self.service.flatten(reason)
        return CommandResult(False, f"unknown command {kind!r} (known: killswitch, flatten)")
