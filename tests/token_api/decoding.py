"""The token-api's decoders (of bodies and of credentials) called directly, on a real aiohttp
request: fast enough for hundreds of hypothesis examples per test, and exactly the code the
handlers run; and the check of what they refuse with."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any, TypeVar

from aiohttp.base_protocol import BaseProtocol
from aiohttp.streams import StreamReader
from aiohttp.test_utils import make_mocked_request
from aiohttp.web import Request
from pydantic import BaseModel
from token_api.support import make_settings

from herald_token_api.auth import Authenticator
from herald_token_api.bodies import read_body
from herald_token_api.problems import PROBLEM_TYPE_PREFIX, Problem

M = TypeVar("M", bound=BaseModel)
AUTHENTICATOR = Authenticator(make_settings("postgresql://unused@127.0.0.1/none"))


def request(
    headers: Mapping[str, str], body: bytes = b"", method: str = "POST", path: str = "/"
) -> Request:
    """A request whose body is ``body``, read through aiohttp's own stream reader."""
    loop = asyncio.get_running_loop()
    payload = StreamReader(BaseProtocol(loop), 2**16, loop=loop)
    payload.feed_data(body)
    payload.feed_eof()
    return make_mocked_request(method, path, headers=dict(headers), payload=payload)


async def decode(raw: bytes, model: type[M]) -> M | Problem:
    """``model`` decoded from a JSON body ``raw`` the way the handlers do, or the problem."""
    try:
        return await read_body(request({"Content-Type": "application/json"}, raw), model)
    except Problem as problem:
        return problem


def problem_body(text: str) -> dict[str, Any]:
    """The problem+json document ``text``, checked for the fields every problem has."""
    body: dict[str, Any] = json.loads(text)
    assert body["type"] == PROBLEM_TYPE_PREFIX + body["reason"]
    assert body["title"]
    assert body["detail"]
    if body["status"] == 422:
        assert body["errors"], "a 422 says which fields are wrong"
        for error in body["errors"]:
            assert set(error) == {"loc", "msg"}
            assert isinstance(error["loc"], str)
            assert isinstance(error["msg"], str)
    else:
        assert "errors" not in body
    return body


async def authenticate(headers: Mapping[str, str], *, service: bool) -> str | Problem:
    """The caller the authenticator makes of ``headers`` (user or service), or the problem."""
    check = AUTHENTICATOR.service if service else AUTHENTICATOR.user
    try:
        return await check(request(headers, method="GET", path="/v1/targets"))
    except Problem as problem:
        return problem


def strings_in(value: Any) -> list[str]:
    """Every string value (not key) nested in ``value``."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for item in value for s in strings_in(item)]
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings_in(item)]
    return []


def check_refusal(problem: Problem, allowed: set[tuple[int, str]], secrets: list[str]) -> None:
    assert (problem.status, problem.reason) in allowed, problem
    text = problem.response().text or ""
    body = problem_body(text)
    assert (body["status"], body["reason"]) == (problem.status, problem.reason)
    for secret in secrets:
        assert secret not in text, "a problem echoed the input"
