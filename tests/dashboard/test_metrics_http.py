"""``curl 127.0.0.1:<port>/metrics`` on a running replay daemon: valid exposition text
(parsed with prometheus_client's own parser) with every family issue 12 lists, the hot-path
histograms filled by real orders, and the token asked for when one is set."""

from __future__ import annotations

import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from tests.api.harness import LiveDaemon
from tests.unit.api.test_metrics import FAMILIES


def _get(url: str, token: str | None = None) -> tuple[int, str, str]:
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


def _wait_for_orders(daemon: LiveDaemon) -> None:
    def traded() -> bool:
        orch = daemon.daemon.orchestrator
        return orch is not None and any(
            e.d.positions.fill_count > 0
            for e in orch.engines.values()  # type: ignore[attr-defined]
        )

    daemon._wait(traded, "a fill")


def test_metrics_parse_with_every_family_and_filled_histograms(daemon: LiveDaemon) -> None:
    _wait_for_orders(daemon)
    status, ctype, text = _get(daemon.url + "/metrics")
    assert status == 200
    assert ctype.startswith("text/plain; version=0.0.4")
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    assert set(fams) >= FAMILIES, sorted(FAMILIES - set(fams))
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in fams.values() for s in f.samples}  # fmt: skip
    equity = samples[("kinetic_portfolio_equity_usd", ())]
    assert equity > 0
    count = sum(v for (n, _), v in samples.items() if n == "kinetic_order_roundtrip_seconds_count")
    assert count >= 1
    c2o = sum(v for (n, _), v in samples.items() if n == "kinetic_candle_to_order_seconds_count")
    assert c2o >= 1
    assert samples[("kinetic_trading_state", (("scope", "daemon"), ("state", "ACTIVE")))] in (0, 1)
    # bounded labels: no client order id, price or free text anywhere
    labels = {v for f in fams.values() for s in f.samples for v in s.labels.values()}
    assert all(len(v) <= 32 and " " not in v for v in labels), labels


def test_metrics_need_the_token_when_one_is_set(daemon: LiveDaemon) -> None:
    url = daemon.extra_server(token="metrics-token") + "/metrics"
    assert _get(url)[0] == 401
    assert _get(url, "wrong")[0] == 401
    status, _ctype, text = _get(url, "metrics-token")
    assert status == 200
    assert "kinetic_portfolio_equity_usd" in text
