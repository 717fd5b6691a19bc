"""One error taxonomy for every venue (ARCHITECTURE principle 8).

* ``TransientError`` — retry with backoff (network, 5xx, rate limits).
* ``PermanentError`` — do not retry (bad request, rejected order, unknown symbol).
* ``AuthError`` — credentials or permissions; stop and tell the operator.
* ``OrderStateUnknown`` — the request may or may not have reached the matching
  engine; look the order up by client order id, never resend blindly.
"""

from __future__ import annotations


class VenueError(Exception):
    """Base class for every venue failure. Messages never carry secrets."""

    def __init__(self, message: str, *, venue: str = "", code: int | str | None = None) -> None:
        super().__init__(message)
        self.venue = venue
        self.code = code


class TransientError(VenueError):
    """A failure worth retrying after a pause."""


class RateLimited(TransientError):
    """The venue asked us to slow down; wait ``retry_after`` seconds."""

    def __init__(
        self, message: str, *, retry_after: float, venue: str = "", code: int | str | None = None
    ) -> None:
        super().__init__(message, venue=venue, code=code)
        self.retry_after = retry_after


class IPBanned(RateLimited):
    """HTTP 418: the IP is banned until the ban ends; never retry early."""


class InvalidTimestamp(TransientError):
    """The request's timestamp was outside the venue's window: resync the clock, re-sign."""


class OutcomeUnknown(TransientError):
    """The request may or may not have been executed (5xx, timeout after sending).

    Safe to retry for reads; for an order the HTTP layer turns it into
    ``OrderStateUnknown`` so the caller looks the order up instead.
    """


class PermanentError(VenueError):
    """A failure that retrying will not fix."""


class OrderRejected(PermanentError):
    """The venue (or its filters) refused the order."""


class InsufficientFunds(OrderRejected):
    """Not enough balance or margin for the order."""


class DuplicateOrder(PermanentError):
    """An order with this client order id already exists; resolve to it."""

    def __init__(
        self, message: str, *, client_order_id: str, venue: str = "", code: int | str | None = None
    ) -> None:
        super().__init__(message, venue=venue, code=code)
        self.client_order_id = client_order_id


class OrderNotFound(PermanentError):
    """No order with this id exists on the venue."""


class UnknownSymbol(PermanentError):
    """The symbol is not listed on the venue."""


class AuthError(VenueError):
    """Bad key, bad signature or missing permission."""


class OrderStateUnknown(VenueError):
    """The request's outcome is unknown (timeout after send, 5xx on an order)."""

    def __init__(
        self, message: str, *, client_order_id: str, venue: str = "", code: int | str | None = None
    ) -> None:
        super().__init__(message, venue=venue, code=code)
        self.client_order_id = client_order_id


class VenueHalted(VenueError):
    """Too many consecutive venue failures: stop using this venue until someone decides.

    Deliberately neither transient nor permanent, so no retry loop swallows it; it
    is raised by the HTTP layer and by the OMS (which counts failures per engine).
    """


class StaleDataError(Exception):
    """Market data is older than ``stale_tolerance_seconds``; open nothing on it."""
