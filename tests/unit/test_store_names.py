"""Folder patterns, shared by IMAP LIST/LSUB, retention and folder_sync (mailhost.store.names)."""

from __future__ import annotations

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
