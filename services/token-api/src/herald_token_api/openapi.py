"""The OpenAPI 3.1 document, rendered from the endpoint declarations the routes are built from."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from herald_token_api.names import PROBLEM_CONTENT_TYPE, SERVICE_KEY_HEADER
from herald_token_api.schemas import ProblemBody

Security = Literal["user", "service", "none"]
REF = "#/components/schemas/{model}"
SECURITY: dict[Security, list[dict[str, list[str]]]] = {
    "user": [{"userJwt": []}],
    "service": [{"serviceKey": []}, {"userJwt": []}],
    "none": [],
}
ERRORS_WITH_BODY = {
    400: "Malformed JSON",
    413: "Body too large",
    415: "Not application/json",
    422: "The body does not match the schema",
}


@dataclass(frozen=True)
class Reply:
    description: str
    model: type[BaseModel] | None = None


@dataclass(frozen=True)
class Endpoint:
    method: str
    # OpenAPI style: /v1/targets/{target_id}
    path: str
    handler: Handler
    summary: str
    security: Security
    replies: Mapping[int, Reply]
    request: type[BaseModel] | None = None
    # Path parameter name -> regular expression (without anchors) it must match.
    path_params: Mapping[str, str] = field(default_factory=dict)
    tag: str = "targets"

    def route_path(self) -> str:
        """The aiohttp path, where a parameter that does not match its pattern is a 404."""
        path = self.path
        for name, pattern in self.path_params.items():
            path = path.replace("{" + name + "}", "{" + name + ":" + pattern + "}")
        return path


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": REF.format(model="ProblemBody")}}},
    }


def _operation(endpoint: Endpoint, refs: Mapping[tuple[Any, JsonSchemaMode], Any]) -> Any:
    responses: dict[str, Any] = {}
    for status, reply in endpoint.replies.items():
        responses[str(status)] = {"description": reply.description}
        if status >= 400:
            responses[str(status)] = _problem(reply.description)
        elif reply.model is not None:
            schema = refs[(reply.model, "serialization")]
            responses[str(status)]["content"] = {"application/json": {"schema": schema}}
    if endpoint.request is not None:
        responses.update({str(s): _problem(d) for s, d in ERRORS_WITH_BODY.items()})
    if endpoint.security != "none":
        responses["401"] = _problem("Missing or invalid credentials")
    if endpoint.security == "service":
        responses["403"] = _problem("The token lacks the service scope")
    responses["503"] = _problem("A dependency is unavailable; retry after Retry-After seconds")
    responses["default"] = _problem("Any other error")
    operation: dict[str, Any] = {
        "operationId": endpoint.handler.__name__,
        "summary": endpoint.summary,
        "tags": [endpoint.tag],
        "security": SECURITY[endpoint.security],
        "responses": responses,
    }
    if endpoint.path_params:
        operation["parameters"] = [
            {
                "name": n,
                "in": "path",
                "required": True,
                "schema": {"type": "string", "pattern": f"^{p}$"},
            }
            for n, p in endpoint.path_params.items()
        ]
    if endpoint.request is not None:
        schema = refs[(endpoint.request, "validation")]
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    return operation


def document(endpoints: Sequence[Endpoint], extra_paths: Mapping[str, Any]) -> dict[str, Any]:
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ProblemBody, "serialization")]
    for e in endpoints:
        if e.request is not None:
            wanted.append((e.request, "validation"))
        wanted.extend((r.model, "serialization") for r in e.replies.values() if r.model)
    refs, definitions = models_json_schema(list(dict.fromkeys(wanted)), ref_template=REF)
    paths: dict[str, Any] = {}
    for e in endpoints:
        paths.setdefault(e.path, {})[e.method.lower()] = _operation(e, refs)
    paths.update(extra_paths)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Herald token-api",
            "version": "1",
            "description": "Push targets per user, and a gateway to schedule and send them.",
        },
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {
                "userJwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "serviceKey": {"type": "apiKey", "in": "header", "name": SERVICE_KEY_HEADER},
            },
        },
    }


def _plain(description: str, content_type: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {content_type: {"schema": schema}}}


HEALTH_STATUS = {
    "type": "object",
    "properties": {"status": {"type": "string"}},
    "required": ["status"],
}
READINESS = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["ready", "not ready"]},
        "checks": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "required": ["status", "checks"],
}


def _get(operation_id: str, summary: str, responses: dict[str, Any]) -> dict[str, Any]:
    return {
        "get": {
            "operationId": operation_id,
            "summary": summary,
            "tags": ["operations"],
            "security": [],
            "responses": responses,
        }
    }


OPERATIONS_PATHS = {
    "/healthz": _get(
        "healthz", "Liveness", {"200": _plain("Alive", "application/json", HEALTH_STATUS)}
    ),
    "/readyz": _get(
        "readyz",
        "Readiness: PostgreSQL reachable",
        {
            "200": _plain("Ready", "application/json", READINESS),
            "503": _plain("Not ready", "application/json", READINESS),
        },
    ),
    "/metrics": _get(
        "metrics",
        "Prometheus metrics",
        {"200": _plain("Metrics", "text/plain", {"type": "string"})},
    ),
    "/openapi.json": _get(
        "openapi",
        "This document",
        {"200": _plain("OpenAPI 3.1", "application/json", {"type": "object"})},
    ),
}


def openapi_handler(doc: dict[str, Any]) -> Handler:
    async def openapi(_: web.Request) -> web.StreamResponse:
        return web.json_response(doc)

    return openapi
