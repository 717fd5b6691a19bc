"""System endpoints, the envelope, auth on and off, read-only mode, the OpenAPI document."""

from __future__ import annotations

import aiohttp

from kinetic import __version__
from kinetic.storage.db import head_revision
from tests.api.conftest import call
from tests.api.harness import LiveDaemon

TOKEN = "s3cret-api-token-for-tests"


async def test_health_names_version_schema_mode_and_each_engine(
    live: LiveDaemon, http: aiohttp.ClientSession
) -> None:
    status, body = await call(http, "GET", live.url + "/api/system/health")
    assert status == 200
    assert body["error"] is None
    data = body["data"]
    assert data["version"] == __version__
    assert data["schema_revision"] == head_revision()
    assert data["mode"] == "replay"
    assert data["uptime_s"] >= 0
    assert set(data["engines"]) == {"spot", "futures"}
    for engine in data["engines"].values():
        assert engine["status"] == "running"
        assert engine["trading_state"] in ("ACTIVE", "REDUCE_ONLY", "HALTED")
        assert isinstance(engine["restarts"], int)


async def test_summary_adds_up_from_the_engines(
    live: LiveDaemon, http: aiohttp.ClientSession
) -> None:
    status, body = await call(http, "GET", live.url + "/api/portfolio/summary")
    assert status == 200
    data = body["data"]
    engines = data["engines"]
    assert set(engines) == {"spot", "futures"}
    total = sum(e["equity_usd"] for e in engines.values())
    assert abs(data["total_value_usd"] - total) < 1e-6 * max(total, 1)
    assert data["open_positions"] == sum(e["open_positions"] for e in engines.values())
    assert data["initial_capital_usd"] == 10_000
    assert data["trading_state"] in ("ACTIVE", "REDUCE_ONLY", "HALTED")
    assert isinstance(data["kill_switch"], bool)


async def test_unknown_api_path_is_a_404_envelope(
    live: LiveDaemon, http: aiohttp.ClientSession
) -> None:
    status, body = await call(http, "GET", live.url + "/api/nope")
    assert status == 404
    assert body["data"] is None
    assert body["error"]


async def test_with_a_token_only_health_and_openapi_are_open(
    live: LiveDaemon, http: aiohttp.ClientSession
) -> None:
    url = live.extra_server(token=TOKEN)
    assert (await call(http, "GET", url + "/api/system/health"))[0] == 200
    assert (await call(http, "GET", url + "/api/openapi.json"))[0] == 200
    status, body = await call(http, "GET", url + "/api/portfolio/summary")
    assert status == 401
    assert "token" in body["error"]
    wrong = {"Authorization": "Bearer " + TOKEN[:-1] + "x"}
    assert (await call(http, "GET", url + "/api/portfolio/summary", headers=wrong))[0] == 401
    right = {"Authorization": f"Bearer {TOKEN}"}
    status, body = await call(http, "GET", url + "/api/portfolio/summary", headers=right)
    assert status == 200
    assert body["data"]["engines"]
    cookie = {"Cookie": f"kinetic_api_token={TOKEN}"}
    assert (await call(http, "GET", url + "/api/engines", headers=cookie))[0] == 200


async def test_without_a_token_the_loopback_api_is_open(
    live: LiveDaemon, http: aiohttp.ClientSession
) -> None:
    assert (await call(http, "GET", live.url + "/api/portfolio/summary"))[0] == 200


async def test_read_only_refuses_every_mutation_with_403_and_reads_still_work(
    live: LiveDaemon, http: aiohttp.ClientSession
) -> None:
    url = live.extra_server(read_only=True)
    mutations = [
        ("POST", "/api/risk/kill_switch", {"active": True, "reason": "ro"}),
        ("POST", "/api/execution/cancel_all", {}),
        ("POST", "/api/execution/flatten_all", {}),
        ("POST", "/api/portfolio/snapshot", {}),
        ("PATCH", "/api/risk/config", {"changes": {"spot_max_positions": 2}}),
        ("PATCH", "/api/engines/spot", {"entries_paused": True}),
        ("POST", "/api/execution/cancel/whatever", {}),
    ]
    for method, path, body in mutations:
        status, answer = await call(http, method, url + path, body)
        assert status == 403, (path, answer)
        assert "read-only" in answer["error"]
    status, body = await call(http, "GET", url + "/api/risk/status")
    assert status == 200
    assert body["data"]["kill_switch"] is False  # the refused kill switch did nothing
    _, events = await call(http, "GET", url + "/api/system/events?kind=operator&limit=200")
    refused = [e["data"] for e in events["data"] if "HTTP 403" in e["data"]["message"]]
    assert {a["action"] for a in refused} >= {
        "kill_switch",
        "cancel_all",
        "flatten_all",
        "risk_config",
        "engine_update",
        "cancel_order",
    }
    assert all(a["outcome"] == "refused" and a["remote"] == "127.0.0.1" for a in refused)


async def test_openapi_lists_every_endpoint_of_the_issue(
    live: LiveDaemon, http: aiohttp.ClientSession
) -> None:
    async with http.get(live.url + "/api/openapi.json") as resp:
        doc = await resp.json()
    assert doc["openapi"].startswith("3.")
    want = {
        ("get", "/api/portfolio/summary"), ("get", "/api/portfolio/positions"),
        ("get", "/api/portfolio/exposure"), ("get", "/api/portfolio/trades"),
        ("get", "/api/portfolio/equity"), ("post", "/api/portfolio/snapshot"),
        ("get", "/api/risk/status"), ("get", "/api/risk/config"), ("patch", "/api/risk/config"),
        ("post", "/api/risk/kill_switch"), ("get", "/api/engines"),
        ("patch", "/api/engines/{name}"), ("get", "/api/engines/{name}/strategy"),
        ("patch", "/api/engines/{name}/strategy"), ("get", "/api/execution/open_orders"),
        ("get", "/api/execution/recent"), ("post", "/api/execution/cancel/{client_order_id}"),
        ("post", "/api/execution/cancel_all"), ("post", "/api/execution/flatten_all"),
        ("get", "/api/system/health"), ("get", "/api/system/config"),
        ("get", "/api/system/events"),
    }  # fmt: skip
    have = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert want <= have, want - have
