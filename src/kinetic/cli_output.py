"""Command-line output that a closed pipe cannot turn into a traceback."""

from __future__ import annotations

import os
import sys


def print_stdout(text: str) -> bool:
    """Print ``text`` and flush; return False when the reader closed the pipe.

    A closed pipe (``main.py backtest ... | head -1``) is not an error: the rest of the
    output is dropped silently and the command exits 0, as ``git log | head`` does.
    stdout is pointed at /dev/null so the interpreter's final flush cannot fail either.
    """
    try:
        print(text, flush=True)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return False
    return True
