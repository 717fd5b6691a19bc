"""An order whose placement outcome stays unknown is resolved while the engine runs.

The real Binance USD-M client against the fake server: the order POST fails with a 5xx
and so does the lookup by client id, so the OMS holds the order UNKNOWN. A later monitor
step looks it up again (never sends it again): an order the venue never received becomes
final (REJECTED) in the journal; one it received and filled becomes FILLED, its fill
opens the position and the stop is placed. Without this the journal kept UNKNOWN while
the venue had nothing open until the next start (the crash harness's journal check).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from kinetic.domain import OrderStatus
from kinetic.engines.orders import UNKNOWN_SETTLE_S
from tests.integration.engines.rig import BINANCE, Rig, Wiring, open_rig

ETH = BINANCE.symbol
ORDER = "/fapi/v1/order"


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async with open_rig(BINANCE, Wiring()) as made:
        yield made


def journal_status(r: Rig, cid: str) -> str:
    return str(r.recorder.orders[cid][1].status)


async def unknown_entry(r: Rig, kind: str) -> str:
    await r.engine.startup()
    r.server.inject(kind, path=ORDER)  # the order POST
    r.server.inject("503", path=ORDER, times=10)  # and every lookup by client id
    await r.enter_long()
    (cid,) = [o.client_order_id for o in r.engine.d.oms.open_orders()]
    assert r.engine.d.oms.order(cid).status is OrderStatus.UNKNOWN  # type: ignore[union-attr]
    r.server.faults.clear()
    return cid


async def test_unknown_entry_never_received_becomes_rejected(rig: Rig) -> None:
    cid = await unknown_entry(rig, "503")
    await rig.engine.monitor_once()  # too young: not looked up yet
    assert journal_status(rig, cid) == "UNKNOWN"
    rig.clock.advance(UNKNOWN_SETTLE_S)
    await rig.engine.monitor_once()
    assert journal_status(rig, cid) == "REJECTED"
    assert rig.engine.d.oms.open_orders() == []
    assert ETH not in rig.engine.d.positions.positions
    assert rig.server.book.positions.get(ETH, (Decimal(0),))[0] == 0


async def test_unknown_entry_that_filled_becomes_filled_and_protected(rig: Rig) -> None:
    cid = await unknown_entry(rig, "drop_after_accept")
    rig.clock.advance(UNKNOWN_SETTLE_S)
    await rig.engine.monitor_once()
    await rig.engine.monitor_once()
    assert journal_status(rig, cid) == "FILLED"
    assert ETH in rig.engine.d.positions.positions
    assert rig.position_amt() > 0
    assert len(rig.stops()) == 1  # the position got its stop
