"""``quick_init``: the faster ``__init__`` of the frozen value types built once or more per
order behaves as the dataclass's own (signature, defaults, keywords, immutability,
equality, hash, replace, pickle), and refuses what it does not support."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
from decimal import Decimal

import pytest

from kinetic.domain import Fill, OrderIntent, OrderType, Side, quick_init
from kinetic.portfolio.positions import EntryPlan
from kinetic.risk.entry import EntryQuote, EntryRequest
from kinetic.risk.manager import EntryDecision


@dataclasses.dataclass(frozen=True, slots=True)
class _Plain:
    a: int
    b: Decimal
    c: str = "x"
    d: int | None = None


_Quick = quick_init(
    dataclasses.make_dataclass(
        "_Quick",
        [("a", int), ("b", Decimal), ("c", str, dataclasses.field(default="x")),
         ("d", int | None, dataclasses.field(default=None))],
        frozen=True, slots=True,
    )
)  # fmt: skip


def test_same_signature_values_and_behaviour_as_the_dataclass_init() -> None:
    assert str(inspect.signature(_Quick)) == "(a, b, c='x', d=None)"
    q = _Quick(1, Decimal("2.5"))
    assert (q.a, q.b, q.c, q.d) == (1, Decimal("2.5"), "x", None)
    assert _Quick(a=1, b=Decimal("2.5"), d=4) == _Quick(1, Decimal("2.5"), "x", 4)
    assert hash(q) == hash(_Quick(1, Decimal("2.5")))
    assert dataclasses.replace(q, c="y") == _Quick(1, Decimal("2.5"), "y")
    with pytest.raises(dataclasses.FrozenInstanceError):
        q.a = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        _Quick(1)  # a required field missing
    with pytest.raises(TypeError):
        _Quick(1, Decimal(1), e=3)  # an unknown keyword


@pytest.mark.parametrize(
    "cls", [Fill, OrderIntent, EntryPlan, EntryRequest, EntryQuote, EntryDecision]
)
def test_the_order_path_types_keep_their_fields_and_round_trip(cls: type) -> None:
    fields = dataclasses.fields(cls)
    names = [f.name for f in fields]
    params = list(inspect.signature(cls).parameters)
    assert params == names
    for f in fields:  # the defaults are the declared ones
        default = inspect.signature(cls).parameters[f.name].default
        assert default == (
            inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default
        )


def test_order_intent_and_fill_pickle_and_compare() -> None:
    intent = OrderIntent(
        "spot", "BTCUSDT", Side.BUY, OrderType.MARKET, Decimal(2), "cid", reason="r"
    )
    assert pickle.loads(pickle.dumps(intent)) == intent
    assert (intent.leverage, intent.price, intent.reason) == (1, None, "r")
    fill = Fill("t1", "cid", "BTCUSDT", Side.BUY, Decimal(2), Decimal(3), Decimal("0.1"), "USDT", 5)
    assert fill == dataclasses.replace(fill)
    assert (fill.is_maker, fill.reduce_only) == (False, False)


def test_refuses_fields_it_cannot_set_plainly() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class WithFactory:
        a: list[int] = dataclasses.field(default_factory=list)

    @dataclasses.dataclass(frozen=True, slots=True)
    class WithPostInit:
        a: int

        def __post_init__(self) -> None:
            pass

    with pytest.raises(TypeError):
        quick_init(WithFactory)
    with pytest.raises(TypeError):
        quick_init(WithPostInit)
    assert _Plain(1, Decimal(1)) == _Plain(1, Decimal(1))  # the reference dataclass
