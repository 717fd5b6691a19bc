"""The dashboard in headless Debian chromium against a running replay daemon: it loads,
the equity chart fills with live points, an open position appears with its stop, the page
fits a phone, a token is asked for and sent, and the kill-switch button asks for
confirmation, then turns the banner red (and clearing it goes through the API's
one-time confirmation token).

Nothing here sleeps: every wait is for a condition in the page, with a deadline.
"""

from __future__ import annotations

from typing import Any

import pytest

from kinetic.domain import TradingState
from kinetic.supervisor.trading_states import DAEMON
from tests.api.harness import LiveDaemon
from tests.dashboard.conftest import Shots

pytestmark = pytest.mark.slow

DEADLINE_MS = 90_000
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def _page(browser: Any, url: str, viewport: dict[str, int] = DESKTOP) -> Any:
    page = browser.new_page(viewport=viewport)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    page.goto(url + "/")
    return page


def _wait_text(page: Any, selector: str, text: str) -> None:
    """Wait until ``selector``'s text contains ``text``."""
    page.wait_for_function(
        "([sel, text]) => (document.querySelector(sel)?.textContent || '').includes(text)",
        arg=[selector, text],
        timeout=DEADLINE_MS,
    )


def _points(page: Any) -> int:
    return int(page.get_attribute("#chart", "data-points") or 0)


def _wait_points(page: Any, at_least: int) -> None:
    page.wait_for_function(
        f"Number(document.getElementById('chart').dataset.points) >= {at_least}",
        timeout=DEADLINE_MS,
    )


def test_dashboard_loads_live_and_the_equity_chart_gets_points(
    daemon: LiveDaemon, browser: Any, shots: Shots
) -> None:
    page = _page(browser, daemon.url)
    page.wait_for_selector("#conn.on", timeout=DEADLINE_MS)
    _wait_points(page, 3)
    first = _points(page)
    _wait_points(page, first + 2)  # live: new points keep arriving over the stream
    assert page.text_content("#mode") == "replay"
    assert page.text_content("#t-equity", timeout=DEADLINE_MS).startswith("$")
    assert page.locator("#engines .engine").count() == 2
    assert page.locator(".uplot canvas").count() >= 1
    shots.save(page, "dashboard-desktop")
    assert page.errors == []
    page.close()


def test_an_open_position_appears_with_its_stop(
    daemon: LiveDaemon, browser: Any, shots: Shots
) -> None:
    page = _page(browser, daemon.url)
    page.wait_for_selector("#positions tbody tr td:not(.empty)", timeout=DEADLINE_MS)
    row = page.locator("#positions tbody tr").first
    cells = row.locator("td").all_text_contents()
    assert cells[0] in ("spot", "futures")
    assert cells[1] in ("BTCUSDT", "ETHUSDT")
    assert cells[2] in ("LONG", "SHORT")
    assert cells[6] not in ("", "–")  # the stop price is shown
    shots.save(page, "dashboard-position")
    page.close()


def test_phone_width_fits_without_sideways_scrolling(
    daemon: LiveDaemon, browser: Any, shots: Shots
) -> None:
    page = _page(browser, daemon.url, PHONE)
    _wait_points(page, 2)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the phone"
    for button in ("#btn-kill", "#btn-flatten", "#btn-cancel"):
        box = page.locator(button).bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= PHONE["width"]
        assert box["height"] >= 32  # a finger can hit it
    shots.save(page, "dashboard-phone")
    page.close()


def test_token_is_asked_for_kept_in_the_tab_and_sent(
    daemon: LiveDaemon, browser: Any, shots: Shots
) -> None:
    url = daemon.extra_server(token="dash-secret-token")
    page = _page(browser, url)
    page.wait_for_selector("#token-dialog[open]", timeout=DEADLINE_MS)
    _wait_text(page, "#conn", "token needed")
    page.fill("#token-input", "dash-secret-token")
    page.click("#token-save")
    page.wait_for_selector("#conn.on", timeout=DEADLINE_MS)
    _wait_points(page, 1)
    assert page.evaluate("sessionStorage.getItem('kinetic.api_token')") == "dash-secret-token"
    assert page.evaluate("localStorage.length") == 0  # never kept beyond the tab
    page.close()


def test_kill_switch_asks_for_confirmation_then_turns_the_banner_red(
    daemon: LiveDaemon, browser: Any, shots: Shots
) -> None:
    states = daemon.daemon.states
    assert states is not None
    page = _page(browser, daemon.url)
    page.wait_for_selector("#banner.active", timeout=DEADLINE_MS)
    # the first click only asks; cancelling changes nothing
    page.click("#btn-kill")
    page.wait_for_selector("#confirm[open]")
    assert "kill switch" in page.text_content("#confirm-title").lower()
    shots.save(page, "dashboard-kill-confirm", full_page=False)
    page.click("#confirm-no")
    _wait_text(page, "#control-msg", "cancelled")
    assert states.own(DAEMON).state is TradingState.ACTIVE
    # confirmed: the daemon is HALTED and the banner turns red with the cause
    page.click("#btn-kill")
    page.fill("#confirm-reason", "browser test")
    page.click("#confirm-yes")
    page.wait_for_selector("#banner.halted", timeout=DEADLINE_MS)
    assert page.get_attribute("#banner", "data-state") == "HALTED"
    assert "kill switch: browser test" in page.text_content("#banner-cause")
    assert states.own(DAEMON).state is TradingState.HALTED
    color = page.evaluate("getComputedStyle(document.getElementById('banner')).backgroundColor")
    assert color == "rgb(220, 38, 38)"  # red
    shots.save(page, "dashboard-halted")
    # clearing is destructive: the API answers 428 with a one-time token, the page
    # (already confirmed by the operator in its dialog) repeats the call with it
    page.click("#btn-clear")
    page.wait_for_selector("#confirm[open]")
    page.click("#confirm-yes")
    page.wait_for_selector("#banner.active", timeout=DEADLINE_MS)
    assert states.own(DAEMON).state is TradingState.ACTIVE
    _wait_text(page, "#control-msg", "kill switch OFF")
    assert page.errors == []
    page.close()
