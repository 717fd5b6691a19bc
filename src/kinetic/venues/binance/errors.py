"""Binance error classification (facts file section 5) into the venue taxonomy.

Classified once, here. HTTP 418/429 are handled by the shared HTTP layer; this maps
the JSON ``{"code": -NNNN, "msg": "..."}`` answers and the documented 5xx texts.
"""

from __future__ import annotations

from typing import Any

from kinetic.venues.base.errors import (
    AuthError,
    DuplicateOrder,
    InsufficientFunds,
    InvalidTimestamp,
    OrderNotFound,
    OrderRejected,
    OutcomeUnknown,
    PermanentError,
    RateLimited,
    TransientError,
    UnknownSymbol,
    VenueError,
)
from kinetic.venues.http import Response

NO_SUCH_ORDER = -2013
CANCEL_REJECTED = -2011
NO_NEED_TO_CHANGE_MARGIN_TYPE = -4046
NO_NEED_TO_CHANGE_POSITION_SIDE = -4059

_AUTH = {-1002, -1022, -2014, -2015}
_TRANSIENT = {-1001, -1008, -1015, -5028, -1125}
_UNKNOWN = {-1006, -1007}
_REJECTED = {
    -1013,
    -1111,
    -2021,
    -2022,
    -4003,
    -4014,
    -4023,
    -4061,
    -4120,
    -4131,
    -4164,
    -5021,
    -5022,
}
_FUNDS = {-2018, -2019}
# 503 texts that the futures docs call a plain failure (safe to resend)
_RETRYABLE_5XX = ("Service Unavailable.", "Internal error; unable to process your request.")


def classify(venue: str, resp: Response) -> VenueError | None:
    """Return the taxonomy error for ``resp``, or ``None`` if it is a success."""
    body = _body(resp)
    code = body.get("code") if isinstance(body, dict) else None
    msg = str(body.get("msg", "")) if isinstance(body, dict) else ""
    if isinstance(code, int) and code < 0:
        return by_code(venue, code, msg)
    if resp.status >= 500 and any(t in resp.text for t in _RETRYABLE_5XX):
        return TransientError(
            f"{venue}: HTTP {resp.status} {msg}".strip(), venue=venue, code=resp.status
        )
    return None


def by_code(venue: str, code: int, msg: str) -> VenueError:  # noqa: C901 - a flat table
    """Map one Binance error code (and its message) to a taxonomy error."""
    text = f"{venue}: {code} {msg}"
    if code == -1021:
        return InvalidTimestamp(text, venue=venue, code=code)
    if code == -1003:
        return RateLimited(text, retry_after=60.0, venue=venue, code=code)
    if code in _AUTH:
        return AuthError(text, venue=venue, code=code)
    if code in _TRANSIENT:
        return TransientError(text, venue=venue, code=code)
    if code in _UNKNOWN:
        return OutcomeUnknown(text, venue=venue, code=code)
    if code == -4116 or (code == -2010 and "Duplicate order" in msg):
        return DuplicateOrder(text, client_order_id="", venue=venue, code=code)
    if code in _FUNDS or (code == -2010 and "insufficient balance" in msg):
        return InsufficientFunds(text, venue=venue, code=code)
    if code == -2010 and "Market is closed" in msg:
        return TransientError(text, venue=venue, code=code)
    if code in (NO_SUCH_ORDER, CANCEL_REJECTED) or code == -2026:
        return OrderNotFound(text, venue=venue, code=code)
    if code == -1121:
        return UnknownSymbol(text, venue=venue, code=code)
    if code in _REJECTED or code == -2010:
        return OrderRejected(text, venue=venue, code=code)
    return PermanentError(text, venue=venue, code=code)


def _body(resp: Response) -> Any:
    try:
        return resp.json()
    except TransientError:
        return None
