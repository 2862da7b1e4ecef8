"""Trace headers built from hostile client values never gain a line break (RFC 5321 §4.4)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from email import message_from_bytes
from email.policy import SMTP as SMTP_POLICY
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mailhost.delivery.trace import (
    _ADDRESS_FORBIDDEN,
    _HOST_CHARS,
    TraceInfo,
    clean_address,
    clean_host,
    received_header,
    return_path_header,
    with_protocol,
)

WHEN = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


BASE = TraceInfo(hostname="mail.example.test", protocol="smtp", queue_id="ABC123",
                 helo="client.example.org", peer_ip="192.0.2.7")


def info(**changes: Any) -> TraceInfo:
    return dataclasses.replace(BASE, **changes)


def header_lines(header: bytes) -> list[bytes]:
    assert header.endswith(b"\r\n")
    lines = header[:-2].split(b"\r\n")
    assert all(b"\r" not in line and b"\n" not in line for line in lines)
    return lines


def test_received_layout() -> None:
    header = received_header(info(tls="TLSv1.3 TLS_AES_128_GCM_SHA256", authenticated=None),
                             "bob@example.test", WHEN)
    assert header == (
        b"Received: from client.example.org ([192.0.2.7])\r\n"
        b"\t(using TLSv1.3 TLS_AES_128_GCM_SHA256)\r\n"
        b"\tby mail.example.test (mailhost) with ESMTPS id ABC123\r\n"
        b"\tfor <bob@example.test>; Tue, 02 Jan 2024 03:04:05 +0000\r\n"
    )


def test_received_without_recipient_and_for_local_delivery() -> None:
    header = received_header(info(), None, WHEN)
    assert header.endswith(b" id ABC123;\r\n\tTue, 02 Jan 2024 03:04:05 +0000\r\n")
    local = received_header(info(protocol="deliver"), "bob@example.test", WHEN)
    assert local.startswith(b"Received: by mail.example.test (mailhost deliver)\r\n")
    assert b"from" not in local.split(b"\r\n")[0]


def test_header_injection_through_helo_address_and_login() -> None:
    evil = info(helo="x\r\nX-Injected: 1", authenticated="alice\r\nX-Evil: 2",
                peer_ip="192.0.2.7")
    header = received_header(evil, "bob@example.test>\r\nBcc: all@example.test", WHEN)
    lines = header_lines(header)
    assert all(line.startswith((b"Received:", b"\t")) for line in lines)
    parsed = message_from_bytes(header + b"\r\nbody", policy=SMTP_POLICY)
    assert list(parsed.keys()) == ["Received"]
    assert b"X-Injected" in header  # the text stays visible, as part of the same field
    rp = return_path_header("a\r\nX-Evil: 1@example.test")
    assert header_lines(rp) == [b"Return-Path: <a??X-Evil: 1@example.test>"]


def test_brackets_cannot_close_the_comment_or_address() -> None:
    assert clean_address("a>b(c)d<e\\f@x") == "a?b?c?d?e?f@x"
    assert clean_host("evil) by fake (x") == "evil??by?fake??x"
    assert clean_host("") == "unknown"


def test_non_ascii_only_for_smtputf8() -> None:
    assert clean_address("jörg@example.test") == "j?rg@example.test"
    assert clean_address("jörg@example.test", allow_utf8=True) == "jörg@example.test"
    assert clean_address("a\u2028b", allow_utf8=True) == "a?b"  # a Unicode line separator
    assert clean_address("a\udcffb", allow_utf8=True) == "a?b"  # surrogateescape residue


def test_return_path_null_sender() -> None:
    assert return_path_header("") == b"Return-Path: <>\r\n"


def test_with_protocol_names() -> None:
    assert with_protocol(info(extended=False)) == "SMTP"
    assert with_protocol(info()) == "ESMTP"
    assert with_protocol(info(tls="TLSv1.3 X")) == "ESMTPS"
    assert with_protocol(info(tls="TLSv1.3 X", authenticated="a@x")) == "ESMTPSA"
    assert with_protocol(info(protocol="lmtp")) == "LMTP"
    assert with_protocol(info(protocol="lmtp", tls="TLS")) == "LMTPS"
    assert with_protocol(info(smtputf8=True, tls="T", authenticated="a")) == "UTF8SMTPSA"
    assert with_protocol(info(protocol="lmtp", smtputf8=True)) == "UTF8LMTP"


@given(helo=st.text(max_size=400), address=st.text(max_size=400), login=st.text(max_size=80),
       utf8=st.booleans())
def test_any_input_gives_one_well_formed_field(helo: str, address: str, login: str,
                                               utf8: bool) -> None:
    header = received_header(info(helo=helo, authenticated=login or None, smtputf8=utf8),
                             address, WHEN)
    lines = header_lines(header)
    assert lines[0].startswith(b"Received: ")
    assert all(line.startswith(b"\t") for line in lines[1:])
    assert all(len(line) < 998 for line in lines)
    assert header_lines(return_path_header(address, utf8))[0].startswith(b"Return-Path: <")


@given(text=st.text(alphabet=st.sampled_from(sorted(_HOST_CHARS) + list("?\\ ()<>é\r\n\x00")),
                    max_size=300))
def test_clean_host_keeps_exactly_the_host_characters(text: str) -> None:
    """The shortcut for already-clean names gives what the per-character rule gives."""
    expected = "".join(c if c in _HOST_CHARS else "?" for c in text[:255]) or "unknown"
    assert clean_host(text) == expected


@given(text=st.text(max_size=300), utf8=st.booleans())
def test_clean_address_keeps_exactly_the_allowed_characters(text: str, utf8: bool) -> None:
    expected = "".join(
        c if c.isprintable() and c not in _ADDRESS_FORBIDDEN and (c.isascii() or utf8) else "?"
        for c in text[:255])
    assert clean_address(text, utf8) == expected


def test_received_date_follows_the_second_and_the_offset() -> None:
    """The date text is reused within a second, never across seconds or UTC offsets."""
    plus_one = timezone(timedelta(hours=1))
    stamps = [received_header(info(), None, when).rsplit(b"\t", 1)[1] for when in (
        WHEN, WHEN.replace(microsecond=999_999), WHEN + timedelta(seconds=1),
        WHEN.astimezone(plus_one), WHEN.replace(tzinfo=None))]
    assert stamps == [b"Tue, 02 Jan 2024 03:04:05 +0000\r\n",
                      b"Tue, 02 Jan 2024 03:04:05 +0000\r\n",
                      b"Tue, 02 Jan 2024 03:04:06 +0000\r\n",
                      b"Tue, 02 Jan 2024 04:04:05 +0100\r\n",
                      b"Tue, 02 Jan 2024 03:04:05 -0000\r\n"]
