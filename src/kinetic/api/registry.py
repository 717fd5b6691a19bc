"""Routes with their OpenAPI description, and request validation with pydantic.

``route(app, method, path, handler, ...)`` adds an aiohttp route and remembers what the
OpenAPI document needs (summary, tag, query/body models, the ``data`` model of the
answer, whether it needs the token, the audit action of a mutation).
``parse_body`` / ``parse_query`` validate input: a bad value is a 422 naming the field.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from kinetic.api.envelope import ApiError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
M = TypeVar("M", bound=BaseModel)
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True, slots=True)
class RouteSpec:
    """One JSON endpoint as the OpenAPI document describes it."""

    method: str
    path: str
    summary: str
    tag: str
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    public: bool = False
    action: str = ""  # mutations: the audit action name
    confirm: bool = False  # may answer 428 with a confirmation token


ROUTES: web.AppKey[dict[tuple[str, str], RouteSpec]] = web.AppKey("kinetic_api_routes", dict)
PUBLIC_PATHS: web.AppKey[set[str]] = web.AppKey("kinetic_api_public", set)
PROTECTED_PATHS: web.AppKey[list[str]] = web.AppKey("kinetic_api_protected", list)


def init_registry(app: web.Application) -> None:
    app[ROUTES] = {}
    app[PUBLIC_PATHS] = set()
    app[PROTECTED_PATHS] = []


def route(
    app: web.Application,
    method: str,
    path: str,
    handler: Handler,
    *,
    summary: str,
    tag: str,
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    public: bool = False,
    action: str = "",
    confirm: bool = False,
) -> None:
    """Add a JSON endpoint and its OpenAPI description."""
    app.router.add_route(method, path, handler)
    spec = RouteSpec(
        method,
        path,
        summary,
        tag,
        query,
        body,
        response,
        public,
        action or f"{method} {path}",
        confirm,
    )
    app[ROUTES][(method, path)] = spec
    if public:
        app[PUBLIC_PATHS].add(path)


def spec_of(request: web.Request) -> RouteSpec | None:
    """The ``RouteSpec`` of the route that matched ``request`` (None: not a JSON endpoint)."""
    resource = request.match_info.route.resource
    if resource is None:
        return None
    return request.app[ROUTES].get((request.method, resource.canonical))


def describe(exc: ValidationError) -> str:
    """Every problem as ``field: message``, joined (the field named first)."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ())) or "body"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


async def read_json(request: web.Request) -> Any:
    """The request body as JSON (``{}`` when empty); 400 when it is not JSON."""
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "request body is not valid JSON") from None


async def parse_body(request: web.Request, model: type[M]) -> M:
    """Validate the JSON body against ``model``; 422 naming the field on bad input."""
    data = await read_json(request)
    if not isinstance(data, dict):
        raise ApiError(422, "body: expected a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(422, describe(exc)) from None


def parse_query(request: web.Request, model: type[M]) -> M:
    """Validate the query string against ``model``; 422 naming the parameter."""
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        raise ApiError(422, describe(exc)) from None
