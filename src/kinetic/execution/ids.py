"""Client order ids that never collide: installation, start stamp and sequence.

An id reads ``K<e><instance>-<stamp><seq>``, for example ``Kf3k9qz-0m1xq20001``:

* ``K`` and the engine's first letter (``s`` spot, ``f`` futures);
* ``instance``: five base-36 characters drawn once per database and stored in it, so
  two installations (two daemons on one account, or a new database) never share ids;
* ``stamp``: six base-36 characters, the start time in seconds since 2024-01-01, kept
  strictly increasing per engine in the database; a restored (older) database starts
  from the wall clock again, past every stamp it used before;
* ``seq``: base 36, at least four characters, counting the orders of this start.

That is 18 characters up to 1.6 million orders per start: within Kraken spot's 18
characters of free text for ``cl_ord_id``, Binance's 36 (``[.A-Z:/a-z0-9_-]``) and Kraken
Futures' 100. ``owner_prefix`` (``K<e><instance>-``) marks every order of this engine
and installation, whatever its start: the start-up takeover cancels open orders with
that prefix that the journal does not know.
"""

from __future__ import annotations

import secrets

DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
INSTANCE_LEN = 5
STAMP_LEN = 6
SEQ_MIN_LEN = 4
STAMP_EPOCH_S = 1_704_067_200  # 2024-01-01T00:00:00Z
UNSET_INSTANCE = "00000"


_PAIRS = [a + b for a in DIGITS for b in DIGITS]  # "00" .. "zz": 1296 two-digit numerals


def base36(n: int, width: int = 0) -> str:
    """``n`` (>= 0) in base 36, left-padded with zeros to ``width``."""
    if n < 0:
        raise ValueError(f"base36 of a negative number: {n}")
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = DIGITS[r] + out
    return (out or "0").rjust(width, "0")


def new_instance_id() -> str:
    """Draw a fresh installation id (five base-36 characters, never all zeros)."""
    while True:
        value = "".join(secrets.choice(DIGITS) for _ in range(INSTANCE_LEN))
        if value != UNSET_INSTANCE:
            return value


def start_stamp(now_s: float, last_stamp: int) -> int:
    """The stamp for a start at ``now_s``: the clock's, but always past ``last_stamp``."""
    return max(int(now_s) - STAMP_EPOCH_S, last_stamp + 1, 0)


class ClientIds:
    """Issue the client order ids of one engine."""

    def __init__(self, engine: str, instance: str = UNSET_INSTANCE, stamp: int = 0) -> None:
        self.letter = engine[0]
        self.seq = 0
        self.instance = instance
        self.stamp = stamp
        self._prefix = ""
        self.begin(instance, stamp)

    def begin(self, instance: str, stamp: int) -> None:
        """Start a new run of ids under ``instance`` and ``stamp``; the sequence restarts."""
        self.instance = instance
        self.stamp = stamp
        self.seq = 0
        self._prefix = f"{self.owner_prefix}{base36(stamp, STAMP_LEN)}"

    @property
    def owner_prefix(self) -> str:
        """The part every id of this engine and installation starts with."""
        return f"K{self.letter}{self.instance}-"

    def next(self) -> str:
        """Return the next id."""
        self.seq = n = self.seq + 1
        if n < 1679616:  # 36**4: the four digits two at a time (one per order)
            return self._prefix + _PAIRS[n // 1296] + _PAIRS[n % 1296]
        return self._prefix + base36(n, SEQ_MIN_LEN)

    def ours(self, client_order_id: str) -> bool:
        """True when ``client_order_id`` was issued by this engine of this installation."""
        return client_order_id.startswith(self.owner_prefix)
