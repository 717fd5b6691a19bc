"""Operator commands over Telegram: parse, answer, and act through ``ControlService``.

Read commands are answered from ``views``. Acting commands go through the control
service's operator gate (``operate``), which applies the confirmation rule and writes
the audit event; a destructive one (kill switch off, flatten) comes back unconfirmed
with a one-time token, which this module offers as an inline "Confirm" button. The
button's press redeems the token; nothing here decides what needs confirming.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from kinetic.domain import ClosedTrade
from kinetic.notify.telegram import views
from kinetic.notify.telegram.client import Button

VIA = "telegram"
CONFIRM, CANCEL = "ok:", "no:"
MAX_PENDING = 64  # offered buttons remembered (bounded)
TRADES_DEFAULT, TRADES_MAX = 10, 50

HELP = """Kinetic commands
/status – trading states, value, PnL, breaker
/balance – equity, cash and free margin per engine
/positions – open positions with stops
/pnl – realized and unrealized PnL
/daily – today's PnL and closed trades
/trades [n] – the last n closed trades (default 10)
/orders – open orders
/engines – engine health, restarts, strategy
/pause [engine] – no new entries (exits and stops keep working)
/resume [engine] – entries allowed again
/killswitch – show; /killswitch on [reason] – halt now (stops kept)
/killswitch off [engine] – clear (asks to confirm)
/flatten [reason] – close every position (asks to confirm)
/help – this list"""


class GateReply(Protocol):
    @property
    def outcome(self) -> str: ...

    @property
    def message(self) -> str: ...

    @property
    def confirmation(self) -> Any: ...


class Operator(Protocol):
    """What the commands need of ``ControlService``."""

    def status(self) -> dict[str, Any]: ...

    async def operate(
        self,
        action: str,
        args: dict[str, Any],
        *,
        via: str,
        remote: str = "",
        confirm_token: str | None = None,
    ) -> GateReply: ...


class TradeLog(Protocol):
    async def recent(self, limit: int, since_ms: int | None = None) -> list[ClosedTrade]: ...


@dataclass(frozen=True, slots=True)
class Reply:
    """A message to send: text, and buttons under it."""

    text: str
    buttons: tuple[Button, ...] = ()


@dataclass(frozen=True, slots=True)
class _Offer:
    chat_id: int
    action: str
    args: dict[str, Any]


class CommandRouter:
    """Answer one command or button press at a time."""

    def __init__(
        self,
        control: Operator,
        portfolio: views.Portfolio,
        trades: TradeLog,
        now_ms: Callable[[], int],
    ) -> None:
        self.control = control
        self.portfolio = portfolio
        self.trades = trades
        self.now_ms = now_ms
        self._offers: OrderedDict[str, _Offer] = OrderedDict()
        self._read: Mapping[str, Callable[[list[str]], Awaitable[str]]] = {
            "help": self._help, "start": self._help, "status": self._status,
            "balance": self._balance, "positions": self._positions, "pnl": self._pnl,
            "daily": self._daily, "trades": self._trades, "orders": self._orders,
            "engines": self._engines,
        }  # fmt: skip

    # ------------------------------------------------------------------ commands
    async def handle(self, text: str, *, chat_id: int, user: str) -> Reply:
        """The answer to a message (a command or anything else)."""
        words = text.strip().split()
        if not words or not words[0].startswith("/"):
            return Reply("Send /help for the list of commands.")
        name, args = words[0][1:].split("@", 1)[0].lower(), words[1:]
        read = self._read.get(name)
        if read is not None:
            return Reply(await read(args))
        remote = f"chat {chat_id} user {user}"
        if name in ("pause", "resume"):
            return Reply(await self._pause(name == "pause", args, remote))
        if name == "killswitch":
            return await self._killswitch(args, chat_id, remote, user)
        if name == "flatten":
            reason = " ".join(args) or f"Telegram flatten by {user}"
            return await self._act("flatten_all", {"reason": reason}, chat_id, remote)
        return Reply(f"Unknown command /{name}. Send /help for the list.")

    async def _help(self, _args: list[str]) -> str:
        return HELP

    async def _status(self, _args: list[str]) -> str:
        return views.render_status(self.control.status(), self.portfolio)

    async def _balance(self, _args: list[str]) -> str:
        return views.render_balance(self.portfolio)

    async def _positions(self, _args: list[str]) -> str:
        return views.render_positions(self.portfolio)

    async def _pnl(self, _args: list[str]) -> str:
        return views.render_pnl(self.portfolio)

    async def _daily(self, _args: list[str]) -> str:
        midnight = self.now_ms() // views.DAY_MS * views.DAY_MS
        return views.render_daily(self.portfolio, await self.trades.recent(1000, midnight))

    async def _trades(self, args: list[str]) -> str:
        try:
            n = int(args[0]) if args else TRADES_DEFAULT
        except ValueError:
            n = 0
        if not 1 <= n <= TRADES_MAX:
            return f"Usage: /trades [n], n from 1 to {TRADES_MAX}"
        return views.render_trades(await self.trades.recent(n))

    async def _orders(self, _args: list[str]) -> str:
        return views.render_orders(self.portfolio)

    async def _engines(self, _args: list[str]) -> str:
        return views.render_engines(self.control.status(), self.portfolio)

    async def _pause(self, pause: bool, args: list[str], remote: str) -> str:
        known = list(self.portfolio.engines)
        names = args[:1] or known
        if args and args[0] not in known:
            return f"Unknown engine {args[0]!r} (known: {', '.join(known)})"
        verb = "pause" if pause else "resume"
        lines = []
        for name in names:
            reply = await self.control.operate(
                "engine_update",
                {"engine": name, "entries_paused": pause, "reason": f"Telegram {verb}"},
                via=VIA,
                remote=remote,
            )
            lines.append(reply.message)
        return "\n".join(lines)

    async def _killswitch(self, args: list[str], chat_id: int, remote: str, user: str) -> Reply:
        if not args:
            on = bool(self.control.status().get("kill_switch"))
            return Reply(f"Kill switch is {'ON' if on else 'off'}.\n"
                         "/killswitch on [reason] · /killswitch off [engine]")  # fmt: skip
        word, rest = args[0].lower(), args[1:]
        if word == "on":
            reason = " ".join(rest) or f"Telegram kill switch by {user}"
            return await self._act("kill_switch", {"active": True, "reason": reason}, chat_id,
                                   remote)  # fmt: skip
        if word == "off":
            payload: dict[str, Any] = {"active": False, "reason": f"Telegram clear by {user}"}
            if rest:
                payload["engine"] = rest[0]
            return await self._act("kill_switch", payload, chat_id, remote)
        return Reply("Usage: /killswitch on [reason] · /killswitch off [engine]")

    async def _act(self, action: str, args: dict[str, Any], chat_id: int, remote: str) -> Reply:
        reply = await self.control.operate(action, args, via=VIA, remote=remote)
        conf = reply.confirmation
        if reply.outcome != "unconfirmed" or conf is None:
            return Reply(reply.message)
        self._offers[conf.token] = _Offer(chat_id, action, args)
        while len(self._offers) > MAX_PENDING:
            self._offers.popitem(last=False)
        question = f"Confirm {_describe(action, args)}? (valid {conf.ttl_s:g} s)"
        return Reply(question, (("Confirm", CONFIRM + conf.token), ("Cancel", CANCEL + conf.token)))

    # ------------------------------------------------------------------ buttons
    async def press(self, data: str, *, chat_id: int, user: str) -> str:
        """Carry out (or cancel) a confirmed action; return the text the question becomes."""
        if not data.startswith((CONFIRM, CANCEL)):
            return "Unknown button."
        token = data[len(CONFIRM) :]
        offer = self._offers.pop(token, None)
        if offer is None or offer.chat_id != chat_id:
            return "This confirmation is no longer valid; send the command again."
        if data.startswith(CANCEL):
            return f"Cancelled: {_describe(offer.action, offer.args)}."
        reply = await self.control.operate(
            offer.action, offer.args, via=VIA, remote=f"chat {chat_id} user {user}",
            confirm_token=token,
        )  # fmt: skip
        return str(reply.message)


def _describe(action: str, args: Mapping[str, Any]) -> str:
    if action == "kill_switch":
        scope = args.get("engine") or "every scope"
        return f"kill switch {'ON' if args.get('active') else 'OFF'} ({scope})"
    if action == "flatten_all":
        return "FLATTEN: close every position of every engine"
    return action
