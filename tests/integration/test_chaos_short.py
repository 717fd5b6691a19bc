"""The crash harness, short: a few SIGKILLed live daemons against fake venue processes.

``make chaos`` runs the long version (``--trials 300``); this keeps the harness and the
guarantees it checks from rotting between those runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_chaos_short_run_finds_no_duplicate_orphan_mismatch_or_naked_position() -> None:
    done = subprocess.run(
        [sys.executable, "scripts/chaos.py", "--trials", "4", "--seed", "1", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["trials"] == 4, report
    assert report["kills"] >= 8
    for key in ("duplicates", "unjournaled", "orphans", "mismatches"):
        assert report[key] == 0, report["details"]
    assert report["naked_max_s"] <= report["grace_s"], report
    assert done.returncode == 0
