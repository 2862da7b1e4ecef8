"""Workload 8: SELECT and FETCH 1:* FLAGS on a very large folder.

Both servers are populated the same way, by pipelined APPEND of small (~2 KB) messages:
the figures depend on the message count, not on the message sizes.
"""

from __future__ import annotations

import asyncio
import time

from bench.core import Context, Metric, Workload
from bench.populate import append_all, login
from bench.servers import BenchServer

USER = "large"
TARGET = 1.0
TIMEOUT = 600.0


async def _measure(server: BenchServer, expected: int) -> dict[str, float]:
    client = await login(server, USER, TIMEOUT)
    try:
        started = time.perf_counter()
        exists = await client.select("INBOX")
        selected = time.perf_counter() - started
        started = time.perf_counter()
        reply = await client.command(b"FETCH 1:* FLAGS")
        fetched = time.perf_counter() - started
    finally:
        await client.logout()
    if exists != expected:
        raise RuntimeError(f"{server.name}: SELECT says {exists} messages, expected {expected}")
    count = sum(1 for line in reply.untagged if b" FETCH (" in line)
    if count != expected:
        raise RuntimeError(f"{server.name}: FETCH returned {count} of {expected} messages")
    return {"large.select": selected, "large.fetch_flags": fetched}


class Large(Workload):
    name = "large"
    description = "SELECT and FETCH 1:* FLAGS on a large folder"
    metrics = (
        Metric("large.select", "large folder SELECT", "s", False, TARGET),
        Metric("large.fetch_flags", "large folder FETCH 1:* FLAGS", "s", False, TARGET),
    )

    def users(self, ctx: Context) -> list[str]:
        return [USER]

    def prepare(self, server: BenchServer, ctx: Context) -> None:
        size = ctx.sizes.large_message_size
        messages = (ctx.factory.make(1_000_000 + i, size)
                    for i in range(ctx.sizes.large_messages))
        asyncio.run(append_all(server, USER, "INBOX", messages, ctx.sizes.append_window))

    def run(self, server: BenchServer, ctx: Context, round_no: int) -> dict[str, float]:
        return asyncio.run(_measure(server, ctx.sizes.large_messages))
