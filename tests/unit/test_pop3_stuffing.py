"""Byte-stuffing of RETR/TOP bodies: the dot search must stuff exactly what replace would."""

from __future__ import annotations

import random

import pytest

from mailhost.protocols.pop3.parser import DOT_PROBES, message_reply, stuffed_lines


def by_replace(message: bytes) -> bytes:
    return message.replace(b"\r\n.", b"\r\n..")


@pytest.mark.parametrize("message", [
    b"", b".", b".\r\n", b"\r\n.", b"a\r\n.b", b"\n.bare LF", b"\r.bare CR", b"x.\r\n..\r\n.",
    b"no dots at all\r\n", b"end.\r\n" * 3 + b"\r\n.late",
    b"a." * DOT_PROBES + b"\r\n.after many dots", b"a." * (DOT_PROBES - 1) + b"\r\n.just in",
    b"." * 1000,
])
def test_stuffed_lines_matches_replace(message: bytes) -> None:
    assert stuffed_lines(message) == by_replace(message)


def test_stuffed_lines_matches_replace_on_random_dot_soup() -> None:
    rnd = random.Random(7)
    for _ in range(5000):
        message = bytes(rnd.choice(b"\r\n.a") for _ in range(rnd.randint(0, 16)))
        assert stuffed_lines(message) == by_replace(message), message


def test_a_message_without_dot_lines_is_sent_without_a_copy() -> None:
    message = b"Subject: hi\r\n\r\nversion 1.2.\r\n"
    head, body, tail = message_reply(b"+OK\r\n", message)
    assert body is message and head == b"+OK\r\n" and tail == b".\r\n"
