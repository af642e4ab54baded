"""Fault injection and the control API around it."""

from __future__ import annotations

import time

from fcm_emulator.client import EmulatorClient
from fcm_emulator.errors import FcmErrorCode
from fcm_emulator.faults import FaultConfig
from fcm_emulator.testing import HttpSender

TOKEN = "cAbCdEfGhIjKlMnOpQrStU:APA91bSyntheticTargetForFaultTests"


async def outcomes(raw: HttpSender, count: int) -> list[int]:
    statuses = []
    for n in range(count):
        status, _, _ = await raw.send({"token": TOKEN, "data": {"n": str(n)}})
        statuses.append(status)
    return statuses


async def test_half_of_sends_fail_at_a_50_percent_unavailable_rate_the_same_way_each_run(
    raw: HttpSender, fcm: EmulatorClient
) -> None:
    faults = FaultConfig(seed=7, error_rates={FcmErrorCode.UNAVAILABLE: 0.5})
    await fcm.set_faults(faults)
    first = await outcomes(raw, 200)
    await fcm.set_faults(faults)
    second = await outcomes(raw, 200)

    assert set(first) == {200, 503}
    assert 80 <= first.count(503) <= 120
    assert first == second

    await fcm.set_faults(FaultConfig(seed=8, error_rates={FcmErrorCode.UNAVAILABLE: 0.5}))
    assert await outcomes(raw, 200) != first


async def test_quota_of_60_a_minute_refuses_the_61st_with_retry_after(
    raw: HttpSender, fcm: EmulatorClient
) -> None:
    await fcm.set_faults(FaultConfig(quota_per_minute=60))
    assert await outcomes(raw, 60) == [200] * 60

    status, body, headers = await raw.send({"token": TOKEN})

    assert status == 429
    assert body["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert body["error"]["details"][0]["errorCode"] == "QUOTA_EXCEEDED"
    assert 55 <= int(headers["Retry-After"]) <= 60


async def test_added_latency_delays_each_answer(raw: HttpSender, fcm: EmulatorClient) -> None:
    await fcm.set_faults(FaultConfig(latency_ms=150, jitter_ms=50))
    started = time.monotonic()
    assert (await raw.send({"token": TOKEN}))[0] == 200
    assert 0.15 <= time.monotonic() - started < 1.0


async def test_messages_can_be_filtered_and_reset_clears_everything(
    raw: HttpSender, fcm: EmulatorClient
) -> None:
    await raw.send({"token": TOKEN, "data": {"n": "1"}})
    mark = (await fcm.messages())[-1].received_at
    await raw.send({"token": TOKEN, "data": {"n": "2"}})
    await raw.send({"topic": "news", "data": {"n": "3"}})
    await fcm.set_faults(FaultConfig(error_rates={FcmErrorCode.INTERNAL: 1.0}))

    later = await fcm.messages(target=TOKEN, since=mark)
    assert [record.message["data"]["n"] for record in later] == ["2"]
    assert [r.target for r in await fcm.messages(limit=1)] == ["news"]
    assert (await fcm.stats())["totals"] == {"ACCEPTED": 3}

    await fcm.reset()
    assert await fcm.messages() == []
    assert await fcm.faults() == FaultConfig()
    assert (await raw.send({"token": TOKEN}))[0] == 200


async def test_invalid_fault_configuration_is_refused(raw: HttpSender, fcm: EmulatorClient) -> None:
    url = f"{raw.url}/emulator/v1/faults"
    for document in (
        {"error_rates": {"UNAVAILABLE": 0.7, "INTERNAL": 0.6}},
        {"error_rates": {"TEAPOT": 0.1}},
        {"latency_ms": -1},
        {"quota": 5},
    ):
        async with raw.session.put(url, json=document) as response:
            assert response.status == 400, document
    assert await fcm.faults() == FaultConfig()
