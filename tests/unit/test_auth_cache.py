"""Auth cache: exact matches only, TTL, invalidation, LRU bound, and no password material kept."""

from __future__ import annotations

import hashlib
import hmac
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailhost.auth import cache as cache_module
from mailhost.auth.cache import AuthCache
from tests.unit.test_auth_ratelimit import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cache(clock: FakeClock) -> AuthCache:
    return AuthCache(ttl=300.0, now=clock)


def test_empty_cache_misses(cache: AuthCache) -> None:
    assert not cache.lookup("alice", "s3cret")


def test_hit_only_for_the_exact_password(cache: AuthCache) -> None:
    cache.store_success("alice", "s3cret")
    assert cache.lookup("alice", "s3cret")
    assert not cache.lookup("alice", "s3cret ")
    assert not cache.lookup("alice", "S3cret")
    assert not cache.lookup("alice", "")
    assert not cache.lookup("bob", "s3cret")


def test_non_ascii_credentials(cache: AuthCache) -> None:
    cache.store_success("jürgen", "pässwörd🔑")
    assert cache.lookup("JÜRGEN", "pässwörd🔑")
    assert not cache.lookup("jürgen", "passwörd🔑")


def test_username_is_case_insensitive(cache: AuthCache) -> None:
    cache.store_success("Alice@Example.org", "s3cret")
    assert cache.lookup("alice@example.org", "s3cret")
    cache.invalidate("ALICE@EXAMPLE.ORG")
    assert not cache.lookup("Alice@Example.org", "s3cret")


def test_length_prefix_keeps_boundaries(cache: AuthCache) -> None:
    cache.store_success("ab", "c")
    assert not cache.lookup("a", "bc")
    assert not cache.lookup("abc", "")


def test_entry_expires_after_ttl(cache: AuthCache, clock: FakeClock) -> None:
    cache.store_success("alice", "s3cret")
    clock.advance(299.0)
    assert cache.lookup("alice", "s3cret")
    clock.advance(1.0)
    assert not cache.lookup("alice", "s3cret")
    assert len(cache) == 0


def test_hits_do_not_extend_the_lifetime(cache: AuthCache, clock: FakeClock) -> None:
    cache.store_success("alice", "s3cret")
    for _ in range(5):
        clock.advance(60.0)
        cache.lookup("alice", "s3cret")
    assert not cache.lookup("alice", "s3cret")


def test_new_success_replaces_old_password(cache: AuthCache) -> None:
    cache.store_success("alice", "old")
    cache.store_success("alice", "new")
    assert cache.lookup("alice", "new")
    assert not cache.lookup("alice", "old")
    assert len(cache) == 1


def test_invalidate_forgets_only_that_user(cache: AuthCache) -> None:
    cache.store_success("alice", "s3cret")
    cache.store_success("bob", "hunter2")
    cache.invalidate("alice")
    cache.invalidate("nobody")
    assert not cache.lookup("alice", "s3cret")
    assert cache.lookup("bob", "hunter2")


def test_clear_forgets_everyone(cache: AuthCache) -> None:
    cache.store_success("alice", "s3cret")
    cache.clear()
    assert len(cache) == 0
    assert not cache.lookup("alice", "s3cret")
    cache.store_success("alice", "s3cret")
    assert cache.lookup("alice", "s3cret")


@pytest.mark.parametrize("ttl", [0.0, -1.0])
def test_non_positive_ttl_disables(ttl: float, clock: FakeClock) -> None:
    disabled = AuthCache(ttl=ttl, now=clock)
    assert not disabled.enabled
    disabled.store_success("alice", "s3cret")
    assert len(disabled) == 0
    assert not disabled.lookup("alice", "s3cret")


def test_least_recently_used_is_evicted(clock: FakeClock) -> None:
    small = AuthCache(ttl=300.0, max_entries=2, now=clock)
    small.store_success("alice", "a")
    small.store_success("bob", "b")
    assert small.lookup("alice", "a")  # bob is now the least recently used
    small.store_success("carol", "c")
    assert len(small) == 2
    assert small.lookup("alice", "a")
    assert small.lookup("carol", "c")
    assert not small.lookup("bob", "b")


def test_expired_entries_are_pruned_on_store(cache: AuthCache, clock: FakeClock) -> None:
    for user in ("alice", "bob", "carol"):
        cache.store_success(user, "pw")
    clock.advance(300.0)
    cache.store_success("dave", "pw")
    assert len(cache) == 1


def test_invalid_size(clock: FakeClock) -> None:
    with pytest.raises(ValueError):
        AuthCache(ttl=1.0, max_entries=0, now=clock)


def test_no_password_or_unkeyed_hash_is_kept(cache: AuthCache) -> None:
    password = "correct horse battery staple"
    cache.store_success("alice", password)
    state = pickle.dumps(cache._entries)
    assert password.encode() not in state
    for algorithm in ("md5", "sha1", "sha256", "sha512", "blake2b"):
        assert hashlib.new(algorithm, password.encode()).digest() not in state


def test_two_caches_use_different_keys(clock: FakeClock) -> None:
    first, second = AuthCache(ttl=10.0, now=clock), AuthCache(ttl=10.0, now=clock)
    first.store_success("alice", "pw")
    second.store_success("alice", "pw")
    assert first._entries["alice"].mac != second._entries["alice"].mac


def test_comparison_is_constant_time(cache: AuthCache, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return original(a, b)

    monkeypatch.setattr(cache_module.hmac, "compare_digest", spy)
    cache.store_success("alice", "s3cret")
    assert cache.lookup("alice", "s3cret")
    assert not cache.lookup("alice", "wrong")
    assert len(calls) == 2


@settings(max_examples=100)
@given(
    username=st.text(max_size=20),
    password=st.text(max_size=20),
    other=st.text(max_size=20),
)
def test_only_the_stored_password_matches(username: str, password: str, other: str) -> None:
    cache = AuthCache(ttl=60.0, now=lambda: 0.0)
    cache.store_success(username, password)
    assert cache.lookup(username, password)
    assert cache.lookup(username, other) is (other == password)
