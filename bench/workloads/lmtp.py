"""Workload 1: LMTP delivery of ~5 KB messages over one connection, then over four."""

from __future__ import annotations

import asyncio
import time

from bench.core import Context, Metric, Workload
from bench.lmtp import LmtpClient
from bench.messages import Message
from bench.servers import BenchServer, address, settle
from bench.stats import percentile

TARGET = 2.0


def _user(round_no: int, connections: int) -> str:
    """A fresh account per round and connection count, so every round starts empty."""
    return f"lmtp-r{round_no}-c{connections}"


async def _one_connection(port: int, user: str, messages: list[Message],
                          latencies: list[float]) -> None:
    client = await LmtpClient.connect(port)
    try:
        for message in messages:
            started = time.perf_counter()
            await client.deliver(message.sender, address(user), message.raw)
            latencies.append(time.perf_counter() - started)
    finally:
        await client.quit()


async def _deliver(port: int, user: str, messages: list[Message],
                   connections: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    shares = [messages[i::connections] for i in range(connections)]
    started = time.perf_counter()
    await asyncio.gather(*(_one_connection(port, user, share, latencies) for share in shares))
    return time.perf_counter() - started, latencies


class Lmtp(Workload):
    name = "lmtp"
    description = "LMTP delivery, ~5 KB messages"

    def __init__(self, connections: tuple[int, ...]) -> None:
        self.connections = connections
        self.metrics = tuple(
            metric for c in connections for metric in (
                Metric(f"lmtp.c{c}.rate", f"LMTP delivery, {c} conn", "msg/s", True, TARGET),
                Metric(f"lmtp.c{c}.p50", f"LMTP latency p50, {c} conn", "ms", False),
                Metric(f"lmtp.c{c}.p99", f"LMTP latency p99, {c} conn", "ms", False),
            ))

    def users(self, ctx: Context) -> list[str]:
        return [_user(r, c) for r in range(1, ctx.rounds + 1) for c in self.connections]

    def available(self, ctx: Context) -> str | None:
        return None if ctx.lmtp else "pending: this mailhost checkout has no LMTP listener"

    def run(self, server: BenchServer, ctx: Context, round_no: int) -> dict[str, float]:
        assert server.ports.lmtp is not None
        count, size = ctx.sizes.lmtp_messages, ctx.sizes.lmtp_message_size
        messages = [ctx.factory.make(i, size) for i in range(count)]
        values: dict[str, float] = {}
        for n, c in enumerate(self.connections):
            if n:  # the runner settles after a round; the second count gets the same start
                values[f"lmtp.c{self.connections[n - 1]}.cpu_after_s"] = settle(server)[1]
            elapsed, latencies = asyncio.run(
                _deliver(server.ports.lmtp, _user(round_no, c), messages, c))
            values[f"lmtp.c{c}.rate"] = count / elapsed
            values[f"lmtp.c{c}.p50"] = percentile(latencies, 0.50) * 1000
            values[f"lmtp.c{c}.p99"] = percentile(latencies, 0.99) * 1000
        return values
