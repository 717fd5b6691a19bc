"""Errors that end the daemon's start with one line for the operator (exit code 2).

Here, below every layer, so that any layer may raise them; ``kinetic.wiring`` and
``kinetic.app`` re-export ``StartupError`` where callers have always found it.
"""

from __future__ import annotations


class StartupError(RuntimeError):
    """The daemon cannot start; the message says why (no traceback for the operator)."""


class VenueUnavailable(RuntimeError):
    """A venue stayed unreachable through the start-up retries (exit 1: worth a restart).

    Transient errors (timeouts, 5xx, rate limits) at start-up are retried with backoff;
    only when the budget is spent does the start fail, and then not as a configuration
    error: the systemd unit restarts the daemon later.
    """
