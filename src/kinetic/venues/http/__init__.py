"""Shared HTTP layer for venue clients (Binance, Kraken, ...).

Public API — small on purpose::

    from kinetic.venues.http import (
        HttpClient, HttpSettings, Request, Response, RequestKind, RetryPolicy,
        WindowLimiter, Window, DecayingCounter, NoLimit, ClockOffset,
    )

    client = HttpClient(
        "kraken", "https://api.kraken.com", clock, mapper,   # mapper: Response -> VenueError|None
        limiter=DecayingCounter(clock, max_count=15, decay_per_second=0.33),
        settings=HttpSettings(timeout_seconds=10),
        on_timestamp_error=resync,            # optional: called once on InvalidTimestamp
        headers={"User-Agent": "kinetic"},
    )
    resp = await client.send(build, weight=1, kind=RequestKind.ORDER, client_order_id=cid)
    data = resp.json()
    await client.close()

* ``build`` is a zero-argument callable returning a ``Request`` (method, path, encoded
  query, body, headers). It is called again for every attempt, so nonces, timestamps
  and signatures are always fresh.
* ``mapper`` is the venue's classifier: given a ``Response`` it returns ``None`` for
  success or an error from ``kinetic.venues.base.errors``. HTTP 418 (``IPBanned``) and
  429 (``RateLimited``, honouring ``Retry-After``) are handled before it; a 5xx it does
  not classify becomes ``OutcomeUnknown``, 401/403 ``AuthError``, other 4xx
  ``PermanentError``.
* Retries: ``TransientError`` (network failure before sending, body-level transient
  codes, ``OutcomeUnknown`` on a ``READ``) is retried with exponential backoff + jitter
  on the injected ``Clock``, up to ``RetryPolicy.max_attempts``. ``RateLimited`` and
  ``IPBanned`` pause *every* request of this client (``VenueGate``) until
  ``Retry-After`` has passed; pauses longer than ``max_inline_wait_seconds`` are raised
  to the caller instead of waited out, and no request leaves before the pause ends.
* For ``RequestKind.ORDER`` an unknown outcome (timeout after sending, 5xx) raises
  ``OrderStateUnknown(client_order_id=...)`` and is never resent.
* Five consecutive failures (any venue, any request) raise ``VenueHalted``; any answer
  from the venue (success or permanent error) resets the count.
* Nothing here logs URLs, query strings or bodies, so signatures never reach logs;
  venue clients add their key and secret to ``kinetic.logging.REDACTOR``.
"""

from kinetic.venues.http.client import (
    ErrorMapper,
    HttpClient,
    HttpSettings,
    Request,
    RequestBuilder,
    RequestKind,
    Response,
    http_clients,
    retry_after_seconds,
)
from kinetic.venues.http.limits import (
    DecayingCounter,
    NoLimit,
    RateLimiter,
    VenueGate,
    Window,
    WindowLimiter,
)
from kinetic.venues.http.retry import FailureCounter, RetryPolicy
from kinetic.venues.http.timesync import ClockOffset

__all__ = [
    "ClockOffset",
    "DecayingCounter",
    "ErrorMapper",
    "FailureCounter",
    "HttpClient",
    "HttpSettings",
    "NoLimit",
    "RateLimiter",
    "Request",
    "RequestBuilder",
    "RequestKind",
    "Response",
    "RetryPolicy",
    "VenueGate",
    "Window",
    "WindowLimiter",
    "http_clients",
    "retry_after_seconds",
]
