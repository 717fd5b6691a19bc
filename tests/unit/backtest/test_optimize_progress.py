"""The optimize progress bar: drawn on a terminal's stderr only."""

from __future__ import annotations

import io

import pytest

from kinetic.backtest.optimize_cli import tty_bar


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_is_quiet_when_stderr_is_not_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert tty_bar(True) is None


def test_progress_bar_draws_trials_on_a_terminal_and_ends_the_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    term = _Terminal()
    monkeypatch.setattr("sys.stderr", term)
    assert tty_bar(False) is None  # --no-progress
    show = tty_bar(True)
    assert show is not None
    show(3, 10)
    show(3, 10)  # unchanged: not redrawn
    show(10, 10)
    out = term.getvalue()
    assert out.count("\roptimize [") == 2
    assert "3/10 trials" in out
    assert out.endswith("10/10 trials\n")
