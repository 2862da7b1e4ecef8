"""Workloads 4 and 5: FETCH of 10,000 envelopes and three SEARCHes on the APPEND corpus."""

from __future__ import annotations

import asyncio
import time

from bench.core import Context, Metric, Workload
from bench.imap import ImapClient
from bench.messages import RARE_WORD, SEARCH_FROM, search_since
from bench.populate import append_all, login, message_count
from bench.servers import BenchServer
from bench.workloads.append import CORPUS_MAILBOX, CORPUS_USER

TARGET = 1.0
TIMEOUT = 300.0
FETCH_ITEMS = b"FETCH 1:* (FLAGS UID RFC822.SIZE ENVELOPE)"
SEARCHES: tuple[tuple[str, bytes], ...] = (
    ("from", b'SEARCH FROM "' + SEARCH_FROM.encode() + b'"'),
    ("text", b'SEARCH TEXT "' + RARE_WORD.encode() + b'"'),
    ("since", b"SEARCH SINCE " + search_since().strftime("%d-%b-%Y").encode()),
)


def ensure_corpus(server: BenchServer, ctx: Context) -> None:
    """Store the corpus (untimed) unless the APPEND workload already did."""
    expected = ctx.sizes.append_messages
    found = asyncio.run(message_count(server, CORPUS_USER, CORPUS_MAILBOX))
    if found == -1:
        asyncio.run(append_all(server, CORPUS_USER, CORPUS_MAILBOX, ctx.corpus(),
                               ctx.sizes.append_window))
    elif found != expected:
        raise RuntimeError(f"{server.name}: corpus has {found} messages, expected {expected}")


async def _selected(server: BenchServer) -> ImapClient:
    client = await login(server, CORPUS_USER, TIMEOUT)
    await client.select(CORPUS_MAILBOX)
    return client


async def _fetch(server: BenchServer, expected: int) -> float:
    client = await _selected(server)
    try:
        started = time.perf_counter()
        reply = await client.command(FETCH_ITEMS)
        elapsed = time.perf_counter() - started
    finally:
        await client.logout()
    fetched = sum(1 for line in reply.untagged if b" FETCH (" in line)
    if fetched != expected:
        raise RuntimeError(f"{server.name}: FETCH returned {fetched} of {expected} messages")
    return elapsed


async def _search(server: BenchServer) -> dict[str, float]:
    client = await _selected(server)
    values: dict[str, float] = {}
    try:
        for name, command in SEARCHES:
            started = time.perf_counter()
            reply = await client.command(command)
            values[f"search.{name}"] = time.perf_counter() - started
            hits = [line for line in reply.untagged if line.startswith(b"* SEARCH")]
            values[f"search.{name}.hits"] = float(sum(len(line.split()) - 2 for line in hits))
    finally:
        await client.logout()
    return values


class Fetch(Workload):
    read_only = True
    name = "fetch"
    description = "IMAP FETCH 1:* (FLAGS UID RFC822.SIZE ENVELOPE) on the corpus"
    metrics = (Metric("fetch.envelopes", "FETCH envelopes, whole folder", "s", False, TARGET),)

    def users(self, ctx: Context) -> list[str]:
        return [CORPUS_USER]

    def prepare(self, server: BenchServer, ctx: Context) -> None:
        ensure_corpus(server, ctx)

    def run(self, server: BenchServer, ctx: Context, round_no: int) -> dict[str, float]:
        return {"fetch.envelopes": asyncio.run(_fetch(server, ctx.sizes.append_messages))}


class Search(Workload):
    read_only = True
    name = "search"
    description = "IMAP SEARCH FROM / TEXT / SINCE on the corpus"
    metrics = tuple(Metric(f"search.{name}", f"SEARCH {name.upper()}", "s", False, TARGET)
                    for name, _ in SEARCHES)

    def users(self, ctx: Context) -> list[str]:
        return [CORPUS_USER]

    def prepare(self, server: BenchServer, ctx: Context) -> None:
        ensure_corpus(server, ctx)

    def run(self, server: BenchServer, ctx: Context, round_no: int) -> dict[str, float]:
        return asyncio.run(_search(server))
