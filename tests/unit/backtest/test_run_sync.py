"""``run_sync``: a backtest's result is handed back without asyncio formatting it.

On Python 3.11 ``asyncio.run`` ends by reading the SIGINT handler back, and
``signal.getsignal`` builds that handler's repr, which holds the main task and so its
result's repr: for a long backtest, megabytes of text and of peak memory.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

import pytest

from kinetic.backtest.runner import run_sync


class _Result:
    reprs = 0

    def __repr__(self) -> str:
        type(self).reprs += 1
        return "<result>"


class _Runner:
    async def run(self) -> Any:
        return _Result()


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread()
    or signal.getsignal(signal.SIGINT) is not signal.default_int_handler,
    reason="asyncio installs its SIGINT handler only in the main thread, over the default",
)
def test_the_result_comes_back_without_its_repr_being_built() -> None:
    _Result.reprs = 0
    result: Any = run_sync(_Runner())  # type: ignore[arg-type]
    assert isinstance(result, _Result)
    assert _Result.reprs == 0, f"repr built {_Result.reprs} time(s) on {sys.version_info}"
