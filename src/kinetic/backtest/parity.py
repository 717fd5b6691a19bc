"""Parity: what the backtester would have done on a run's own candles, order by order.

``python main.py parity --db URL --engine spot|futures [--from] [--to]`` reads a paper or
live run's journal (orders and fills) from its database, re-runs the backtester over the
candles that run recorded (``candle_record_dir``) with the same config, and pairs the
two runs' orders (``pair_orders``): what the backtest sent and the run did not (missed),
what the run sent and the backtest did not (extra), and for each pair the difference in
fill price (bps, against the taker), in fees, in quantity, and the run's latency from
the close of the candle the backtest acted on to its first fill.

The backtest is set up as the run traded: the engine's live sizing (margin x leverage /
signal close, no all-in sizer), fills at the signal bar's close, the run's starting
capital (from its first equity snapshots), candles before ``--from`` used as warm-up only
(as a daemon treats the candles that closed before it started), positions left open at
the end (no end-of-data close).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from kinetic.domain import Fill, Order

BPS = Decimal(10_000)


@dataclass(frozen=True, slots=True)
class Leg:
    """One order of one side of the comparison, with what filled of it."""

    client_order_id: str
    symbol: str
    side: str
    order_type: str
    reduce_only: bool
    quantity: Decimal
    status: str
    created_ms: int
    reason: str
    filled_qty: Decimal
    avg_price: Decimal | None
    fee: Decimal
    first_fill_ms: int | None

    @property
    def key(self) -> tuple[str, str, str, bool]:
        """What must agree for two orders to be the same decision."""
        return (self.symbol, self.side, self.order_type, self.reduce_only)


def legs(orders: Iterable[tuple[Order, str]], fills: Iterable[Fill]) -> list[Leg]:
    """Build legs from journaled orders (with their reasons) and their fills, oldest first."""
    by_order: dict[str, list[Fill]] = defaultdict(list)
    for fill in fills:
        by_order[fill.client_order_id].append(fill)
    out = []
    for order, reason in orders:
        mine = by_order.get(order.client_order_id, [])
        qty = sum((f.quantity for f in mine), Decimal(0))
        avg = sum((f.quantity * f.price for f in mine), Decimal(0)) / qty if qty else None
        out.append(
            Leg(
                order.client_order_id, order.symbol, order.side.value, order.order_type.value,
                order.reduce_only, order.quantity, order.status.value, order.created_ms,
                reason, qty, avg, sum((f.fee for f in mine), Decimal(0)),
                min((f.ts_ms for f in mine), default=None),
            )
        )  # fmt: skip
    out.sort(key=lambda leg: (leg.created_ms, leg.client_order_id))
    return out


@dataclass(frozen=True, slots=True)
class Pair:
    """A backtest order and the run's order for the same decision (either may be None)."""

    backtest: Leg | None
    run: Leg | None

    @property
    def kind(self) -> str:
        if self.backtest is None:
            return "extra"
        return "missed" if self.run is None else "matched"

    @property
    def price_diff_bps(self) -> Decimal | None:
        """How much worse the run's average fill was, in bps of the backtest's (taker view).

        Positive: the run bought higher or sold lower than the backtest.
        """
        b, r = self.backtest, self.run
        if b is None or r is None or b.avg_price is None or r.avg_price is None:
            return None
        sign = 1 if b.side == "BUY" else -1
        return (r.avg_price - b.avg_price) / b.avg_price * BPS * sign

    @property
    def fee_diff(self) -> Decimal | None:
        """The run's fees less the backtest's, for this order."""
        if self.backtest is None or self.run is None:
            return None
        return self.run.fee - self.backtest.fee

    @property
    def qty_diff(self) -> Decimal | None:
        """The run's filled quantity less the backtest's."""
        if self.backtest is None or self.run is None:
            return None
        return self.run.filled_qty - self.backtest.filled_qty

    @property
    def latency_ms(self) -> int | None:
        """From the close of the candle the backtest acted on to the run's first fill."""
        if self.backtest is None or self.run is None or self.run.first_fill_ms is None:
            return None
        return self.run.first_fill_ms - candle_close_ms(self.backtest)

    @property
    def at_ms(self) -> int:
        leg = self.backtest or self.run
        assert leg is not None
        return leg.created_ms


def candle_close_ms(leg: Leg) -> int:
    """The close time of the candle a backtest order acted on (it is sent 1 ms after)."""
    return leg.created_ms - 1


def pair_orders(backtest: list[Leg], run: list[Leg], tolerance_ms: int | None = None) -> list[Pair]:
    """Pair the two runs' orders, in order of occurrence per (symbol, side, type, reduce-only).

    With ``tolerance_ms``, a run order pairs with a backtest order only when it was sent
    between the close of the candle the backtest acted on and ``tolerance_ms`` after it;
    a run order sent earlier is extra, a backtest order with no run order in its window
    is missed. Without it, the k-th order of each kind pairs with the k-th (for runs
    whose candle times and wall clock disagree, as a sandbox at high speed).
    """
    groups: dict[tuple[str, str, str, bool], tuple[list[Leg], list[Leg]]] = defaultdict(
        lambda: ([], [])
    )
    for leg in backtest:
        groups[leg.key][0].append(leg)
    for leg in run:
        groups[leg.key][1].append(leg)
    pairs: list[Pair] = []
    for bt, live in groups.values():
        pairs.extend(_pair_group(bt, live, tolerance_ms))
    pairs.sort(key=lambda p: (p.at_ms, p.kind))
    return pairs


def _pair_group(bt: list[Leg], live: list[Leg], tolerance_ms: int | None) -> list[Pair]:
    out: list[Pair] = []
    i = j = 0
    while i < len(bt) and j < len(live):
        if tolerance_ms is not None:
            close = candle_close_ms(bt[i])
            if live[j].created_ms < close:
                out.append(Pair(None, live[j]))
                j += 1
                continue
            if live[j].created_ms > close + tolerance_ms:
                out.append(Pair(bt[i], None))
                i += 1
                continue
        out.append(Pair(bt[i], live[j]))
        i += 1
        j += 1
    out.extend(Pair(b, None) for b in bt[i:])
    out.extend(Pair(None, r) for r in live[j:])
    return out
