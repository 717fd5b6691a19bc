"""OrderManager: journal first, send once, retry transients, resolve unknowns, reconcile."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from kinetic.clock import ManualClock
from kinetic.domain import MarketType, Order, OrderIntent, OrderStatus, OrderType, Side
from kinetic.execution.oms import OrderManager, VenueHalted
from kinetic.execution.recorder import MemoryRecorder
from kinetic.venues.base.errors import OrderRejected, RateLimited, TransientError
from tests.unit.execution.flaky_venue import (
    ACCEPT_THEN_UNKNOWN,
    AutoClock,
    FlakyVenue,
    JournalSpyVenue,
    make_sim_spot,
)

D = Decimal
SYM = "BTCUSDT"
ENGINE = "spot"


def intent(
    oms: OrderManager,
    side: Side = Side.BUY,
    qty: str = "1",
    *,
    order_type: OrderType = OrderType.MARKET,
    price: str | None = None,
    stop: str | None = None,
    cid: str | None = None,
    reason: str = "entry",
) -> OrderIntent:
    return OrderIntent(
        ENGINE,
        SYM,
        side,
        order_type,
        D(qty),
        cid or oms.next_client_order_id(SYM),
        None if price is None else D(price),
        None if stop is None else D(stop),
        reason=reason,
    )


def journal_status(recorder: MemoryRecorder, cid: str) -> OrderStatus:
    return recorder.orders[cid][1].status


@pytest.fixture
def clock() -> AutoClock:
    return AutoClock()


@pytest.fixture
def recorder() -> MemoryRecorder:
    return MemoryRecorder()


@pytest.fixture
def venue(clock: AutoClock) -> FlakyVenue:
    return FlakyVenue(make_sim_spot(clock, btc="5"))


@pytest.fixture
def oms(venue: FlakyVenue, recorder: MemoryRecorder, clock: AutoClock) -> OrderManager:
    return OrderManager(ENGINE, venue, recorder, clock)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- submit


async def test_submit_journals_order_as_pending_before_venue_sees_it(
    recorder: MemoryRecorder, clock: AutoClock
) -> None:
    spy = JournalSpyVenue(make_sim_spot(clock), recorder)
    oms = OrderManager(ENGINE, spy, recorder, clock)  # type: ignore[arg-type]
    order = await oms.submit(intent(oms))
    assert spy.journal_at_send == {order.client_order_id: OrderStatus.PENDING}
    assert order.status is OrderStatus.FILLED
    assert journal_status(recorder, order.client_order_id) is OrderStatus.FILLED


async def test_submit_when_venue_answers_duplicate_client_id_then_resolves_to_existing_order(
    oms: OrderManager, venue: FlakyVenue
) -> None:
    first = intent(oms, order_type=OrderType.LIMIT, price="90")
    existing = await venue.inner.place_order(first)  # an earlier attempt reached the venue
    order = await oms.submit(first)
    assert order.status is OrderStatus.NEW
    assert order.venue_order_id == existing.venue_order_id
    assert venue.get_order_calls == [first.client_order_id]
    assert [o.client_order_id for o in await venue.get_open_orders(SYM)] == [first.client_order_id]


async def test_submit_when_outcome_unknown_after_acceptance_then_looked_up_not_resent(
    oms: OrderManager, venue: FlakyVenue, recorder: MemoryRecorder
) -> None:
    venue.place_failures.append(ACCEPT_THEN_UNKNOWN)
    it = intent(oms)
    order = await oms.submit(it)
    assert venue.place_calls == [it.client_order_id]
    assert venue.get_order_calls == [it.client_order_id]
    assert venue.accepted == [it.client_order_id]
    assert len(await venue.inner.get_fills(SYM)) == 1  # exactly one order executed
    assert order.status is OrderStatus.FILLED
    assert order.venue_order_id is not None
    assert journal_status(recorder, it.client_order_id) is OrderStatus.FILLED


async def test_submit_when_transient_errors_then_retried_with_backoff_under_same_client_id(
    oms: OrderManager, venue: FlakyVenue, clock: AutoClock
) -> None:
    venue.place_failures.extend([TransientError("502"), TransientError("timeout before send")])
    it = intent(oms)
    order = await oms.submit(it)
    assert venue.place_calls == [it.client_order_id] * 3
    assert venue.accepted == [it.client_order_id]
    assert clock.sleeps == [0.5, 1.0]
    assert order.status is OrderStatus.FILLED
    assert oms.consecutive_failures == 0


async def test_submit_when_rate_limited_then_waits_retry_after(
    oms: OrderManager, venue: FlakyVenue, clock: AutoClock
) -> None:
    venue.place_failures.append(RateLimited("429", retry_after=7.0))
    order = await oms.submit(intent(oms))
    assert clock.sleeps == [7.0]
    assert order.status is OrderStatus.FILLED


async def test_submit_when_all_attempts_fail_then_unknown_and_journaled_not_resent(
    oms: OrderManager, venue: FlakyVenue, recorder: MemoryRecorder
) -> None:
    venue.place_failures.extend([TransientError("down")] * 3)
    venue.get_order_failures.append(TransientError("down"))
    it = intent(oms)
    order = await oms.submit(it)
    assert order.status is OrderStatus.UNKNOWN
    assert journal_status(recorder, it.client_order_id) is OrderStatus.UNKNOWN
    assert venue.accepted == []
    assert oms.consecutive_failures == 4


async def test_has_unknown_while_an_outcome_is_unknown_until_the_lookup_settles_it(
    oms: OrderManager, venue: FlakyVenue
) -> None:
    await oms.submit(intent(oms))  # filled: nothing unknown
    assert not oms.has_unknown()
    venue.place_failures.extend([TransientError("down")] * 3)
    venue.get_order_failures.append(TransientError("down"))
    it = intent(oms)
    await oms.submit(it)
    assert oms.has_unknown()  # it may have filled: the engine's protection is pending
    found = await oms.refresh(it.client_order_id)  # never reached the venue: final
    assert found is not None
    assert found.status is OrderStatus.REJECTED
    assert not oms.has_unknown()


async def test_five_consecutive_transient_failures_halt_venue_and_journal_venue_halt(
    oms: OrderManager, venue: FlakyVenue, recorder: MemoryRecorder
) -> None:
    venue.place_failures.extend([TransientError("down")] * 4)
    venue.get_order_failures.append(TransientError("down"))
    await oms.submit(intent(oms))  # 3 sends + 1 look-up fail: 4 in a row
    with pytest.raises(VenueHalted):
        await oms.submit(intent(oms))  # the 5th consecutive failure
    assert recorder.event_kinds() == ["venue_halt"]
    _kind, message, engine, _ = recorder.events[0]
    assert engine == ENGINE
    assert "5 consecutive" in message


async def test_successful_call_resets_consecutive_failure_count(
    oms: OrderManager, venue: FlakyVenue, recorder: MemoryRecorder
) -> None:
    venue.get_fills_failures.extend([TransientError("down")] * 4)
    for _ in range(4):
        assert await oms.sync_fills(SYM) == []
    assert oms.consecutive_failures == 4
    await oms.submit(intent(oms))
    assert oms.consecutive_failures == 0
    venue.get_fills_failures.extend([TransientError("down")] * 4)
    for _ in range(4):
        await oms.sync_fills(SYM)
    assert recorder.event_kinds() == []


async def test_submit_when_venue_rejects_permanently_then_rejected_in_journal_without_retry(
    oms: OrderManager, venue: FlakyVenue, recorder: MemoryRecorder, clock: AutoClock
) -> None:
    it = intent(oms, qty="0.01")  # notional 1 USDT < min_notional 5: the venue's filter rejects
    order = await oms.submit(it)
    assert order.status is OrderStatus.REJECTED
    assert journal_status(recorder, it.client_order_id) is OrderStatus.REJECTED
    assert venue.place_calls == [it.client_order_id]
    assert clock.sleeps == []
    assert oms.consecutive_failures == 0


async def test_submit_when_injected_rejection_then_rejected_and_not_open(
    oms: OrderManager, venue: FlakyVenue, recorder: MemoryRecorder
) -> None:
    venue.place_failures.append(OrderRejected("-2010 insufficient balance"))
    it = intent(oms)
    order = await oms.submit(it)
    assert order.status is OrderStatus.REJECTED
    assert oms.open_orders() == []
    assert await recorder.open_orders(ENGINE) == []


# ---------------------------------------------------------------------- client ids


BINANCE_CLIENT_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
KRAKEN_SPOT_MAX = 18  # free-text cl_ord_id


async def test_client_ids_when_restarted_then_never_repeat_and_keep_owner_prefix(
    venue: FlakyVenue, recorder: MemoryRecorder, clock: AutoClock
) -> None:
    seen: list[str] = []
    prefixes = set()
    for _start in range(3):
        oms = OrderManager(ENGINE, venue, recorder, clock)  # type: ignore[arg-type]
        await oms.start()
        for _ in range(3):
            seen.append((await oms.submit(intent(oms, qty="0.1"))).client_order_id)
        prefixes.add(oms.ids.owner_prefix)
    assert len(set(seen)) == len(seen) == 9
    assert len(prefixes) == 1  # one installation: orphans are recognised across starts
    (prefix,) = prefixes
    assert all(cid.startswith(prefix) for cid in seen)
    assert all(BINANCE_CLIENT_ID.match(c) and len(c) <= KRAKEN_SPOT_MAX for c in seen)


async def test_client_ids_when_new_database_then_other_instance_and_no_repeat(
    venue: FlakyVenue, clock: AutoClock
) -> None:
    first = OrderManager(ENGINE, venue, MemoryRecorder(), clock)  # type: ignore[arg-type]
    await first.start()
    fresh = OrderManager(ENGINE, venue, MemoryRecorder(), clock)  # type: ignore[arg-type]
    await fresh.start()
    assert first.ids.owner_prefix != fresh.ids.owner_prefix
    assert first.next_client_order_id(SYM) != fresh.next_client_order_id(SYM)


async def test_client_ids_when_database_restored_then_later_start_issues_new_ids(
    venue: FlakyVenue, recorder: MemoryRecorder
) -> None:
    clock = ManualClock(1_800_000_000.0)
    backup = dict(recorder.id_stamps)  # the backup is taken before the next start
    first = OrderManager(ENGINE, venue, recorder, clock)  # type: ignore[arg-type]
    await first.start()
    sent_after_backup = {first.next_client_order_id(SYM) for _ in range(5)}
    recorder.id_stamps = backup  # restored: the database forgot that start
    clock.advance(1.0)
    restored = OrderManager(ENGINE, venue, recorder, clock)  # type: ignore[arg-type]
    await restored.start()
    assert {restored.next_client_order_id(SYM) for _ in range(5)}.isdisjoint(sent_after_backup)


async def test_client_id_starts_of_two_engines_never_share_ids(
    venue: FlakyVenue, recorder: MemoryRecorder, clock: AutoClock
) -> None:
    other = OrderManager("futures", venue, recorder, clock)  # type: ignore[arg-type]
    await other.start()
    mine = OrderManager(ENGINE, venue, recorder, clock)  # type: ignore[arg-type]
    await mine.start()
    assert other.next_client_order_id(SYM) != mine.next_client_order_id(SYM)
    assert not mine.ids.ours(other.next_client_order_id(SYM))


async def test_start_when_failures_were_counted_then_count_is_reset(
    oms: OrderManager, venue: FlakyVenue
) -> None:
    venue.get_fills_failures.extend([TransientError("down")] * 4)
    for _ in range(4):
        await oms.sync_fills(SYM)
    assert oms.consecutive_failures == 4
    await oms.start()  # an engine (re)start
    assert oms.consecutive_failures == 0


# ---------------------------------------------------------------------- fills


async def test_sync_fills_twice_applies_each_fill_once(
    oms: OrderManager, venue: FlakyVenue, recorder: MemoryRecorder
) -> None:
    order = await oms.submit(intent(oms, qty="2"))
    first = await oms.sync_fills(SYM)
    second = await oms.sync_fills(SYM)
    assert [f.client_order_id for f in first] == [order.client_order_id]
    assert second == []
    assert len(recorder.fills) == 1
    journaled = recorder.orders[order.client_order_id][1]
    assert journaled.filled_qty == D("2")
    assert journaled.avg_price == D("100.0")


async def test_sync_fills_picks_up_later_fills_once(
    oms: OrderManager, venue: FlakyVenue, clock: AutoClock
) -> None:
    await oms.submit(intent(oms, qty="1"))
    await oms.sync_fills(SYM)
    clock.advance(60)
    await oms.submit(intent(oms, qty="1"))
    later = await oms.sync_fills(SYM)
    assert len(later) == 1
    assert await oms.sync_fills(SYM) == []


async def test_sync_fills_after_restart_does_not_return_fills_already_journaled(
    venue: FlakyVenue, recorder: MemoryRecorder, clock: AutoClock
) -> None:
    first = OrderManager(ENGINE, venue, recorder, clock)  # type: ignore[arg-type]
    await first.submit(intent(first))
    assert len(await first.sync_fills(SYM)) == 1
    restarted = OrderManager(ENGINE, venue, recorder, clock)  # type: ignore[arg-type]
    await restarted.start()
    assert await restarted.sync_fills(SYM) == []


# ---------------------------------------------------------------------- reconcile


async def test_reconcile_rejects_missing_cancels_resting_entries_and_adopts_stops(
    venue: FlakyVenue, recorder: MemoryRecorder, clock: AutoClock
) -> None:
    before = OrderManager(ENGINE, venue, recorder, clock)  # type: ignore[arg-type]
    entry = await before.submit(intent(before, order_type=OrderType.LIMIT, price="90"))
    stop = await before.submit(
        intent(before, Side.SELL, order_type=OrderType.STOP_MARKET, stop="95", reason="stop_loss")
    )
    lost = intent(before)  # journaled, then the process died before the send

    await recorder.record_order(
        ENGINE,
        Order(lost.client_order_id, SYM, Side.BUY, OrderType.MARKET, D(1), OrderStatus.PENDING),
    )
    assert {o.client_order_id for o in await recorder.open_orders(ENGINE)} == {
        entry.client_order_id,
        stop.client_order_id,
        lost.client_order_id,
    }

    after = OrderManager(ENGINE, venue, recorder, clock)  # type: ignore[arg-type]
    await after.start()
    changed = await after.reconcile()

    assert {o.client_order_id: o.status for o in changed} == {
        entry.client_order_id: OrderStatus.CANCELED,
        stop.client_order_id: OrderStatus.NEW,
        lost.client_order_id: OrderStatus.REJECTED,
    }
    assert journal_status(recorder, lost.client_order_id) is OrderStatus.REJECTED
    assert journal_status(recorder, entry.client_order_id) is OrderStatus.CANCELED
    assert journal_status(recorder, stop.client_order_id) is OrderStatus.NEW
    venue_open = [o.client_order_id for o in await venue.get_open_orders(SYM)]
    assert venue_open == [stop.client_order_id]
    assert [o.client_order_id for o in after.open_orders(SYM)] == [stop.client_order_id]
    assert venue.accepted.count(lost.client_order_id) == 0


async def test_has_open_orders_is_true_only_while_an_order_is_not_final(
    recorder: MemoryRecorder,
) -> None:
    from kinetic.clock import ManualClock
    from kinetic.domain import Candle
    from kinetic.venues.sim import SimSpotExchange, default_instruments

    clock = ManualClock()
    spot = SimSpotExchange(
        default_instruments(MarketType.SPOT, [SYM]), clock, {"USDT": D("100000")}
    )
    spot.on_candle(Candle(SYM, 0, 59_999, 50000.0, 50000.0, 50000.0, 50000.0, 1.0))
    manager = OrderManager(ENGINE, spot, recorder, clock)
    assert not manager.has_open_orders()
    await manager.submit(intent(manager, qty="0.1"))  # market: filled at once
    assert not manager.has_open_orders()
    resting = await manager.submit(intent(manager, qty="0.1", order_type=OrderType.LIMIT,
                                          price="49000"))  # fmt: skip
    assert manager.has_open_orders()
    await manager.cancel(resting.client_order_id)
    assert not manager.has_open_orders()
