"""A fake systemd: a real AF_UNIX datagram socket that records notify messages."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path


class FakeSystemd:
    """Bind ``path`` as ``$NOTIFY_SOCKET`` would be; collect every datagram's lines."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.messages: list[list[str]] = []

    def close(self) -> None:
        self.sock.close()

    def receive(self, timeout_s: float) -> list[str] | None:
        """The next datagram's lines, or None when none arrives within ``timeout_s``."""
        self.sock.settimeout(timeout_s)
        try:
            data = self.sock.recv(4096)
        except TimeoutError:
            return None
        lines = data.decode().split("\n")
        self.messages.append(lines)
        return lines

    def wait_for(
        self, ok: Callable[[list[str]], bool], what: str, limit_s: float = 60.0
    ) -> list[str]:
        """Receive until a datagram satisfies ``ok``; fail after ``limit_s``."""
        deadline = time.monotonic() + limit_s
        while (left := deadline - time.monotonic()) > 0:
            lines = self.receive(left)
            if lines is not None and ok(lines):
                return lines
        raise AssertionError(f"no {what} within {limit_s} s; got {self.messages[-5:]}")

    def drain(self) -> list[list[str]]:
        """Everything already queued, without waiting."""
        out = []
        while (lines := self.receive(0.0001)) is not None:
            out.append(lines)
        return out
