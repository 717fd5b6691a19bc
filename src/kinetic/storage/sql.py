"""What the repositories share: dialect upserts, column checks, the base class."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite

from kinetic.clock import Clock
from kinetic.storage.db import Database
from kinetic.storage.models import Base


def insert_stmt(dialect: str, model: type[Base], values: Mapping[str, Any]) -> Any:
    """Return the dialect's ``INSERT`` (which supports ``ON CONFLICT``)."""
    if dialect == "postgresql":
        return postgresql.insert(model).values(**values)
    if dialect == "sqlite":
        return sqlite.insert(model).values(**values)
    raise NotImplementedError(f"upserts are not implemented for dialect {dialect!r}")


def upsert_stmt(
    dialect: str,
    model: type[Base],
    values: Mapping[str, Any],
    keys: Iterable[str],
    overrides: Mapping[str, Any] | None = None,
    where: Any = None,
) -> Any:
    """Build ``INSERT ... ON CONFLICT (keys) DO UPDATE`` of the given non-key columns.

    ``where`` limits the update to rows matching it (other conflicts change nothing).
    """
    key_list = list(keys)
    stmt = insert_stmt(dialect, model, values)
    assignments: dict[str, Any] = {
        name: stmt.excluded[name] for name in values if name not in key_list
    }
    assignments.update(overrides or {})
    if not assignments:
        return stmt.on_conflict_do_nothing(index_elements=key_list)
    return stmt.on_conflict_do_update(index_elements=key_list, set_=assignments, where=where)


def checked_fields(model: type[Base], fields: Mapping[str, Any]) -> dict[str, Any]:
    columns = {column.key for column in model.__table__.columns}
    unknown = sorted(set(fields) - columns)
    if unknown:
        raise ValueError(f"unknown {model.__tablename__} fields: {', '.join(unknown)}")
    return dict(fields)


def row_dict(row: Base) -> dict[str, Any]:
    return {column.key: getattr(row, column.key) for column in row.__table__.columns}


class Repository:
    """A repository over one ``Database``, stamping times with ``clock``."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock
