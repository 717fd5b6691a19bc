"""The ``kinetic`` console script: the entry point of ``main.py``, from anywhere.

``pyproject.toml`` declares ``kinetic = "kinetic.console:main"``. ``main.py`` and
``config.py`` sit at the top of the checkout: a regular install puts them on the path
as top-level modules, but the editable install that ``make install`` and
``start_backend.sh`` make adds only ``src/``, so they are looked up beside it. Relative
paths (``data/``, the SQLite file, ``kinetic.yaml``) are the working directory's, exactly
as with ``python main.py``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType


def _cli_module() -> ModuleType:
    try:
        return importlib.import_module("main")
    except ModuleNotFoundError:
        root = Path(__file__).resolve().parents[2]  # <checkout>/src/kinetic/console.py
        if not (root / "main.py").is_file():
            raise
        sys.path.insert(0, str(root))
        return importlib.import_module("main")


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``main.main`` with ``argv`` (default: the command line)."""
    code: int = _cli_module().main(argv)
    return code
