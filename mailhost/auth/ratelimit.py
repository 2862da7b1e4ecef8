"""Per-client failed-login limiter: too many failures in a window lock the client out.

Clients are keyed by address, normalised so one host cannot dodge the limit:

* IPv4-mapped IPv6 (``::ffff:192.0.2.1``) counts as the IPv4 address, so a dual-stack
  listener sees one client, not two.
* Any other IPv6 address counts as its /64 prefix. A /64 is the smallest block normally
  handed to one host or subscriber line, and SLAAC privacy addresses let a single machine
  pick a fresh address in it for every connection; keying on the full address would give
  such an attacker an unlimited budget. The price is that hosts sharing a /64 share a budget.
* Anything that is not an IP address (a Unix socket peer, ``"unknown"``) is used verbatim.

Memory is bounded: at most ``max_tracked`` keys are kept (the least recently failed are
forgotten first), each holding at most ``max_failures`` timestamps, and expired entries are
dropped lazily as the limiter is used.
"""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

IPV6_PREFIX_BITS = 64


def client_key(ip: str) -> str:
    """The key failures from ``ip`` are counted under (see module docstring)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv4Address):
        return str(address)
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    host_bits = 128 - IPV6_PREFIX_BITS
    prefix = int(address) >> host_bits << host_bits
    return str(ipaddress.IPv6Network((prefix, IPV6_PREFIX_BITS)))


@dataclass
class _ClientState:
    """Recent failure times (oldest first) and, once locked out, when the lockout ends."""

    failures: deque[float] = field(default_factory=deque)
    locked_until: float = 0.0


class FailureLimiter:
    """Count failed logins per client; ``max_failures`` within ``window`` seconds lock it out.

    A lockout lasts ``lockout`` seconds and is not extended by attempts made meanwhile (the
    caller refuses those without checking a password, so they cost nothing). When it ends
    the client starts with a clean slate.

    Successes never clear failures or a lockout: the key is the client address, not the
    account, so if a success reset the count, an attacker holding any one valid account (or
    sharing a NAT with a legitimate user) could interleave good logins to guess other
    accounts' passwords without limit. Old failures still age out after ``window`` seconds.
    """

    def __init__(
        self,
        max_failures: int = 10,
        window: float = 60.0,
        lockout: float = 300.0,
        now: Callable[[], float] = time.monotonic,
        max_tracked: int = 100_000,
    ) -> None:
        if max_failures < 1 or max_tracked < 1:
            raise ValueError("max_failures and max_tracked must be at least 1")
        if window <= 0 or lockout < 0:
            raise ValueError("window must be positive and lockout not negative")
        self._max_failures = max_failures
        self._window = window
        self._lockout = lockout
        self._now = now
        self._max_tracked = max_tracked
        self._clients: OrderedDict[str, _ClientState] = OrderedDict()

    def __len__(self) -> int:
        """Number of clients currently tracked (bounded by ``max_tracked``)."""
        return len(self._clients)

    def record_failure(self, ip: str) -> bool:
        """Count a failed login; True exactly when this failure starts a lockout."""
        now = self._now()
        self._prune_oldest(now)
        key = client_key(ip)
        state = self._clients.get(key)
        if state is None:
            state = self._clients[key] = _ClientState()
            self._evict_over_cap()
        elif now < state.locked_until:
            return False
        self._clients.move_to_end(key)
        self._forget_old_failures(state, now)
        state.failures.append(now)
        if len(state.failures) < self._max_failures:
            return False
        state.failures.clear()
        state.locked_until = now + self._lockout
        return True

    def record_success(self, ip: str) -> None:
        """Note a successful login: by design it keeps failures and lockouts (see class doc).

        It only drops the client's entry if everything in it has already expired, so a
        client that now logs in cleanly stops occupying memory.
        """
        key = client_key(ip)
        state = self._clients.get(key)
        if state is not None and self._is_expired(state, self._now()):
            del self._clients[key]

    def is_locked(self, ip: str) -> bool:
        """True while ``ip`` is locked out; the caller refuses without checking a password."""
        return self.seconds_left(ip) > 0.0

    def seconds_left(self, ip: str) -> float:
        """Seconds until the lockout of ``ip`` ends, 0.0 when it is not locked out."""
        state = self._clients.get(client_key(ip))
        if state is None:
            return 0.0
        remaining = state.locked_until - self._now()
        # Clamped: float rounding in (now + lockout) - now must never report more than lockout.
        return min(self._lockout, max(0.0, remaining))

    def _forget_old_failures(self, state: _ClientState, now: float) -> None:
        horizon = now - self._window
        while state.failures and state.failures[0] <= horizon:
            state.failures.popleft()

    def _is_expired(self, state: _ClientState, now: float) -> bool:
        if now < state.locked_until:
            return False
        return not state.failures or state.failures[-1] <= now - self._window

    def _prune_oldest(self, now: float) -> None:
        """Drop expired entries from the least recently failed end (amortised O(1))."""
        while self._clients:
            oldest_key = next(iter(self._clients))
            if not self._is_expired(self._clients[oldest_key], now):
                return
            del self._clients[oldest_key]

    def _evict_over_cap(self) -> None:
        while len(self._clients) > self._max_tracked:
            self._clients.popitem(last=False)
