"""Kraken error strings -> the ``venues/base`` taxonomy (exchange_api_facts §5).

Kraken Spot answers HTTP 200 with ``{"error": ["EOrder:Insufficient funds"], ...}``;
Kraken Futures answers ``{"result": "error", "error": "apiLimitExceeded"}`` or, for an
order, ``result: success`` with ``sendStatus.status`` telling whether it was placed.
``W``-prefixed entries are warnings and never raise.
"""

from __future__ import annotations

from kinetic.clock import Clock
from kinetic.venues.base.errors import (
    AuthError,
    DuplicateOrder,
    InsufficientFunds,
    OrderNotFound,
    OrderRejected,
    OutcomeUnknown,
    PermanentError,
    RateLimited,
    TransientError,
    UnknownSymbol,
    VenueError,
)
from kinetic.venues.http import ErrorMapper, Response

LOCKOUT_SECONDS = 900.0
INVALID_NONCE = "EAPI:Invalid nonce"
_RATE = ("EAPI:Rate limit exceeded", "EOrder:Rate limit exceeded", "EGeneral:Too many requests")
_UNAVAILABLE = ("EService:Unavailable", "EService:Busy", "EGeneral:Internal error")
_AUTH = (
    "EAPI:Invalid key",
    "EAPI:Invalid signature",
    "EGeneral:Permission denied",
    "EAPI:Feature disabled",
)
_FUNDS = ("EOrder:Insufficient funds", "EOrder:Insufficient margin", "EFunding:Insufficient")


def spot_error(
    errors: list[str],
    *,
    venue: str,
    endpoint: str,
    now_s: float,
    rate_retry_after: float = 3.0,
) -> VenueError | None:
    """Return the exception for a Spot ``error`` list, or ``None`` if it holds only warnings.

    Errors that leave an order's outcome open are ``OutcomeUnknown``: the HTTP layer
    retries them for reads and turns them into ``OrderStateUnknown`` for AddOrder.
    A duplicate client id is a ``DuplicateOrder`` with an empty id; the order call
    re-raises it with its own id.
    """
    real = [e for e in errors if not e.startswith("W")]
    if not real:
        return None
    text = real[0]
    msg = f"{venue}{endpoint}: {text}"
    if text.startswith("EService:Throttled"):
        _, _, ts = text.rpartition(":")
        wait = float(ts) - now_s if ts.strip().isdigit() else rate_retry_after
        return RateLimited(msg, retry_after=max(1.0, wait), venue=venue, code=text)
    if text.startswith(_RATE):
        return RateLimited(msg, retry_after=rate_retry_after, venue=venue, code=text)
    if text.startswith("EGeneral:Temporary lockout"):
        return RateLimited(msg, retry_after=LOCKOUT_SECONDS, venue=venue, code=text)
    return _spot_other(text, msg, venue)


def _spot_other(text: str, msg: str, venue: str) -> VenueError:
    if text.startswith(_UNAVAILABLE):
        return OutcomeUnknown(msg, venue=venue, code=text)
    if text.startswith(INVALID_NONCE):
        return TransientError(msg, venue=venue, code=text)
    if text.startswith(_AUTH):
        return AuthError(msg, venue=venue, code=text)
    if text.startswith(_FUNDS):
        return InsufficientFunds(msg, venue=venue, code=text)
    if text.startswith("EQuery:Unknown asset pair"):
        return UnknownSymbol(msg, venue=venue, code=text)
    if text.startswith("EOrder:Unknown order"):
        return OrderNotFound(msg, venue=venue, code=text)
    if "Duplicate" in text:
        return DuplicateOrder(msg, client_order_id="", venue=venue, code=text)
    if text.startswith("EOrder"):
        return OrderRejected(msg, venue=venue, code=text)
    return PermanentError(msg, venue=venue, code=text)


_F_RATE = ("apiLimitExceeded",)
_F_NONCE = ("nonceBelowThreshold", "nonceDuplicate")
_F_UNAVAILABLE = ("Unavailable", "Server Error", "marketUnavailable", "unknownError")
_F_AUTH = ("authenticationError", "insufficientPrivileges", "accountInactive", "invalidAccount")


def futures_error(
    error: str,
    *,
    venue: str,
    endpoint: str,
    rate_retry_after: float = 2.0,
) -> VenueError:
    """Return the exception for a Futures ``error`` string (``result: error``)."""
    msg = f"{venue}{endpoint}: {error}"
    if error in _F_RATE:
        return RateLimited(msg, retry_after=rate_retry_after, venue=venue, code=error)
    if error in _F_NONCE:
        return TransientError(msg, venue=venue, code=error)
    if error in _F_UNAVAILABLE:
        return OutcomeUnknown(msg, venue=venue, code=error)
    if error in _F_AUTH:
        return AuthError(msg, venue=venue, code=error)
    if error in ("insufficientFunds",):
        return InsufficientFunds(msg, venue=venue, code=error)
    if error == "notFound":
        return OrderNotFound(msg, venue=venue, code=error)
    return PermanentError(msg, venue=venue, code=error)


_SEND_OK = frozenset({"placed", "partiallyFilled", "filled", "cancelled", "edited"})
_SEND_FUNDS = frozenset({"insufficientAvailableFunds", "wouldCauseLiquidation"})


def send_status_error(status: str, *, venue: str, client_order_id: str) -> VenueError | None:
    """Return the exception for a ``sendStatus.status`` that means "not placed"."""
    if status in _SEND_OK:
        return None
    msg = f"{venue} sendorder: {status}"
    if status == "clientOrderIdAlreadyExist":
        return DuplicateOrder(msg, client_order_id=client_order_id, venue=venue, code=status)
    if status in _SEND_FUNDS:
        return InsufficientFunds(msg, venue=venue, code=status)
    return OrderRejected(msg, venue=venue, code=status)


def spot_mapper(venue: str, clock: Clock) -> ErrorMapper:
    """Return the ``HttpClient`` classifier for Kraken Spot bodies (HTTP 200 + ``error``)."""

    def classify(resp: Response) -> VenueError | None:
        if resp.status >= 400:
            return None  # the HTTP layer classifies status codes
        try:
            data = resp.json()
        except TransientError as exc:
            return exc
        errors = data.get("error") if isinstance(data, dict) else None
        if not isinstance(errors, list):
            return TransientError(f"{venue}: malformed response (no error list)", venue=venue)
        return spot_error([str(e) for e in errors], venue=venue, endpoint="", now_s=clock.time())

    return classify


def futures_mapper(venue: str) -> ErrorMapper:
    """Return the ``HttpClient`` classifier for Kraken Futures bodies (``result: error``)."""

    def classify(resp: Response) -> VenueError | None:
        if resp.status >= 400:
            return None
        try:
            data = resp.json()
        except TransientError as exc:
            return exc
        if not isinstance(data, dict):
            return TransientError(f"{venue}: malformed response", venue=venue)
        if data.get("result") == "error":
            return futures_error(str(data.get("error", "unknownError")), venue=venue, endpoint="")
        return None

    return classify
