"""The optimize CLI's blocking waits go through an injected ``pause`` (no wall-clock sleep
in the code or the tests): polling trials that run on other machines, and retrying a
storage whose tables another worker is creating."""

from __future__ import annotations

from typing import Any

import optuna
import pytest
from sqlalchemy.exc import OperationalError

from kinetic.backtest.optimize import POLL_SECONDS, _wait_for_others
from kinetic.backtest.optimize_study import INIT_ATTEMPTS, open_storage, resolve_storage


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_waiting_for_trials_of_other_machines_polls_until_none_runs() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study()
    running = [study.ask(), study.ask()]  # as if two other machines were running them
    waits: list[float] = []

    def pause(seconds: float) -> None:  # each wait: one of them finishes
        waits.append(seconds)
        study.tell(running.pop(), 1.0)

    seen: list[tuple[int, int]] = []
    _wait_for_others([study], 5, lambda: 5 - len(running), lambda d, t: seen.append((d, t)),
                     pause)  # fmt: skip
    assert waits == [2 * POLL_SECONDS, 2 * POLL_SECONDS]
    assert seen == [(3, 5), (4, 5), (5, 5)]


def test_opening_a_storage_retries_with_growing_pauses_then_gives_up(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def racing(*args: Any, **kwargs: Any) -> Any:  # another worker creating the tables
        calls.append(1)
        raise OperationalError("CREATE TABLE", {}, Exception("table studies already exists"))

    monkeypatch.setattr(optuna.storages, "RDBStorage", racing)
    waits: list[float] = []
    storage = resolve_storage(str(tmp_path / "opt.db"), None, "unused")
    with pytest.raises(OperationalError):
        open_storage(storage, waits.append)
    assert len(calls) == INIT_ATTEMPTS
    assert waits == pytest.approx([0.2 * (k + 1) for k in range(INIT_ATTEMPTS - 1)])
