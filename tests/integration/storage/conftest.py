"""Fixtures: a fresh Database on SQLite and on PostgreSQL, empty or migrated.

``backend`` is parametrized, so every test using ``empty_db``/``migrated_db`` runs
on both. The PostgreSQL database is created once per session and its schema is
recreated before each test.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

from kinetic.clock import ManualClock
from kinetic.storage import Database, Repositories, resolve_database_url

# tests/ is not an installed package; make ``tests.pg`` importable however pytest runs.
_REPO_ROOT = str(Path(__file__).resolve().parents[3])
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

from tests.pg import (  # noqa: E402
    PostgresUnavailableError,
    create_temp_pg_database,
    drop_pg_database,
    pg_unavailable,
    reset_pg_schema,
)

CLOCK_START = 1_700_000_000.0
T = TypeVar("T")


def run_isolated(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on a private loop in a worker thread (safe inside pytest-asyncio)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    """A throwaway PostgreSQL database for the whole session, dropped at the end."""
    try:
        url = run_isolated(create_temp_pg_database())
    except PostgresUnavailableError as exc:
        pg_unavailable(str(exc))
    yield url
    run_isolated(drop_pg_database(url))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend under test."""
    return str(request.param)


@pytest.fixture
def db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The URL of an empty database on ``backend``."""
    if backend == "sqlite":
        return resolve_database_url(None, str(tmp_path / "data" / "kinetic.db"))
    url = str(request.getfixturevalue("pg_database_url"))
    run_isolated(reset_pg_schema(url))
    return url


@pytest.fixture
async def empty_db(db_url: str) -> AsyncIterator[Database]:
    """A connected Database with no schema."""
    db = Database(db_url)
    await db.connect()
    yield db
    await db.close()


@pytest.fixture
async def migrated_db(empty_db: Database) -> Database:
    """A connected Database migrated to head."""
    await empty_db.migrate()
    return empty_db


@pytest.fixture
def clock() -> ManualClock:
    """A manual clock starting at a fixed instant."""
    return ManualClock(CLOCK_START)


@pytest.fixture
def repos(migrated_db: Database, clock: ManualClock) -> Repositories:
    """All repositories over the migrated database."""
    return Repositories.create(migrated_db, clock)
