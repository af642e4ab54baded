"""The OpenAPI 3.1 document covers every route, and the API keeps to it under fuzzing."""

from __future__ import annotations

import asyncio
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from token_api.support import AS_SERVICE, Client, as_user

EXAMPLES_PER_MODE = 200
# Requests the schema allows but the API refuses with a documented 422 are not failures: some
# rules are beyond JSON Schema (a valid IANA zone, an RRULE that can fire, fire_at before
# expires_at). Everything else is checked: no 5xx, statuses, content types, headers and bodies
# as documented, and schema-violating requests refused (413 for a body over the limit included).
CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {"enabled": False},
            "negative_data_rejection": {
                "expected-statuses": [400, 401, 403, 404, 405, 413, 415, 422]
            },
        }
    }
)


async def test_the_document_lists_exactly_the_routes_the_app_serves(offline_api: Client) -> None:
    response = await offline_api.get("/openapi.json")
    assert response.status == 200
    doc = await response.json()
    assert doc["openapi"] == "3.1.0"
    documented = {
        (method.upper(), path) for path, operations in doc["paths"].items() for method in operations
    }
    served = {
        (route.method, route.resource.canonical)
        for route in offline_api.app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    assert documented == served


def _fuzz(base_url: str) -> None:
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", config=CONFIG)
    headers = {**as_user("fuzzer"), **AS_SERVICE}
    for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):

        @hypothesis.settings(
            max_examples=EXAMPLES_PER_MODE,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @hypothesis.given(case=schema.as_strategy(generation_mode=mode))
        def check(case: schemathesis.Case[Any]) -> None:
            case.call_and_validate(base_url=base_url, headers=headers, timeout=10)

        check()


# Raised by schemathesis's own strategies, not by anything here.
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
async def test_schemathesis_finds_no_server_error_and_no_schema_violation(api: Client) -> None:
    await asyncio.to_thread(_fuzz, str(api.make_url("")).rstrip("/"))
