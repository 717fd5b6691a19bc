"""Persistence: SQLite/PostgreSQL via SQLAlchemy 2.0 async, Alembic migrations."""

from kinetic.domain import EquitySnapshot
from kinetic.storage.db import (
    Database,
    NotConnectedError,
    SchemaNotInitializedError,
    SchemaOutdatedError,
    SchemaTooNewError,
    StorageError,
    resolve_database_url,
    safe_url,
)
from kinetic.storage.records import StoredEvent
from kinetic.storage.repositories import (
    EquityRepository,
    EventRepository,
    FillRepository,
    OrderRepository,
    PositionRepository,
    Repositories,
    TradeRepository,
)
from kinetic.storage.state_repositories import EngineStateRepository, PortfolioStateRepository
from kinetic.storage.status import read_status

__all__ = [
    "Database",
    "EngineStateRepository",
    "EquityRepository",
    "EquitySnapshot",
    "EventRepository",
    "FillRepository",
    "NotConnectedError",
    "OrderRepository",
    "PortfolioStateRepository",
    "PositionRepository",
    "Repositories",
    "SchemaNotInitializedError",
    "SchemaOutdatedError",
    "SchemaTooNewError",
    "StorageError",
    "StoredEvent",
    "TradeRepository",
    "read_status",
    "resolve_database_url",
    "safe_url",
]
