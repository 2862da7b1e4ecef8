"""How long a client in IDLE waits to hear of new mail: from the moment a delivery's COMMIT
returns in the store to the moment ``* n EXISTS`` is read on the idling socket.

    PYTHONPATH=. .venv/bin/python bench/idle_push.py --samples 50

Three paths are measured:

- in-process: delivery through the server's own store (as LMTP/SMTP delivery and other IMAP
  or POP3 sessions commit), which wakes IDLE sessions directly; from COMMIT to the push;
- LMTP: a whole LMTP transaction on a connected client, from MAIL FROM to the push (parsing
  and analysing the message and the commit included);
- another process: a second store on the same files (``mailhost deliver``, a CLI tool)
  commits, and the server notices through its per-account watcher (1 s poll).

The server runs in a thread of this process (the test harness), the client reads in another
thread; both stamp with time.perf_counter. Plaintext IMAP on 127.0.0.1. Printed, not asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import queue
import random
import re
import smtplib
import statistics
import tempfile
import threading
import time
from pathlib import Path

from mailhost.store.sqlite.store import SqliteStore
from mailhost.testing.clients import ImapWire
from mailhost.testing.server import MailhostTestServer, ThrowawayCA, make_config

USER, PASSWORD = "bench@example.test", "bench password"
MESSAGE = b"Subject: push\r\n\r\n" + (b"x" * 78 + b"\r\n") * 25  # 2 KB, SMTP-sized lines


def read_pushes(wire: ImapWire, arrivals: queue.Queue[float], stop: threading.Event) -> None:
    """Stamp every EXISTS the idling connection receives."""
    while not stop.is_set():
        line = wire.line(timeout=0.2)
        if line is not None and re.fullmatch(rb"\* \d+ EXISTS", line):
            arrivals.put(time.perf_counter())


def in_process(
    server: MailhostTestServer, arrivals: queue.Queue[float], samples: int,
) -> list[float]:
    committed: list[float] = []

    async def deliver() -> None:
        assert server.app is not None
        async with server.app.store.account(USER) as mail:
            announce = mail._announce_change

            def stamped() -> None:  # runs as COMMIT returns, before IDLE sessions wake
                committed.append(time.perf_counter())
                announce()
            mail._announce_change = stamped  # type: ignore[method-assign]
            try:
                await mail.append("INBOX", MESSAGE)
            finally:
                del mail._announce_change
    return [_one(lambda: server.run(deliver()), committed, arrivals) for _ in range(samples)]


def lmtp(server: MailhostTestServer, arrivals: queue.Queue[float], samples: int) -> list[float]:
    started: list[float] = []
    with smtplib.LMTP("127.0.0.1", server.port("lmtp"), timeout=10) as client:
        client.ehlo("bench.test")

        def deliver() -> None:
            started.append(time.perf_counter())
            client.sendmail("sender@bench.test", [USER], MESSAGE)
        return [_one(deliver, started, arrivals) for _ in range(samples)]


def other_process(data_dir: Path, arrivals: queue.Queue[float], samples: int) -> list[float]:
    committed: list[float] = []

    async def deliver() -> None:
        store = await SqliteStore.open(data_dir)
        await asyncio.sleep(random.uniform(0, 1))  # not in step with the watcher's poll
        try:
            async with store.account(USER) as mail:
                await mail.append("INBOX", MESSAGE)
                committed.append(time.perf_counter())
        finally:
            await store.close()
    return [_one(lambda: asyncio.run(deliver()), committed, arrivals) for _ in range(samples)]


def _one(deliver: object, committed: list[float], arrivals: queue.Queue[float]) -> float:
    assert callable(deliver)
    deliver()
    arrived = arrivals.get(timeout=10)
    time.sleep(0.05)  # let the session settle before the next sample
    return (arrived - committed[-1]) * 1000


def report(name: str, latencies: list[float]) -> None:
    ordered = sorted(latencies)
    print(f"{name}: {len(ordered)} samples, median {statistics.median(ordered):.2f} ms, "
          f"p90 {ordered[int(len(ordered) * 0.9) - 1]:.2f} ms, min {ordered[0]:.2f} ms, "
          f"max {ordered[-1]:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--other-process-samples", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ca = ThrowawayCA(Path(tmp) / "tls")
        config = make_config(Path(tmp) / "data", ca,
                             listeners=(("imap", "starttls"), ("lmtp", "none")))
        with MailhostTestServer(config, ca) as server:
            server.add_user(USER, PASSWORD)
            for _ in range(50):
                server.append(USER, MESSAGE)
            wire = ImapWire(server.port("imap", "starttls"))
            wire.login(USER, PASSWORD)
            wire.ok(b"SELECT INBOX")
            wire.idle()
            arrivals: queue.Queue[float] = queue.Queue()
            stop = threading.Event()
            reader = threading.Thread(target=read_pushes, args=(wire, arrivals, stop))
            reader.start()
            try:
                report("in-process delivery -> IDLE push", in_process(server, arrivals,
                                                                      args.samples))
                report("LMTP MAIL FROM -> IDLE push", lmtp(server, arrivals, args.samples))
                report("other-process commit -> IDLE push",
                       other_process(config.data_dir, arrivals, args.other_process_samples))
            finally:
                stop.set()
                reader.join()
                wire.close()


if __name__ == "__main__":
    main()
