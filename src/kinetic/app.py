"""Composition root: build the object graph for a mode and run the daemon.

The mode's world comes from ``kinetic.replay_world`` (replay, the default) or
``kinetic.worlds`` (paper, live and the unsent modes); the start-up checks and late
bindings from ``kinetic.app_startup``; the hot standby's lease from ``kinetic.ops.lease``.
"""

from __future__ import annotations

import asyncio
import functools
import sys
from typing import TYPE_CHECKING, get_args

from config import KEYED_MODES, EnvConfig, Mode, UnifiedConfig
from kinetic.app_startup import (
    AllocationRef,
    HeartbeatRef,
    base36,
    check_api_exposure,
    check_run_inputs,
    install_signal_handlers,
    journal_probe,
    log_engines_off,
    operator_only,
    warn_if_experimental,
)
from kinetic.clock import RealClock
from kinetic.control.poller import CommandPoller
from kinetic.control.service import ControlService
from kinetic.domain import EngineStatus, MarketType, TradingState
from kinetic.engines.base import BaseEngine
from kinetic.engines.drift_check import DriftChecker
from kinetic.engines.funding_sync import FundingSync
from kinetic.errors import VenueUnavailable
from kinetic.execution.takeover import TakeoverRefused
from kinetic.logging import get_logger
from kinetic.notify.telegram.bot import TelegramNotifier
from kinetic.notify.telegram.commands import CommandRouter
from kinetic.notify.telegram.setup import build_telegram
from kinetic.ops.lease import LeaderLease, LeaseWatch, lease_dsn, stand_by
from kinetic.ops.systemd import SystemdNotifier
from kinetic.replay_world import ReplayWorld, replay_world
from kinetic.retrying import STARTUP_RETRY_BUDGET_S
from kinetic.storage.db import Database, resolve_database_url, safe_url
from kinetic.storage.journal import OrderJournal, open_journal
from kinetic.storage.recorder import DbRecorder
from kinetic.storage.repositories import Repositories
from kinetic.supervisor.allocator import CapitalAllocator
from kinetic.supervisor.invariants import InvariantMonitor
from kinetic.supervisor.orchestrator import Orchestrator
from kinetic.supervisor.trading_states import TradingStates
from kinetic.tasks import cancel_and_wait
from kinetic.wiring import (
    MARKETS,
    StartupError,
    build_engine,
    configured_strategy,
    make_sim_venue,
    starting_capital,
)
from kinetic.worlds import VenueWorld, build_venue_world, live_checks

if TYPE_CHECKING:  # the web stack is imported only when the API starts
    from kinetic.api.dashboard import Dashboard
    from kinetic.api.server import ApiServer

log = get_logger(component="app")
TAKEOVER_POLL_S = 0.05  # how often the first start-up's outcome is looked at
__all__ = [
    "MARKETS",
    "Daemon",
    "StartupError",
    "build_engine",
    "configured_strategy",
    "make_sim_venue",
    "run_daemon",
    "starting_capital",
]


class Daemon:
    """The whole process: database, replay world, engines and the orchestrator."""

    def __init__(
        self,
        config: UnifiedConfig,
        env: EnvConfig,
        *,
        mode: str = "replay",
        database_url: str | None = None,
        systemd: SystemdNotifier | None = None,
    ) -> None:
        self.config = config
        self.systemd = systemd or SystemdNotifier.from_environ()
        self.env = env
        self.mode = mode
        url = database_url or (env.database_url.get_secret_value() if env.database_url else None)
        self.db = Database(resolve_database_url(url, config.sqlite_path))
        self.orchestrator: Orchestrator | None = None
        self.states: TradingStates | None = None
        self.journal: OrderJournal | None = None
        self.control: ControlService | None = None
        self.poller: CommandPoller | None = None
        self.notifier: TelegramNotifier | None = None
        self.api: ApiServer | None = None
        self.dashboard: Dashboard | None = None  # live feed + /metrics, with the API
        self.world: ReplayWorld | VenueWorld | None = None
        self._feed_task: asyncio.Task[None] | None = None
        self.lease: LeaderLease | None = None  # ha_role primary/standby (ops.lease)
        self._lease_watch: LeaseWatch | None = None
        self.lease_lost = False
        # identifies this run's simulation in trade ids (base-36 wall-clock milliseconds)
        self.run_id = base36(int(RealClock().time() * 1000))

    async def open_database(self) -> DbRecorder:
        await self.db.connect()
        await self.db.migrate()
        await self.db.check_schema()
        log.info("database ready", url=safe_url(self.db.url))
        # orders and fills go through the fast journal connection (issue 11: journal-first
        # at p99 <= 2 ms); everything else through SQLAlchemy
        self.journal = await open_journal(self.db.url)
        return DbRecorder(Repositories.create(self.db, RealClock()), self.journal)

    async def build(self) -> None:
        """Open the database, set up the mode's world and wire the engines."""
        if self.mode not in get_args(Mode):
            raise StartupError(f"mode {self.mode!r}: allowed {', '.join(get_args(Mode))}")
        check_api_exposure(self.config, self.env)
        allocator = CapitalAllocator(self.config)
        enabled = allocator.enabled
        if not enabled:
            raise StartupError("no engine enabled: set spot_enabled or futures_enabled")
        recorder = await self.open_database()
        self._build_notifier(recorder)
        capital = {n: starting_capital(self.config, allocator, n) for n in enabled}
        if self.mode == "replay":
            world: ReplayWorld | VenueWorld = replay_world(
                self.config, enabled, capital, self.run_id
            )
        else:
            world = await build_venue_world(
                self.config, self.env, self.mode, enabled, capital, self.run_id,
                retry_budget_s=self._retry_budget_s,
            )  # fmt: skip
        self.world = world
        # trading states outlive restarts; a replay is a fresh simulation, so of an earlier
        # run's states only the operator's come back (a drawdown hold of another run does not)
        states = TradingStates(RealClock(), recorder.repos.trading_states, recorder, tuple(enabled))
        await states.restore(operator_only if self.mode == "replay" else None)
        self.states = states
        heartbeat = HeartbeatRef()
        refs = {name: AllocationRef(name) for name in enabled}
        engines: dict[str, BaseEngine] = {}
        for name in enabled:
            engines[name] = build_engine(
                name,
                self.config,
                world.venues[name],
                world.stores[name],
                recorder,
                world.clock,
                world.symbols[name],
                capital[name],
                refs[name],
                heartbeat.entries_allowed(name, states),
                heartbeat,
                instruments=world.instruments.get(name),
                gate=states,
            )
            engines[name].d.extra["cash_from_venue"] = self.mode in KEYED_MODES
            warn_if_experimental(self.config, name)
            engines[name].d.extra["live"] = self.mode == "live"
            engines[name].drift = DriftChecker(
                self.config.drift_check_interval_seconds,
                self.config.drift_cash_tolerance_pct,
                self.config.kill_switch_on_drift,
            )
            if self.mode == "live" and engines[name].market is MarketType.FUTURES:
                engines[name].funding = FundingSync(self.config.funding_sync_interval_seconds)
        log_engines_off(self.config)
        if isinstance(world, VenueWorld):
            world.wake = {n: e.nudge for n, e in engines.items()}
        orch = Orchestrator(
            self.config,
            dict(engines),
            recorder,
            RealClock(),
            world.clock,
            allocator=allocator,
            states=states,
            invariants=InvariantMonitor(
                self.config,
                RealClock(),
                states,
                recorder,
                journal_probe=journal_probe(recorder),
                grace_s=self.config.protection_grace_seconds,
            ),
        )
        for ref in refs.values():
            ref.orchestrator = orch
        heartbeat.orchestrator = orch
        self.orchestrator = orch
        self.control = ControlService(orch, recorder)
        if self.config.api_enabled:  # the web stack loads only to serve
            from kinetic.api.dashboard import Dashboard

            self.dashboard = Dashboard(lambda: self.orchestrator, RealClock(), mode=self.mode)
            self.dashboard.attach(orch, recorder.listeners)
        self._attach_telegram_commands(orch, recorder)
        self.poller = CommandPoller(
            recorder.repos.commands,
            recorder.repos.installation,
            self.control,
            RealClock(),
            mode=self.mode,
        )
        # a replay is a fresh simulation: breaker state of an earlier run does not apply
        saved = await recorder.load_portfolio_state() if self.mode != "replay" else None
        if saved:
            orch.risk_monitor.restore(saved)
        await recorder.record_event(
            "config_loaded",
            "configuration loaded",
            None,
            {"mode": self.mode, "engines": enabled, "config": self.config.model_dump(mode="json")},
        )

    def _attach_telegram_commands(self, orch: Orchestrator, recorder: DbRecorder) -> None:
        """Telegram commands go through the control service, like the CLI's and the API's."""
        if self.notifier is not None and self.control is not None:
            self.notifier.router = CommandRouter(
                self.control, orch, recorder.repos.trades, RealClock().time_ms
            )

    def _build_notifier(self, recorder: DbRecorder) -> None:
        """Telegram (when enabled): alerts from everything the recorder writes."""
        built = build_telegram(self.config, self.env, RealClock())
        if built is not None:
            self.notifier, feed = built
            recorder.listeners.append(feed)

    async def run(self, stop: asyncio.Event) -> None:
        """Start everything, wait for ``stop``, then shut down in stages."""
        try:
            if self.config.ha_role != "solo":
                # systemd: a standby is up (READY=1) while it waits, and its loop is watched
                waiting = f"{self.mode}: {self.config.ha_role}, waiting for the leader lease"
                self.systemd.ready(waiting)
                async with self.systemd.startup_pings(waiting):
                    leading = await self._lead(stop)
                if not leading:
                    return  # stopped while standing by
            async with self.systemd.startup_pings(f"{self.mode}: starting (database, venues)"):
                if self.orchestrator is None:  # tests may build first and adjust the graph
                    await self.build()
                assert self.world is not None
                assert self.orchestrator is not None
                if self.notifier is not None:  # first: it alerts the start and what follows
                    await self.notifier.start()
                await self._start_api()
                await self._start_world(self.world)
                await self.orchestrator.start()
            self.orchestrator.health_monitor.watchdog = self._watchdog_ping
            if self.poller is not None:  # operator commands work during a long start-up
                self.poller.start()
            self.systemd.ready(self.status_line("engines starting"))
            await self._await_takeover(stop)
            self.systemd.status(self.status_line())
            log.info(
                "daemon running",
                mode=self.mode,
                engines=sorted(self.orchestrator.tasks),
                replay_speed=self.config.replay_speed,
            )
            await stop.wait()
            log.info("shutdown requested: stopping new entries and draining")
        finally:
            self.systemd.stopping()
            await self.shutdown()

    async def _lead(self, stop: asyncio.Event) -> bool:
        """Hot standby: wait for the leader lease, then watch it (False: stopped first)."""
        try:
            dsn = lease_dsn(self.db.url)
        except ValueError as exc:
            raise StartupError(f"ha_role {self.config.ha_role}: {exc}") from None

        self.lease = LeaderLease(dsn, check_timeout_s=max(0.5, self.config.ha_check_seconds))
        self._lease_watch = await stand_by(
            self.lease, stop, self.config.ha_poll_seconds, self.config.ha_check_seconds,
            RealClock().sleep, functools.partial(self._lease_lost, stop),
        )  # fmt: skip
        return self._lease_watch is not None

    async def _lease_lost(self, stop: asyncio.Event) -> None:
        self.lease_lost = True
        if self.states is not None:
            self.states.fence(TradingState.REDUCE_ONLY, "leader lease lost")
        stop.set()

    async def _start_api(self) -> None:
        """Serve the REST API (``kinetic.api``) before the engines start: health and the
        kill switch are there from the first moment."""
        if not self.config.api_enabled or self.api is not None:
            return
        from kinetic.api.context import ApiContext  # the web stack loads only to serve
        from kinetic.api.dashboard import EXTRA_KEY as DASHBOARD_KEY
        from kinetic.api.server import ApiServer

        assert self.orchestrator is not None
        assert self.control is not None
        ctx = ApiContext(
            self.config, self.control, self.orchestrator,
            Repositories.create(self.db, RealClock()), self.db, self.mode,
            token=self.env.kinetic_api_token, read_only=self.config.api_read_only,
        )  # fmt: skip
        if self.dashboard is not None:
            ctx.extra[DASHBOARD_KEY] = self.dashboard
        api = ApiServer(ctx, self.config.api_host, self.config.api_port)
        await api.start()
        self.api = api
        if self.dashboard is not None:
            self.dashboard.start()
        print(f"kinetic: dashboard at {api.url}/  (metrics: {api.url}/metrics)", flush=True)

    def status_line(self, note: str = "") -> str:
        """systemd's STATUS=: mode, each engine's health and trading state, the daemon's."""
        assert self.orchestrator is not None
        orch = self.orchestrator
        parts = []
        for name in orch.engines:
            health = orch.health_monitor.engine_health.get(name)
            running = health.status if health is not None else "off"
            parts.append(f"{name} {running}/{orch.states.state(name)}")
        line = f"{self.mode}: {', '.join(parts)}; daemon {orch.states.state('daemon')}"
        return f"{line} ({note})" if note else line

    def _watchdog_ping(self) -> None:
        self.systemd.watchdog(self.status_line())

    async def _start_world(self, world: ReplayWorld | VenueWorld) -> None:
        if isinstance(world, VenueWorld):
            if self.mode in KEYED_MODES:
                await self._require_live_checks(world)
            if self.mode == "live":
                world.start_user_streams(self.config, world.wake)
            world.start()
            return
        world.feed.prime(self.config.replay_warmup_candles)
        self._feed_task = asyncio.create_task(world.feed.run(), name="replay:feed")

    @property
    def _retry_budget_s(self) -> float:
        """Live: transient venue errors at start-up are retried (``kinetic.retrying``)."""
        return STARTUP_RETRY_BUDGET_S if self.mode in KEYED_MODES else 0.0

    async def _await_takeover(self, stop: asyncio.Event) -> None:
        """Wait for each engine's first start-up; a refused takeover ends the start.

        The engines start in their own tasks; a ``TakeoverRefused`` there is raised here,
        so the daemon shuts down and exits 2 with the report's line. Other failures are
        the supervisor's (restart with backoff); an engine it gave up on is not awaited.
        """
        assert self.orchestrator is not None
        orch, clock = self.orchestrator, RealClock()
        waiting = set(orch.tasks)
        while waiting and not stop.is_set():
            for name in list(waiting):
                task = orch.tasks[name]
                failed = task.done() and not task.cancelled() and task.exception()
                if isinstance(failed, TakeoverRefused):
                    raise failed
                health = orch.health_monitor.engine_health.get(name)
                given_up = health is not None and health.status is EngineStatus.STOPPED
                if getattr(orch.engines[name], "ready", True) or given_up:
                    waiting.discard(name)
            await clock.sleep(TAKEOVER_POLL_S)

    async def _require_live_checks(self, world: VenueWorld) -> None:
        results = await live_checks(world, retry_budget_s=self._retry_budget_s)
        for ok, msg in results:
            log.info("live start-up check", ok=ok, check=msg)
        failed = [msg for ok, msg in results if not ok]
        if failed:
            raise StartupError("live start-up checks failed: " + "; ".join(failed))

    async def shutdown(self) -> None:
        """Stop the replay feed, drain the engines, then close venue clients and the DB."""
        if self._lease_watch is not None:  # a lease lost while stopping changes nothing
            await self._lease_watch.stop()
        await cancel_and_wait(self._feed_task)
        await self._stop_operator_inputs()
        if self.orchestrator is not None:
            await self.orchestrator.stop()
        if self.notifier is not None:  # after the engines: their last alerts go out
            await self.notifier.stop()
        if isinstance(self.world, VenueWorld):
            await self.world.stop()  # streams, dead-man refresh, HTTP sessions
        if self.journal is not None:
            await self.journal.close()
        await self.db.close()
        if self.lease is not None:  # last: the standby takes over once we are quiet
            await self.lease.release()

    async def _stop_operator_inputs(self) -> None:
        """No operator request (API, CLI command, Telegram) arrives during the drain."""
        if self.dashboard is not None:  # end the live streams first: nothing waits on them
            await self.dashboard.stop()
        if self.api is not None:
            await self.api.stop()
        if self.poller is not None:
            await self.poller.stop()
        if self.notifier is not None:
            await self.notifier.stop_commands()


async def run_daemon(config: UnifiedConfig, env: EnvConfig, mode: str) -> int:
    check_run_inputs(config, env, mode)
    stop = asyncio.Event()
    install_signal_handlers(stop)
    daemon = Daemon(config, env, mode=mode)
    try:
        await daemon.run(stop)
    except VenueUnavailable as exc:  # transient errors outlasted the start-up retries
        print(f"kinetic: venue unavailable: {exc}", file=sys.stderr)
        return 1  # a runtime failure, not a configuration error: systemd restarts later
    if daemon.lease_lost:  # restarted by systemd, it stands by for the lease again
        print("kinetic: leader lease lost; stopped trading", file=sys.stderr)
        return 1
    return 0
