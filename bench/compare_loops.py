"""``python -m bench.compare_loops``: mailhost on uvloop against mailhost on asyncio's loop.

Two mailhost servers run side by side with the same accounts and messages, one per event loop
(``[server] event_loop``); each workload prepares both, then runs rounds alternating which
loop goes first, and prints the medians and every round. Dovecot is not involved, so this
needs no root; it is how the choice of uvloop as the default was checked (bench/README.md).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.core import Context, Sizes
from bench.mailhost_server import MailhostServer, provides_lmtp
from bench.messages import MessageFactory
from bench.servers import address
from bench.workloads import all_workloads

LOOPS = ("asyncio", "uvloop")
DEFAULT_WORKLOADS = "lmtp,pop3,mixed"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compare_loops", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5, help="rounds per workload (median)")
    parser.add_argument("--quick", action="store_true", help="the benchmark's small sizes")
    parser.add_argument("--only", default=DEFAULT_WORKLOADS,
                        help=f"comma-separated workloads (default: {DEFAULT_WORKLOADS})")
    parser.add_argument("--seed", type=int, default=20_260_101, help="message generator seed")
    args = parser.parse_args(argv)
    sizes = Sizes.quick() if args.quick else Sizes()
    wanted = {name.strip() for name in args.only.split(",") if name.strip()}
    root = Path(tempfile.mkdtemp(prefix="mailhost-loops-"))
    ctx = Context(sizes=sizes, rounds=args.rounds, factory=MessageFactory(args.seed),
                  deadline=time.monotonic() + 24 * 3600, lmtp=provides_lmtp(), workdir=root)
    workloads = [w for w in all_workloads(sizes)
                 if w.name in wanted and w.available(ctx) is None and not w.fresh_server]
    users = sorted({address(u) for w in workloads for u in w.users(ctx)})
    servers: dict[str, MailhostServer] = {}
    try:
        for loop in LOOPS:
            (root / loop).mkdir()
            servers[loop] = MailhostServer(root / loop, users, ctx.lmtp, loop)
            servers[loop].start()
        for workload in workloads:
            for server in servers.values():
                workload.prepare(server, ctx)
            rounds: dict[str, dict[str, list[float]]] = {loop: {} for loop in LOOPS}
            for round_no in range(1, args.rounds + 1):
                order = LOOPS if round_no % 2 else LOOPS[::-1]
                for loop in order:
                    for key, value in workload.run(servers[loop], ctx, round_no).items():
                        rounds[loop].setdefault(key, []).append(value)
            for key, values in rounds["asyncio"].items():
                slow, fast = statistics.median(values), statistics.median(rounds["uvloop"][key])
                print(f"{key:<20} asyncio {slow:>10.4g}  uvloop {fast:>10.4g}  "
                      f"uvloop/asyncio {fast / slow:5.2f}   rounds asyncio "
                      f"{[round(v, 4) for v in values]} uvloop "
                      f"{[round(v, 4) for v in rounds['uvloop'][key]]}", flush=True)
    finally:
        for server in servers.values():
            server.stop()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
