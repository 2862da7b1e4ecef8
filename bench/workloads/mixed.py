"""Workload 6: N concurrent clients, each cycling through a whole short IMAP session.

A cycle is connect, LOGIN, SELECT INBOX, FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE),
STORE 1 +FLAGS (\\Seen \\Deleted), EXPUNGE, APPEND of a ~5 KB message, LOGOUT, so the
mailbox keeps its size. Each client has its own account, as separate people would.
"""

from __future__ import annotations

import asyncio
import time

from bench.core import Context, Metric, Workload
from bench.imap import ImapClient
from bench.messages import Message
from bench.populate import append_all
from bench.servers import PASSWORD, BenchServer, address

TARGETS = {10: 1.0}
# A client stops after this many cycles even if time remains (a bound, never reached here).
MAX_CYCLES = 1_000_000


def _user(index: int) -> str:
    return f"mix{index:02d}"


async def _cycle(port: int, user: str, message: Message) -> None:
    client = await ImapClient.connect(port)
    try:
        await client.login(address(user), PASSWORD)
        await client.select("INBOX")
        await client.command(b"FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE)")
        await client.command(b"STORE 1 +FLAGS (\\Seen \\Deleted)")
        await client.command(b"EXPUNGE")
        await client.append("INBOX", message.raw, message.internaldate)
        await client.command(b"LOGOUT")
    finally:
        client.close()


async def _client(port: int, user: str, messages: list[Message], until: float) -> int:
    done = 0
    while time.perf_counter() < until and done < MAX_CYCLES:
        await _cycle(port, user, messages[done % len(messages)])
        done += 1
    return done


async def _run(port: int, clients: int, seconds: float, messages: list[Message]) -> float:
    started = time.perf_counter()
    counts = await asyncio.gather(*(
        _client(port, _user(i), messages, started + seconds) for i in range(clients)))
    return sum(counts) / (time.perf_counter() - started)


class Mixed(Workload):
    name = "mixed"
    description = "mixed IMAP sessions, N concurrent clients for a fixed time"

    def __init__(self, clients: tuple[int, ...]) -> None:
        self.clients = clients
        self.metrics = tuple(
            Metric(f"mixed.n{n}", f"mixed sessions, N={n}", "cycles/s", True, TARGETS.get(n))
            for n in clients)

    def users(self, ctx: Context) -> list[str]:
        return [_user(i) for i in range(max(self.clients))]

    def prepare(self, server: BenchServer, ctx: Context) -> None:
        count = ctx.sizes.mixed_mailbox
        for i in range(max(self.clients)):
            messages = [ctx.factory.make(100_000 + i * count + k) for k in range(count)]
            asyncio.run(append_all(server, _user(i), "INBOX", messages,
                                   ctx.sizes.append_window))

    def run(self, server: BenchServer, ctx: Context, round_no: int) -> dict[str, float]:
        size = ctx.sizes.mixed_append_size
        messages = [ctx.factory.make(200_000 + k, size) for k in range(50)]
        return {f"mixed.n{n}": asyncio.run(_run(server.ports.imap, n, ctx.sizes.mixed_seconds,
                                                messages))
                for n in self.clients}
