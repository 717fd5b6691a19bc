"""PostgreSQL helpers for integration tests: throwaway databases on the local server.

The admin connection defaults to ``postgres`` (then ``root``) on 127.0.0.1:5432 with
trust auth; set ``KINETIC_TEST_PG_ADMIN_DSN`` to override. When the server is
unreachable, tests must fail unless ``KINETIC_SKIP_PG=1`` (see ``pg_unavailable``).
"""

from __future__ import annotations

import os
import secrets
from typing import NoReturn

import asyncpg
import pytest

ADMIN_DSN_ENV = "KINETIC_TEST_PG_ADMIN_DSN"
SKIP_ENV = "KINETIC_SKIP_PG"
HOST = "127.0.0.1:5432"
DEFAULT_ADMIN_DSNS = (
    f"postgresql://postgres@{HOST}/postgres",
    f"postgresql://root@{HOST}/postgres",
    f"postgresql://root@{HOST}/root",
)
CONNECT_TIMEOUT_SECONDS = 5.0
TEMP_DB_PREFIX = "kinetic_test_"


class PostgresUnavailableError(RuntimeError):
    """No admin connection to the test PostgreSQL server could be made."""


def _candidate_dsns() -> tuple[str, ...]:
    override = os.environ.get(ADMIN_DSN_ENV)
    return (override,) if override else DEFAULT_ADMIN_DSNS


async def _admin_connection() -> asyncpg.Connection:
    errors: list[str] = []
    for dsn in _candidate_dsns():
        try:
            return await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT_SECONDS)
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
    raise PostgresUnavailableError("; ".join(errors))


def _to_asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def _database_name(url: str) -> str:
    name = url.rsplit("/", 1)[-1].split("?", 1)[0]
    if not name.startswith(TEMP_DB_PREFIX) or not name.replace("_", "").isalnum():
        raise ValueError(f"refusing to drop non-test database {name!r}")
    return name


async def create_temp_pg_database() -> str:
    """Create an empty ``kinetic_test_<random>`` database; return its asyncpg URL."""
    name = TEMP_DB_PREFIX + secrets.token_hex(6)
    conn = await _admin_connection()
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
        user = await conn.fetchval("SELECT current_user")
    finally:
        await conn.close()
    return f"postgresql+asyncpg://{user}@{HOST}/{name}"


async def drop_pg_database(url: str) -> None:
    """Drop a database made by ``create_temp_pg_database`` (kicking its sessions)."""
    name = _database_name(url)
    conn = await _admin_connection()
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def reset_pg_schema(url: str) -> None:
    """Empty a test database by recreating its ``public`` schema."""
    _database_name(url)
    conn = await asyncpg.connect(_to_asyncpg_dsn(url), timeout=CONNECT_TIMEOUT_SECONDS)
    try:
        await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()


def pg_unavailable(reason: str) -> NoReturn:
    """Fail the test (skip only when ``KINETIC_SKIP_PG=1``): CI must run PG tests."""
    message = f"PostgreSQL unavailable: {reason}"
    if os.environ.get(SKIP_ENV) == "1":
        pytest.skip(message)
    pytest.fail(f"{message} (set {SKIP_ENV}=1 to skip PostgreSQL tests)")
