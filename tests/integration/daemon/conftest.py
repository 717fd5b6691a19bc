"""Fixtures for whole-daemon tests: throwaway PostgreSQL databases.

As in ``tests/integration/storage``, a PostgreSQL test FAILS when the server is
unreachable, unless ``KINETIC_SKIP_PG=1`` (then it skips).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

from tests.pg import (
    PostgresUnavailableError,
    create_temp_pg_database,
    drop_pg_database,
    pg_unavailable,
)

T = TypeVar("T")


def run_isolated(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on a private loop in a worker thread (safe inside pytest-asyncio)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def temp_pg_database() -> Iterator[str]:
    """Create a ``kinetic_test_*`` database, yield its URL, drop it afterwards."""
    try:
        url = run_isolated(create_temp_pg_database())
    except PostgresUnavailableError as exc:
        pg_unavailable(str(exc))
    try:
        yield url
    finally:
        run_isolated(drop_pg_database(url))


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test (asyncpg URL)."""
    yield from temp_pg_database()
