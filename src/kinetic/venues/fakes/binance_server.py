"""A fake Binance (spot or USD-M) on 127.0.0.1: REST + WS subset the clients use.

Verifies HMAC signatures, API key and timestamp/recvWindow (answers -1021 when the
caller's clock is skewed), keeps orders by client id, fills on ``set_price`` and can
inject faults: 429/418 with ``Retry-After``, 5xx, a hang after an order was accepted,
dropped and silent WebSocket connections, clock skew, duplicate client ids.

    server = FakeBinance(futures=False, clock=clock)
    await server.start()          # server.url -> "http://127.0.0.1:<port>"
    server.inject("429", retry_after=3)
    await server.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from kinetic.clock import Clock, RealClock
from kinetic.marketdata.files import INTERVAL_MS
from kinetic.venues.fakes.binance_routes import build_routes
from kinetic.venues.fakes.binance_state import ApiError, Book
from kinetic.venues.fakes.control import BinanceControl, add_control_routes
from kinetic.venues.fakes.tape import Bar, Tape

API_KEY = "fake-binance-key-0123456789abcdef"
API_SECRET = "fake-binance-secret-fedcba9876543210"  # noqa: S105 - a fake's test key

REQUESTS_KEPT = 10_000
Handler = Callable[[dict[str, str]], Awaitable[Any]]


@dataclass
class Fault:
    kind: str  # "429" | "418" | "500" | "503" | "hang_after_accept" | "drop_after_accept"
    path: str | None
    times: int
    retry_after: float | None
    after: int = 0  # matching requests to let through first


class FakeBinance:
    """The fake venue. ``futures`` selects USD-M paths and shapes."""

    def __init__(self, *, futures: bool = False, clock: Clock | None = None) -> None:
        self.futures = futures
        self.clock = clock or RealClock()
        self.book = Book(futures)
        self.skew_ms = 0
        self.ban_until = 0.0
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str, float]] = []  # the newest REQUESTS_KEPT or more
        self.request_total = 0
        # the request weight used in the current minute, as the real venue reports it in
        # X-MBX-USED-WEIGHT-1M (one per request here); a running total would tell the
        # client's limiter that every later minute is spent already
        self._weight_minute = -1
        self.weight_used_1m = 0
        self.request_counts: Counter[str] = Counter()  # "METHOD /path" -> requests
        self.rejected_during_ban = 0
        self.signatures: list[str] = []
        self.market_ws: list[tuple[web.WebSocketResponse, set[str]]] = []
        self.user_ws: list[web.WebSocketResponse] = []
        self.ws_connects = 0
        self.ws_silent = False
        self.listen_keys: set[str] = set()
        self._hang = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._routes = build_routes(self)
        self.url = ""
        self.tape: Tape | None = None  # the sandbox's candle tape (klines, prices)
        self._tape_seen: dict[str, int] = {}
        self._pushed: dict[str, int] = {}

    # ------------------------------------------------------------ life cycle
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        app = web.Application()
        add_control_routes(app, BinanceControl(self))
        market = "/market/stream" if self.futures else "/stream"
        app.router.add_get(market, self._market_ws)
        app.router.add_get("/private/ws", self._private_ws)
        app.router.add_get("/ws-api/v3", self._ws_api)
        app.router.add_route("*", "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://{host}:{port}"
        self.ws_url = f"ws://{host}:{port}"

    async def stop(self) -> None:
        self._hang.set()
        await self.drop_ws()
        if self._runner is not None:
            await self._runner.cleanup()

    # ------------------------------------------------------------ test controls
    def now_ms(self) -> int:
        return self.clock.time_ms() + self.skew_ms

    def inject(
        self,
        kind: str,
        *,
        path: str | None = None,
        times: int = 1,
        retry_after: float | None = None,
        after: int = 0,
    ) -> None:
        """Fail the next ``times`` requests of ``path`` after letting ``after`` through."""
        self.faults.append(Fault(kind, path, times, retry_after, after))

    def set_price(self, symbol: str, price: Decimal) -> None:
        self.book.set_price(symbol, price, self.now_ms())

    def add_candle(
        self,
        symbol: str,
        open_ms: int,
        close: float,
        interval_ms: int = 60_000,
    ) -> list[Any]:
        row = [
            open_ms,
            str(close),
            str(close + 1),
            str(close - 1),
            str(close),
            "10",
            open_ms + interval_ms - 1,
            "100",
            5,
            "5",
            "50",
            "0",
        ]
        self.book.candles.setdefault(symbol, []).append(row)
        return row

    def add_funding_rate(
        self, symbol: str, ts_ms: int, rate: str, mark_price: str = "0"
    ) -> dict[str, Any]:
        """Add a settled funding rate to ``GET /fapi/v1/fundingRate`` (keep them in order)."""
        row = {"symbol": symbol, "fundingTime": ts_ms, "fundingRate": rate, "markPrice": mark_price}
        self.book.funding_rates.setdefault(symbol, []).append(row)
        return row

    def add_mark_candle(
        self, symbol: str, open_ms: int, close: float, interval_ms: int = 60_000
    ) -> list[Any]:
        """Add a mark-price kline row (volume columns ``"0"``, as the venue sends)."""
        row = [open_ms, str(close), str(close + 0.5), str(close - 0.5), str(close), "0",
               open_ms + interval_ms - 1, "0", 12, "0", "0", "0"]  # fmt: skip
        self.book.mark_candles.setdefault(symbol, []).append(row)
        return row

    async def push_kline(
        self, symbol: str, row: list[Any], *, closed: bool, interval: str = "1m"
    ) -> int:
        """Send a kline event to every subscribed market connection; return how many."""
        stream = f"{symbol.lower()}@kline_{interval}"
        k = {
            "t": row[0],
            "T": row[6],
            "s": symbol,
            "i": interval,
            "o": row[1],
            "c": row[4],
            "h": row[2],
            "l": row[3],
            "v": row[5],
            "n": row[8],
            "x": closed,
            "q": row[7],
        }
        msg = {"stream": stream, "data": {"e": "kline", "E": self.now_ms(), "s": symbol, "k": k}}
        return await self._broadcast(stream, msg)

    # ------------------------------------------------------------ candle tape
    def tape_klines(self, q: dict[str, str]) -> list[list[Any]]:
        """Answer ``klines`` from the tape (closed bars and the forming one)."""
        assert self.tape is not None
        step = INTERVAL_MS.get(q.get("interval", ""))
        if step is None or q["symbol"] not in self.tape.series:
            raise ApiError(-1120, "Invalid interval.")
        bars = self.tape.bars(
            q["symbol"],
            step,
            start_ms=int(q["startTime"]) if "startTime" in q else None,
            end_ms=int(q["endTime"]) if "endTime" in q else None,
            limit=min(int(q.get("limit", 500)), 1500 if self.futures else 1000),
        )
        return [_kline_row(bar, step) for bar in bars]

    async def tape_tick(self) -> None:
        """Move prices to the tape's last closes and push newly closed klines."""
        assert self.tape is not None
        now = self.tape.market_now_ms()
        for symbol, sym in self.book.symbols.items():
            if symbol not in self.tape.series:
                continue
            n = self.tape.closed_count(symbol, now)
            if self._tape_seen.get(symbol) != n:
                self._tape_seen[symbol] = n
                price = Decimal(repr(self.tape.last_close(symbol, now))).quantize(sym.tick)
                self.set_price(symbol, price)
        for stream in sorted({s for _, streams in self.market_ws for s in streams}):
            await self._push_closed(stream, now)

    async def _push_closed(self, stream: str, now: int) -> None:
        name, _, interval = stream.partition("@kline_")
        symbol, step = name.upper(), INTERVAL_MS.get(interval)
        if step is None or self.tape is None or symbol not in self.tape.series:
            return
        last_closed = now // step * step - step
        start = self._pushed.get(stream, last_closed)
        for open_ms in range(start + step, last_closed + step, step)[-100:]:
            bar = self.tape.bar(symbol, step, open_ms, now)
            if bar is not None:
                await self.push_kline(symbol, _kline_row(bar, step), closed=True, interval=interval)
        self._pushed[stream] = last_closed

    async def push_raw(self, stream: str, text: str) -> int:
        return await self._broadcast(stream, text)

    async def push_user_event(self, event: dict[str, Any]) -> None:
        payload = event if self.futures else {"subscriptionId": 0, "event": event}
        for ws in list(self.user_ws):
            if not ws.closed:
                with contextlib.suppress(ConnectionError):  # the peer vanished (SIGKILL)
                    await ws.send_str(json.dumps(payload))

    async def drop_ws(self) -> None:
        for ws, _ in list(self.market_ws):
            await ws.close()
        for ws in list(self.user_ws):
            await ws.close()
        self.market_ws.clear()
        self.user_ws.clear()

    async def _broadcast(self, stream: str, msg: Any) -> int:
        text = msg if isinstance(msg, str) else json.dumps(msg)
        sent = 0
        for ws, streams in list(self.market_ws):
            if stream in streams and not ws.closed and not self.ws_silent:
                try:
                    await ws.send_str(text)
                except ConnectionError:  # the peer vanished mid-send: one less subscriber
                    continue
                sent += 1
        return sent

    # ------------------------------------------------------------ REST
    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path, method = "/" + request.match_info["tail"], request.method
        now = self.clock.time()
        self._note_request(method, path, now, request.query_string)
        if now < self.ban_until:
            self.rejected_during_ban += 1
            return self._error(418, -1003, "IP banned", retry_after=self.ban_until - now)
        fault = self._take_fault(path)
        if fault is not None and fault.kind in ("429", "418", "500", "503"):
            return self._fault_response(fault, now)
        try:
            result = await self._dispatch(request, method, path)
        except ApiError as exc:
            return self._error(exc.status, exc.code, exc.msg)
        if fault is not None and fault.kind == "hang_after_accept":
            await self._hang.wait()
        if fault is not None and fault.kind == "drop_after_accept" and request.transport:
            request.transport.close()
        headers = {"X-MBX-USED-WEIGHT-1M": str(self.weight_used_1m)}
        return web.json_response(result, headers=headers)

    def _note_request(self, method: str, path: str, now: float, query: str) -> None:
        """Count the request; keep the newest ones (trimmed in batches, memory bounded)."""
        self.request_total += 1
        minute = int(now // 60)
        if minute != self._weight_minute:
            self._weight_minute, self.weight_used_1m = minute, 0
        self.weight_used_1m += 1
        self.request_counts[f"{method} {path}"] += 1
        self.requests.append((method, path, now))
        if "signature=" in query:
            self.signatures.append(query.rpartition("signature=")[2])
        _trim(self.requests)
        _trim(self.signatures)

    async def _dispatch(self, request: web.Request, method: str, path: str) -> Any:
        route = self._routes.get((method, path))
        if route is None:
            raise ApiError(-1000, f"no route {method} {path}", status=404)
        handler, security = route
        body = await request.text()
        # POST/PUT/DELETE may send parameters in the query and/or the form body; a
        # parameter sent in both is read from the query string (as the venue documents)
        params = {**dict(parse_qsl(body, keep_blank_values=True)), **dict(request.query)}
        if security != "NONE":
            self._check_key(request)
        if security == "SIGNED":
            self._check_signature(request.query_string, body, params)
        return await handler(params)

    def _check_key(self, request: web.Request) -> None:
        if request.headers.get("X-MBX-APIKEY") != API_KEY:
            raise ApiError(-2015, "Invalid API-key, IP, or permissions for action.", 401)

    def _check_signature(self, query: str, body: str, params: dict[str, str]) -> None:
        """The signature (last in the query or the body) covers query + body bytes."""
        signed_query, query_sig = _split_signature(query)
        signed_body, body_sig = _split_signature(body)
        sig = query_sig or body_sig
        expected = hmac.new(
            API_SECRET.encode(), (signed_query + signed_body).encode(), hashlib.sha256
        ).hexdigest()
        if not sig or not hmac.compare_digest(sig.lower(), expected):
            raise ApiError(-1022, "Signature for this request is not valid.")
        ts, window = int(params.get("timestamp", 0)), float(params.get("recvWindow", 5000))
        server = self.now_ms()
        if not (ts < server + 1000 and server - ts <= window):
            raise ApiError(-1021, "Timestamp for this request is outside of the recvWindow.")

    def _take_fault(self, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.path is None or fault.path == path:
                if fault.after > 0:
                    fault.after -= 1
                    return None
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def _fault_response(self, fault: Fault, now: float) -> web.Response:
        if fault.kind == "418":
            self.ban_until = now + (fault.retry_after or 120)
            return self._error(418, -1003, "IP banned", retry_after=fault.retry_after or 120)
        if fault.kind == "429":
            return self._error(
                429, -1003, "Too much request weight used", retry_after=fault.retry_after
            )
        return web.Response(status=int(fault.kind), text="<html>Internal error</html>")

    @staticmethod
    def _error(
        status: int,
        code: int,
        msg: str,
        retry_after: float | None = None,
    ) -> web.Response:
        headers = {"Retry-After": str(int(retry_after))} if retry_after is not None else {}
        return web.json_response({"code": code, "msg": msg}, status=status, headers=headers)

    # ------------------------------------------------------------ WebSockets
    async def _market_ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        self.ws_connects += 1
        entry = (ws, set(request.query.get("streams", "").split("/")))
        self.market_ws.append(entry)
        await self._serve(ws)
        if entry in self.market_ws:
            self.market_ws.remove(entry)
        return ws

    async def _private_ws(self, request: web.Request) -> web.WebSocketResponse:
        if request.query.get("listenKey") not in self.listen_keys:
            raise web.HTTPBadRequest(text='{"code":-1125,"msg":"Invalid listenKey."}')
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        self.user_ws.append(ws)
        await self._serve(ws)
        return ws

    async def _ws_api(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        await self._serve(ws, on_text=lambda text: self._ws_api_call(ws, text))
        return ws

    async def _ws_api_call(self, ws: web.WebSocketResponse, text: str) -> None:
        req = json.loads(text)
        params = {
            k: str(v).lower() if isinstance(v, bool) else str(v)
            for k, v in req.get("params", {}).items()
        }
        payload = "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "signature")
        expected = hmac.new(API_SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()
        ok = (
            req.get("method") == "userDataStream.subscribe.signature"
            and params.get("apiKey") == API_KEY
            and params.get("signature") == expected
        )
        if ok:
            self.user_ws.append(ws)
            await ws.send_json(
                {"id": req.get("id"), "status": 200, "result": {"subscriptionId": 0}}
            )
        else:
            await ws.send_json(
                {
                    "id": req.get("id"),
                    "status": 400,
                    "error": {"code": -1022, "msg": "Signature is not valid."},
                }
            )

    async def _serve(
        self, ws: web.WebSocketResponse, on_text: Callable[[str], Awaitable[None]] | None = None
    ) -> None:
        async for msg in ws:
            if msg.type == WSMsgType.PING and not self.ws_silent:
                await ws.pong(msg.data)
            elif msg.type == WSMsgType.TEXT and on_text is not None:
                await on_text(msg.data)


def _trim(kept: list[Any]) -> None:
    """Keep the newest REQUESTS_KEPT entries once twice as many piled up."""
    if len(kept) > 2 * REQUESTS_KEPT:
        del kept[:-REQUESTS_KEPT]


def _split_signature(text: str) -> tuple[str, str]:
    """``(text without its trailing signature parameter, the signature)``."""
    head, sep, sig = text.rpartition("signature=")
    if not sep or (head and not head.endswith("&")):
        return text, ""
    return head.removesuffix("&"), sig


def _kline_row(bar: Bar, step: int) -> list[Any]:
    t, o, h, lo, c, v = bar
    quote = v * c
    return [
        t,
        f"{o:.8f}",
        f"{h:.8f}",
        f"{lo:.8f}",
        f"{c:.8f}",
        f"{v:.8f}",
        t + step - 1,
        f"{quote:.8f}",
        1,
        f"{v / 2:.8f}",
        f"{quote / 2:.8f}",
        "0",
    ]
