"""The fake Kraken Futures private WebSocket (v1): challenge, ``open_orders`` and ``fills``.

A client asks for a challenge with its API key, signs it (HMAC-SHA512 with the secret over
SHA-256 of the challenge) and subscribes with the signed challenge; a bad one is answered
with an error and counted in ``auth_failures``. Subscribing sends a snapshot; the tests push
deltas with ``push_order`` / ``push_new_fills`` (or anything with ``push_feed``/``push_raw``).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import uuid
from typing import Any

from aiohttp import WSMsgType, web

from kinetic.clock import Clock
from kinetic.venues.fakes.kraken_common import FakeServerBase


class FakeKrakenFuturesWs(FakeServerBase):
    """The WS v1 feeds over the orders and fills that the REST server keeps."""

    def __init__(self, api_key: str, api_secret: str, clock: Clock | None = None) -> None:
        super().__init__(clock)
        self.api_key, self.api_secret = api_key, api_secret
        self.orders: dict[str, dict[str, Any]] = {}
        self.fills: list[dict[str, Any]] = []
        self.app.router.add_get("/ws/v1", self._ws_v1)
        self.challenges: list[str] = []
        self.signed_challenges: list[str] = []
        self.ws_feeds: dict[web.WebSocketResponse, set[str]] = {}
        self.ws_pings = 0
        self.auth_failures = 0

    async def _ws_v1(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        self.ws_connects += 1
        self.sockets.add(ws)
        self.ws_feeds[ws] = set()
        try:
            async for msg in ws:
                if self.silent or ws in self.muted:
                    continue
                if msg.type is WSMsgType.PING:
                    self.ws_pings += 1
                    await ws.pong(msg.data)
                elif msg.type is WSMsgType.TEXT:
                    await self._ws_v1_request(ws, json.loads(msg.data))
        finally:
            self.ws_feeds.pop(ws, None)
            self.sockets.discard(ws)
        return ws

    async def _ws_v1_request(self, ws: web.WebSocketResponse, req: dict[str, Any]) -> None:
        event, feed = req.get("event"), str(req.get("feed"))
        if event == "challenge":
            if req.get("api_key") != self.api_key:
                await ws.send_json({"event": "error", "message": "Invalid API key"})
                return
            challenge = str(uuid.uuid4())
            self.challenges.append(challenge)
            await ws.send_json({"event": "challenge", "message": challenge})
        elif event == "subscribe" and feed == "heartbeat":
            self.ws_feeds[ws].add(feed)
            await ws.send_json({"event": "subscribed", "feed": feed})
        elif event == "subscribe" and feed in ("open_orders", "fills"):
            await self._ws_v1_private(ws, req, feed)
        else:
            await ws.send_json({"event": "error", "message": "Invalid request"})

    def _challenge_ok(self, req: dict[str, Any]) -> bool:
        challenge = str(req.get("original_challenge"))
        digest = hashlib.sha256(challenge.encode()).digest()
        mac = hmac.new(base64.b64decode(self.api_secret), digest, hashlib.sha512)
        expected = base64.b64encode(mac.digest()).decode()
        return (
            req.get("api_key") == self.api_key
            and challenge in self.challenges
            and req.get("signed_challenge") == expected
        )

    async def _ws_v1_private(
        self, ws: web.WebSocketResponse, req: dict[str, Any], feed: str
    ) -> None:
        if not self._challenge_ok(req):
            self.auth_failures += 1
            await ws.send_json({"event": "error", "message": "Invalid challenge"})
            return
        self.signed_challenges.append(str(req["signed_challenge"]))
        self.ws_feeds[ws].add(feed)
        # Kraken echoes the whole request, signed challenge included.
        await ws.send_json({**req, "event": "subscribed"})
        if feed == "open_orders":
            orders = [self.ws_order(o) for o in self.orders.values() if o["status"] == "open"]
            await ws.send_json({"feed": "open_orders_snapshot", "account": "a", "orders": orders})
        else:
            fills = [self.ws_fill(f) for f in self.fills]
            await ws.send_json({"feed": "fills_snapshot", "account": "a", "fills": fills})

    def ws_order(self, o: dict[str, Any]) -> dict[str, Any]:
        """Return an order in the WS v1 ``open_orders`` shape."""
        kind = {"lmt": "limit", "stp": "stop", "mkt": "limit"}[o["orderType"]]
        out: dict[str, Any] = {
            "instrument": o["symbol"],
            "time": int(self.clock_time() * 1000),
            "last_update_time": int(self.clock_time() * 1000),
            "qty": float(o["size"]),
            "filled": float(o["filled"]),
            "type": kind,
            "order_id": o["order_id"],
            "direction": 0 if o["side"] == "buy" else 1,
            "reduce_only": o["reduceOnly"],
        }
        if o["cliOrdId"]:
            out["cli_ord_id"] = o["cliOrdId"]
        if o["limitPrice"] is not None:
            out["limit_price"] = float(o["limitPrice"])
        if o["stopPrice"] is not None:
            out["stop_price"] = float(o["stopPrice"])
        return out

    def ws_fill(self, f: dict[str, Any]) -> dict[str, Any]:
        """Return a REST-shaped fill in the WS v1 ``fills`` shape."""
        from datetime import datetime

        ts = datetime.fromisoformat(f["fillTime"].replace("Z", "+00:00")).timestamp()
        return {
            "instrument": f["symbol"],
            "time": int(ts * 1000),
            "price": float(f["price"]),
            "seq": len(self.fills),
            "buy": f["side"] == "buy",
            "qty": float(f["size"]),
            "remaining_order_qty": 0.0,
            "order_id": f["order_id"],
            "cli_ord_id": f["cliOrdId"] or None,
            "fill_id": f["fill_id"],
            "fill_type": f["fillType"],
            "fee_paid": 0.05,
            "fee_currency": "USD",
        }

    async def push_feed(self, feed: str, payload: dict[str, Any]) -> None:
        """Send ``{"feed": feed, **payload}`` to every socket subscribed to ``feed``."""
        await self.push_raw(json.dumps({"feed": feed, **payload}), feed)

    async def push_raw(self, text: str, feed: str = "open_orders") -> None:
        """Send ``text`` as is to every socket subscribed to ``feed``."""
        if self.silent:
            return
        for ws, feeds in list(self.ws_feeds.items()):
            if feed in feeds and not ws.closed and ws not in self.muted:
                with contextlib.suppress(ConnectionError):  # the peer vanished (SIGKILL)
                    await ws.send_str(text)

    async def push_order(self, oid: str, *, is_cancel: bool = False, reason: str = "") -> None:
        """Push an ``open_orders`` delta for order ``oid`` (a cancel carries no order)."""
        o = self.orders[oid]
        if is_cancel:
            payload: dict[str, Any] = {"order_id": oid, "cli_ord_id": o["cliOrdId"]}
        else:
            payload = {"order": self.ws_order(o)}
        payload |= {"is_cancel": is_cancel, "reason": reason or "new_placed_order_by_user"}
        await self.push_feed("open_orders", payload)

    async def push_new_fills(self, count: int = 1) -> None:
        """Push the last ``count`` fills as a ``fills`` delta."""
        fills = [self.ws_fill(f) for f in self.fills[-count:]]
        await self.push_feed("fills", {"username": "u", "fills": fills})
