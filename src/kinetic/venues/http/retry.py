"""Retry policy (exponential backoff with full jitter) and the consecutive-failure count."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from kinetic.venues.base.errors import VenueHalted

MAX_CONSECUTIVE_FAILURES = 5


@dataclass(slots=True)
class RetryPolicy:
    """How often and how long to back off between attempts of one request."""

    max_attempts: int = 4
    base_seconds: float = 0.5
    cap_seconds: float = 30.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        """Return the pause before retry number ``attempt`` (0-based): full jitter."""
        ceiling = min(self.cap_seconds, self.base_seconds * 2.0**attempt)
        # half fixed, half random: never zero, still spreads clients apart
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)


class FailureCounter:
    """Count consecutive failed calls of one venue; halt at the threshold."""

    def __init__(self, venue: str, threshold: int = MAX_CONSECUTIVE_FAILURES) -> None:
        self.venue = venue
        self.threshold = threshold
        self.consecutive = 0

    def success(self) -> None:
        """Reset the count after a call that reached the venue and got an answer."""
        self.consecutive = 0

    def record(self) -> bool:
        """Count one failure; return True when the threshold is reached."""
        self.consecutive += 1
        return self.consecutive >= self.threshold

    def failure(self, reason: str) -> None:
        """Count one failure; raise ``VenueHalted`` once the threshold is reached."""
        if self.record():
            raise VenueHalted(
                f"{self.venue}: {self.consecutive} consecutive failures (last: {reason})",
                venue=self.venue,
            )
