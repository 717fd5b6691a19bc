"""Repositories of the daemon's own state: supervision, breaker, installation facts,
trading states and operator commands (the trading records are in ``repositories``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from kinetic.storage.models import (
    EngineStateRow,
    InstallationRow,
    OperatorCommandRow,
    PortfolioStateRow,
    TradingStateRow,
)
from kinetic.storage.records import StoredCommand, encode_event_data
from kinetic.storage.sql import Repository, checked_fields, insert_stmt, row_dict, upsert_stmt

PORTFOLIO_ROW_ID = 1


class EngineStateRepository(Repository):
    """Last known supervision state per engine."""

    async def upsert(self, engine: str, **fields: Any) -> None:
        """Set the given ``engine_state`` columns; others keep their values."""
        values = checked_fields(EngineStateRow, fields)
        values.setdefault("updated_ms", self._clock.time_ms())
        values["engine"] = engine
        stmt = upsert_stmt(self._db.dialect, EngineStateRow, values, ["engine"])
        async with self._db.session() as session, session.begin():
            await session.execute(stmt)

    async def get_all(self) -> list[dict[str, Any]]:
        """Return every engine's state as a column dictionary, by engine name."""
        query = sa.select(EngineStateRow).order_by(EngineStateRow.engine)
        async with self._db.session() as session:
            return [row_dict(row) for row in await session.scalars(query)]


class PortfolioStateRepository(Repository):
    """The single portfolio-state row (circuit breaker, day anchors, totals)."""

    async def save(self, **fields: Any) -> None:
        """Set the given ``portfolio_state`` columns; others keep their values."""
        values = checked_fields(PortfolioStateRow, fields)
        values.setdefault("updated_ms", self._clock.time_ms())
        values["id"] = PORTFOLIO_ROW_ID
        stmt = upsert_stmt(self._db.dialect, PortfolioStateRow, values, ["id"])
        async with self._db.session() as session, session.begin():
            await session.execute(stmt)

    async def load(self) -> dict[str, Any] | None:
        """Return the saved state (without ``id``), or None if never saved."""
        async with self._db.session() as session:
            row = await session.get(PortfolioStateRow, PORTFOLIO_ROW_ID)
        if row is None:
            return None
        state = row_dict(row)
        del state["id"]
        return state


class InstallationRepository(Repository):
    """Key/value facts about the installation (its instance id, the client-id stamp)."""

    async def get(self, key: str) -> str | None:
        """Return the value stored under ``key``, or None."""
        async with self._db.session() as session:
            row = await session.get(InstallationRow, key)
        return None if row is None else row.value

    async def get_or_create(self, key: str, value: str) -> str:
        """Store ``value`` under ``key`` unless a value is there; return the stored one.

        One atomic insert-or-nothing, so two processes opening a new database agree.
        """
        stmt = insert_stmt(self._db.dialect, InstallationRow, {"key": key, "value": value})
        async with self._db.session() as session, session.begin():
            await session.execute(stmt.on_conflict_do_nothing(index_elements=["key"]))
        stored = await self.get(key)
        assert stored is not None
        return stored

    async def put(self, key: str, value: str) -> None:
        """Set ``key`` to ``value``."""
        stmt = upsert_stmt(self._db.dialect, InstallationRow, {"key": key, "value": value}, ["key"])
        async with self._db.session() as session, session.begin():
            await session.execute(stmt)


class TradingStateRepository(Repository):
    """ACTIVE / REDUCE_ONLY / HALTED per scope (``daemon`` or an engine), with the cause."""

    async def save(
        self, scope: str, state: str, cause: str = "", source: str = "", since_ms: int = 0
    ) -> None:
        """Set the state of ``scope``; ``since_ms == 0`` means now."""
        values = {
            "scope": scope,
            "state": state,
            "cause": cause,
            "source": source,
            "since_ms": since_ms or self._clock.time_ms(),
        }
        stmt = upsert_stmt(self._db.dialect, TradingStateRow, values, ["scope"])
        async with self._db.session() as session, session.begin():
            await session.execute(stmt)

    async def load_all(self) -> dict[str, dict[str, Any]]:
        """Return every saved scope's row as a column dictionary, by scope."""
        query = sa.select(TradingStateRow).order_by(TradingStateRow.scope)
        async with self._db.session() as session:
            return {row.scope: row_dict(row) for row in await session.scalars(query)}


class CommandRepository(Repository):
    """Operator command rows: written by the CLI, carried out by the running daemon."""

    async def add(self, kind: str, args: Mapping[str, Any] | None = None) -> int:
        """Queue a command; return its id."""
        row = OperatorCommandRow(
            kind=kind,
            args=encode_event_data(args),
            status="pending",
            result="",
            created_ms=self._clock.time_ms(),
            done_ms=0,
        )
        async with self._db.session() as session, session.begin():
            session.add(row)
            await session.flush()
            return int(row.id)

    async def pending(self) -> list[StoredCommand]:
        """Return the commands not yet carried out, oldest first."""
        query = (
            sa.select(OperatorCommandRow)
            .where(OperatorCommandRow.status == "pending")
            .order_by(OperatorCommandRow.id)
        )
        async with self._db.session() as session:
            return [_command(row) for row in await session.scalars(query)]

    async def get(self, command_id: int) -> StoredCommand | None:
        """Return one command by id."""
        async with self._db.session() as session:
            row = await session.get(OperatorCommandRow, command_id)
        return None if row is None else _command(row)

    async def finish(self, command_id: int, status: str, result: str = "") -> None:
        """Mark a command ``done`` or ``failed`` with a result line."""
        stmt = (
            sa.update(OperatorCommandRow)
            .where(OperatorCommandRow.id == command_id)
            .values(status=status, result=result, done_ms=self._clock.time_ms())
        )
        async with self._db.session() as session, session.begin():
            await session.execute(stmt)


def _command(row: OperatorCommandRow) -> StoredCommand:
    return StoredCommand(
        int(row.id),
        row.kind,
        json.loads(row.args or "{}"),
        row.status,
        row.result,
        int(row.created_ms),
        int(row.done_ms),
    )
