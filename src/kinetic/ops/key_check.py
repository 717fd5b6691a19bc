"""Check venue API keys against the venue's private read-only endpoint (balances).

``secrets set`` calls this before saving a key pair: an authentication failure is
never saved; a network failure is reported as such (saved only with ``--unvalidated``).
"""

from __future__ import annotations

from pydantic import SecretStr

from config import EnvConfig, UnifiedConfig
from kinetic.clock import RealClock
from kinetic.venues.base.errors import AuthError, VenueError

# which (venue, market) clients a key pair can be checked with, in order of preference
_CLIENTS = {
    "BINANCE_API_KEY": (("binance", "spot"), ("binance", "futures")),
    "KRAKEN_API_KEY": (("kraken", "spot"),),
    "KRAKEN_FUTURES_API_KEY": (("kraken", "futures"),),
}


class KeyRejected(Exception):
    """The venue refused the key (authentication or permission)."""


class KeyCheckUnavailable(Exception):
    """The venue could not be asked (network, timeout, 5xx, rate limit)."""


def checkable(pair: tuple[str, ...]) -> bool:
    return pair[0] in _CLIENTS


async def check_pair(
    pair: tuple[str, ...], values: dict[str, str], config: UnifiedConfig, env: EnvConfig
) -> str:
    """Read the balances with the key pair; return the endpoint's description.

    Raises ``KeyRejected`` or ``KeyCheckUnavailable`` with a line that never holds a value.
    """
    from kinetic.venues.factory import keys_for, make_client, venue_urls

    venue, market = _pick(pair[0], config)
    fields = {n.lower(): SecretStr(values[n]) for n in pair}
    keyed = env.model_copy(update=fields)
    urls = venue_urls(config, keyed, live=True)
    client = make_client(venue, market, RealClock(), urls, keys_for(keyed, venue, market),
                         config.venue_state_dir)  # fmt: skip
    where = f"{venue} {market} balances"
    try:
        await client.get_balances()
    except AuthError as exc:
        raise KeyRejected(f"{where}: the venue refused the key ({_why(exc)})") from None
    except (VenueError, OSError, TimeoutError) as exc:
        raise KeyCheckUnavailable(f"{where}: venue not reachable ({_why(exc)})") from None
    finally:
        await client.close()
    return where


def _pick(first: str, config: UnifiedConfig) -> tuple[str, str]:
    options = _CLIENTS[first]
    if first == "BINANCE_API_KEY" and config.spot_venue != "binance":
        return options[1]  # keys for USD-M only: check where they are used
    return options[0]


def _why(exc: BaseException) -> str:
    from kinetic.logging import REDACTOR

    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {REDACTOR.scrub(text)}"[:200]
