"""Failed-login limiter: windows, lockouts and expiry on a fake clock, key normalisation, bounds."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailhost.auth.ratelimit import FailureLimiter, client_key


class FakeClock:
    """A monotonic clock the test moves by hand (also used by the auth cache tests)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def limiter(clock: FakeClock, **kwargs: int | float) -> FailureLimiter:
    options: dict[str, float] = {"max_failures": 3, "window": 60.0, "lockout": 300.0}
    options.update(kwargs)
    return FailureLimiter(
        max_failures=int(options.pop("max_failures")),
        max_tracked=int(options.pop("max_tracked", 100_000)),
        now=clock,
        **options,
    )


def fail(limit: FailureLimiter, ip: str, times: int) -> list[bool]:
    return [limit.record_failure(ip) for _ in range(times)]


def test_lockout_after_max_failures(clock: FakeClock) -> None:
    limit = limiter(clock)
    assert fail(limit, "192.0.2.1", 2) == [False, False]
    assert not limit.is_locked("192.0.2.1")
    assert limit.record_failure("192.0.2.1") is True
    assert limit.is_locked("192.0.2.1")
    assert limit.seconds_left("192.0.2.1") == 300.0


def test_defaults_follow_configuration_defaults(clock: FakeClock) -> None:
    limit = FailureLimiter(now=clock)
    assert fail(limit, "192.0.2.1", 10) == [False] * 9 + [True]
    clock.advance(299.0)
    assert limit.seconds_left("192.0.2.1") == pytest.approx(1.0)


def test_other_clients_unaffected(clock: FakeClock) -> None:
    limit = limiter(clock)
    fail(limit, "192.0.2.1", 3)
    assert not limit.is_locked("192.0.2.2")
    assert limit.seconds_left("192.0.2.2") == 0.0


def test_failures_outside_the_window_are_forgotten(clock: FakeClock) -> None:
    limit = limiter(clock)
    fail(limit, "192.0.2.1", 2)
    clock.advance(60.0)
    assert fail(limit, "192.0.2.1", 2) == [False, False]
    assert not limit.is_locked("192.0.2.1")


def test_window_slides(clock: FakeClock) -> None:
    limit = limiter(clock)
    limit.record_failure("192.0.2.1")
    clock.advance(40.0)
    limit.record_failure("192.0.2.1")
    clock.advance(30.0)  # first failure is now 70 s old, second 30 s
    assert limit.record_failure("192.0.2.1") is False
    assert limit.record_failure("192.0.2.1") is True


def test_lockout_expires_and_counting_restarts(clock: FakeClock) -> None:
    limit = limiter(clock)
    fail(limit, "192.0.2.1", 3)
    clock.advance(299.5)
    assert limit.is_locked("192.0.2.1")
    assert limit.seconds_left("192.0.2.1") == pytest.approx(0.5)
    clock.advance(0.5)
    assert not limit.is_locked("192.0.2.1")
    assert limit.seconds_left("192.0.2.1") == 0.0
    assert fail(limit, "192.0.2.1", 3) == [False, False, True]


def test_seconds_left_never_exceeds_lockout_despite_float_rounding(clock: FakeClock) -> None:
    clock.now = 1000.4  # (1000.4 + 300.0) - 1000.4 == 300.0000000000001
    limit = limiter(clock)
    fail(limit, "192.0.2.1", 3)
    assert limit.seconds_left("192.0.2.1") == 300.0


def test_failures_during_lockout_do_not_extend_it(clock: FakeClock) -> None:
    limit = limiter(clock)
    fail(limit, "192.0.2.1", 3)
    clock.advance(100.0)
    assert fail(limit, "192.0.2.1", 5) == [False] * 5
    assert limit.seconds_left("192.0.2.1") == 200.0


def test_success_does_not_reset_lockout(clock: FakeClock) -> None:
    limit = limiter(clock)
    fail(limit, "192.0.2.1", 3)
    limit.record_success("192.0.2.1")
    assert limit.is_locked("192.0.2.1")


def test_success_does_not_clear_the_failure_window(clock: FakeClock) -> None:
    limit = limiter(clock)
    fail(limit, "192.0.2.1", 2)
    limit.record_success("192.0.2.1")
    assert limit.record_failure("192.0.2.1") is True


def test_success_drops_an_expired_entry(clock: FakeClock) -> None:
    limit = limiter(clock)
    limit.record_failure("192.0.2.1")
    limit.record_success("192.0.2.1")
    assert len(limit) == 1
    clock.advance(61.0)
    limit.record_success("192.0.2.1")
    assert len(limit) == 0


@pytest.mark.parametrize(
    ("ip", "key"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("::FFFF:c000:0201", "192.0.2.1"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:0DB8:0001:0002::ffff", "2001:db8:1:2::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        ("::1", "::/64"),
        ("/run/mailhost.sock", "/run/mailhost.sock"),
        ("unknown", "unknown"),
    ],
)
def test_client_key(ip: str, key: str) -> None:
    assert client_key(ip) == key


def test_mapped_ipv4_shares_the_budget_with_plain_ipv4(clock: FakeClock) -> None:
    limit = limiter(clock)
    fail(limit, "192.0.2.1", 2)
    assert limit.record_failure("::ffff:192.0.2.1") is True
    assert limit.is_locked("192.0.2.1")


def test_rotating_addresses_within_a_64_is_one_client(clock: FakeClock) -> None:
    limit = limiter(clock)
    limit.record_failure("2001:db8:1:2::a")
    limit.record_failure("2001:db8:1:2::b")
    assert limit.record_failure("2001:db8:1:2:dead:beef:0:1") is True
    assert limit.is_locked("2001:db8:1:2::c")
    assert not limit.is_locked("2001:db8:1:3::a")


def test_queries_do_not_track_new_clients(clock: FakeClock) -> None:
    limit = limiter(clock)
    limit.is_locked("192.0.2.1")
    limit.seconds_left("192.0.2.1")
    limit.record_success("192.0.2.1")
    assert len(limit) == 0


def test_tracked_clients_are_capped_oldest_first(clock: FakeClock) -> None:
    limit = limiter(clock, max_tracked=3)
    for host in range(1, 5):
        limit.record_failure(f"192.0.2.{host}")
        clock.advance(1.0)
    assert len(limit) == 3
    # 192.0.2.1 was forgotten: it needs three fresh failures again.
    assert fail(limit, "192.0.2.1", 2) == [False, False]
    assert limit.record_failure("192.0.2.3") is False
    assert limit.record_failure("192.0.2.3") is True


def test_refreshed_client_is_not_the_oldest(clock: FakeClock) -> None:
    limit = limiter(clock, max_tracked=2)
    limit.record_failure("192.0.2.1")
    limit.record_failure("192.0.2.2")
    limit.record_failure("192.0.2.1")
    limit.record_failure("192.0.2.3")
    assert limit.record_failure("192.0.2.1") is True


def test_expired_entries_are_pruned_lazily(clock: FakeClock) -> None:
    limit = limiter(clock)
    for host in range(1, 51):
        limit.record_failure(f"192.0.2.{host}")
    assert len(limit) == 50
    clock.advance(61.0)
    limit.record_failure("198.51.100.1")
    assert len(limit) == 1


def test_locked_entries_survive_pruning_until_lockout_ends(clock: FakeClock) -> None:
    limit = limiter(clock)
    fail(limit, "192.0.2.1", 3)
    clock.advance(61.0)
    limit.record_failure("198.51.100.1")
    assert limit.is_locked("192.0.2.1")
    clock.advance(300.0)
    limit.record_failure("198.51.100.2")
    assert len(limit) == 1


@pytest.mark.parametrize(
    "options",
    [{"max_failures": 0}, {"max_tracked": 0}, {"window": 0.0}, {"lockout": -1.0}],
)
def test_invalid_configuration(clock: FakeClock, options: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        limiter(clock, **options)


@settings(max_examples=50)
@given(st.lists(st.tuples(st.integers(0, 40), st.floats(0.0, 30.0)), max_size=200))
def test_bounds_hold_for_any_failure_sequence(events: list[tuple[int, float]]) -> None:
    clock = FakeClock()
    limit = limiter(clock, max_tracked=16)
    for host, delay in events:
        clock.advance(delay)
        limit.record_failure(f"10.0.0.{host}")
        assert len(limit) <= 16
        assert 0.0 <= limit.seconds_left(f"10.0.0.{host}") <= 300.0
