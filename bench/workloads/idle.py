"""Workload 7: memory per authenticated IDLE connection, and delivery-to-push latency.

Each round restarts the server (``fresh_server``) so both start from a fresh process, warms
it up with one session of another account, measures PSS, opens the connections (LOGIN,
SELECT INBOX, IDLE; one account each, as the connections of different people), waits for
them to settle, measures PSS again and divides the growth by the number of connections.
With all of them open it then delivers to some of the idling accounts and times the EXISTS
push, from the delivery's first byte to the push arriving. Deliveries go over LMTP when both
servers speak it, otherwise as an APPEND from a second session of the same account.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from bench.core import Context, Metric, Workload
from bench.imap import ImapClient
from bench.lmtp import LmtpClient
from bench.messages import Message
from bench.populate import login
from bench.servers import BenchServer, address, task_count
from bench.stats import median
from mailhost.store.sqlite.pool import IDLE_SECONDS

# Memory: mailhost should need at most a tenth of Dovecot's per connection (oriented: 10x).
MEMORY_TARGET = 10.0
SETTLE_SECONDS = 2.0  # before the baseline
# After opening: long enough for a server to let go of what a session needed only while it
# logged in and selected (mailhost closes an account's database after IDLE_SECONDS unused).
OPENED_SETTLE_SECONDS = IDLE_SECONDS + 5.0
PUSH_TIMEOUT = 30.0
OPEN_TIMEOUT = 120.0


WARM_UP_USER = "idlewarm"


def _user(index: int) -> str:
    return f"idle{index:04d}"


async def _warm_up(server: BenchServer) -> None:
    """One whole LOGIN, SELECT, IDLE, DONE, LOGOUT on an account of its own, before the baseline.

    What the first session of a fresh server pays once (imports on first use, Dovecot's auth
    and imap processes starting, allocator arenas) belongs to the server, not to each of the
    connections the figure divides by; both servers get the same warm-up.
    """
    client = await login(server, WARM_UP_USER, OPEN_TIMEOUT)
    await client.select("INBOX")
    await client.done(await client.idle())
    await client.logout()


async def _open_idler(server: BenchServer, index: int, gate: asyncio.Semaphore
                      ) -> tuple[ImapClient, int]:
    async with gate:
        client = await login(server, _user(index), OPEN_TIMEOUT)
        exists = await client.select("INBOX")
        await client.idle()
        return client, exists


async def _push(server: BenchServer, user: str, idler: ImapClient, exists: int,
                message: Message, lmtp: bool) -> float:
    """Seconds from the start of a delivery to ``idler`` seeing the new EXISTS."""
    if lmtp:
        assert server.ports.lmtp is not None
        deliverer = await LmtpClient.connect(server.ports.lmtp)
        started = time.perf_counter()
        waiter = asyncio.ensure_future(asyncio.wait_for(idler.wait_exists(exists),
                                                        PUSH_TIMEOUT))
        await deliverer.deliver(message.sender, address(user), message.raw)
        await waiter
        elapsed = time.perf_counter() - started
        await deliverer.quit()
        return elapsed
    appender = await login(server, user)
    started = time.perf_counter()
    waiter = asyncio.ensure_future(asyncio.wait_for(idler.wait_exists(exists), PUSH_TIMEOUT))
    await appender.append("INBOX", message.raw, message.internaldate)
    await waiter
    elapsed = time.perf_counter() - started
    await appender.logout()
    return elapsed


async def _measure(server: BenchServer, ctx: Context) -> dict[str, float]:
    count = ctx.sizes.idle_connections
    await _warm_up(server)
    await asyncio.sleep(SETTLE_SECONDS)
    before = server.pss_kib()
    gate = asyncio.Semaphore(ctx.sizes.idle_open_concurrency)
    idlers = await asyncio.gather(*(_open_idler(server, i, gate) for i in range(count)))
    try:
        await asyncio.sleep(OPENED_SETTLE_SECONDS)
        after = server.pss_kib()
        tasks = task_count(server.pids())
        samples = min(ctx.sizes.push_samples, count)
        latencies = []
        for k in range(samples):
            index = k * count // samples
            client, exists = idlers[index]
            message = ctx.factory.make(300_000 + k, ctx.sizes.lmtp_message_size)
            latencies.append(await _push(server, _user(index), client, exists, message,
                                         ctx.lmtp))
    finally:
        for client, _ in idlers:
            with contextlib.suppress(OSError):
                client.close()
    return {"idle.kib_per_conn": (after - before) / count,
            "idle.push_ms": median(latencies) * 1000,
            "idle.pss_before_kib": float(before), "idle.pss_after_kib": float(after),
            "idle.threads_after": float(tasks)}


class Idle(Workload):
    name = "idle"
    description = "authenticated IDLE connections: memory each, push latency"
    fresh_server = True
    metrics = (
        Metric("idle.kib_per_conn", "memory per IDLE connection (PSS)", "KiB", False,
               MEMORY_TARGET),
        Metric("idle.push_ms", "delivery-to-IDLE-push latency p50", "ms", False),
    )

    def users(self, ctx: Context) -> list[str]:
        return [WARM_UP_USER] + [_user(i) for i in range(ctx.sizes.idle_connections)]

    def run(self, server: BenchServer, ctx: Context, round_no: int) -> dict[str, float]:
        return asyncio.run(_measure(server, ctx))
