"""py-spy attached to the mailhost process while one workload runs against it.

The collapsed stacks go to a file; a summary lists the frames that were on CPU most often
(self) and mailhost's own frames most often on the stack (inclusive), which is what the
optimisation work is planned from. Time spent inside SQLite shows up as the aiosqlite worker
thread's ``function()`` line: py-spy cannot tell which statement ran.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import TracebackType

SAMPLE_RATE = 100
TOP = 25
STOP_TIMEOUT = 60.0


class Profiler:
    """``with Profiler(pid, path):`` records the process for the duration of the block."""

    def __init__(self, pid: int, output: Path) -> None:
        self.pid = pid
        self.output = output
        self._proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def executable() -> str | None:
        """py-spy on PATH or beside this interpreter (pip installs it into the venv)."""
        beside = Path(sys.executable).parent / "py-spy"
        return shutil.which("py-spy") or (str(beside) if beside.exists() else None)

    def __enter__(self) -> Profiler:
        self.output.parent.mkdir(parents=True, exist_ok=True)
        spy = self.executable()
        if spy is None:
            raise RuntimeError("py-spy is not installed (pip install py-spy)")
        self._proc = subprocess.Popen(
            [spy, "record", "--pid", str(self.pid), "--rate", str(SAMPLE_RATE),
             "--format", "raw", "--nonblocking", "--output", str(self.output)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._proc is None:
            return
        self._proc.send_signal(signal.SIGINT)
        try:
            self._proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=STOP_TIMEOUT)


def _ours(frame: str) -> bool:
    """A frame of mailhost's own code (not asyncio, threading, aiosqlite or the stdlib)."""
    return "(mailhost/" in frame


def _short(frame: str) -> str:
    """``func (path/to/module.py:12)`` -> ``func (module.py:12)``, keeping the package."""
    if " (" not in frame:
        return frame
    name, where = frame.split(" (", 1)
    parts = where.rstrip(")").split("/")
    return f"{name} ({'/'.join(parts[-2:])})"


def summarise(collapsed: Path, top: int = TOP) -> str:
    """Top frames by self and inclusive samples, as text."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        raw = stack.split(";")
        total += count
        own[_short(raw[-1])] += count
        for frame in {_short(f) for f in raw if _ours(f)}:
            inclusive[frame] += count
    if total == 0:
        return "no samples\n"
    lines = [f"{total} samples at {SAMPLE_RATE} Hz", "", "self (on CPU):"]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in own.most_common(top)]
    lines += ["", "inclusive, mailhost frames only (on the stack):"]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in inclusive.most_common(top)]
    return "\n".join(lines) + "\n"
