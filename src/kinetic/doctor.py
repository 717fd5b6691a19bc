"""``main.py doctor``: start-up checks an operator can run before trading.

For replay mode it checks the configuration, the replay data for every enabled
engine's watchlist and the database (reachable, schema known). For live mode it
also checks that the keys the configured venues need are present; an engine without
keys gets only the public checks, and the private ones are reported as skipped.
"""

from __future__ import annotations

from config import EnvConfig, UnifiedConfig
from kinetic.storage.db import Database, SchemaTooNewError, safe_url

_MARK = {True: "ok", False: "FAIL", None: "skip"}


async def run_doctor(config: UnifiedConfig, env: EnvConfig, db_url: str) -> int:
    """Print one line per check; return 0 when all pass, 1 otherwise."""
    from kinetic.replay_world import replay_symbols

    results: list[tuple[bool | None, str]] = [(True, "configuration valid")]
    for engine, enabled in config.engine_enabled.items():
        if not enabled or env.mode != "replay":
            continue
        files, missing = replay_symbols(config, engine)
        ok = bool(files)
        msg = f"{engine}: replay data for {sorted(files) or 'no symbol'}"
        if missing:
            msg += f" (missing: {missing})"
        results.append((ok, msg))
    if env.mode in ("paper", "live"):
        results.extend(await _venue_checks(config, env))
    if env.mode == "live":
        missing_keys = env.missing_live_keys(config.live_key_groups())
        results.append(
            (
                not missing_keys,
                f"live keys present ({missing_keys or 'all'} missing)"
                if missing_keys
                else "live keys present",
            )
        )
    db = Database(db_url)
    try:
        await db.connect()
        rev = await db.schema_version()
        await db.migrate()
        results.append((True, f"database {safe_url(db_url)} reachable (schema {rev or 'empty'})"))
    except SchemaTooNewError as exc:
        results.append((False, str(exc)))
    except Exception as exc:  # any driver error is a failed check, reported in one line
        results.append((False, f"database {safe_url(db_url)}: {type(exc).__name__}"))
    finally:
        await db.close()
    for state, line in results:
        print(f"[{_MARK[state]}] {line}")
    return 0 if all(state is not False for state, _ in results) else 1


async def _venue_checks(config: UnifiedConfig, env: EnvConfig) -> list[tuple[bool | None, str]]:
    """Connect as the daemon would; in live mode also run the live start-up checks."""
    from decimal import Decimal

    from kinetic.supervisor.allocator import CapitalAllocator
    from kinetic.wiring import StartupError
    from kinetic.worlds import build_venue_world, live_checks

    enabled = CapitalAllocator(config).enabled
    capital = dict.fromkeys(enabled, Decimal(1000))
    try:
        world = await build_venue_world(
            config, env, env.mode, enabled, capital, "doctor", record_candles=False
        )
    except StartupError as exc:
        return [(False, str(exc))]
    except Exception as exc:  # network failures and the like: one line, no traceback
        return [(False, f"venues: {type(exc).__name__}: {exc}")]
    try:
        out: list[tuple[bool | None, str]] = [
            (True, f"{e}: instruments and candles from {world.symbols[e]}") for e in enabled
        ]
        if env.mode == "live":
            keyed = [e for e in enabled if (k := world.keys.get(e)) and k.api_key and k.api_secret]
            out.extend(await live_checks(world, private=keyed))
            out.extend(
                (None, f"{e}: balances and account checks: no API keys") for e in enabled
                if e not in keyed
            )  # fmt: skip
        return out
    finally:
        await world.stop()
