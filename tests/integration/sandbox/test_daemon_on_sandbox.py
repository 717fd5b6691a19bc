"""The README's offline path: a paper and a live daemon on the sandbox, run as written.

The README's lines (the constants below; ``tests/integration/test_docs_commands.py``
checks that the README still shows each of them) run in bash, in a working directory
laid out like a fresh clone (``main.py``, ``config.py``, ``data/replay``, the
virtualenv; no ``.env``):

* one bash session is the user's terminal: it activates the virtualenv, starts the
  sandbox in the background, waits for its settings and loads them, exactly as written;
  at the end ``kill %1`` stops the sandbox (exit 0);
* each daemon runs in its own bash, which activates the virtualenv, loads
  ``sandbox.env`` with the README's line and then ``exec``\\ s the README's ``run``
  line, so the daemon gets exactly the environment those lines make.

The daemons run as the README shows them, with the README's quick-demo settings
(``QUICK_DEMO``) and no other ``KINETIC_*`` setting besides the sandbox's own. They are
polled through their SQLite journal (read-only) and the venues through
``GET /_fake/state``, with deadlines, never blind sleeps; SIGTERM stops each one (exit 0)
and ``status`` reports what it did.

Live additionally: the journal equals the venue. While the daemon runs, at a moment
when the venues did not change during the read, every journaled order that reached a
venue is there (open orders by client id, fills by client id and quantity), every venue
order and fill is one of the journal's, and the positions agree (USD-M positions;
spot: the base-asset balances). After the stop, whatever still rests on a venue is an
open order of the journal.

At ``--speed 60`` (the README's) the futures engine enters on its first candles and the
first stops are hit within about 20 s; the spot engine buys (and rests its stop-limits
on the venue) about 30 s after the sandbox starts. The module waits for both engines'
fills and one closed position, so it takes about 40 s.
"""

from __future__ import annotations

import json
import os
import select
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.integration.daemon.support import cli_env
from tests.integration.sandbox.support import REPO_ROOT, alive, poll_until

# ------------------------------------------------------------- the README's lines

README_ACTIVATE = ". .venv/bin/activate"
README_SANDBOX = "python main.py sandbox --speed 60 > sandbox.env &"
README_WAIT = "until grep -q KRAKEN_FUTURES_API_SECRET sandbox.env 2>/dev/null; do sleep 0.2; done"
README_LOAD = "set -a; . ./sandbox.env; set +a"
# The defaults chosen in issue 15 trade selectively (EMA 100/450 needing 450 candles,
# stops 4.5 ATR away) and run the futures engine only: on the sandbox's clock a daemon
# may take an hour to open and close a position. This module checks the plumbing of both
# engines within a minute, so it runs the daemons with the quick-demo settings the README
# gives (spot on, and the settings before issue 15).
QUICK_DEMO = {
    "KINETIC_SPOT_ENABLED": "true",
    "KINETIC_SPOT_MIN_CONFIDENCE": "60",
    "KINETIC_MIN_STOP_ATR": "1.5",
    "KINETIC_STRATEGY_PARAMS": '{"spot_trend": {"fast": 20, "slow": 50}, '
    '"futures_regime": {"fast": 20, "slow": 50}}',
    "KINETIC_FUTURES_MIN_CONFIDENCE": "50",
    "KINETIC_FUTURES_ATR_STOP_MULTIPLIER": "2",
    "KINETIC_FUTURES_TRAILING_ACTIVATION_PCT": "2",
    "KINETIC_FUTURES_TRAILING_DISTANCE_PCT": "1",
    "KINETIC_SPOT_STOP_LOSS_PCT": "3",
    "KINETIC_SPOT_TAKE_PROFIT_PCT": "6",
}
README_PAPER = "python main.py run --mode paper --db data/sandbox-paper.db"
README_LIVE = "python main.py run --mode live --live --db data/sandbox-live.db"
README_STATUS = "python main.py status --db data/sandbox-live.db"
README_STATUS_JSON = "python main.py status --json --db data/sandbox-live.db"
README_STOP = "kill %1"
README_LINES = (
    README_ACTIVATE,
    README_SANDBOX,
    README_WAIT,
    README_LOAD,
    README_PAPER,
    README_LIVE,
    README_STATUS,
    README_STATUS_JSON,
    README_STOP,
)

START_LIMIT_S = 30.0  # the sandbox's settings appear
CLOSE_LIMIT_S = 300.0  # a daemon has opened and closed a position (40-90 s at load 0-4)
AGREE_LIMIT_S = 15.0  # the live journal and the venues agree at a quiet moment
STOP_LIMIT_S = 20.0  # SIGTERM to exit
OPEN = {"NEW", "PARTIALLY_FILLED"}
ZERO = Decimal(0)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
T = TypeVar("T")


# ------------------------------------------------------------------ the terminal


class Shell:
    """A bash session fed line by line, like a terminal (stdout read up to a marker)."""

    def __init__(self, cwd: Path, env: dict[str, str], stderr_path: Path) -> None:
        self.stderr = stderr_path.open("w")
        self.proc = subprocess.Popen(
            ["bash"],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            bufsize=0,
        )
        self._n = 0

    def run(self, line: str, limit_s: float = 10.0) -> tuple[int, str]:
        """Run one line; return its exit status and what it printed."""
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self._n += 1
        marker = f"__kinetic_test_done_{self._n}__ "
        self.proc.stdin.write(f"{line}\necho {marker}$?\n".encode())
        self.proc.stdin.flush()
        fd, raw = self.proc.stdout.fileno(), b""
        deadline = time.monotonic() + limit_s
        # the marker line comes only once the line has finished
        while not (marker.encode() in raw and raw.endswith(b"\n")):
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise AssertionError(f"`{line}` did not finish within {limit_s}s: {raw!r}")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise AssertionError(f"the shell ended during `{line}`: {raw!r}")
            raw += chunk
        out, _, rest = raw.decode().partition(marker)
        return int(rest.split()[0]), out

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self.stderr.close()


def _fresh_clone(root: Path) -> str:
    """A working directory laid out like the repository root; the activation line."""
    for name in ("main.py", "config.py"):
        (root / name).symlink_to(REPO_ROOT / name)
    (root / "data").mkdir()
    (root / "data" / "replay").symlink_to(REPO_ROOT / "data" / "replay")
    if (Path(sys.prefix) / "bin" / "activate").is_file():
        (root / ".venv").symlink_to(Path(sys.prefix))
        return README_ACTIVATE
    # not run from a virtualenv: put this interpreter's directory first instead
    return f'PATH="{Path(sys.executable).parent}:$PATH"'


@dataclass
class Sandbox:
    """The user's terminal after the README's sandbox lines."""

    cwd: Path
    env: dict[str, str]
    activate: str
    shell: Shell
    controls: dict[str, str]  # venue -> base URL of its control API

    def state(self, venue: str) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.controls[venue]}/_fake/state", timeout=5) as r:
            data: dict[str, Any] = json.load(r)
        data.pop("requests", None)
        return data

    def states(self) -> dict[str, dict[str, Any]]:
        return {venue: self.state(venue) for venue in self.controls}

    def bash(self, *lines: str) -> list[str]:
        """``bash -c`` with the activation line first (a second terminal)."""
        return ["bash", "-c", "\n".join((self.activate, *lines))]


def _controls(venue_urls: str) -> dict[str, str]:
    urls = json.loads(venue_urls)
    out = {}
    for venue, key in (
        ("binance_spot", "binance_spot_rest"),
        ("binance_usdm", "binance_futures_rest"),
        ("kraken_spot", "kraken_spot_rest"),
        ("kraken_futures", "kraken_futures_rest"),
    ):
        scheme, rest = urls[key].split("://", 1)
        host = rest.split("/", 1)[0]
        assert host.startswith("127.0.0.1:"), urls[key]  # loopback only, never a real venue
        out[venue] = f"{scheme}://{host}"
    return out


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    cwd = tmp_path_factory.mktemp("clone")
    activate = _fresh_clone(cwd)
    env = cli_env()  # no Kinetic, venue or database setting of the developer's shell
    env |= QUICK_DEMO  # the README's quick-demo settings (issue 15: the defaults are slower)
    shell = Shell(cwd, env, cwd / "terminal.stderr")
    try:
        assert shell.run(activate)[0] == 0
        assert shell.run(README_SANDBOX)[0] == 0
        assert shell.run(README_WAIT, START_LIMIT_S)[0] == 0
        assert shell.run(README_LOAD)[0] == 0
        code, urls = shell.run("printenv KINETIC_VENUE_URLS")
        assert code == 0, "the README's lines did not export KINETIC_VENUE_URLS"
        box = Sandbox(cwd, env, activate, shell, _controls(urls.strip()))
        yield box
        # the README's last line: the sandbox and every venue stop, exit 0
        code, _ = shell.run(README_STOP)
        assert code == 0
        assert shell.run("wait %1", STOP_LIMIT_S)[0] == 0
    finally:
        _stop_sandbox_left(shell, cwd)
        shell.close()


def _stop_sandbox_left(shell: Shell, cwd: Path) -> None:
    """After a failure: SIGTERM the sandbox the terminal started (its pid is on stderr)."""
    shell.stderr.flush()
    for line in (cwd / "terminal.stderr").read_text().splitlines():
        if line.startswith("kinetic sandbox: 4 venues") and "(pid " in line:
            pid = int(line.split("(pid ", 1)[1].split(")", 1)[0])
            if alive(pid):
                os.kill(pid, signal.SIGTERM)
                poll_until(lambda p=pid: alive(p), lambda a: not a, "sandbox stopped", 15)


# ------------------------------------------------------------------------ daemons


@dataclass
class Journal:
    orders: list[dict[str, Any]]
    fills: list[dict[str, Any]]
    positions: list[dict[str, Any]]
    trades: list[dict[str, Any]]


def read_journal(db: Path) -> Journal:
    """The daemon's SQLite journal, read-only (empty before the daemon created it)."""
    if not db.exists():
        return Journal([], [], [], [])
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    con.row_factory = sqlite3.Row
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "trades" not in tables:
            return Journal([], [], [], [])

        def rows(sql: str) -> list[dict[str, Any]]:
            return [dict(r) for r in con.execute(sql)]

        return Journal(
            rows("SELECT * FROM orders ORDER BY created_ms"),
            rows("SELECT * FROM fills"),
            rows("SELECT * FROM positions"),
            rows("SELECT * FROM trades"),
        )
    finally:
        con.close()


class Daemon:
    """A ``python main.py run ...`` started by the README's lines in a second terminal."""

    def __init__(self, box: Sandbox, run_line: str, db: str, log: str) -> None:
        self.box, self.db = box, box.cwd / db
        self.log_path = box.cwd / log
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            box.bash(README_LOAD, f"exec {run_line}"),
            cwd=box.cwd,
            env=box.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def journal(self) -> Journal:
        if self.proc.poll() is not None:
            raise AssertionError(f"daemon exited {self.proc.returncode}:\n{self.tail()}")
        return read_journal(self.db)

    def tail(self) -> str:
        if not self._log.closed:  # after wait() the log is closed; the file is still there
            self._log.flush()
        return "\n".join(self.log_path.read_text().splitlines()[-30:])

    def terminate(self) -> None:
        """SIGTERM to the daemon itself (its bash exec'd it)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def wait(self) -> int:
        """The exit code after ``terminate`` (killed if it does not stop in time)."""
        try:
            return self.proc.wait(STOP_LIMIT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            return -9
        finally:
            self._log.close()

    def status(self, line: str) -> subprocess.CompletedProcess[str]:
        """A README ``status`` line, for this daemon's database."""
        line = line.replace("data/sandbox-live.db", str(self.db.relative_to(self.box.cwd)))
        return subprocess.run(
            self.box.bash(f"exec {line}"),
            cwd=self.box.cwd,
            env=self.box.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


# ------------------------------------------------------------------ the two runs


def journal_vs_venues(j: Journal, states: dict[str, dict[str, Any]]) -> list[str]:
    """Every difference between a live journal and the venues (empty: they agree).

    The default venues are Binance's, so Binance spot and USD-M hold the live daemon's
    orders; the Kraken venues must hold none.
    """
    problems: list[str] = []
    ours = {o["client_order_id"]: o for o in j.orders}
    venue_open: dict[str, dict[str, Any]] = {}
    venue_filled: dict[str, Decimal] = defaultdict(Decimal)
    for venue in ("binance_spot", "binance_usdm"):
        for o in states[venue]["open_orders"]:
            venue_open[o["client_id"]] = o
        for f in states[venue]["fills"]:
            # a USD-M stop fills through the order that executed its algo order
            venue_filled[f.get("algo_client_id") or f["client_id"]] += Decimal(f["qty"])
    for venue in ("kraken_spot", "kraken_futures"):
        if states[venue]["open_orders"] or states[venue]["fills"]:
            problems.append(f"{venue} has orders or fills: {states[venue]}")
    # every journaled order that reached the venue is there, as the journal says
    for cid, o in ours.items():
        qty, status = Decimal(str(o["quantity"])), o["status"]
        if status in OPEN:
            if cid not in venue_open:
                problems.append(f"journal {status} {cid} is not open on the venue")
            elif Decimal(venue_open[cid]["qty"]) != qty:
                problems.append(f"{cid}: journal qty {qty}, venue {venue_open[cid]['qty']}")
        elif cid in venue_open:
            problems.append(f"journal {status} {cid} is still open on the venue")
        if status == "FILLED" and venue_filled.get(cid, ZERO) != qty:
            problems.append(f"journal FILLED {cid} ({qty}): venue fills {venue_filled.get(cid)}")
        if status not in OPEN | {"FILLED", "CANCELED"} and cid in venue_filled:
            problems.append(f"journal {status} {cid} has venue fills")
    # no venue order or fill of ours is missing from the journal
    for cid in set(venue_open) | set(venue_filled):
        if cid not in ours:
            problems.append(f"venue order {cid!r} is not in the journal")
    # the journal's fills are the venues' (by trade id: side, quantity, price)
    venue_fills = {
        (engine, f["id"]): (f["symbol"], f["side"].upper(), Decimal(f["qty"]), Decimal(f["price"]))
        for engine, venue in (("spot", "binance_spot"), ("futures", "binance_usdm"))
        for f in states[venue]["fills"]
    }
    journal_fills = {
        (f["engine"], f["trade_id"]): (
            f["symbol"],
            f["side"],
            Decimal(str(f["quantity"])),
            Decimal(str(f["price"])),
        )
        for f in j.fills
    }
    if journal_fills != venue_fills:
        problems.append(f"fills: journal {journal_fills}, venue {venue_fills}")
    # positions: USD-M positions, and spot base-asset balances, equal the journal's
    journal_pos: dict[tuple[str, str], Decimal] = {}
    for p in j.positions:
        qty = Decimal(str(p["quantity"]))
        journal_pos[(p["engine"], p["symbol"])] = -qty if p["side"] == "SHORT" else qty
    venue_pos = {
        ("futures", p["symbol"]): Decimal(p["qty"]) for p in states["binance_usdm"]["positions"]
    }
    for asset, amount in states["binance_spot"]["balances"].items():
        if asset != "USDT" and Decimal(amount) != 0:
            venue_pos[("spot", f"{asset}USDT")] = Decimal(amount)
    if journal_pos != venue_pos:
        problems.append(f"positions: journal {journal_pos}, venue {venue_pos}")
    return problems


def _agreement(daemon: Daemon, box: Sandbox) -> tuple[Journal, list[str]]:
    """Journal and venues read at a quiet moment (the venues unchanged around the read)."""
    before = box.states()
    j = daemon.journal()
    after = box.states()
    if before != after:
        return j, ["the venues moved during the read"]
    return j, journal_vs_venues(j, after)


def _poll(probe: Callable[[], T], ok: Callable[[T], bool], limit_s: float) -> T:
    """Poll until ``ok`` holds or ``limit_s`` passed; the last value either way."""
    deadline = time.monotonic() + limit_s
    while True:
        value = probe()
        if ok(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


@dataclass
class Run:
    """One daemon's run: what it did, read while running and after its SIGTERM."""

    daemon: Daemon
    while_running: Journal
    problems: list[str]  # live: journal vs venues at a quiet moment while running
    code: int | None = None
    after: Journal | None = None
    states_after: dict[str, dict[str, Any]] | None = None
    status_text: subprocess.CompletedProcess[str] | None = None
    status_json: subprocess.CompletedProcess[str] | None = None


@pytest.fixture(scope="module")
def runs(sandbox: Sandbox) -> dict[str, Run]:
    """The README's paper and live daemons, side by side on the one sandbox.

    They run at the same time (not one after the other as a reader would) to keep the
    module short; paper never touches the venues, so neither disturbs the other.
    """
    paper = Daemon(sandbox, README_PAPER, "data/sandbox-paper.db", "paper.log")
    live = Daemon(sandbox, README_LIVE, "data/sandbox-live.db", "live.log")
    out: dict[str, Run] = {}
    try:
        both = _poll(
            lambda: (paper.journal(), live.journal()),
            lambda pl: traded(pl[0]) and traded(pl[1]),
            CLOSE_LIMIT_S,
        )
        out["paper"] = Run(paper, both[0], [] if traded(both[0]) else ["no trade"])
        if traded(both[1]):
            j, problems = _poll(
                lambda: _agreement(live, sandbox), lambda jp: not jp[1], AGREE_LIMIT_S
            )
            out["live"] = Run(live, j, problems)
        else:
            out["live"] = Run(live, both[1], ["no trade"])
    finally:
        for d in (paper, live):
            d.terminate()
        codes = {"paper": paper.wait(), "live": live.wait()}
    states = sandbox.states()
    with ThreadPoolExecutor(max_workers=4) as pool:
        shown = {
            (name, line): pool.submit(run.daemon.status, line)
            for name, run in out.items()
            for line in (README_STATUS, README_STATUS_JSON)
        }
        for name, run in out.items():
            run.code = codes[name]
            run.after = read_journal(run.daemon.db)
            run.states_after = states
            run.status_text = shown[(name, README_STATUS)].result()
            run.status_json = shown[(name, README_STATUS_JSON)].result()
    return out


def traded(j: Journal) -> bool:
    """Both engines placed and filled orders, and at least one position closed."""
    return {f["engine"] for f in j.fills} == {"spot", "futures"} and bool(j.trades)


def _summary(j: Journal) -> str:
    by_kind: dict[str, int] = defaultdict(int)
    for o in j.orders:
        by_kind[f"{o['engine']} {o['order_type']} {o['status']}"] += 1
    return (
        f"{len(j.orders)} orders {dict(sorted(by_kind.items()))}, {len(j.fills)} fills, "
        f"{len(j.trades)} closed, {len(j.positions)} open positions"
    )


def _check_stopped_and_status(run: Run) -> Journal:
    """SIGTERM gave exit 0; the README's status lines (run after it) show the journal."""
    j = run.after
    assert j is not None
    assert run.code == 0, run.daemon.tail()
    assert traded(j), _summary(j)
    assert {o["status"] for o in j.orders} <= OPEN | {"FILLED", "CANCELED"}, _summary(j)
    text, as_json = run.status_text, run.status_json
    assert text is not None
    assert as_json is not None
    assert text.returncode == 0, text.stderr
    assert "Kinetic status" in text.stdout
    assert as_json.returncode == 0, as_json.stderr
    status: dict[str, Any] = json.loads(as_json.stdout)
    engines = status["engines"]
    assert set(engines) == {"spot", "futures"}
    assert all(e["status"] == "stopped" for e in engines.values()), engines
    assert sum(e["fills"] for e in engines.values()) == len(j.fills), engines
    assert sum(e["open_positions"] for e in engines.values()) == len(j.positions), engines

    def key(p: dict[str, Any]) -> tuple[str, str, str, Decimal]:
        return p["engine"], p["symbol"], p["side"], Decimal(str(p["quantity"]))

    assert sorted(map(key, status["positions"])) == sorted(map(key, j.positions))
    return j


def test_paper_daemon_on_the_sandbox_places_fills_and_closes(runs: dict[str, Run]) -> None:
    run = runs["paper"]
    assert not run.problems, f"{run.problems}: {_summary(run.while_running)}\n{run.daemon.tail()}"
    j = _check_stopped_and_status(run)
    # paper fills in its simulated exchange: no venue ever saw one of its orders
    assert run.states_after is not None
    ids = {o["client_order_id"] for o in j.orders}
    for venue, state in run.states_after.items():
        seen = {o["client_id"] for o in state["open_orders"]} | {
            f.get("algo_client_id") or f["client_id"] for f in state["fills"]
        }
        assert not seen & ids, f"{venue} holds paper orders {seen & ids}"
    print(f"\npaper: {_summary(j)}")


def test_live_daemon_on_the_sandbox_trades_and_its_journal_equals_the_venues(
    runs: dict[str, Run],
) -> None:
    run = runs["live"]
    assert not run.problems, f"{run.problems}: {_summary(run.while_running)}\n{run.daemon.tail()}"
    j = _check_stopped_and_status(run)
    # live orders went to the venues and were filled there
    assert all(o["venue_order_id"] for o in j.orders if o["status"] != "CANCELED")
    states = run.states_after
    assert states is not None
    assert states["binance_spot"]["fills"] or states["binance_usdm"]["fills"]
    # after the stop nothing moves on our side: whatever rests on a venue is an open
    # order of the journal (a stop may have fired since, so the venue may hold fewer),
    # and every venue fill is of a journaled order
    ours_open = {o["client_order_id"] for o in j.orders if o["status"] in OPEN}
    ours = {o["client_order_id"] for o in j.orders}
    for venue in ("binance_spot", "binance_usdm"):
        for o in states[venue]["open_orders"]:
            assert o["client_id"] in ours_open, f"{venue} holds {o}, not open in the journal"
        for f in states[venue]["fills"]:
            assert (f.get("algo_client_id") or f["client_id"]) in ours, f
    print(f"\nlive, while running (agreeing with the venues): {_summary(run.while_running)}")
    print(f"live, after the stop: {_summary(j)}")
