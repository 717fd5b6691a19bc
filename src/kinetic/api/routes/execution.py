"""Execution: open orders, recent orders with fills, cancel one, cancel all, flatten all."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from kinetic.api import queries, views
from kinetic.api.context import ApiContext, ctx_of
from kinetic.api.envelope import ok
from kinetic.api.registry import parse_query, route
from kinetic.api.routes.operator import operate

TAG = "execution"


class RecentQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    engine: str | None = Field(None, max_length=64)
    symbol: str | None = Field(None, max_length=32)
    limit: int = Field(50, ge=1, le=500)


class CancelBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConfirmedBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field("", max_length=500)
    confirm_token: str | None = Field(None, max_length=200)


async def open_orders(request: web.Request) -> web.Response:
    return ok(views.open_orders(ctx_of(request).orchestrator))


async def recent(request: web.Request) -> web.Response:
    q = parse_query(request, RecentQuery)
    return ok(await queries.recent_orders(ctx_of(request).db, q.engine, q.symbol, q.limit))


async def cancel(request: web.Request) -> web.Response:
    cid = request.match_info["client_order_id"]
    return await operate(request, "cancel_order", CancelBody, lambda _b: {"client_order_id": cid})


async def cancel_all(request: web.Request) -> web.Response:
    return await operate(request, "cancel_all", ConfirmedBody, lambda b: {"reason": b.reason})


async def flatten_all(request: web.Request) -> web.Response:
    return await operate(request, "flatten_all", ConfirmedBody, lambda b: {"reason": b.reason})


def add_routes(app: web.Application, ctx: ApiContext) -> None:
    route(
        app,
        "GET",
        "/api/execution/open_orders",
        open_orders,
        tag=TAG,
        summary="Open orders of every engine (protective stops marked)",
    )
    route(
        app,
        "GET",
        "/api/execution/recent",
        recent,
        tag=TAG,
        query=RecentQuery,
        summary="The newest orders with their fills and reasons",
    )
    route(
        app,
        "POST",
        "/api/execution/cancel/{client_order_id}",
        cancel,
        tag=TAG,
        body=CancelBody,
        action="cancel_order",
        summary="Cancel one open order (a protective stop is refused)",
    )
    route(
        app,
        "POST",
        "/api/execution/cancel_all",
        cancel_all,
        tag=TAG,
        body=ConfirmedBody,
        action="cancel_all",
        confirm=True,
        summary="Cancel every entry and take-profit order; stops stay (confirmed)",
    )
    route(
        app,
        "POST",
        "/api/execution/flatten_all",
        flatten_all,
        tag=TAG,
        body=ConfirmedBody,
        action="flatten_all",
        confirm=True,
        summary="Close every position reduce-only; daemon REDUCE_ONLY (confirmed)",
    )
