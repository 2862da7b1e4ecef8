"""Workload 3: pipelined LITERAL+ APPEND of mixed-size messages into one folder.

Round 1 appends into the corpus account that FETCH and SEARCH then read, so the 10,000
messages are stored once per server; later rounds use fresh accounts so each starts empty.
"""

from __future__ import annotations

import asyncio

from bench.core import Context, Metric, Workload
from bench.populate import append_all
from bench.servers import BenchServer

CORPUS_USER = "corpus"
CORPUS_MAILBOX = "Bulk"
TARGET = 2.0


def round_user(round_no: int) -> str:
    return CORPUS_USER if round_no == 1 else f"append-r{round_no}"


class Append(Workload):
    name = "append"
    description = "IMAP APPEND, pipelined LITERAL+, mixed sizes"
    metrics = (
        Metric("append.rate", "IMAP APPEND", "msg/s", True, TARGET),
        Metric("append.mbps", "IMAP APPEND", "MB/s", True),
    )

    def users(self, ctx: Context) -> list[str]:
        return [round_user(r) for r in range(1, ctx.rounds + 1)]

    def run(self, server: BenchServer, ctx: Context, round_no: int) -> dict[str, float]:
        messages = ctx.corpus()
        elapsed = asyncio.run(append_all(server, round_user(round_no), CORPUS_MAILBOX,
                                         messages, ctx.sizes.append_window))
        size = sum(len(m.raw) for m in messages)
        return {"append.rate": len(messages) / elapsed, "append.mbps": size / elapsed / 1e6}
