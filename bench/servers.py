"""What the workloads need from a server under test, and process bookkeeping both share.

Workloads see only ports, accounts and a way to weigh the server's memory; how a server is
installed, configured, started and stopped stays in its own module.
"""

from __future__ import annotations

import os
import signal
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass

PASSWORD = "bench-password-1"
DOMAIN = "example.test"


@dataclass(frozen=True)
class Ports:
    imap: int
    pop3: int
    lmtp: int | None


class BenchServer(ABC):
    """A mail server the benchmark starts, feeds and stops; loopback only."""

    name: str

    @property
    @abstractmethod
    def ports(self) -> Ports: ...

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def stop(self) -> None: ...

    @abstractmethod
    def pids(self) -> list[int]:
        """Every process that serves mail, for the memory figure."""

    @abstractmethod
    def version(self) -> str: ...

    def restart(self) -> None:
        self.stop()
        self.start()

    def pss_kib(self) -> int:
        """Proportional set size of all server processes: shared pages are split fairly."""
        return sum(pss_of(pid) for pid in self.pids())


def task_count(pids: Iterable[int]) -> int:
    """Threads of all the given processes (a process counts as its main thread)."""
    total = 0
    for pid in pids:
        try:
            total += len(os.listdir(f"/proc/{pid}/task"))
        except FileNotFoundError:
            continue
    return total


_TICK = os.sysconf("SC_CLK_TCK")
SETTLE_WINDOW = 0.3  # seconds with (almost) no CPU that count as quiet
SETTLE_LIMIT = 60.0


def cpu_seconds(pids: Iterable[int]) -> float:
    """CPU time of these processes and of their reaped children (utime, stime, cu, cs)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += sum(int(value) for value in fields[11:15])
    return total / _TICK


def settle(server: BenchServer) -> tuple[float, float]:
    """Wait until the server uses (almost) no CPU: work it deferred past a round (mailhost
    analyses delivered mail after acknowledging it) must not run during the other server's
    round. Returns (seconds waited, CPU seconds the server used meanwhile); bounded.
    """
    started = time.monotonic()
    first = last = cpu_seconds(server.pids())
    while time.monotonic() - started < SETTLE_LIMIT:
        time.sleep(SETTLE_WINDOW)
        now = cpu_seconds(server.pids())
        if now - last <= 1.5 / _TICK:  # a tick or so: timers, not work
            break
        last = now
    return time.monotonic() - started, last - first


def address(local: str) -> str:
    return f"{local}@{DOMAIN}"


def pss_of(pid: int) -> int:
    """PSS of one process in KiB (0 if it has gone)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return 0
    return 0


def descendants(root: int) -> list[int]:
    """``root`` and every process below it, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def terminate(leader: int, everyone: Iterable[int], grace: float) -> None:
    """SIGTERM ``leader``, wait up to ``grace`` s for ``everyone`` to exit, SIGKILL the rest."""
    pids = [pid for pid in everyone if alive(pid)]
    try:
        os.kill(leader, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(alive(pid) for pid in pids):
        time.sleep(0.05)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
