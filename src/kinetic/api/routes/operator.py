"""The one way an API mutation reaches the control service.

``operate`` validates the body, hands the action to ``ControlService.operate`` (which
applies the confirmation rule and writes the audit entry) and maps its reply:

* ``done`` -> 200 ``{"message", "result"}``;
* ``unconfirmed`` -> 428 with ``data.confirm_token`` (valid 60 s, once, for exactly these
  arguments): repeat the same request with ``"confirm_token": "<token>"`` in the body;
* a bad or expired token -> 409; unknown engine or order -> 404; a value the daemon
  refuses -> 422; a state that does not allow it -> 409; a failure -> 502.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel

from kinetic.api.context import ctx_of
from kinetic.api.envelope import fail, ok
from kinetic.api.middleware import AUDITED, remote_of
from kinetic.api.registry import parse_body

B = TypeVar("B", bound=BaseModel)
STATUS = {"not_found": 404, "invalid": 422, "conflict": 409, "confirmation": 409, "failed": 502}


async def operate(
    request: web.Request, action: str, model: type[B], to_args: Callable[[B], dict[str, Any]]
) -> web.Response:
    """Run ``action`` with the validated body; answer per the reply (see module doc)."""
    body = await parse_body(request, model)
    args = to_args(body)
    token = getattr(body, "confirm_token", None)
    ctx = ctx_of(request)
    reply = await ctx.control.operate(
        action, args, via="api", remote=remote_of(request), confirm_token=token
    )
    request[AUDITED] = True
    if reply.outcome == "done":
        return ok({"message": reply.message, "result": reply.data})
    if reply.outcome == "unconfirmed" and reply.confirmation is not None:
        conf = reply.confirmation
        return fail(
            428,
            reply.message,
            {
                "confirm_token": conf.token,
                "action": conf.action,
                "expires_in_s": conf.ttl_s,
                "expires_ms": conf.expires_ms,
            },
        )
    return fail(STATUS.get(reply.error, 409), reply.message, reply.data or None)
