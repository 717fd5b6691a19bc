"""Bot API updates -> frozen types. Telegram's JSON stops here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """A text message sent to the bot."""

    update_id: int
    chat_id: int
    message_id: int
    text: str
    date_s: int
    user: str


@dataclass(frozen=True, slots=True)
class ButtonPress:
    """A press on an inline keyboard button (a ``callback_query``)."""

    update_id: int
    query_id: str
    chat_id: int
    message_id: int
    data: str
    user: str


@dataclass(frozen=True, slots=True)
class OtherUpdate:
    """Anything else (edited messages, photos, ...): only its id matters (the offset)."""

    update_id: int


Update = IncomingMessage | ButtonPress | OtherUpdate


def parse_update(raw: Any) -> Update | None:
    """One element of ``getUpdates``' result; None when it has no usable ``update_id``."""
    if not isinstance(raw, dict) or not isinstance(raw.get("update_id"), int):
        return None
    update_id: int = raw["update_id"]
    message = raw.get("message")
    if isinstance(message, dict) and isinstance(message.get("text"), str):
        chat = message.get("chat") or {}
        if isinstance(chat.get("id"), int):
            return IncomingMessage(
                update_id,
                chat["id"],
                int(message.get("message_id", 0)),
                message["text"],
                int(message.get("date", 0)),
                _user(message.get("from")),
            )
    query = raw.get("callback_query")
    if isinstance(query, dict):
        msg = query.get("message") or {}
        chat = msg.get("chat") or {}
        if isinstance(chat.get("id"), int) and isinstance(query.get("id"), str):
            return ButtonPress(
                update_id,
                query["id"],
                chat["id"],
                int(msg.get("message_id", 0)),
                str(query.get("data") or ""),
                _user(query.get("from")),
            )
    return OtherUpdate(update_id)


def _user(raw: Any) -> str:
    if not isinstance(raw, dict):
        return "?"
    name = raw.get("username") or raw.get("first_name") or ""
    return f"{name}({raw.get('id', '?')})" if name else str(raw.get("id", "?"))
