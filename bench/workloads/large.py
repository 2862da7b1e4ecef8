"""Workload 8: SELECT and FETCH 1:* FLAGS on a very large folder.

Both servers are populated the same way over IMAP: a base of distinct small (~2 KB) messages
by pipelined APPEND, then COPY 1:k INBOX doubling the folder until it holds the target count,
then the older half marked \\Seen. APPEND alone would take hours: per-APPEND cost grows with
the folder size on both servers (see bench/README.md). SELECT and FETCH FLAGS depend on the
message count and flags, not on whether two messages share a body.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from bench.core import Context, Metric, Workload
from bench.populate import append_all, login
from bench.servers import BenchServer

USER = "large"
TARGET = 1.0
TIMEOUT = 600.0
# Distinct messages appended before COPY doubles the folder.
BASE_MESSAGES = 2_000
# FETCH 1:* FLAGS runs this many times in each round's session, and the round's figure is
# their median: one FETCH of 100,000 lines lasts ~0.1 s, and single runs on a two-core
# machine shared with the client varied by 0.07-0.12 s for either server.
FETCH_REPEATS = 5


async def _measure(server: BenchServer, expected: int) -> dict[str, float]:
    client = await login(server, USER, TIMEOUT)
    try:
        started = time.perf_counter()
        exists = await client.select("INBOX")
        selected = time.perf_counter() - started
        fetched: list[float] = []
        for _ in range(FETCH_REPEATS):
            started = time.perf_counter()
            reply = await client.command(b"FETCH 1:* FLAGS")
            fetched.append(time.perf_counter() - started)
            count = sum(1 for line in reply.untagged if b" FETCH (" in line)
            if count != expected:
                raise RuntimeError(
                    f"{server.name}: FETCH returned {count} of {expected} messages")
    finally:
        await client.logout()
    if exists != expected:
        raise RuntimeError(f"{server.name}: SELECT says {exists} messages, expected {expected}")
    return {"large.select": selected, "large.fetch_flags": statistics.median(fetched)}


async def _grow(server: BenchServer, count: int, target: int) -> None:
    """COPY the first messages onto the end until the folder holds ``target``."""
    client = await login(server, USER, TIMEOUT)
    try:
        if await client.select("INBOX") != count:
            raise RuntimeError(f"{server.name}: INBOX of {USER!r} is not {count} messages")
        while count < target:
            step = min(count, target - count)
            await client.command(b"COPY 1:%d INBOX" % step)
            count += step
        await client.command(b"STORE 1:%d +FLAGS.SILENT (\\Seen)" % max(target // 2, 1))
    finally:
        await client.logout()


class Large(Workload):
    read_only = True
    name = "large"
    description = "SELECT and FETCH 1:* FLAGS on a large folder"
    metrics = (
        Metric("large.select", "large folder SELECT", "s", False, TARGET),
        Metric("large.fetch_flags", "large folder FETCH 1:* FLAGS", "s", False, TARGET),
    )

    def users(self, ctx: Context) -> list[str]:
        return [USER]

    def prepare(self, server: BenchServer, ctx: Context) -> None:
        size, target = ctx.sizes.large_message_size, ctx.sizes.large_messages
        base = min(BASE_MESSAGES, target)
        messages = (ctx.factory.make(1_000_000 + i, size) for i in range(base))
        asyncio.run(append_all(server, USER, "INBOX", messages, ctx.sizes.append_window))
        asyncio.run(_grow(server, base, target))

    def run(self, server: BenchServer, ctx: Context, round_no: int) -> dict[str, float]:
        return asyncio.run(_measure(server, ctx.sizes.large_messages))
