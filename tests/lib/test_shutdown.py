"""SIGTERM to a consumer process mid-stream: it exits 0 and commits exactly what it processed."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections import defaultdict
from pathlib import Path

from herald import topics
from herald.producer import Producer
from herald.v1 import tokens_pb2
from kit.kafka import committed_offsets, eventually

SCRIPT = Path(__file__).with_name("slow_consumer.py")


async def test_sigterm_mid_stream_exits_0_and_commits_exactly_the_processed_records(
    bootstrap: str, namespace: str, producer: Producer, tmp_path: Path
) -> None:
    futures = [
        await producer.send(
            topics.TOKENS_INVALIDATED,
            f"user-{n % 7}",
            tokens_pb2.TokenInvalidated(event_id=f"ev-{n}", user_id=f"user-{n % 7}"),
        )
        for n in range(2000)
    ]
    await asyncio.gather(*futures)
    out = tmp_path / "processed.txt"
    out.touch()
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), bootstrap, namespace, "sigterm-test", str(out)
    )
    try:
        await eventually(lambda: len(out.read_text().splitlines()) >= 100, timeout_s=30)
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 20) == 0
    finally:
        if process.returncode is None:
            process.kill()

    processed: dict[int, list[int]] = defaultdict(list)
    for line in out.read_text().splitlines():
        partition, offset = map(int, line.split())
        processed[partition].append(offset)
    total = sum(len(v) for v in processed.values())
    assert 100 <= total < 2000, "SIGTERM should have arrived mid-stream"

    committed = await committed_offsets(
        bootstrap, "sigterm-test", namespace + topics.TOKENS_INVALIDATED.name
    )
    for partition, offsets in processed.items():
        assert offsets == list(range(len(offsets))), "each record processed once, in order"
        assert committed[partition] == len(offsets)
    assert sum(committed.values()) == total
