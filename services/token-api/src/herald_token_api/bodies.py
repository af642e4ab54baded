"""Reading a JSON request body into a schema model, with the right 4xx for each failure."""

from __future__ import annotations

from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from herald_token_api.problems import Problem

M = TypeVar("M", bound=BaseModel)
JSON_TYPES = frozenset({"application/json"})


async def read_body(request: web.Request, model: type[M]) -> M:
    """Parse the body as ``model``: 415 for another media type, 400 for malformed JSON, 413 for
    a body over the limit, 422 for JSON that does not fit the schema."""
    if request.content_type not in JSON_TYPES:
        raise Problem(415, "unsupported-media-type", "send the body as application/json")
    raw = await request.read()
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        if any(e["type"] == "json_invalid" for e in errors):
            raise Problem(400, "malformed-json", "the body is not valid JSON") from None
        details = [
            {"loc": ".".join(str(p) for p in e["loc"]) or "(body)", "msg": e["msg"]} for e in errors
        ]
        raise Problem(
            422,
            "invalid-body",
            "the body does not match the schema",
            extra={"errors": details},
        ) from None
