"""A consumer process for the SIGTERM test: logs each record it finished to a file, slowly."""

from __future__ import annotations

import asyncio
import sys

from herald import lifecycle, topics
from herald.consumer import Consumer, Record
from herald.logs import configure_logging
from herald.producer import Producer


def main() -> None:
    bootstrap, namespace, group_id, out_path = sys.argv[1:5]
    configure_logging("slow-consumer")

    out = open(out_path, "a", buffering=1)  # noqa: SIM115 - open for the life of the process

    async def handle(record: Record) -> None:
        await asyncio.sleep(0.01)
        out.write(f"{record.partition} {record.offset}\n")

    async def serve(stop: asyncio.Event) -> None:
        async with Producer(bootstrap, namespace=namespace) as producer:
            consumer = Consumer(
                [topics.TOKENS_INVALIDATED],
                bootstrap=bootstrap,
                group_id=group_id,
                producer=producer,
                namespace=namespace,
                handler=handle,
                max_records=20,
            )
            await consumer.run(stop)

    with out:
        lifecycle.run(serve)


if __name__ == "__main__":
    main()
