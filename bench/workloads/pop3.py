"""Workload 2: POP3 download: log in, STAT, UIDL, then RETR every message, one at a time."""

from __future__ import annotations

import asyncio
import time

from bench.core import Context, Metric, Workload
from bench.pop3 import Pop3Client
from bench.populate import append_all, deliver_all
from bench.servers import PASSWORD, BenchServer, address

USER = "pop3"
TARGET = 1.0


async def _download(port: int, expected: int) -> tuple[float, int]:
    """Seconds from connect to the last RETR, and the bytes received."""
    started = time.perf_counter()
    client = await Pop3Client.connect(port)
    try:
        await client.login(address(USER), PASSWORD)
        count, _ = await client.stat()
        if count != expected:
            raise RuntimeError(f"maildrop has {count} messages, expected {expected}")
        uidl = await client.multiline(b"UIDL")
        if uidl.count(b"\r\n") != count:
            raise RuntimeError("UIDL did not list every message")
        received = 0
        for number in range(1, count + 1):
            received += len(await client.multiline(b"RETR %d" % number))
        elapsed = time.perf_counter() - started
    finally:
        await client.quit()
    return elapsed, received


class Pop3(Workload):
    read_only = True
    name = "pop3"
    description = "POP3 download (STAT, UIDL, RETR all)"
    metrics = (
        Metric("pop3.rate", "POP3 RETR", "msg/s", True, TARGET),
        Metric("pop3.mbps", "POP3 RETR", "MB/s", True, TARGET),
    )

    def users(self, ctx: Context) -> list[str]:
        return [USER]

    def prepare(self, server: BenchServer, ctx: Context) -> None:
        """Deliver over LMTP when both servers can, otherwise APPEND to INBOX."""
        messages = (ctx.factory.make(i) for i in range(ctx.sizes.pop3_messages))
        if ctx.lmtp:
            asyncio.run(deliver_all(server, USER, messages))
        else:
            asyncio.run(append_all(server, USER, "INBOX", messages, ctx.sizes.append_window))

    def run(self, server: BenchServer, ctx: Context, round_no: int) -> dict[str, float]:
        count = ctx.sizes.pop3_messages
        elapsed, received = asyncio.run(_download(server.ports.pop3, count))
        return {"pop3.rate": count / elapsed, "pop3.mbps": received / elapsed / 1e6}
