"""Python's own email test corpus survives SMTP delivery byte for byte (plus trace headers)."""

from __future__ import annotations

import smtplib
from pathlib import Path

import test.test_email

from mailhost.testing.server import MailhostTestServer
from tests.integration.helpers import ALICE

CORPUS = sorted((Path(test.test_email.__file__).parent / "data").glob("msg_*.txt"))


def crlf(raw: bytes) -> bytes:
    """What the store keeps: CRLF line ends and a final CRLF."""
    text = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return text if text.endswith(b"\r\n") else text + b"\r\n"


def without_trace(stored: bytes) -> bytes:
    """Drop the Return-Path line and the folded Received field the delivery added."""
    lines = stored.split(b"\r\n")
    assert lines[0].startswith(b"Return-Path: <") and lines[1].startswith(b"Received: from ")
    end = 2
    while lines[end].startswith(b"\t"):
        end += 1
    return b"\r\n".join(lines[end:])


def test_corpus_is_delivered_unchanged(users: MailhostTestServer) -> None:
    assert len(CORPUS) > 40
    with smtplib.SMTP("127.0.0.1", users.port("smtp"), timeout=30) as client:
        client.starttls(context=users.client_ssl_context())
        for path in CORPUS:
            # An MTA sends CRLF lines; smtplib leaves bytes alone apart from dot-stuffing.
            assert client.sendmail("corpus@remote.test", [ALICE], crlf(path.read_bytes())) == {}
    stored = users.raw_messages(ALICE)
    assert len(stored) == len(CORPUS)
    for path, message in zip(CORPUS, stored, strict=True):
        assert without_trace(message) == crlf(path.read_bytes()), path.name
