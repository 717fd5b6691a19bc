"""``HttpClient``: one aiohttp session per venue client, limits, retries, classification."""

from __future__ import annotations

import enum
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from kinetic.clock import Clock
from kinetic.logging import get_logger
from kinetic.venues.base.errors import (
    AuthError,
    InvalidTimestamp,
    IPBanned,
    OrderStateUnknown,
    OutcomeUnknown,
    PermanentError,
    RateLimited,
    TransientError,
    VenueError,
)
from kinetic.venues.http.limits import NoLimit, RateLimiter, VenueGate
from kinetic.venues.http.retry import FailureCounter, RetryPolicy

# errors raised before a single byte of the request can have reached the venue
_PRE_SEND = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
# errors after the request may have been sent: its outcome is unknown
_POST_SEND = (aiohttp.ClientError, TimeoutError)


class RequestKind(enum.Enum):
    """How safe a request is to repeat."""

    READ = "read"  # idempotent (queries, cancels): every transient failure is retried
    ORDER = "order"  # creates an order: an unknown outcome is never resent


@dataclass(frozen=True, slots=True)
class Request:
    """One fully built (and, if needed, signed) HTTP request; ``query`` is pre-encoded."""

    method: str
    path: str
    query: str = ""
    body: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Response:
    """An HTTP response, fully read."""

    status: int
    headers: Mapping[str, str]
    text: str

    def json(self) -> Any:
        """Decode the body as JSON; raise ``TransientError`` on garbage."""
        try:
            return json.loads(self.text)
        except ValueError:
            raise TransientError(f"undecodable JSON body (HTTP {self.status})") from None

    def header(self, name: str) -> str | None:
        """Return a header value, case-insensitively."""
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)


ErrorMapper = Callable[[Response], VenueError | None]
"""Venue hook: turn a response into a taxonomy error, or ``None`` when it succeeded."""

RequestBuilder = Callable[[], Request]
"""Builds the request afresh for every attempt (new timestamp/nonce, new signature)."""


def retry_after_seconds(resp: Response, default: float) -> float:
    """Return ``Retry-After`` in seconds, or ``default`` if absent or not a number."""
    raw = resp.header("Retry-After")
    try:
        return max(0.0, float(raw)) if raw is not None else default
    except ValueError:
        return default


@dataclass(slots=True)
class HttpSettings:
    """Tunables of one venue's HTTP client."""

    timeout_seconds: float = 10.0
    connect_timeout_seconds: float = 5.0
    default_ban_seconds: float = 120.0
    default_retry_after_seconds: float = 1.0
    max_inline_wait_seconds: float = 300.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)


class HttpClient:
    """Send requests to one venue with rate limits, pauses, retries and classification."""

    def __init__(
        self,
        venue: str,
        base_url: str,
        clock: Clock,
        mapper: ErrorMapper,
        *,
        limiter: RateLimiter | None = None,
        settings: HttpSettings | None = None,
        on_timestamp_error: Callable[[], Awaitable[None]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.venue = venue
        self.base_url = base_url.rstrip("/")
        self.clock = clock
        self.mapper = mapper
        self.limiter: RateLimiter = limiter or NoLimit()
        self.settings = settings or HttpSettings()
        self.gate = VenueGate(clock)
        self.failures = FailureCounter(venue)
        self.on_timestamp_error = on_timestamp_error
        self._headers = dict(headers or {})
        self._session: aiohttp.ClientSession | None = None
        self._log = get_logger(venue=venue, component="http")

    async def send(
        self,
        build: RequestBuilder,
        *,
        weight: float = 1,
        orders: int = 0,
        kind: RequestKind = RequestKind.READ,
        client_order_id: str = "",
    ) -> Response:
        """Send the request built by ``build``; return the successful response.

        Raises a taxonomy error: ``OrderStateUnknown`` for an ``ORDER`` whose outcome is
        unknown, ``RateLimited``/``IPBanned`` when the pause is longer than
        ``max_inline_wait_seconds``, ``VenueHalted`` after five consecutive failures.
        """
        resynced = False
        attempt = 0
        while True:
            await self._wait_gate()
            await self.limiter.acquire(weight, orders=orders)
            resp, err = await self._attempt(build())
            if err is None and resp is not None:
                self.failures.success()
                return resp
            assert err is not None
            if isinstance(err, InvalidTimestamp) and self.on_timestamp_error and not resynced:
                resynced = True
                await self.on_timestamp_error()
                continue
            self._raise_if_final(err, kind, client_order_id)
            self.failures.failure(str(err))
            if isinstance(err, RateLimited):
                self.gate.pause(err.retry_after, ban=isinstance(err, IPBanned))
            elif attempt + 1 >= self.settings.retry.max_attempts:
                raise err
            else:
                await self.clock.sleep(self.settings.retry.delay(attempt))
            attempt += 1

    def _raise_if_final(self, err: VenueError, kind: RequestKind, client_order_id: str) -> None:
        if isinstance(err, OutcomeUnknown) and kind is RequestKind.ORDER:
            # counted, but the caller must learn the outcome is unknown, so no halt here:
            # the next failing call halts
            self.failures.record()
            raise OrderStateUnknown(
                f"{self.venue}: order {client_order_id} outcome unknown ({err})",
                client_order_id=client_order_id,
                venue=self.venue,
                code=err.code,
            ) from None
        if not isinstance(err, TransientError):
            self.failures.success()  # the venue answered; it is up
            raise err

    async def _wait_gate(self) -> None:
        left = self.gate.remaining
        if left > self.settings.max_inline_wait_seconds:
            cls = IPBanned if self.gate.banned else RateLimited
            raise cls(
                f"{self.venue}: requests paused for {left:.0f}s", retry_after=left, venue=self.venue
            )
        await self.gate.wait()

    async def _attempt(self, req: Request) -> tuple[Response | None, VenueError | None]:
        try:
            resp = await self._roundtrip(req)
        except _PRE_SEND as exc:
            return None, self._logged(
                req, TransientError(self._net_msg(req, exc), venue=self.venue)
            )
        except _POST_SEND as exc:
            return None, self._logged(
                req, OutcomeUnknown(self._net_msg(req, exc), venue=self.venue)
            )
        self.limiter.on_response(resp.headers)
        err = self._classify(resp)
        return resp, (self._logged(req, err) if err is not None else None)

    def _classify(self, resp: Response) -> VenueError | None:
        s = self.settings
        if resp.status == 418:
            return IPBanned(
                f"{self.venue}: IP banned (HTTP 418)",
                venue=self.venue,
                code=418,
                retry_after=retry_after_seconds(resp, s.default_ban_seconds),
            )
        if resp.status == 429:
            return RateLimited(
                f"{self.venue}: rate limited (HTTP 429)",
                venue=self.venue,
                code=429,
                retry_after=retry_after_seconds(resp, s.default_retry_after_seconds),
            )
        err = self.mapper(resp)
        if err is not None or resp.status < 400:
            return err
        if resp.status >= 500:
            return OutcomeUnknown(
                f"{self.venue}: HTTP {resp.status}", venue=self.venue, code=resp.status
            )
        if resp.status in (401, 403):
            return AuthError(
                f"{self.venue}: HTTP {resp.status}", venue=self.venue, code=resp.status
            )
        return PermanentError(
            f"{self.venue}: HTTP {resp.status}", venue=self.venue, code=resp.status
        )

    async def _roundtrip(self, req: Request) -> Response:
        url = self.base_url + req.path + (f"?{req.query}" if req.query else "")
        headers = {**self._headers, **req.headers}
        if req.body is not None:
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        async with self.session.request(req.method, url, data=req.body, headers=headers) as r:
            text = await r.text()
            return Response(r.status, dict(r.headers), text)

    @property
    def session(self) -> aiohttp.ClientSession:
        """Return the one session of this client (created on first use, in the loop)."""
        if self._session is None or self._session.closed:
            s = self.settings
            timeout = aiohttp.ClientTimeout(
                total=s.timeout_seconds, sock_connect=s.connect_timeout_seconds
            )
            self._session = aiohttp.ClientSession(timeout=timeout)
        return self._session

    def _net_msg(self, req: Request, exc: BaseException) -> str:
        # the exception text may embed the URL (and so the signature): keep only its type
        return f"{self.venue}: {req.method} {req.path} failed: {type(exc).__name__}"

    def _logged(self, req: Request, err: VenueError) -> VenueError:
        self._log.warning(
            "venue request failed",
            method=req.method,
            path=req.path,
            error=str(err),
            error_type=type(err).__name__,
        )
        return err

    def reset_failures(self) -> None:
        """Forget the consecutive-failure count (an engine (re)start begins afresh).

        Rate-limit pauses and bans stay: the venue asked for them.
        """
        self.failures.success()

    async def close(self) -> None:
        """Close the session; the client may not be used afterwards."""
        if self._session is not None:
            await self._session.close()
            self._session = None


def http_clients(venue: object, depth: int = 2) -> list[HttpClient]:
    """The ``HttpClient`` objects a venue client holds, directly or one object down.

    For metrics (rate-limit use, bans) without each venue naming its clients.
    """
    found: list[HttpClient] = []
    for value in getattr(venue, "__dict__", {}).values():
        if isinstance(value, HttpClient):
            found.append(value)
        elif (
            depth > 1
            and hasattr(value, "__dict__")
            and type(value).__module__.startswith("kinetic.venues")
        ):
            found.extend(c for c in http_clients(value, depth - 1) if c not in found)
    return found
