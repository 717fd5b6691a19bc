"""Operator actions through the API on a running replay daemon: the confirmation flow,
pause/resume, disable/enable, cancel one and all, the kill switch, the runtime risk
overlay, the audit entries, and 4xx (never 5xx) on bad input."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import aiohttp

from kinetic.domain import OrderIntent, OrderType, Side
from tests.api.conftest import call
from tests.api.harness import LiveDaemon

TOKEN = "another-api-token-for-tests"


async def _confirmed(
    http: aiohttp.ClientSession, method: str, url: str, body: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    status, first = await call(http, method, url, body)
    assert status == 428, first
    token = first["data"]["confirm_token"]
    return await call(http, method, url, {**body, "confirm_token": token})


async def _audit(http: aiohttp.ClientSession, base: str) -> list[dict[str, Any]]:
    status, body = await call(http, "GET", base + "/api/system/events?kind=operator&limit=200")
    assert status == 200
    return [e["data"] for e in body["data"]]


async def test_cancel_all_needs_a_one_time_token_for_exactly_that_action(
    live: LiveDaemon, http: aiohttp.ClientSession
) -> None:
    url = live.url + "/api/execution/cancel_all"
    status, first = await call(http, "POST", url, {"reason": "flow"})
    assert status == 428
    assert "confirmation" in first["error"]
    token = first["data"]["confirm_token"]
    assert first["data"]["expires_in_s"] == 60
    # the token confirms neither another action nor other arguments, and is spent by trying
    wrong = await call(http, "POST", live.url + "/api/execution/flatten_all",
                       {"reason": "flow", "confirm_token": token})  # fmt: skip
    assert wrong[0] == 409
    status, first = await call(http, "POST", url, {"reason": "flow"})
    token = first["data"]["confirm_token"]
    other_args = await call(http, "POST", url, {"reason": "other", "confirm_token": token})
    assert other_args[0] == 409
    status, first = await call(http, "POST", url, {"reason": "flow"})
    token = first["data"]["confirm_token"]
    status, done = await call(http, "POST", url, {"reason": "flow", "confirm_token": token})
    assert status == 200, done
    assert "stops kept" in done["data"]["message"]
    again = await call(http, "POST", url, {"reason": "flow", "confirm_token": token})
    assert again[0] == 409  # used once
    outcomes = [a["outcome"] for a in await _audit(http, live.url) if a["action"] == "cancel_all"]
    assert outcomes.count("unconfirmed") >= 3
    assert "done" in outcomes
    assert "refused" in outcomes
    entry = next(a for a in await _audit(http, live.url) if a["outcome"] == "done"
                 and a["action"] == "cancel_all")  # fmt: skip
    assert entry["remote"] == "127.0.0.1"
    assert entry["via"] == "api"
    assert entry["args"] == {"reason": "flow"}


async def test_a_refused_token_is_audited_with_the_token_masked(
    live: LiveDaemon, http: aiohttp.ClientSession
) -> None:
    url = live.url + "/api/execution/flatten_all"
    status, _ = await call(http, "POST", url, {"confirm_token": "made-up-token-123"})
    assert status == 409
    url = live.extra_server(token=TOKEN) + "/api/risk/kill_switch"
    status, _ = await call(http, "POST", url, {"active": True, "confirm_token": "leak-me-123"})
    assert status == 401
    entries = await _audit(http, live.url)
    refused = [a for a in entries if a["outcome"] == "refused"]
    assert any(a["action"] == "flatten_all" for a in refused)
    unauth = next(a for a in refused if a["action"] == "kill_switch" and "401" in a["message"])
    # the token is masked by the audit, and credential-like keys never reach the table
    assert unauth["args"]["body"].get("confirm_token", "***") == "***"
    assert unauth["args"]["body"]["active"] is True
    text = str(entries)
    assert "leak-me-123" not in text
    assert "made-up-token-123" not in text


async def test_kill_switch_on_halts_off_needs_confirmation(
    live: LiveDaemon, http: aiohttp.ClientSession
) -> None:
    url = live.url + "/api/risk/kill_switch"
    status, body = await call(http, "POST", url, {"active": True, "reason": "api test"})
    assert status == 200, body
    assert "kill switch ON" in body["data"]["message"]
    _, risk = await call(http, "GET", live.url + "/api/risk/status")
    assert risk["data"]["kill_switch"] is True
    assert risk["data"]["trading_states"]["daemon"]["state"] == "HALTED"
    _, summary = await call(http, "GET", live.url + "/api/portfolio/summary")
    assert summary["data"]["trading_state"] == "HALTED"
    status, body = await _confirmed(http, "POST", url, {"active": False, "reason": "done"})
    assert status == 200, body
    _, risk = await call(http, "GET", live.url + "/api/risk/status")
    assert risk["data"]["kill_switch"] is False
    assert risk["data"]["trading_states"]["daemon"]["state"] == "ACTIVE"


async def _engine(http: aiohttp.ClientSession, base: str, name: str) -> dict[str, Any]:
    _, body = await call(http, "GET", base + "/api/engines")
    return next(e for e in body["data"] if e["name"] == name)


async def test_pause_and_resume_entries_of_one_engine(
    live: LiveDaemon, http: aiohttp.ClientSession
) -> None:
    url = live.url + "/api/engines/spot"
    status, body = await call(http, "PATCH", url, {"entries_paused": True, "reason": "t"})
    assert status == 200, body
    spot = await _engine(http, live.url, "spot")
    assert spot["entries_paused"] is True
    assert spot["effective"] == "REDUCE_ONLY"
    assert (await _engine(http, live.url, "futures"))["effective"] == "ACTIVE"
    status, body = await call(http, "PATCH", url, {"entries_paused": False})
    assert status == 200, body
    assert (await _engine(http, live.url, "spot"))["effective"] == "ACTIVE"


async def test_disable_is_confirmed_halts_the_engine_and_enable_brings_it_back(
    live: LiveDaemon, http: aiohttp.ClientSession
) -> None:
    url = live.url + "/api/engines/futures"
    status, body = await _confirmed(http, "PATCH", url, {"enabled": False, "reason": "t"})
    assert status == 200, body
    futures = await _engine(http, live.url, "futures")
    assert futures["enabled"] is False
    assert futures["effective"] == "HALTED"
    # resuming entries of a disabled engine is not the way back
    assert (await call(http, "PATCH", url, {"entries_paused": False}))[0] == 409
    status, body = await call(http, "PATCH", url, {"enabled": True})
    assert status == 200, body
    assert (await _engine(http, live.url, "futures"))["effective"] == "ACTIVE"


async def test_cancel_one_resting_order_and_refuse_unknown_ones(
    live: LiveDaemon, http: aiohttp.ClientSession
) -> None:
    assert live.daemon.orchestrator is not None
    engine: Any = live.daemon.orchestrator.engines["spot"]

    async def rest() -> str:
        symbol = engine.d.symbols[0]
        price = (engine.price(symbol) or Decimal(100)) / 2
        tick = engine.d.instruments[symbol].tick_size
        cid = engine.d.oms.next_client_order_id(symbol)
        qty = (Decimal(20) / price).quantize(engine.d.instruments[symbol].step_size)
        async with engine._step_lock:
            await engine.d.oms.submit(OrderIntent("spot", symbol, Side.BUY, OrderType.LIMIT,
                                                  qty, cid, price.quantize(tick)))  # fmt: skip
        return str(cid)

    cid = live.call(rest)
    _, orders = await call(http, "GET", live.url + "/api/execution/open_orders")
    assert cid in {o["client_order_id"] for o in orders["data"]}
    status, body = await call(http, "POST", live.url + f"/api/execution/cancel/{cid}", {})
    assert status == 200, body
    _, orders = await call(http, "GET", live.url + "/api/execution/open_orders")
    assert cid not in {o["client_order_id"] for o in orders["data"]}
    status, body = await call(http, "POST", live.url + "/api/execution/cancel/nope-1", {})
    assert status == 404
    assert "nope-1" in body["error"]


async def test_a_protective_stop_is_not_cancelled_by_hand(
    live: LiveDaemon, http: aiohttp.ClientSession
) -> None:
    _, orders = await call(http, "GET", live.url + "/api/execution/open_orders")
    stops = [o for o in orders["data"] if o["protective_stop"]]
    if not stops:  # the replay holds no position right now: nothing to refuse
        return
    cid = stops[0]["client_order_id"]
    status, body = await call(http, "POST", live.url + f"/api/execution/cancel/{cid}", {})
    assert status == 409
    assert "protective stop" in body["error"]


async def test_risk_change_is_validated_confirmed_applied_and_recorded(
    live: LiveDaemon, http: aiohttp.ClientSession
) -> None:
    url = live.url + "/api/risk/config"
    status, body = await call(http, "PATCH", url, {"changes": {"spot_max_positions": -1}})
    assert status == 422
    assert "spot_max_positions" in body["error"]
    assert "allowed" in body["error"]
    status, body = await call(http, "PATCH", url, {"changes": {"spot_watchlist": 1}})
    assert status == 422
    assert "not changeable at run time" in body["error"]
    status, body = await _confirmed(http, "PATCH", url, {"changes": {"spot_max_positions": 2}})
    assert status == 200, body
    assert body["data"]["result"]["changed"] == {"spot_max_positions": {"from": 5, "to": 2}}
    _, now = await call(http, "GET", url)
    assert now["data"]["spot_max_positions"] == 2
    assert live.daemon.orchestrator is not None
    engine: Any = live.daemon.orchestrator.engines["spot"]
    assert engine.d.risk.limits.max_positions == 2
    assert engine.d.config.spot_max_positions == 2
    _, events = await call(http, "GET", live.url + "/api/system/events?kind=config_change")
    assert any("spot_max_positions 5 -> 2" in e["message"] for e in events["data"])
    status, _ = await _confirmed(http, "PATCH", url, {"changes": {"spot_max_positions": 5}})
    assert status == 200


async def test_strategy_parameter_goes_through_the_risk_overlay(
    live: LiveDaemon, http: aiohttp.ClientSession
) -> None:
    url = live.url + "/api/engines/futures/strategy"
    _, before = await call(http, "GET", url)
    old = before["data"]["params"]["min_confidence"]
    status, body = await _confirmed(http, "PATCH", url, {"min_confidence": 77})
    assert status == 200, body
    _, after = await call(http, "GET", url)
    assert after["data"]["params"]["min_confidence"] == 77
    await _confirmed(http, "PATCH", url, {"min_confidence": old})
    assert (await call(http, "PATCH", url, {"min_confidence": 101}))[0] == 422


async def test_bad_input_is_a_4xx_naming_the_field(
    live: LiveDaemon, http: aiohttp.ClientSession
) -> None:
    base = live.url
    async with http.post(base + "/api/risk/kill_switch", data=b"{not json") as resp:
        assert resp.status == 400
        assert "JSON" in (await resp.json())["error"]
    status, body = await call(http, "POST", base + "/api/risk/kill_switch", [1, 2])
    assert status == 422
    status, body = await call(http, "POST", base + "/api/risk/kill_switch", {"active": "maybe"})
    assert status == 422
    assert body["error"].startswith("active")
    status, body = await call(http, "POST", base + "/api/risk/kill_switch", {"actve": True})
    assert status == 422
    assert "actve" in body["error"]
    status, body = await call(http, "GET", base + "/api/portfolio/trades?limit=0")
    assert status == 422
    assert "limit" in body["error"]
    status, body = await call(http, "GET", base + "/api/portfolio/trades?limit=abc")
    assert status == 422
    status, body = await call(http, "GET", base + "/api/portfolio/trades?bogus=1")
    assert status == 422
    assert "bogus" in body["error"]
    status, body = await call(http, "PATCH", base + "/api/engines/margin", {"enabled": True})
    assert status == 404
    assert "margin" in body["error"]
    assert (await call(http, "GET", base + "/api/engines/margin/strategy"))[0] == 404
    assert (await call(http, "DELETE", base + "/api/engines"))[0] == 405


async def test_reads_have_their_shapes(live: LiveDaemon, http: aiohttp.ClientSession) -> None:
    base = live.url
    _, pos = await call(http, "GET", base + "/api/portfolio/positions")
    for p in pos["data"]:
        assert {"engine", "symbol", "side", "quantity", "stop_price", "liquidation_price",
                "unrealized_pnl"} <= set(p)  # fmt: skip
    _, exp = await call(http, "GET", base + "/api/portfolio/exposure")
    assert set(exp["data"]) == {"total_usd", "by_engine", "by_asset"}
    assert set(exp["data"]["by_engine"]) == {"spot", "futures"}
    assert abs(sum(exp["data"]["by_asset"].values()) - exp["data"]["total_usd"]) < 1e-6
    _, eq = await call(http, "GET", base + "/api/portfolio/equity?limit=50")
    assert eq["data"], "no equity snapshot"
    stamps = [p["ts_ms"] for p in eq["data"]]
    assert stamps == sorted(stamps)
    _, trades = await call(http, "GET", base + "/api/portfolio/trades?engine=futures&limit=5")
    assert all(t["engine"] == "futures" for t in trades["data"])
    assert len(trades["data"]) <= 5
    _, recent = await call(http, "GET", base + "/api/execution/recent?limit=5")
    assert 0 < len(recent["data"]) <= 5
    assert all(isinstance(o["fills"], list) for o in recent["data"])
    _, cfg = await call(http, "GET", base + "/api/system/config")
    assert cfg["data"]["config"]["api_host"] == "127.0.0.1"
    status, snap = await call(http, "POST", base + "/api/portfolio/snapshot", {})
    assert status == 200, snap
