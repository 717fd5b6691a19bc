"""``batch_gc``: fewer collections while a backtest drives, everything restored after."""

from __future__ import annotations

import gc

import pytest

from kinetic.backtest.runner import GC_YOUNG_THRESHOLD, batch_gc


def test_batch_gc_freezes_raises_the_threshold_and_restores_both() -> None:
    before = gc.get_threshold()
    with batch_gc():
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *before[1:])
        assert gc.get_freeze_count() > 0  # what existed before the run is not rescanned
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def _drive_and_fail() -> None:
    with batch_gc():
        cycle: list[object] = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1  # cycles made during the run are still collectable
        raise RuntimeError("boom")


def test_batch_gc_restores_after_an_error_and_still_collects_cycles() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError):
        _drive_and_fail()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_batch_gc_inside_a_frozen_heap_keeps_the_callers_freeze() -> None:
    # an optimize worker freezes its heap once; a run inside neither collects nor thaws it
    gc.collect()
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with batch_gc():
            assert gc.get_freeze_count() == frozen
        assert gc.get_freeze_count() == frozen  # still frozen: the caller unfreezes
    finally:
        gc.unfreeze()
    assert gc.get_freeze_count() == 0
