"""Delivery rules and subaddress tags, on raw message bytes and addresses."""

from __future__ import annotations

import pytest
from mailhost_folder_sync.filing import (
    parse_header,
    rule_folder,
    subaddress_tag,
    tag_folder,
)
from mailhost_folder_sync.settings import Rule

LIST_MAIL = (
    b"From: list@example.org\r\n"
    b"List-Id: Family news\r\n"
    b" <family.lists.example.org>\r\n"
    b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= aus Berlin\r\n"
    b"X-Spam-Flag: NO\r\n"
    b"\r\n"
    b"X-Spam-Flag: YES\r\n"
)


def test_header_fields_are_unfolded_and_decoded_and_the_body_ignored() -> None:
    fields = parse_header(LIST_MAIL)
    assert ("List-Id", "Family news <family.lists.example.org>") in fields
    assert ("Subject", "Grüße aus Berlin") in fields
    assert [value for name, value in fields if name == "X-Spam-Flag"] == ["NO"]


def test_bare_lf_and_space_before_colon_and_mbox_from_line() -> None:
    raw = b"From alice@example.org Mon Jan  1 12:00:00 2024\nSubject : hello\n\nbody: x\n"
    assert parse_header(raw) == [("Subject", "hello")]


def test_broken_encoded_words_are_compared_raw() -> None:
    raw = b"Subject: =?x-no-such-charset?q?abc?=\r\nTo: =?utf-8?q?unterminated\r\n\r\n"
    assert parse_header(raw) == [("Subject", "=?x-no-such-charset?q?abc?="),
                                 ("To", "=?utf-8?q?unterminated")]


def test_eight_bit_and_header_only_messages() -> None:
    assert parse_header("Subject: Grüße\r\n".encode()) == [("Subject", "Grüße")]
    assert parse_header(b"Subject: \xff\r\n") == [("Subject", "\ufffd")]


RULES = [
    Rule(header="X-Spam-Flag", contains="yes", folder="Junk"),
    Rule(header="list-id", contains="FAMILY.lists", folder="Lists/family"),
    Rule(header="List-Id", folder="Lists"),
]


@pytest.mark.parametrize(("raw", "folder"), [
    (LIST_MAIL, "Lists/family"),
    (b"List-Id: <other.example.org>\r\n\r\n", "Lists"),
    (b"X-Spam-Flag: YES\r\nList-Id: <family.lists.example.org>\r\n\r\n", "Junk"),
    (b"Subject: nothing special\r\n\r\nList-Id: in the body\r\n", None),
    (b"", None),
])
def test_the_first_matching_rule_wins(raw: bytes, folder: str | None) -> None:
    assert rule_folder(parse_header(raw), RULES) == folder


@pytest.mark.parametrize(("address", "recipient", "tag"), [
    ("alice+lists@example.org", "alice@example.org", "lists"),
    ("Alice+Lists@Example.org", "alice@example.org", "Lists"),
    ("alice+a+b@example.org", "alice@example.org", "a+b"),
    ("alice@example.org", "alice@example.org", None),
    ("alice+@example.org", "alice@example.org", None),
    ("info+news@example.org", "alice@example.org", "news"),  # an alias with a tag
    ("bob+work@example.org", "bob+work@example.org", None),  # the account has a "+"
    ("no-at-sign", "alice@example.org", None),
])
def test_subaddress_tag(address: str, recipient: str, tag: str | None) -> None:
    assert subaddress_tag(address, recipient) == tag


@pytest.mark.parametrize(("tag", "prefix", "folder"), [
    ("lists", "", "lists"),
    ("shop", "Tags/", "Tags/shop"),
    ("a/b", "", None),
    ("..", "", None),
    ("x*", "", None),
    ("inbox", "", None),
    ("~x", "", None),
])
def test_a_tag_names_at_most_one_safe_folder_level(tag: str, prefix: str,
                                                   folder: str | None) -> None:
    assert tag_folder(tag, prefix) == folder
