"""Pathological messages: analysis completes, quickly and with sane output.

No wall-clock assertions; pytest-timeout (and a slow run) would show a regression.
"""

from __future__ import annotations

from mailhost.mime import (
    MAX_DEPTH,
    analyse_strict,
    extract_section,
    searchable_text,
    tree_from_json,
)
from mailhost.mime.search import MAX_HEADER_INPUT
from mailhost.mime.structure import Part
from tests.unit.imap_grammar import Lst, validate_body, validate_envelope
from tests.unit.mime_samples import (
    MB5,
    huge_subject,
    many_header_lines,
    many_parts,
    nested_multipart,
)


def check(raw: bytes) -> None:
    a = analyse_strict(raw)
    validate_envelope(a.envelope)
    validate_body(a.body, extensible=False)
    validate_body(a.bodystructure, extensible=True)
    assert tree_from_json(a.tree_json) == a.tree


def depth(p: Part) -> int:
    d = 0
    while p.children:
        p = p.children[-1]
        d += 1
    return d


def test_ten_thousand_parts() -> None:
    n = 10_000
    raw = many_parts(n)
    a = analyse_strict(raw)
    assert len(a.tree.children) == n
    assert extract_section(raw, a.tree, (n,), None) == b"part %d" % (n - 1)
    bs = validate_body(a.bodystructure, extensible=True)
    assert isinstance(bs, Lst) and len(bs) == n + 5
    text = searchable_text(raw, a.tree)
    assert text.count("part ") == n


def test_multipart_nested_200_deep() -> None:
    raw = nested_multipart(200)
    a = analyse_strict(raw)
    # Descent stops at the cap; the part there is an opaque leaf (text/plain).
    assert depth(a.tree) == MAX_DEPTH
    check(raw)
    path = (1,) * MAX_DEPTH
    leaf = extract_section(raw, a.tree, path, None)
    assert leaf is not None and leaf.startswith(b"--b%d\r\n" % MAX_DEPTH) and b"innermost" in leaf


def test_message_rfc822_nested_200_deep() -> None:
    raw = b"".join(
        b"Subject: level %d\r\nContent-Type: message/rfc822\r\n\r\n" % i for i in range(200)
    )
    raw += b"Subject: bottom\r\n\r\nbody\r\n"
    a = analyse_strict(raw)
    assert depth(a.tree) == MAX_DEPTH
    check(raw)


def test_unclosed_nesting_200_deep() -> None:
    raw = (
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n"
        + b"--x\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n" * 200
    )
    check(raw)


def test_fifty_thousand_header_lines() -> None:
    raw = many_header_lines(50_000)
    a = analyse_strict(raw)
    assert a.fields.subject == "found"
    assert a.header_end == len(raw) - 6
    check(raw)
    got = extract_section(raw, a.tree, (), "HEADER.FIELDS", ("subject",))
    assert got == b"Subject: found\r\n\r\n"


def test_folded_header_with_fifty_thousand_lines() -> None:
    raw = b"Subject: start\r\n" + b" more\r\n" * 50_000 + b"\r\nbody\r\n"
    a = analyse_strict(raw)
    assert a.fields.subject.startswith("start more more")
    check(raw)


def test_five_megabyte_subject() -> None:
    raw = huge_subject(MB5)
    a = analyse_strict(raw)
    assert a.fields.subject == "a" * MAX_HEADER_INPUT
    check(raw)


def test_five_megabyte_address_header() -> None:
    raw = b"To: " + b"a@b.c, " * (MB5 // 7) + b"\r\nCc: (" * 3 + b"\r\n\r\nbody\r\n"
    a = analyse_strict(raw)
    check(raw)
    assert a.fields.to.startswith("a@b.c, a@b.c")


def test_five_megabyte_content_type_and_disposition() -> None:
    raw = (
        b"Content-Type: text/plain; " + b"p=v; " * (MB5 // 5) + b"\r\n"
        b"Content-Disposition: attachment; filename*0*=" + b"%41" * (MB5 // 3) + b"\r\n\r\nbody\r\n"
    )
    check(raw)


def test_five_megabyte_comment_and_quote_bombs() -> None:
    check(b"From: " + b"(" * MB5 + b"\r\n\r\n")
    check(b'To: "' + b'\\"' * (MB5 // 2) + b"\r\n\r\n")
    check(b'Content-Type: text/plain; a="' + b"\\" * MB5 + b"\r\n\r\n")
    check(b"Subject: " + b"=?utf-8?q?a?= " * (MB5 // 14) + b"\r\n\r\n")


def test_five_megabyte_lines_in_the_body() -> None:
    raw = (
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b"
        + b" " * MB5
        + b"\r\n\r\nx\r\n--b--\r\n"
    )
    a = analyse_strict(raw)
    assert extract_section(raw, a.tree, (1,), None) == b"x"
    check(b"Subject: x\r\n\r\n" + b"\n" * MB5)
    check(b"Content-Type: multipart/mixed; boundary=b\r\n\r\n" + b"--b\r\n" * (MB5 // 5))
