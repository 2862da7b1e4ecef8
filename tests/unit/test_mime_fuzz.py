"""analyse() never raises: arbitrary bytes and mutated corpus messages."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import test.test_email
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailhost.mime import analyse, analyse_strict, extract_section, searchable_text, tree_from_json
from mailhost.mime.structure import Part
from tests.unit.imap_grammar import validate_body, validate_envelope
from tests.unit.mime_samples import RFC3501_EXAMPLE

CORPUS = [
    p.read_bytes()
    for p in sorted((Path(os.path.dirname(test.test_email.__file__)) / "data").glob("msg_*.txt"))
] + [RFC3501_EXAMPLE]

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Bytes that matter to the parsers, so random data hits interesting paths.
INTERESTING = [
    b"\r\n",
    b"\n",
    b"\r",
    b"\r\n\r\n",
    b"\n\n",
    b"--",
    b"--b",
    b"--b--",
    b":",
    b";",
    b"=",
    b'"',
    b"\\",
    b"(",
    b")",
    b"<",
    b">",
    b"@",
    b",",
    b" ",
    b"\t",
    b"\x00",
    b"\xff",
    b"=?utf-8?q?",
    b"?=",
    b"*0*=",
    b"Content-Type: multipart/mixed; boundary=b\r\n",
    b"Content-Type: message/rfc822\r\n",
    b"Content-Type: multipart/digest; boundary=b\n",
    b"Content-Transfer-Encoding: base64\r\n",
    b"From: ",
    b"To: ",
    b"Subject: ",
    b"Date: ",
    b"Content-Disposition: attachment; filename*=",
]


def exercise(raw: bytes) -> None:
    a = analyse_strict(raw)
    validate_envelope(a.envelope)
    validate_body(a.body, extensible=False)
    validate_body(a.bodystructure, extensible=True)
    assert tree_from_json(a.tree_json) == a.tree
    searchable_text(raw, a.tree)
    stack: list[tuple[tuple[int, ...], Part]] = [((), a.tree)]
    seen = 0
    while stack and seen < 50:
        path, part = stack.pop()
        seen += 1
        for text in (None, "HEADER", "TEXT", "MIME", "HEADER.FIELDS", "HEADER.FIELDS.NOT"):
            extract_section(raw, a.tree, path, text, ("subject", "from"))
        for i, child in enumerate(part.children, start=1):
            stack.append(((*path, i), child))
    assert analyse(raw) == a


@FUZZ
@given(st.binary(max_size=2000))
def test_arbitrary_bytes(raw: bytes) -> None:
    exercise(raw)


@FUZZ
@given(st.lists(st.one_of(st.sampled_from(INTERESTING), st.binary(max_size=8)), max_size=60))
def test_interesting_fragments(chunks: list[bytes]) -> None:
    exercise(b"".join(chunks))


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    raw = bytearray(draw(st.sampled_from(CORPUS)))
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "dup"]))
        pos = draw(st.integers(0, len(raw)))
        if op == "flip" and pos < len(raw):
            raw[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            raw[pos:pos] = draw(st.one_of(st.sampled_from(INTERESTING), st.binary(max_size=16)))
        elif op == "delete":
            del raw[pos : pos + draw(st.integers(1, 64))]
        elif op == "truncate":
            del raw[pos:]
        elif op == "dup":
            raw[pos:pos] = raw[pos : pos + draw(st.integers(1, 200))]
    return bytes(raw)


@FUZZ
@given(mutated())
def test_mutated_corpus(raw: bytes) -> None:
    exercise(raw)


@FUZZ
@given(mutated())
def test_mutated_corpus_bare_lf_and_crlf(raw: bytes) -> None:
    exercise(raw.replace(b"\r\n", b"\n"))
    exercise(raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))


def test_safety_net_describes_message_as_one_text_part(monkeypatch: pytest.MonkeyPatch) -> None:
    import mailhost.mime

    def broken(raw: bytes, fields: frozenset[str]) -> tuple[Part, dict[object, object]]:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(mailhost.mime, "parse_with_headers", broken)
    raw = b"Subject: x\r\n\r\nbody\r\n"
    a = analyse(raw)
    assert (a.size, a.tree.size, a.tree.lines) == (len(raw), len(raw), 3)
    validate_envelope(a.envelope)
    validate_body(a.body, extensible=False)
    validate_body(a.bodystructure, extensible=True)
    assert tree_from_json(a.tree_json) == a.tree
