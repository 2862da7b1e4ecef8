"""The shapes every workload shares: sizes, metrics, the run context and the workload API.

A workload prepares each server once (untimed population), then runs one measured round at a
time; the runner alternates servers round by round and takes medians. Metrics say which way is
better so the ratio can always be oriented as "above 1 means mailhost is better".
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

from bench.messages import Message, MessageFactory
from bench.servers import BenchServer


@dataclass(frozen=True)
class Sizes:
    """How much work each workload does; ``quick()`` is the smoke-test variant."""

    lmtp_messages: int = 2_000
    lmtp_message_size: int = 5_000
    lmtp_connections: tuple[int, ...] = (1, 4)
    pop3_messages: int = 2_000
    append_messages: int = 10_000
    append_window: int = 64
    mixed_clients: tuple[int, ...] = (1, 10, 50)
    mixed_seconds: float = 10.0
    mixed_mailbox: int = 50
    mixed_append_size: int = 5_000
    idle_connections: int = 1_000
    idle_open_concurrency: int = 20
    push_samples: int = 20
    large_messages: int = 100_000
    large_message_size: int = 2_048

    @classmethod
    def quick(cls) -> Sizes:
        return cls(lmtp_messages=200, pop3_messages=200, append_messages=1_000,
                   mixed_seconds=3.0, mixed_mailbox=20, idle_connections=100, push_samples=5,
                   large_messages=10_000)


@dataclass(frozen=True)
class Metric:
    """One reported figure. ``target`` is the oriented ratio the issue asks for (None: none)."""

    key: str
    label: str
    unit: str
    higher_is_better: bool
    target: float | None = None


@dataclass
class Context:
    """What a workload may use: sizes, messages, the run's deadline, per-run facts."""

    sizes: Sizes
    rounds: int
    factory: MessageFactory
    deadline: float  # time.monotonic() after which no new round starts
    lmtp: bool  # both servers speak LMTP
    workdir: Path
    notes: list[str] = field(default_factory=list)
    _corpus: list[Message] | None = None

    def time_left(self) -> float:
        return self.deadline - time.monotonic()

    def corpus(self) -> list[Message]:
        """The mixed-size folder that APPEND stores and FETCH/SEARCH read, built once."""
        if self._corpus is None:
            self._corpus = [self.factory.make(i) for i in range(self.sizes.append_messages)]
        return self._corpus


class Workload(ABC):
    """One workload of the issue, run the same way against every server."""

    name: str
    description: str
    metrics: tuple[Metric, ...]
    fresh_server = False  # restart the server before each round (memory figures)
    read_only = False  # a round changes nothing, so a profile may repeat it for more samples

    def users(self, ctx: Context) -> list[str]:
        """Local parts of the accounts this workload logs in as."""
        return []

    def available(self, ctx: Context) -> str | None:
        """None if it can run, else why not (reported as pending)."""
        return None

    def prepare(self, server: BenchServer, ctx: Context) -> None:  # noqa: B027 - optional
        """Untimed population, once per server before the first round (default: none)."""

    @abstractmethod
    def run(self, server: BenchServer, ctx: Context, round_no: int) -> dict[str, float]:
        """One measured round; returns a value per metric key."""
