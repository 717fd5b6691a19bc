"""The fake Kraken Futures account log: funding payments and trades, as the venue books them.

``GET /api/history/v3/account-log`` answers from here: entries by time (``since``/
``before``, ms, both inclusive), newest first unless ``sort=asc``, at most ``count``. A
funding payment is a "funding rate change" entry (``realized_funding``; the flex cash
moves); every fill is a "futures trade" entry.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

ACCOUNT_LOG = "/api/history/v3/account-log"


def iso_time(ts: float) -> str:
    """Return ``ts`` (epoch seconds) as the venue writes times (``...T12:00:00.000Z``)."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _ms(iso: str) -> int:
    return round(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


class AccountLog:
    """The flex account's log entries, oldest first; ids come from the server's sequence."""

    def __init__(self, ids: Iterator[int]) -> None:
        self.entries: list[dict[str, Any]] = []
        self._ids = ids

    def add(self, ts_ms: int, info: str, contract: str, **values: Any) -> dict[str, Any]:
        """Book an entry of kind ``info`` on ``contract`` at ``ts_ms``; return it."""
        n = next(self._ids)
        entry = {
            "id": n,
            "date": iso_time(ts_ms // 1000)[:-4] + f"{ts_ms % 1000:03d}Z",
            "asset": "usd",
            "contract": contract.lower(),
            "info": info,
            "booking_uid": f"b{n:08d}-fake",
            "margin_account": "flex",
            "collateral": "USD",
            "fee": 0.0,
            "realized_pnl": 0.0,
            "realized_funding": 0.0,
            **values,
        }
        self.entries.append(entry)
        return entry

    def add_funding(
        self, symbol: str, amount: float, old_cash: float, new_cash: float, ts_ms: int
    ) -> dict[str, Any]:
        """Book a funding payment of ``amount`` USD on ``symbol`` (cash ``old`` -> ``new``)."""
        return self.add(
            ts_ms,
            "funding rate change",
            symbol,
            old_balance=old_cash,
            new_balance=new_cash,
            realized_funding=amount,
            funding_rate=1e-5,
        )

    def query(self, q: Mapping[str, str]) -> list[dict[str, Any]]:
        """The entries the account-log query ``q`` asks for, in its order."""
        since, before = int(q.get("since", 0)), int(q.get("before", 2**62))
        rows = [e for e in self.entries if since <= _ms(e["date"]) <= before]
        rows.sort(key=lambda e: (_ms(e["date"]), e["id"]), reverse=q.get("sort") != "asc")
        count = min(int(q.get("count", 500)), 100_000)
        return rows[:count]
