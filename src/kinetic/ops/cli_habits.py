"""Command-line habits operators have: global options anywhere, ``--version``, one-line errors.

``--config FILE`` and ``--env-file FILE`` belong to the whole program, but every operator
types them after the command at least once (``main.py run --config x.yaml``).
:func:`hoist_global_options` moves them in front of the command before argparse sees the
arguments, so both orders mean the same.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

GLOBAL_OPTIONS = ("--config", "--env-file")


def hoist_global_options(argv: Sequence[str]) -> list[str]:
    """Move ``--config``/``--env-file`` (with their values) in front of the command.

    Both ``--config X`` and ``--config=X`` are moved; arguments after ``--`` are left
    alone, and an option without a value stays where it is so argparse reports it.
    """
    front: list[str] = []
    rest: list[str] = []
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        name = arg.partition("=")[0]
        if name in GLOBAL_OPTIONS and "=" in arg:
            front.append(arg)
        elif arg in GLOBAL_OPTIONS and i + 1 < len(args):
            front.extend(args[i : i + 2])
            i += 1
        else:
            rest.append(arg)
        i += 1
    return front + rest


def version_line() -> str:
    """``kinetic <version>, schema <revision>, Python <x.y.z>``."""
    import platform

    from kinetic import __version__
    from kinetic.storage.db import head_revision

    return f"kinetic {__version__}, schema {head_revision()}, Python {platform.python_version()}"


class VersionAction(argparse.Action):
    """``--version``: print :func:`version_line` and exit 0 (computed only when asked)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print version, schema revision "
                         "and Python, then exit")  # fmt: skip

    def __call__(self, parser: argparse.ArgumentParser, *_args: object, **_kw: object) -> None:
        print(version_line())
        parser.exit(0)


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line on stderr and exit 2."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)
