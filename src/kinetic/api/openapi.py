"""The OpenAPI 3.1 document of the JSON endpoints, built from the route registry."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from kinetic import __version__
from kinetic.api.registry import ROUTES, RouteSpec

REF = "#/components/schemas/{model}"
_PARAM = re.compile(r"\{(\w+)(?::[^}]*)?\}")
ERROR_CODES = {
    400: "the body is not JSON",
    401: "missing or wrong API token",
    403: "the API is read-only",
    404: "no such engine, order or path",
    409: "not possible now, or the confirmation token is invalid or expired",
    422: "a field is invalid (the message names it)",
    428: "confirmation required: data.confirm_token, valid 60 s, repeats the call",
}


def _envelope(data: dict[str, Any], nullable_data: bool = False) -> dict[str, Any]:
    data_schema = {"anyOf": [data, {"type": "null"}]} if nullable_data else data
    return {
        "type": "object",
        "required": ["data", "error"],
        "properties": {
            "data": data_schema,
            "error": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        },
    }


def _model_ref(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=REF)
    for name, sub in schema.pop("$defs", {}).items():
        components[name] = sub
    components[model.__name__] = schema
    return {"$ref": REF.format(model=model.__name__)}


def _parameters(spec: RouteSpec, components: dict[str, Any]) -> list[dict[str, Any]]:
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PARAM.findall(spec.path)
    ]
    if spec.query is not None:
        schema = spec.query.model_json_schema(ref_template=REF)
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            params.append(
                {"name": name, "in": "query", "required": name in required, "schema": prop}
            )
    return params


def _operation(spec: RouteSpec, components: dict[str, Any]) -> dict[str, Any]:
    data = _model_ref(spec.response, components) if spec.response is not None else {}
    responses: dict[str, Any] = {
        "200": {"description": "ok", "content": {"application/json": {"schema": _envelope(data)}}}
    }
    codes = {404}
    if not spec.public:
        codes.add(401)
    if spec.query is not None or spec.body is not None:
        codes.add(422)
    if spec.body is not None:
        codes.add(400)
    if spec.method != "GET":
        codes |= {403, 409}
    if spec.confirm:
        codes.add(428)
    for code in sorted(codes):
        responses[str(code)] = {
            "description": ERROR_CODES[code],
            "content": {"application/json": {"schema": _envelope({}, nullable_data=True)}},
        }
    op: dict[str, Any] = {
        "summary": spec.summary,
        "tags": [spec.tag],
        "operationId": f"{spec.method.lower()}_{spec.path.strip('/').replace('/', '_')}".replace(
            "{", ""
        ).replace("}", ""),
        "parameters": _parameters(spec, components),
        "responses": responses,
    }
    if spec.body is not None:
        op["requestBody"] = {
            # an empty body reads as {}: required only when the model has required fields
            "required": bool(spec.body.model_json_schema().get("required")),
            "content": {"application/json": {"schema": _model_ref(spec.body, components)}},
        }
    if not spec.public:
        op["security"] = [{"bearer": []}, {}]  # {}: no token configured (loopback)
    return op


def build(app: web.Application) -> dict[str, Any]:
    """The document for every route registered with ``kinetic.api.registry.route``."""
    components: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    for spec in app[ROUTES].values():
        paths.setdefault(spec.path, {})[spec.method.lower()] = _operation(spec, components)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Kinetic control plane",
            "version": __version__,
            "description": "JSON envelope {data, error}; see docs/api.md",
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
