"""``domain.builder`` builds the very object ``cls(...)`` builds; ``snapshot`` copies every
field of an ``Order``."""

from __future__ import annotations

import dataclasses
import pickle
from decimal import Decimal

import pytest

from kinetic.domain import (
    CapitalAllocation,
    ClosedTrade,
    Fill,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    Position,
    PositionSide,
    Side,
    Signal,
    builder,
)
from kinetic.portfolio.positions import EntryPlan
from kinetic.venues.sim.book import snapshot

D = Decimal
FILL_ARGS = ("t1", "c1", "BTCUSDT", Side.BUY, D("2"), D("3.5"), D("0.1"), "USDT", 7)
INTENT_ARGS = ("spot", "BTCUSDT", Side.SELL, OrderType.MARKET, D("1.50"), "cid", None, None, True)


@pytest.mark.parametrize(
    ("cls", "args"),
    [
        (Fill, FILL_ARGS),
        (Fill, (*FILL_ARGS, True, True)),
        (OrderIntent, INTENT_ARGS),
        (EntryPlan, (PositionSide.LONG, D("1"), None)),
        (CapitalAllocation, ("spot", 100.0, D("1E+3"), D("0"), D("1000"))),
    ],
)
def test_built_objects_are_what_the_class_builds(cls: type, args: tuple[object, ...]) -> None:
    built, made = builder(cls)(*args), cls(*args)
    assert type(built) is cls
    assert built == made
    assert hash(built) == hash(made)
    assert repr(built) == repr(made)  # every field, defaults included, with its exponent
    assert pickle.loads(pickle.dumps(built)) == made
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(built, dataclasses.fields(cls)[0].name, "X")


def test_keywords_and_mutable_classes() -> None:
    kw = {"symbol": "S", "side": PositionSide.SHORT, "quantity": D("1"), "entry_price": D("2"),
          "opened_ms": 3, "stop_price": D("4"), "confidence": 5, "entry_reason": "r"}  # fmt: skip
    built = builder(Position)(**kw)
    assert type(built) is Position
    assert built == Position(**kw)  # type: ignore[arg-type]
    built.quantity = D("9")  # a mutable class stays mutable
    trade = {"engine": "spot", "symbol": "S", "side": PositionSide.LONG, "quantity": D("1"),
             "entry_price": D("2"), "exit_price": D("3"), "opened_ms": 1, "closed_ms": 2,
             "pnl": D("1"), "fees": D("0"), "exit_reason": "x"}  # fmt: skip
    assert builder(ClosedTrade)(**trade) == ClosedTrade(**trade)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        builder(ClosedTrade)(**trade, unknown=1)


def test_classes_it_cannot_build_faithfully_are_refused() -> None:
    with pytest.raises(TypeError, match="Signal"):
        builder(Signal)  # __post_init__ and a default factory


def test_snapshot_copies_every_field() -> None:
    values = ("c", "S", Side.BUY, OrderType.STOP_LIMIT, D("1.0"), OrderStatus.NEW, D("2"),
              D("3"), True, "v7", D("0.5"), D("2.00"), 6, 7)  # fmt: skip
    order = Order(*values)  # type: ignore[arg-type]
    copy = snapshot(order)
    assert type(copy) is Order
    assert copy is not order
    assert dataclasses.astuple(copy) == dataclasses.astuple(order) == values
    copy.status = OrderStatus.FILLED
    assert order.status is OrderStatus.NEW
