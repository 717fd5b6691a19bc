"""Middlewares, outermost first: errors -> audit -> auth -> read-only.

* errors: every ``/api`` answer is the envelope; an ``ApiError`` or an aiohttp HTTP
  error keeps its status; anything else is logged and answered 500 without details.
* audit: a mutation (POST/PUT/PATCH/DELETE under ``/api/``) that the control service
  did not audit itself (refused by auth, read-only mode, bad input, unknown path) is
  recorded as an ``operator`` event with outcome ``refused``.
* auth: with ``KINETIC_API_TOKEN`` set, ``/api/`` paths (but the public ones) and the
  protected prefixes need the token; 401 otherwise.
* read-only: with ``api_read_only``, every ``/api/`` mutation is a 403.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from kinetic.api.context import ctx_of
from kinetic.api.envelope import ApiError, fail
from kinetic.api.registry import MUTATING, PROTECTED_PATHS, PUBLIC_PATHS, Handler, spec_of
from kinetic.logging import get_logger

# request key: the control service wrote the audit entry (RequestKey from aiohttp 3.12)
AUDITED: Any = (
    web.RequestKey("kinetic_audited", bool) if hasattr(web, "RequestKey") else "kinetic_audited"
)
log = get_logger(component="api")


def _is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/") or request.path == "/api"


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return fail(exc.status, exc.message, exc.data)
    except web.HTTPException as exc:
        if not _is_api(request) or exc.status < 400:
            raise
        response = fail(exc.status, exc.reason or "error")
        if "Allow" in exc.headers:  # a 405 names the methods the path has (RFC 9110)
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception:
        log.exception("API handler failed", method=request.method, path=request.path)
        return fail(500, "internal error (logged by the daemon)")


def remote_of(request: web.Request) -> str:
    """The peer address (the socket's, not a client-supplied header)."""
    return request.remote or ""


async def _args(request: web.Request) -> Any:
    args: dict[str, Any] = dict(request.match_info)
    try:
        raw = await request.read()
    except Exception:  # a broken upload: audit what we have
        return args
    if raw:
        text = raw[:2000].decode("utf-8", "replace")
        try:
            args["body"] = json.loads(text)  # a dict: its token fields get masked
        except ValueError:
            args["body"] = text
    return args


@web.middleware
async def audit(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method not in MUTATING or not _is_api(request):
        return await handler(request)
    status, message = 500, "internal error"
    try:
        response = await handler(request)
        status, message = response.status, ""
        return response
    except ApiError as exc:
        status, message = exc.status, exc.message
        raise
    except web.HTTPException as exc:
        status, message = exc.status, exc.reason or "error"
        raise
    finally:
        if not request.get(AUDITED):
            spec = spec_of(request)
            action = spec.action if spec else f"{request.method} {request.path}"
            outcome = "done" if status < 400 else "refused"
            await ctx_of(request).control.audit(
                action,
                await _args(request),
                outcome,
                f"HTTP {status} {message}".strip(),
                via="api",
                remote=remote_of(request),
            )


def _needs_token(request: web.Request) -> bool:
    path = request.path
    if _is_api(request):
        spec = spec_of(request)
        return not (path in request.app[PUBLIC_PATHS] or (spec is not None and spec.public))
    return any(path.startswith(prefix) for prefix in request.app[PROTECTED_PATHS])


@web.middleware
async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    ctx = ctx_of(request)
    if ctx.auth_enabled and _needs_token(request) and not ctx.token_ok(request):
        raise ApiError(401, "missing or wrong API token (Authorization: Bearer <token>)")
    return await handler(request)


@web.middleware
async def read_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    if ctx_of(request).read_only and request.method in MUTATING and _is_api(request):
        raise ApiError(403, "the API is read-only (api_read_only: true)")
    return await handler(request)


MIDDLEWARES = (errors, audit, auth, read_only)
