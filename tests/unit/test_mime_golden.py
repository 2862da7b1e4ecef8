"""Pinned analyse()/searchable_text() outputs for bench-style and awkward messages.

The MIME analysis runs once per stored message and is tuned for speed; these goldens were
computed by the straightforward implementation, so any optimisation that changes a single
output byte fails here. Regenerate (only for an intended change of output) with
``PYTHONPATH=. python tests/unit/test_mime_golden.py``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import quopri
import random
from pathlib import Path

import pytest

from mailhost.mime import analyse, searchable_text

GOLDEN = Path(__file__).with_name("mime_golden.json")

_WORDS = (
    "meeting", "agenda", "invoice", "holiday", "Grüße", "café", "naïve", "façade", "smörgåsbord",
    "crème", "brûlée", "jalapeño", "東京", "München", "Zürich", "Kraków", "Reykjavík", "quokka",
    "ǅungla", "İstanbul", "straße", "ﬁnance", "ΣΊΣΥΦΟΣ",
)


def _text(rng: random.Random, size: int) -> str:
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < size:
        words.append(rng.choice(_WORDS))
    return "\r\n".join(" ".join(words[i : i + 12]) for i in range(0, len(words), 12)) + "\r\n"


def _qp(text: str) -> bytes:
    return quopri.encodestring(text.encode()).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _b64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


HEAD = (
    b"Return-Path: <ingrid@example.dk>\r\n"
    b"From: =?utf-8?q?Ingrid_=C3=98sterg=C3=A5rd?= <ingrid@example.dk>\r\n"
    b"To: =?utf-8?q?Bench_Nutzer?= <user@example.test>\r\n"
    b"Subject: =?utf-8?q?caf=C3=A9_M=C3=BCnchen_=2342?=\r\n"
    b"Date: Tue, 14 Mar 2023 09:26:53 +0000\r\n"
    b"Message-ID: <20260101.42@bench.example.test>\r\n"
    b"MIME-Version: 1.0\r\n"
)


def _plain(seed: int, size: int) -> bytes:
    body = _text(random.Random(seed), size).encode()
    head = b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    return HEAD + head + body


def _mixed(seed: int, text_size: int, attach: int) -> bytes:
    rng = random.Random(seed)
    text = _text(rng, text_size)
    html = "<html><body><p>" + text.replace("\r\n", "</p>\r\n<p>") + "</p></body></html>"
    out = [
        HEAD,
        b'Content-Type: multipart/mixed; boundary="=_bench_1"\r\n\r\nThis is a MIME message.\r\n',
        b'--=_bench_1\r\nContent-Type: multipart/alternative; boundary="=_alt_1"\r\n\r\n',
        b"--=_alt_1\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + _qp(text),
        b"\r\n--=_alt_1\r\nContent-Type: text/html; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + _qp(html),
        b"\r\n--=_alt_1--\r\n",
    ]
    if attach:
        name = b"=?utf-8?q?=C3=9Cbersicht_42=2Epdf?="
        out.append(
            b'--=_bench_1\r\nContent-Type: application/pdf; name="' + name + b'"\r\n'
            b'Content-Disposition: attachment; filename="' + name + b'"\r\n'
            b"Content-Transfer-Encoding: base64\r\n\r\n" + _b64(rng.randbytes(attach))
        )
    out.append(b"--=_bench_1--\r\n")
    return b"".join(out)


ODD_HEADERS = (
    b"From: \"Doe, John\" (the boss) <john.doe@example.com>, Mary <mary@[192.0.2.1]>\r\n"
    b"Sender: list-bounces@lists.example.org\r\n"
    b"Reply-To: undisclosed-recipients:;\r\n"
    b"To: friends: a@example.com, =?iso-8859-1?q?J=F6rg?= <joerg@example.de>;, bare\r\n"
    b"cc: <@route.example:dana@example.com>\r\n"
    b"SUBJECT: =?utf-8?b?w4ls?=\r\n =?utf-8?b?w6h2ZQ==?= =?iso-8859-1?q?_=E9t=E9?="
    b' and "quoted"\r\n'
    b"Subject: the second subject is ignored\r\n"
    b"Date: 31 Dec 2023 23:30:00 -0800 (PST)\r\n"
    b"In-Reply-To: <parent@example.com>\r\n"
    b"Message-ID:   <odd@example.com>  \r\n"
    b"X-Garbage line without colon\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=outer (a comment)\r\n"
    b"Content-Language: de-CH, en (second)\r\n"
    b"\r\n"
    b"--outer\r\n"
    b"Content-Type: text/plain; charset=iso-8859-1\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"Content-ID: <part1@example.com>\r\n"
    b"Content-Description: =?utf-8?q?Beschreibung?=\r\n"
    b"Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n"
    b"Content-Location: http://example.com/a\r\n"
    b"\r\n" + _b64("Grüße aus Zürich, QUOKKA!\r\n".encode("latin-1")) +
    b"--outer\r\n"
    b"Content-Type: text/plain; charset=windows-1252; format=flowed\r\n"
    b"Content-Transfer-Encoding: Quoted-Printable (sic)\r\n"
    b"Content-Disposition: inline;\r\n filename*0*=utf-8''%C3%9Cber; filename*1=sicht.txt\r\n"
    b"\r\n"
    b"=93smart quotes=94 and a soft =\r\nbreak =E9\r\n"
    b"--outer\r\n"
    b"Content-Type: message/rfc822\r\n"
    b"\r\n"
    b"From: Carol <carol@example.com>\r\n"
    b"Subject: inner\r\n"
    b"Content-Type: multipart/alternative; boundary=inner\r\n"
    b"\r\n"
    b"--inner\r\n"
    b"Content-Type: text/plain; charset=unknown-8bit\r\n"
    b"\r\n"
    b"raw \xff\xfe bytes\r\n"
    b"--inner\r\n"
    b"Content-Type: text/html\r\n"
    b"\r\n"
    b"<b>inner html</b>\r\n"
    b"--inner--\r\n"
    b"--outer\r\n"
    b"Content-Type: multipart/digest; boundary=dig\r\n"
    b"\r\n"
    b"--dig\r\n"
    b"\r\n"
    b"Subject: digest one\r\n"
    b"\r\n"
    b"digest body one\r\n"
    b"--dig\r\n"
    b"Content-Type: text/plain\r\n"
    b"\r\n"
    b"not a message\r\n"
    b"--dig--\r\n"
    b"--outer\r\n"
    b"Content-Type: application/octet-stream; name*=utf-8''%E2%82%AC.bin\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"AAECAw==\r\n"
    b"--outer--\r\n"
    b"epilogue\r\n"
)

MESSAGES: dict[str, bytes] = {
    "plain_1k": _plain(1, 900),
    "plain_4k": _plain(2, 3_800),
    "mixed_5k": _mixed(3, 1_500, 0),
    "mixed_attachment_20k": _mixed(4, 4_000, 9_000),
    "mixed_attachment_lf": _mixed(5, 2_000, 3_000).replace(b"\r\n", b"\n"),
    "odd_headers": ODD_HEADERS,
    "odd_headers_lf": ODD_HEADERS.replace(b"\r\n", b"\n"),
    "no_header": b"\r\njust a body\r\n",
    "header_only": b"Subject: no body\r\nFrom: a@b",
    "broken_multipart": HEAD + b"Content-Type: multipart/mixed\r\n\r\n--x\r\nbody\r\n",
    "unclosed_multipart": HEAD
    + b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n--b\r\n\r\ntwo",
}


def outputs(raw: bytes) -> dict[str, object]:
    a = analyse(raw)
    text = searchable_text(raw, a.tree)
    f = a.fields
    return {
        "size": a.size,
        "header_end": a.header_end,
        "tree_json": a.tree_json.decode("ascii"),
        "envelope": a.envelope.decode("latin-1"),
        "body": a.body.decode("latin-1"),
        "bodystructure": a.bodystructure.decode("latin-1"),
        "fields": [
            f.from_, f.to, f.cc, f.bcc, f.subject,
            None if f.sent_date is None else f.sent_date.isoformat(), f.message_id,
        ],
        "text": text if len(text) < 1_000 else hashlib.sha256(text.encode()).hexdigest(),
        "text_casefold": hashlib.sha256(text.casefold().encode()).hexdigest(),
    }


def write_golden() -> None:
    """Regenerate the goldens, only for an intended change of output:
    ``PYTHONPATH=. python tests/unit/test_mime_golden.py``."""
    data = {name: outputs(raw) for name, raw in MESSAGES.items()}
    GOLDEN.write_text(json.dumps(data, indent=1, ensure_ascii=True, sort_keys=True) + "\n")


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_outputs_unchanged(name: str) -> None:
    golden = json.loads(GOLDEN.read_text())
    assert outputs(MESSAGES[name]) == golden[name]


def test_every_message_pinned() -> None:
    assert sorted(json.loads(GOLDEN.read_text())) == sorted(MESSAGES)


if __name__ == "__main__":
    write_golden()
