"""The live dashboard feed (LiveHub) on the real engines: the state carries positions with
their stops, open orders, trading states with causes and closed trades; the equity
history stays bounded; the SSE stream sends hello, then states, and ends on shutdown."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from kinetic.api.live import RECENT_EVENTS, RECENT_TRADES, LiveHub
from kinetic.domain import ClosedTrade, Direction, PositionSide, Regime, TradingState
from kinetic.supervisor.orchestrator import Orchestrator
from kinetic.supervisor.trading_states import DAEMON
from tests.fakes import MemorySink
from tests.unit.engines.kit import World, futures_world

ETH = "ETHUSDT"


def _orchestrator(w: World) -> Orchestrator:
    return Orchestrator(w.config, {"futures": w.engine}, MemorySink(), w.clock, w.clock)  # type: ignore[dict-item]


async def _enter(w: World, price: float = 2000.0) -> None:
    c = w.candle(ETH, price, price, price, price)
    w.strategy.at(ETH, c.open_time_ms, Direction.LONG, 80, 12.0, Regime.TRENDING, "e")
    await w.step(c)


async def test_state_has_the_position_with_its_stop_the_stop_order_and_the_states() -> None:
    w = futures_world()
    await _enter(w)
    orch = _orchestrator(w)
    hub = LiveHub(lambda: orch, w.clock)
    state = hub.state()
    assert state is not None
    pos = w.engine.d.positions.positions[ETH]
    [shown] = state["positions"]
    assert (shown["symbol"], shown["side"]) == (ETH, "LONG")
    assert shown["stop_price"] == float(pos.stop_price)
    assert shown["quantity"] == float(pos.quantity)
    [order] = state["orders"]
    assert order["type"] == "STOP_MARKET"
    assert order["reduce_only"]
    assert state["risk"]["overall"] == "ACTIVE"
    assert state["summary"]["equity"] == float(w.engine.equity())
    await orch.states.escalate(DAEMON, TradingState.HALTED, "kill switch: test", "operator")
    state = hub.state()
    assert state is not None
    assert state["risk"]["overall"] == "HALTED"
    assert state["risk"]["states"][DAEMON]["cause"] == "kill switch: test"
    assert [e["state"] for e in state["engines"]] == ["HALTED"]


async def test_closed_trades_and_events_reach_the_state_newest_first_and_bounded() -> None:
    w = futures_world()
    orch = _orchestrator(w)
    hub = LiveHub(lambda: orch, w.clock)
    for i in range(60):
        hub.on_event("kill_switch", f"event {i}", None, None)
        hub.on_trade(
            ClosedTrade(
                "futures",
                ETH,
                PositionSide.SHORT,
                Decimal(1),
                Decimal(100),
                Decimal(90),
                i,
                i + 1,
                Decimal(i),
                Decimal(0),
                "take_profit",
            )
        )
    state = hub.state()
    assert state is not None
    assert state["events"][0]["message"] == "event 59"
    assert len(state["events"]) == RECENT_EVENTS
    assert [t["pnl"] for t in state["trades"][:2]] == [59.0, 58.0]
    assert state["trades"][0]["reason"] == "take_profit"
    assert len(state["trades"]) == RECENT_TRADES


async def test_equity_history_is_bounded_and_spans_the_whole_run() -> None:
    w = futures_world()
    orch = _orchestrator(w)
    hub = LiveHub(lambda: orch, w.clock, history_points=16)
    start = w.clock.time()
    for _ in range(200):
        w.clock.set(w.clock.time() + 60)
        hub.tick()
    assert len(hub.history) <= 16
    assert hub.history[0][0] == start + 60  # the first sample is kept
    assert hub.history[-1][0] >= start + 60 * 180  # and the recent end is covered
    times = [p[0] for p in hub.history]
    assert times == sorted(set(times))


async def test_paused_market_clock_adds_no_points() -> None:
    w = futures_world()
    orch = _orchestrator(w)
    hub = LiveHub(lambda: orch, w.clock)
    for _ in range(5):
        hub.tick()
    assert len(hub.history) == 1


async def _events(client: TestClient[Any, Any], count: int) -> list[tuple[str, Any]]:
    resp = await client.get("/api/live")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    out: list[tuple[str, Any]] = []
    event = ""
    while len(out) < count:
        line = (await resp.content.readline()).decode()
        if not line:
            break
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            out.append((event, json.loads(line[5:])))
    resp.close()
    return out


async def test_sse_stream_sends_hello_then_states_and_ends_at_shutdown() -> None:
    w = futures_world()
    await _enter(w)
    orch = _orchestrator(w)
    hub = LiveHub(lambda: orch, w.clock)
    app = web.Application()
    app.router.add_get("/api/live", hub.handle)
    async with TestClient(TestServer(app)) as client:
        resp = await client.get("/api/live")
        first = await resp.content.readuntil(b"\n\n")
        assert first.startswith(b"event: hello\n")
        hello = json.loads(first.split(b"data: ", 1)[1])
        assert hello["state"]["positions"][0]["symbol"] == ETH
        assert hub.streams == 1
        w.clock.set(w.clock.time() + 60)
        hub.tick()
        second = await resp.content.readuntil(b"\n\n")
        assert second.startswith(b"event: state\n")
        await hub.close_streams()
        assert await resp.content.read() == b""  # the server ended the stream
        resp.close()
        refused = await client.get("/api/live")
        assert refused.status == 503
