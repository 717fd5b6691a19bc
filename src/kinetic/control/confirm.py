"""One-time confirmation tokens for destructive operator actions.

The first request for a destructive action (kill switch off, cancel all, flatten all,
disabling an engine, a risk config change) gets a token instead of an effect; the
second request carries it. A token is bound to the action AND its arguments (a token
for ``cancel_all`` cannot confirm ``flatten_all``, nor a different risk change), works
once (a wrong attempt burns it too) and expires ``ttl_s`` (60 s) after it was issued.
The CLI's ``--confirm`` flag, the API's second call and Telegram's inline button are
three front-ends of the same rule.
"""

from __future__ import annotations

import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any

from kinetic.clock import Clock

CONFIRM_TTL_S = 60.0
MAX_PENDING = 256  # bounded: unconfirmed requests cannot grow memory


@dataclass(frozen=True, slots=True)
class Confirmation:
    """A token that confirms ``action`` with these arguments until ``expires_ms``."""

    token: str
    action: str
    expires_ms: int
    ttl_s: float


def canonical(args: dict[str, Any]) -> str:
    """The arguments as one stable string (what a token is bound to)."""
    return json.dumps(args, sort_keys=True, default=str, separators=(",", ":"))


class Confirmations:
    """Issue and redeem one-time tokens on the injected clock."""

    def __init__(self, clock: Clock, ttl_s: float = CONFIRM_TTL_S) -> None:
        self.clock = clock
        self.ttl_s = ttl_s
        self._pending: dict[str, tuple[str, str, int]] = {}  # token -> action, args, expiry

    def issue(self, action: str, args: dict[str, Any]) -> Confirmation:
        """Return a new token for ``action`` with ``args``."""
        self._prune()
        token = secrets.token_urlsafe(18)
        expires = self.clock.time_ms() + int(self.ttl_s * 1000)
        self._pending[token] = (action, canonical(args), expires)
        return Confirmation(token, action, expires, self.ttl_s)

    def redeem(self, token: str, action: str, args: dict[str, Any]) -> bool:
        """True when ``token`` confirms exactly this action and these arguments now.

        The token is spent either way: one attempt per token.
        """
        self._prune()
        held = self._pending.pop(token, None)
        if held is None:
            return False
        want_action, want_args, _expires = held
        same = hmac.compare_digest(want_action, action) and hmac.compare_digest(
            want_args, canonical(args)
        )
        return same

    @property
    def pending(self) -> int:
        """How many tokens are outstanding (expired ones dropped)."""
        self._prune()
        return len(self._pending)

    def _prune(self) -> None:
        now = self.clock.time_ms()
        for token in [t for t, (_a, _g, exp) in self._pending.items() if exp <= now]:
            del self._pending[token]
        while len(self._pending) >= MAX_PENDING:  # oldest first (dicts keep insertion order)
            del self._pending[next(iter(self._pending))]
