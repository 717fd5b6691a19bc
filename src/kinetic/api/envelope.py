"""The JSON envelope every ``/api`` answer uses: ``{"data": ..., "error": null | "message"}``.

Money leaves the API as JSON numbers (``Decimal`` -> float, for charts); the exact
values stay in the database.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from aiohttp import web


class ApiError(Exception):
    """An answer other than 2xx: ``status`` and the one-line ``message``."""

    def __init__(self, status: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.data = data


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(value: Any) -> str:
    return json.dumps(value, default=_default, allow_nan=False)


def ok(data: Any, status: int = 200) -> web.Response:
    """A success answer."""
    return web.json_response({"data": data, "error": None}, status=status, dumps=dumps)


def fail(status: int, message: str, data: Any = None) -> web.Response:
    """An error answer: ``data`` may carry details (a confirmation token, the fields)."""
    return web.json_response({"data": data, "error": message}, status=status, dumps=dumps)
