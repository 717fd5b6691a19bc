"""Operator audit entries: every mutation, accepted, refused or unconfirmed, in ``events``.

One ``events`` row of kind ``operator`` per request: who asked (``via``: api, telegram,
cli; ``remote``: the peer address), the action, its arguments (secrets and confirmation
tokens masked), the outcome (``done``, ``failed``, ``unconfirmed``, ``refused``) and the
one-line result.
"""

from __future__ import annotations

import re
from typing import Any

from kinetic.logging import REDACTOR, get_logger
from kinetic.supervisor.trading_states import EventSink

AUDIT_KIND = "operator"
OUTCOMES = ("done", "failed", "unconfirmed", "refused")
_MASK_KEYS = re.compile(r"(token|secret|password|api_?key|authorization)", re.I)
_MAX_TEXT = 500
log = get_logger(component="audit")


def clean_args(args: Any) -> Any:
    """``args`` with secret-looking keys masked and long text cut (safe to store)."""
    if isinstance(args, dict):
        return {
            str(k)[:100]: ("***" if _MASK_KEYS.search(str(k)) and v else clean_args(v))
            for k, v in list(args.items())[:50]
        }
    if isinstance(args, list | tuple):
        return [clean_args(v) for v in list(args)[:50]]
    if isinstance(args, str):
        return REDACTOR.scrub(args[:_MAX_TEXT])
    if args is None or isinstance(args, bool | int | float):
        return args
    return REDACTOR.scrub(str(args)[:_MAX_TEXT])


async def record_audit(
    events: EventSink,
    *,
    via: str,
    remote: str,
    action: str,
    args: Any,
    outcome: str,
    message: str,
    engine: str | None = None,
) -> None:
    """Write one audit row; a failed write is logged, never raised to the operator."""
    line = REDACTOR.scrub(f"{action} via {via} from {remote or '?'}: {outcome}: {message}")
    data = {"via": via, "remote": remote, "action": action, "args": clean_args(args),
            "outcome": outcome, "message": REDACTOR.scrub(message[:_MAX_TEXT])}  # fmt: skip
    try:
        await events.record_event(AUDIT_KIND, line[:1000], engine, data)
    except Exception as exc:  # the action's outcome stands; the log keeps the trail
        log.error("audit entry not written", action=action, outcome=outcome, error=repr(exc))
