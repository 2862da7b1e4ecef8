"""The issue's eight workloads, in the order a run performs them."""

from __future__ import annotations

from bench.core import Sizes, Workload
from bench.workloads.append import Append
from bench.workloads.fetch import Fetch, Search
from bench.workloads.idle import Idle
from bench.workloads.large import Large
from bench.workloads.lmtp import Lmtp
from bench.workloads.mixed import Mixed
from bench.workloads.pop3 import Pop3


def all_workloads(sizes: Sizes) -> list[Workload]:
    """APPEND comes before FETCH and SEARCH, which read the folder it fills."""
    return [Lmtp(sizes.lmtp_connections), Pop3(), Append(), Fetch(), Search(),
            Mixed(sizes.mixed_clients), Idle(), Large()]
