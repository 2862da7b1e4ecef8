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
