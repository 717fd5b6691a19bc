"""Walk-forward windows: train on one stretch, test the best parameters on the next.

``--train 60d --test 30d`` cuts the data into rolling windows: train [t, t+60d), test
[t+60d, t+90d), then t moves on by ``--step`` (default: the test length), so the test
stretches follow each other without overlap. ``--anchored`` keeps every train window
starting at the first candle (expanding). ``--test`` alone holds out the last stretch:
one window, train = everything before it. Without either: one in-sample study over all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from config import ConfigValidationError

UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 7 * 86_400_000}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|h|d|w)\s*$")
MAX_WINDOWS = 500


@dataclass(frozen=True)
class Window:
    """One walk-forward window (UTC milliseconds, end exclusive); no test = in-sample only."""

    index: int
    train_start: int
    train_end: int
    test_start: int | None = None
    test_end: int | None = None

    @property
    def has_test(self) -> bool:
        return self.test_start is not None and self.test_end is not None

    @property
    def key(self) -> str:
        """A stable suffix for this window's study name."""
        tail = f"-{self.test_start}-{self.test_end}" if self.has_test else ""
        return f"w{self.index:03d}-{self.train_start}-{self.train_end}{tail}"


def parse_duration(text: str, flag: str) -> int:
    """Parse ``90d``, ``12w``, ``36h`` or ``240m`` into milliseconds."""
    m = _DURATION.match(text)
    if not m or float(m.group(1)) <= 0:
        raise ConfigValidationError(
            f"{flag} {text!r}: expected a duration like 90d, 12w, 36h or 240m (> 0)"
        )
    return round(float(m.group(1)) * UNIT_MS[m.group(2)])


def make_windows(
    first_ms: int,
    end_ms: int,
    train_ms: int | None,
    test_ms: int | None,
    step_ms: int | None = None,
    anchored: bool = False,
) -> list[Window]:
    """Return the windows over data ``[first_ms, end_ms)`` (bad sizes raise, naming the flag)."""
    if test_ms is None:
        if train_ms is not None or step_ms is not None or anchored:
            raise ConfigValidationError("--train/--step/--anchored need --test (the test length)")
        return [Window(0, first_ms, end_ms)]
    span = end_ms - first_ms
    if train_ms is None:  # hold out the last stretch
        if test_ms >= span:
            raise ConfigValidationError(f"--test {_days(test_ms)} is not shorter than the data "
                                        f"({_days(span)})")  # fmt: skip
        return [Window(0, first_ms, end_ms - test_ms, end_ms - test_ms, end_ms)]
    step = step_ms if step_ms is not None else test_ms
    if train_ms + test_ms > span:
        raise ConfigValidationError(
            f"--train {_days(train_ms)} + --test {_days(test_ms)} is longer than the data "
            f"({_days(span)}); no window fits"
        )
    out: list[Window] = []
    t = first_ms
    while t + train_ms + test_ms <= end_ms:
        start = first_ms if anchored else t
        out.append(Window(len(out), start, t + train_ms, t + train_ms, t + train_ms + test_ms))
        t += step
        if len(out) > MAX_WINDOWS:
            raise ConfigValidationError(f"--step {_days(step)}: more than {MAX_WINDOWS} windows")
    return out


def _days(ms: int) -> str:
    days = ms / UNIT_MS["d"]
    return f"{days:g}d"
