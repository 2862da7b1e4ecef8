"""``python -m bench``: mailhost against Dovecot, same machine, same run, rounds alternating.

Both servers run for the whole benchmark; each workload prepares both, then runs round 1 on
mailhost, round 1 on Dovecot, round 2 on mailhost, and so on. Figures are medians over the
rounds. The run stops by itself: every client call has a timeout, loops are bounded, and no
new round starts after ``--max-minutes``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from bench import dovecot
from bench.core import Context, Sizes, Workload
from bench.dovecot import DovecotServer
from bench.machine import describe, load_average
from bench.mailhost_server import MailhostServer, provides_lmtp
from bench.messages import MessageFactory
from bench.profiling import Profiler, summarise
from bench.report import Results, table, write
from bench.servers import BenchServer, address, settle
from bench.workloads import all_workloads

RESULTS_DIR = Path(__file__).resolve().parent / "results"
# A profiled read-only workload repeats for about this long (at most this often).
PROFILE_SECONDS = 15.0
PROFILE_MAX_REPEATS = 50


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="rounds per workload (median)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke mode: small sizes, a couple of minutes")
    parser.add_argument("--only", default="",
                        help="comma-separated workloads (default: all): "
                             "lmtp,pop3,append,fetch,search,mixed,idle,large")
    parser.add_argument("--seed", type=int, default=20_260_101, help="message generator seed")
    parser.add_argument("--max-minutes", type=float, default=45.0,
                        help="start no new round after this long")
    parser.add_argument("--profile", action="store_true",
                        help="record mailhost with py-spy during round 1 of each workload")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR,
                        help="where the JSON results go")
    parser.add_argument("--event-loop", choices=("uvloop", "asyncio"), default="uvloop",
                        help="mailhost's [server] event_loop (run twice to compare loops)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (data, logs)")
    return parser


def _select(workloads: list[Workload], only: str) -> list[Workload]:
    if not only:
        return workloads
    wanted = [name.strip() for name in only.split(",") if name.strip()]
    names = {w.name for w in workloads}
    unknown = [name for name in wanted if name not in names]
    if unknown:
        raise SystemExit(f"unknown workload(s): {', '.join(unknown)}; choose from "
                         f"{', '.join(sorted(names))}")
    return [w for w in workloads if w.name in wanted]


def _say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def _short(values: dict[str, float]) -> str:
    return ", ".join(f"{key}={value:.4g}" for key, value in values.items())


def _repeat_for_samples(workload: Workload, server: BenchServer, ctx: Context,
                        round_no: int) -> None:
    """Run a read-only round again (results dropped) so a short one yields enough samples."""
    until = time.monotonic() + PROFILE_SECONDS
    for _ in range(PROFILE_MAX_REPEATS):
        if time.monotonic() >= until:
            return
        workload.run(server, ctx, round_no)


def _run_workload(workload: Workload, servers: Sequence[BenchServer], ctx: Context,
                  results: Results, profile_dir: Path | None) -> None:
    for server in servers:
        started = time.monotonic()
        workload.prepare(server, ctx)
        settle(server)
        if time.monotonic() - started > 1:
            _say(f"  prepared {server.name} in {time.monotonic() - started:.1f}s")
    for round_no in range(1, ctx.rounds + 1):
        if ctx.time_left() <= 0:
            results.notes.append(f"{workload.name}: stopped after {round_no - 1} rounds "
                                 "(--max-minutes reached)")
            return
        for server in servers:
            if workload.fresh_server:
                server.restart()
            profile = None
            if profile_dir is not None and round_no == 1 and isinstance(server, MailhostServer):
                assert server.pid is not None
                profile = Profiler(server.pid, profile_dir / f"{workload.name}.collapsed")
            with profile or contextlib.nullcontext():
                values = workload.run(server, ctx, round_no)
                if profile is not None and workload.read_only:
                    _repeat_for_samples(workload, server, ctx, round_no)
            waited, after = settle(server)
            values[f"{workload.name}.cpu_after_round_s"] = after
            results.add_round(workload.name, workload.metrics, server.name, values)
            _say(f"  round {round_no} {server.name}: {_short(values)}"
                 + (f" (settled in {waited:.1f}s)" if waited > 1 else ""))
            if profile is not None:
                summary = summarise(profile.output)
                path = profile.output.with_suffix(".summary.txt")
                path.write_text(summary)
                results.profiles[workload.name] = str(path)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if os.geteuid() != 0:
        print("python -m bench: run as root (it installs Dovecot and Dovecot switches to its "
              "mail user)", file=sys.stderr)
        return 2
    if args.rounds < 1:
        print("python -m bench: --rounds must be at least 1", file=sys.stderr)
        return 2
    sizes = Sizes.quick() if args.quick else Sizes()
    workloads = _select(all_workloads(sizes), args.only)
    profile_dir = None
    if args.profile:
        if Profiler.executable() is None:
            print("python -m bench: --profile needs py-spy (pip install py-spy)",
                  file=sys.stderr)
            return 2
        profile_dir = args.results / "profiles"
    dovecot.ensure_installed()
    root = Path(tempfile.mkdtemp(prefix="mailhost-bench-"))
    ctx = Context(sizes=sizes, rounds=args.rounds, factory=MessageFactory(args.seed),
                  deadline=time.monotonic() + args.max_minutes * 60, lmtp=provides_lmtp(),
                  workdir=root)
    runnable = [w for w in workloads if w.available(ctx) is None]
    users = sorted({address(u) for w in runnable for u in w.users(ctx)})
    servers: list[BenchServer] = [MailhostServer(root, users, ctx.lmtp, args.event_loop),
                                  DovecotServer(root, users)]
    results = Results(
        started=datetime.now().astimezone(),
        machine=describe({s.name: s.version() for s in servers}),
        settings={"rounds": args.rounds, "quick": args.quick, "seed": args.seed,
                  "sizes": asdict(sizes), "lmtp": ctx.lmtp, "profiled": args.profile,
                  "event_loop": args.event_loop},
    )
    results.load["before"] = load_average()
    _say(f"temp dir {root}; {len(users)} accounts; LMTP {'on' if ctx.lmtp else 'pending'}")
    try:
        for server in servers:
            server.start()
            _say(f"started {server.name} on {server.ports}")
        for workload in workloads:
            reason = workload.available(ctx)
            if reason is not None:
                results.pending[workload.name] = reason
                _say(f"{workload.name}: {reason}")
                continue
            if ctx.time_left() <= 0:
                results.pending[workload.name] = "skipped: --max-minutes reached"
                continue
            _say(f"{workload.name}: {workload.description}")
            _run_workload(workload, servers, ctx, results, profile_dir)
    finally:
        for server in servers:
            server.stop()
        results.load["after"] = load_average()
        if args.keep:
            _say(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    results.notes.extend(ctx.notes)
    print()
    print(table(results))
    path = write(results, args.results, latest=not args.profile)
    print(f"\nload average before {results.load['before']}, after {results.load['after']}")
    print(f"results: {path}" + ("" if args.profile else " (and latest.json)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
