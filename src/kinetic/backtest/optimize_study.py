"""Optuna study storage, samplers, pruners and the trial budget shared by all workers.

Every worker process (on this machine or another) opens the same study in the same
RDB storage — SQLite for one machine, PostgreSQL to spread over several — and runs
trials until the study holds ``--trials`` finished ones. Reserving a trial (count the
finished and running ones, then create one) happens under a lock shared by every
worker of the study: a PostgreSQL advisory lock, or a file lock beside the SQLite
file. So the workers together run exactly the requested number, none twice.

Optuna's tables live in their own PostgreSQL schema ``optuna`` (Optuna keeps its own
``alembic_version`` table, which would clash with the daemon's in ``public``).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from config import ConfigValidationError
from kinetic.clock import block

if TYPE_CHECKING:
    import optuna
    from sqlalchemy.engine import Connection, Engine

PG_SCHEMA = "optuna"
HEARTBEAT_SECONDS = 10
GRACE_SECONDS = 60  # a RUNNING trial without a heartbeat this long is failed (dead worker)
SQLITE_TIMEOUT_SECONDS = 60
INIT_ATTEMPTS = 5
COUNTED = ("COMPLETE", "PRUNED", "RUNNING")


@dataclass(frozen=True)
class Storage:
    """Where the studies live: a synchronous SQLAlchemy URL and its kind."""

    url: str
    kind: str  # "sqlite" | "postgresql"
    display: str  # password hidden

    @property
    def sqlite_path(self) -> Path | None:
        return Path(self.url.removeprefix("sqlite:///")) if self.kind == "sqlite" else None


def resolve_storage(explicit: str | None, database_url: str | None, sqlite_path: str) -> Storage:
    """Pick the storage: ``--storage``, else a PostgreSQL ``DATABASE_URL``, else SQLite.

    The default SQLite file is ``optimize.db`` beside the daemon's database (never the
    daemon's own file: Optuna brings its own migrations).
    """
    from kinetic.storage.db import UnsupportedDatabaseURLError, resolve_database_url, safe_url

    raw = explicit
    if raw is None and database_url and database_url.strip().startswith("postgres"):
        raw = database_url
    if raw is None:
        raw = str(Path(sqlite_path).expanduser().parent / "optimize.db")
    try:
        url = resolve_database_url(raw if "://" in raw else None, raw, create_dir=True)
    except UnsupportedDatabaseURLError as exc:
        raise ConfigValidationError(f"--storage: {exc}") from None
    if url.startswith("postgresql+asyncpg://"):
        sync = "postgresql+psycopg://" + url.removeprefix("postgresql+asyncpg://")
        return Storage(sync, "postgresql", safe_url(sync))
    sync = "sqlite://" + url.removeprefix("sqlite+aiosqlite://")
    Path(sync.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return Storage(sync, "sqlite", safe_url(sync))


def _engine_kwargs(storage: Storage) -> dict[str, Any]:
    if storage.kind == "postgresql":
        return {"connect_args": {"options": f"-csearch_path={PG_SCHEMA}"}, "pool_pre_ping": True}
    return {"connect_args": {"timeout": SQLITE_TIMEOUT_SECONDS}}


def _plain_engine(storage: Storage, **kwargs: Any) -> Engine:
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    return create_engine(storage.url, poolclass=NullPool, **_engine_kwargs(storage), **kwargs)


def open_storage(
    storage: Storage, pause: Callable[[float], None] = block
) -> optuna.storages.RDBStorage:
    """Open (creating the tables, and the PostgreSQL schema, if needed) the study storage."""
    import optuna
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

    quiet_optuna()
    if storage.kind == "postgresql":
        engine = _plain_engine(storage, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {PG_SCHEMA}"))
        except (IntegrityError, ProgrammingError):  # a concurrent worker made it first
            pass
        finally:
            engine.dispose()
    for attempt in range(INIT_ATTEMPTS):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # heartbeat is "experimental" in Optuna 4
                rdb = optuna.storages.RDBStorage(
                    storage.url,
                    engine_kwargs=_engine_kwargs(storage),
                    heartbeat_interval=HEARTBEAT_SECONDS,
                    grace_period=GRACE_SECONDS,
                )
            if storage.kind == "sqlite":
                _fast_sqlite(rdb.engine)
            return rdb
        except (IntegrityError, OperationalError, ProgrammingError):
            # two workers creating the tables of a new storage at once: the loser's
            # CREATE/INSERT fails; the tables exist now, so the next attempt opens them
            if attempt == INIT_ATTEMPTS - 1:
                raise
            pause(0.2 * (attempt + 1))  # the racer may be on another machine
    raise AssertionError("unreachable")


def _sqlite_pragmas(dbapi_conn: Any, record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _fast_sqlite(engine: Engine) -> None:
    """WAL and synchronous=NORMAL on this engine's connections (not the daemon's).

    A trial writes several times (reserve, attributes, heartbeat, result) and every
    commit of a default SQLite connection waits for the disk: about 17 syncs per trial,
    a quarter of a short trial's wall time. With WAL, commits are appended and synced
    at checkpoints (a power cut may lose the last trials, never corrupt the study), and
    readers (the progress poll, other workers) do not block the writer.
    """
    from sqlalchemy import event

    event.listen(engine, "connect", _sqlite_pragmas)
    engine.dispose()  # connections opened while creating the tables get the pragmas too


def quiet_optuna() -> None:
    """Keep Optuna's per-trial lines and experimental warnings off the terminal."""
    import optuna

    # ERROR: an interrupted trial is logged at WARNING with a traceback; we say it in one line
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


class BudgetLock:
    """A lock shared by every worker of one study (advisory lock in PG, flock for SQLite)."""

    def __init__(self, storage: Storage, study_name: str) -> None:
        self.storage = storage
        self.key = int.from_bytes(hashlib.sha256(study_name.encode()).digest()[:8], "big",
                                  signed=True)  # fmt: skip
        self._engine: Engine | None = None
        self._conn: Connection | None = None
        self._file: Any = None
        self.held = False

    def acquire(self) -> None:
        from sqlalchemy import text

        if self.storage.kind == "postgresql":
            if self._conn is None:
                self._engine = _plain_engine(self.storage, isolation_level="AUTOCOMMIT")
                self._conn = self._engine.connect()
            self._conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": self.key})
        else:
            if self._file is None:
                path = self.storage.sqlite_path
                assert path is not None
                self._file = open(f"{path}.lock", "a+b")  # noqa: SIM115  (kept open)
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX)
        self.held = True

    def release(self) -> None:
        from sqlalchemy import text

        if not self.held:
            return
        self.held = False
        if self._conn is not None:
            self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
        elif self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)

    def close(self) -> None:
        self.release()
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
        if self._file is not None:
            self._file.close()
            self._file = None


def counted_trials(study: optuna.Study) -> int:
    """Trials that use up the budget: finished (complete or pruned) and running ones."""
    from optuna.trial import TrialState

    states = tuple(TrialState[s] for s in COUNTED)
    return len(study.get_trials(deepcopy=False, states=states))


def finished_trials(study: optuna.Study) -> int:
    from optuna.trial import TrialState

    states = (TrialState.COMPLETE, TrialState.PRUNED)
    return len(study.get_trials(deepcopy=False, states=states))


def make_sampler(name: str, seed: int | None, grid: dict[str, list[Any]] | None,
                 constrained: bool) -> optuna.samplers.BaseSampler:  # fmt: skip
    """Build the sampler: ``tpe`` (default), ``random`` or ``grid``."""
    import optuna

    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "grid":
        assert grid is not None
        return optuna.samplers.GridSampler(grid, seed=seed)
    return optuna.samplers.TPESampler(
        seed=seed,
        constant_liar=True,  # parallel workers do not all pile onto the same region
        constraints_func=_constraints if constrained else None,
    )


def _constraints(trial: optuna.trial.FrozenTrial) -> list[float]:
    """<= 0 is feasible (``max_drawdown_pct`` under the cap, enough trades)."""
    return [float(v) for v in trial.user_attrs.get("result", {}).get("violations", [0.0])]


def make_pruner(name: str, folds: int) -> optuna.pruners.BasePruner:
    """Median pruning across folds (needs ``--folds`` >= 2), or none."""
    import optuna

    if name == "none" or folds < 2:
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0)


def open_study(
    storage: optuna.storages.BaseStorage,
    name: str,
    fingerprint: dict[str, Any],
    sampler: optuna.samplers.BaseSampler | None = None,
    pruner: optuna.pruners.BasePruner | None = None,
) -> optuna.Study:
    """Create the study, or join it if it exists with the same setup (else refuse)."""
    import optuna

    try:
        study = optuna.create_study(storage=storage, study_name=name, direction="maximize",
                                    sampler=sampler, pruner=pruner)  # fmt: skip
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(study_name=name, storage=storage, sampler=sampler,
                                  pruner=pruner)  # fmt: skip
    existing = study.user_attrs.get("kinetic")
    if existing is None:
        study.set_user_attr("kinetic", fingerprint)
    elif existing != json.loads(json.dumps(fingerprint)):
        diff = sorted(k for k in set(existing) | set(fingerprint)
                      if existing.get(k) != json.loads(json.dumps(fingerprint.get(k))))  # fmt: skip
        raise ConfigValidationError(
            f"--study {name.split('/')[0]}: exists with a different setup "
            f"({', '.join(diff)} differ); use the same arguments to resume, or another --study"
        )
    return study
