"""Sample messages shared by the mime tests."""

from __future__ import annotations


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode("utf-8")


# The part layout of RFC 3501 section 6.4.5's example.
RFC3501_EXAMPLE = crlf(
    """From: Alice <alice@example.org>
To: Bob <bob@example.net>
Subject: the RFC 3501 example
Date: Mon, 7 Feb 1994 21:52:25 -0800
Message-ID: <outer@example.org>
MIME-Version: 1.0
Content-Type: MULTIPART/MIXED; boundary="outer"

preamble
--outer
Content-Type: TEXT/PLAIN; CHARSET=US-ASCII

part one
--outer
Content-Type: APPLICATION/OCTET-STREAM
Content-Transfer-Encoding: base64

AAECAw==
--outer
Content-Type: MESSAGE/RFC822

From: Carol <carol@example.com>
Subject: part three
Content-Type: multipart/mixed; boundary=three

--three
Content-Type: text/plain

three point one
--three
Content-Type: application/octet-stream

3.2
--three--
--outer
Content-Type: MULTIPART/MIXED; boundary="four"

--four
Content-Type: IMAGE/GIF
Content-ID: <gif@example>

GIF89a
--four
Content-Type: MESSAGE/RFC822

From: Dave <dave@example.com>
Subject: part 4.2
Content-Type: multipart/mixed; boundary="fourtwo"

--fourtwo
Content-Type: text/plain

four two one
--fourtwo
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain

plain
--alt
Content-Type: text/richtext

<bold>rich</bold>
--alt--
--fourtwo--
--four--
--outer--
epilogue
"""
)


# -- message bombs, shared by the MIME unit tests and the IMAP robustness tests ----------

MB5 = 5 * 1024 * 1024


def many_parts(n: int = 10_000) -> bytes:
    """A multipart/mixed message with ``n`` text parts ("part 0" ... )."""
    parts = b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % i for i in range(n))
    head = b"From: a@b.c\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
    return head + parts + b"--b--\r\n"


def nested_multipart(levels: int = 200) -> bytes:
    """Multiparts inside multiparts ``levels`` deep, "innermost" at the bottom."""
    head = b"".join(
        b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (i, i + 1)
        for i in range(levels)
    )
    tail = b"".join(b"\r\n--b%d--\r\n" % i for i in reversed(range(levels + 1)))
    return (
        b"From: a@b.c\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n"
        + head
        + b"--b%d\r\n\r\ninnermost\r\n" % levels
        + tail
    )


def many_header_lines(n: int = 50_000) -> bytes:
    """``n`` header fields before From and Subject ("found")."""
    raw = b"".join(b"X-H%d: value %d\r\n" % (i, i) for i in range(n))
    return raw + b"From: a@b.c\r\nSubject: found\r\n\r\nbody\r\n"


def huge_subject(size: int = MB5) -> bytes:
    """A Subject header line of ``size`` octets of "a"."""
    return b"Subject: " + b"a" * size + b"\r\nFrom: x@y.z\r\n\r\nbody\r\n"
