"""Folder patterns, shared by IMAP LIST/LSUB, retention and folder_sync (mailhost.store.names)."""

from __future__ import annotations

import random
import re
import time

import pytest

from mailhost.store.names import folder_matches, matches, parents_of, subtree_match


@pytest.mark.parametrize(("pattern", "name", "expected"), [
    ("Lists/*", "Lists/python/announce", True),
    ("Lists/%", "Lists/python", True),
    ("Lists/%", "Lists/python/announce", False),  # % stops at the separator
    ("*", "INBOX", True),
    ("inbox", "INBOX", True),  # INBOX in any case, as the admin may write it
    ("inbox/*", "INBOX/old", True),
    ("inboxes", "INBOX", False),
    ("lists/*", "Lists/python", False),  # other names are case-sensitive
    ("Archive.2020", "Archive-2020", False),  # the dot is literal, not a regex
    ("*/Spam", "Clients/Acme/Spam", True),
])
def test_folder_patterns(pattern: str, name: str, expected: bool) -> None:
    assert folder_matches(name, pattern) is expected


def test_list_matching_takes_the_pattern_as_given() -> None:
    assert matches("INBOX", "INBOX") and not matches("INBOX", "inbox")


def test_a_pattern_covers_the_subtree_of_what_it_matches() -> None:
    assert parents_of("a/b/c") == ["a", "a/b"]
    assert subtree_match("Archive/Old/2019", ["Archive/Old"]) == "Archive/Old"
    assert subtree_match("Archive/Old", ["Junk", "Archive/%"]) == "Archive/%"
    assert subtree_match("Archive", ["Archive/Old", "Archive/*"]) is None
    assert subtree_match("Archive/Older", ["Archive/Old"]) is None  # a level, not a prefix
    assert subtree_match("INBOX/x", ["inbox"]) == "inbox"
    assert subtree_match("INBOX", []) is None


def _backtracking(pattern: str) -> re.Pattern[str]:
    """The plain regular expression for a pattern: right, but slow on some patterns."""
    return re.compile("".join(".*" if c == "*" else "[^/]*" if c == "%" else re.escape(c)
                              for c in pattern), re.DOTALL)


def test_patterns_with_several_wildcards_match_as_the_regular_expression_does() -> None:
    rng = random.Random(5)
    for _ in range(3000):
        pattern = "".join(rng.choice("ab/*%") for _ in range(rng.randint(0, 7)))
        name = "".join(rng.choice("ab/") for _ in range(rng.randint(0, 9)))
        expected = _backtracking(pattern).fullmatch(name) is not None
        assert matches(name, pattern) is expected, (pattern, name)


def test_a_pattern_built_to_backtrack_is_answered_at_once() -> None:
    # As a regular expression this took 4 s on the event loop (and minutes with a few more
    # wildcards); any user may send it in a LIST and create the folder it chews on.
    started = time.perf_counter()
    for stars in (7, 9, 30):
        assert not matches("a" * 500, "*a" * stars + "*b")
        assert matches("a" * 500, "%a" * stars + "*")
    assert time.perf_counter() - started < 10.0  # a regular expression takes minutes
