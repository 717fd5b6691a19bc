"""Funding in live futures (issue 11 item 7): the venue's payments reach the books once.

The FuturesEngine runs live-style (cash from the venue, the funding sync, drift checks
that halt) on each venue's real client against its fake server on 127.0.0.1 (``rig``).
Binance books funding as USD-M income rows (``Book.add_funding``: the wallet moves).
Kraken Futures books it as "funding rate change" entries of the account log
(``realized_funding``; the cash moves) and every fill as a "futures trade" entry; the
client reads ``GET /api/history/v3/account-log``, signed like every private call over the
history path. The engine's funding sync applies the payments through
``PositionManager.apply_funding`` from a checkpoint in the recorder.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from kinetic.domain import TradingState
from kinetic.engines.funding_sync import FundingSync
from kinetic.venues.base.errors import AuthError
from kinetic.venues.kraken.futures import LOG_PAGE
from tests.integration.engines.rig import (
    BINANCE,
    CAPITAL,
    KRAKEN,
    Rig,
    Wiring,
    kraken_client,
    open_rig,
)

D = Decimal
INTERVAL_S = 300
LIVE = Wiring(live=True, funding_interval_s=INTERVAL_S, halt_on_drift=True)


@pytest.fixture(params=[BINANCE, KRAKEN], ids=lambda v: v.name)
async def rig(request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    async with open_rig(request.param, LIVE, cash=CAPITAL) as made:
        yield made


@pytest.fixture
async def binance() -> AsyncIterator[Rig]:
    async with open_rig(BINANCE, LIVE, cash=CAPITAL) as made:
        yield made


@pytest.fixture
async def kraken() -> AsyncIterator[Rig]:
    async with open_rig(KRAKEN, LIVE, cash=CAPITAL) as made:
        yield made


# ------------------------------------------------------------------ the engine, every venue


async def test_funding_applied_once_and_drift_stays_quiet(rig: Rig) -> None:
    await rig.engine.startup()
    await rig.enter_long()
    cash = rig.engine.d.positions.cash
    realized = rig.engine.d.positions.realized_pnl
    # beyond the 1 % cash tolerance (60 USD): unapplied, this is drift
    rig.add_funding(D("-75.5"), rig.clock.time_ms() + 1)
    for _ in range(4):
        await rig.monitor_later(INTERVAL_S)
    positions = rig.engine.d.positions
    assert positions.cash == cash - D("75.5") == rig.venue_cash()
    assert positions.realized_pnl == realized - D("75.5")
    assert positions.funding == D("-75.5")
    assert [e["amount"] for e in rig.funding_events()] == ["-75.5"]
    assert rig.engine.drift is not None
    assert rig.engine.drift.checks >= 2
    assert not rig.engine.drift.drifting
    assert not [e for e in rig.recorder.events if e[0] == "drift"]
    assert rig.gate.state(rig.engine.name) is TradingState.ACTIVE


async def test_funding_not_applied_then_drift_flags_it(rig: Rig) -> None:
    """The control: with the sync off the same payment is drift (what item 7 fixes)."""
    rig.engine.funding = FundingSync(0)
    await rig.engine.startup()
    await rig.enter_long()
    rig.add_funding(D("-75.5"), rig.clock.time_ms() + 1)
    for _ in range(3):
        await rig.monitor_later(INTERVAL_S)
    assert rig.engine.drift is not None
    assert rig.engine.drift.drifting
    assert rig.gate.state(rig.engine.name) is TradingState.REDUCE_ONLY


async def test_restart_applies_funding_booked_while_down_once(rig: Rig) -> None:
    await rig.engine.startup()
    await rig.enter_long()
    rig.add_funding(D("-3.25"), rig.clock.time_ms() + 1)
    for _ in range(3):
        await rig.monitor_later(INTERVAL_S)
    assert [e["amount"] for e in rig.funding_events()] == ["-3.25"]
    assert rig.engine.d.positions.funding == D("-3.25")
    realized_before = rig.engine.d.positions.realized_pnl
    await rig.client.close()  # the process dies; funding is booked meanwhile
    rig.clock.advance(8 * 3600)
    rig.add_funding(D("1.5"), rig.clock.time_ms())
    again = await rig.restart()
    try:
        again.store.add(rig.candle(2000.0))
        await again.engine.startup()
        for _ in range(3):
            await again.monitor_later(INTERVAL_S)
        positions = again.engine.d.positions
        assert [e["amount"] for e in again.funding_events()] == ["-3.25", "1.5"]
        assert positions.cash == rig.venue_cash()  # the venue's cash, not cash + 1.5
        assert positions.funding == D("-1.75")
        # realized PnL: closed trades (none) - open fees + every payment, across the restart
        assert positions.realized_pnl == realized_before + D("1.5")
        assert again.engine.drift is not None
        assert not again.engine.drift.drifting
    finally:
        await again.client.close()


# ------------------------------------------------------------------ Binance USD-M client


async def test_binance_client_lists_funding_fees_exactly_from_since(binance: Rig) -> None:
    rig, eth = binance, binance.venue.symbol
    now = rig.clock.time_ms()
    book = rig.server.book
    old = book.add_funding(eth, D("-0.10000000"), now - 1)
    first = book.add_funding(eth, D("-1.23456789"), now)
    second = book.add_funding("BTCUSDT", D("0.00000001"), now + 8 * 3_600_000)
    book.income.append({**first, "incomeType": "COMMISSION", "tranId": 1})  # not funding
    paid = await rig.client.get_funding_payments(now)
    assert [(p.symbol, p.amount, p.ts_ms, p.id) for p in paid] == [
        (eth, D("-1.23456789"), now, str(first["tranId"])),
        ("BTCUSDT", D("0.00000001"), now + 8 * 3_600_000, str(second["tranId"])),
    ]
    assert str(paid[0].amount) == "-1.23456789"
    assert old["tranId"] not in {p.id for p in paid}


async def test_binance_client_pages_past_a_full_page(binance: Rig) -> None:
    now = binance.clock.time_ms()
    for i in range(1005):
        binance.add_funding(D("-0.01"), now + i // 2)  # two rows share a time
    paid = await binance.client.get_funding_payments(now)
    assert len(paid) == len({p.id for p in paid}) == 1005
    assert sum(p.amount for p in paid) == D("-10.05")


# ------------------------------------------------------------------ Kraken Futures client


async def test_kraken_client_lists_funding_exactly_from_since(kraken: Rig) -> None:
    rig, eth, pf_eth = kraken, kraken.venue.symbol, kraken.venue.venue_symbol
    now = rig.clock.time_ms()
    server = rig.server
    old = server.add_funding(pf_eth, D("-0.1"), now - 1)
    first = server.add_funding(pf_eth, D("-1.23456789"), now)
    trade = server.account_log.add(now + 5, "futures trade", pf_eth, trade_price=2000.0)
    second = server.add_funding("PF_XBTUSD", D("0.00000001"), now + 8 * 3_600_000)
    server.account_log.add(now + 6, "funding rate change", "pi_xbtusd", realized_funding=0.5)
    paid = await rig.client.get_funding_payments(now)
    assert [(p.symbol, p.amount, p.ts_ms, p.id) for p in paid] == [
        (eth, D("-1.23456789"), now, first["booking_uid"]),
        ("BTCUSD", D("1E-8"), now + 8 * 3_600_000, second["booking_uid"]),
    ]
    ids = {p.id for p in paid}
    assert old["booking_uid"] not in ids
    assert trade["booking_uid"] not in ids
    assert rig.venue_cash() == CAPITAL - D("0.1") - D("1.23456789") + D("0.00000001")


async def test_kraken_client_pages_past_a_full_page(kraken: Rig) -> None:
    now = kraken.clock.time_ms()
    for i in range(LOG_PAGE + 105):
        kraken.add_funding(D("-0.01"), now + i // 2)  # two entries share a time
        kraken.server.account_log.add(now + i // 2, "futures trade", kraken.venue.venue_symbol)
    paid = await kraken.client.get_funding_payments(now)
    assert len(paid) == len({p.id for p in paid}) == LOG_PAGE + 105
    assert sum(p.amount for p in paid) == D("-0.01") * (LOG_PAGE + 105)
    assert kraken.server.calls["account-log"] > 2


async def test_kraken_account_log_is_signed_over_the_history_path(kraken: Rig) -> None:
    wrong = kraken_client(kraken.server, kraken.clock, "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA==")
    try:
        with pytest.raises(AuthError):
            await wrong.get_funding_payments(0)
    finally:
        await wrong.close()
    assert await kraken.client.get_funding_payments(0) == []
