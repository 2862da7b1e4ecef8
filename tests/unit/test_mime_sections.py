"""BODY[section] extraction (RFC 3501 section 6.4.5)."""

from __future__ import annotations

import pytest

from mailhost.mime import analyse_strict, extract_section, partial, resolve_part
from tests.unit.mime_samples import RFC3501_EXAMPLE, crlf

RAW = RFC3501_EXAMPLE
TREE = analyse_strict(RAW).tree


def section(
    path: tuple[int, ...], text: str | None = None, fields: tuple[str, ...] = ()
) -> bytes | None:
    return extract_section(RAW, TREE, path, text, fields)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ((1,), b"part one"),
        ((2,), b"AAECAw=="),
        ((3, 1), b"three point one"),
        ((3, 2), b"3.2"),
        ((4, 1), b"GIF89a"),
        ((4, 2, 1), b"four two one"),
        ((4, 2, 2, 1), b"plain"),
        ((4, 2, 2, 2), b"<bold>rich</bold>"),
    ],
)
def test_rfc3501_example_leaf_parts(path: tuple[int, ...], expected: bytes) -> None:
    assert section(path) == expected


def test_whole_message_header_and_text() -> None:
    assert section(()) == RAW
    header = section((), "HEADER")
    assert header is not None
    assert header.startswith(b"From: Alice") and header.endswith(b"\r\n\r\n")
    text = section((), "TEXT")
    assert text is not None
    assert header + text == RAW
    assert text.startswith(b"preamble\r\n--outer\r\n") and text.endswith(
        b"--outer--\r\nepilogue\r\n"
    )


def test_message_rfc822_part_header_text_and_body() -> None:
    body = section((3,))
    header = section((3,), "HEADER")
    text = section((3,), "TEXT")
    assert header == crlf(
        "From: Carol <carol@example.com>\nSubject: part three\n"
        "Content-Type: multipart/mixed; boundary=three\n\n"
    )
    assert text is not None and text.startswith(b"--three\r\n") and text.endswith(b"--three--")
    assert body == header + text  # the CRLF before --outer belongs to the delimiter
    assert section((3,), "MIME") == b"Content-Type: MESSAGE/RFC822\r\n\r\n"


def test_nested_message_rfc822() -> None:
    assert section((4, 2), "HEADER") == crlf(
        "From: Dave <dave@example.com>\nSubject: part 4.2\n"
        'Content-Type: multipart/mixed; boundary="fourtwo"\n\n'
    )
    text = section((4, 2), "TEXT")
    assert text is not None and text.startswith(b"--fourtwo\r\n")
    assert section((4, 2, 2)) == crlf(
        "--alt\nContent-Type: text/plain\n\nplain\n--alt\nContent-Type: text/richtext\n\n"
        "<bold>rich</bold>\n--alt--"
    )


def test_mime_headers() -> None:
    assert (
        section((4, 1), "MIME") == b"Content-Type: IMAGE/GIF\r\nContent-ID: <gif@example>\r\n\r\n"
    )
    assert section((4, 2, 2, 2), "MIME") == b"Content-Type: text/richtext\r\n\r\n"
    assert section((), "MIME") is None


def test_header_fields() -> None:
    assert section((), "HEADER.FIELDS", ("SUBJECT", "from")) == crlf(
        "From: Alice <alice@example.org>\nSubject: the RFC 3501 example\n\n"
    )
    assert section((3,), "HEADER.FIELDS.NOT", ("Subject",)) == crlf(
        "From: Carol <carol@example.com>\nContent-Type: multipart/mixed; boundary=three\n\n"
    )
    assert section((), "HEADER.FIELDS", ("X-Absent",)) == b"\r\n"
    assert section((4, 2), "header.fields", ("subject",)) == b"Subject: part 4.2\r\n\r\n"


def test_header_fields_keep_folding_and_order() -> None:
    raw = crlf("Subject: one\n two\nX-A: 1\nsubject: again\nFrom: x@y\n\nbody\n")
    tree = analyse_strict(raw).tree
    got = extract_section(raw, tree, (), "HEADER.FIELDS", ("subject",))
    assert got == crlf("Subject: one\n two\nsubject: again\n\n")


def test_missing_sections() -> None:
    assert section((5,)) is None
    assert section((0,)) is None
    assert section((1, 1)) is None  # a text part has no sub-parts
    assert section((1,), "HEADER") is None  # not a message/rfc822 part
    assert section((1,), "TEXT") is None
    assert section((3, 3)) is None
    assert section((4, 2, 2, 3)) is None
    assert section((), "BOGUS") is None


def test_non_multipart_part_one_is_the_body() -> None:
    raw = crlf("Subject: hi\n\nhello\n")
    tree = analyse_strict(raw).tree
    assert resolve_part(tree, (1,)) is tree
    assert extract_section(raw, tree, (1,), None) == b"hello\r\n"
    assert extract_section(raw, tree, (1,), "MIME") == b"Subject: hi\r\n\r\n"
    assert extract_section(raw, tree, (2,), None) is None
    assert extract_section(raw, tree, (1, 1), None) is None


def test_encapsulated_non_multipart_message() -> None:
    raw = crlf(
        "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\n\n"
        "Subject: inner\n\ninner body\n--b--\n"
    )
    tree = analyse_strict(raw).tree
    assert extract_section(raw, tree, (1,), None) == b"Subject: inner\r\n\r\ninner body"
    assert extract_section(raw, tree, (1,), "HEADER") == b"Subject: inner\r\n\r\n"
    assert extract_section(raw, tree, (1,), "TEXT") == b"inner body"
    assert extract_section(raw, tree, (1, 1), None) == b"inner body"
    assert extract_section(raw, tree, (1, 1), "MIME") == b"Subject: inner\r\n\r\n"
    assert extract_section(raw, tree, (1, 2), None) is None


def test_root_message_rfc822() -> None:
    raw = crlf("Content-Type: message/rfc822\n\nSubject: inner\n\ninner body\n")
    tree = analyse_strict(raw).tree
    assert extract_section(raw, tree, (1,), None) == b"Subject: inner\r\n\r\ninner body\r\n"
    assert extract_section(raw, tree, (1,), "HEADER") == b"Subject: inner\r\n\r\n"
    assert extract_section(raw, tree, (1, 1), None) == b"inner body\r\n"


def test_bare_lf_message() -> None:
    raw = (
        b"Subject: lf\nContent-Type: multipart/mixed; boundary=x\n\n"
        b"--x\nContent-Type: text/plain\n\none\n--x\n\ntwo\n--x--\n"
    )
    a = analyse_strict(raw)
    assert extract_section(raw, a.tree, (1,), None) == b"one"
    assert extract_section(raw, a.tree, (2,), None) == b"two"
    assert extract_section(raw, a.tree, (2,), "MIME") == b"\n"
    assert extract_section(raw, a.tree, (), "HEADER.FIELDS", ("subject",)) == b"Subject: lf\n\n"
    assert extract_section(raw, a.tree, (), "HEADER") == raw[: a.header_end]
    assert a.header_end == raw.index(b"\n\n") + 2


def test_mixed_line_endings() -> None:
    raw = b"Subject: mixed\r\nFrom: a@b\n\r\nbody\n"
    a = analyse_strict(raw)
    assert extract_section(raw, a.tree, (), "TEXT") == b"body\n"
    assert extract_section(raw, a.tree, (), "HEADER") == b"Subject: mixed\r\nFrom: a@b\n\r\n"


def test_body_without_final_newline() -> None:
    raw = b"Subject: x\r\n\r\nno newline"
    a = analyse_strict(raw)
    assert extract_section(raw, a.tree, (), "TEXT") == b"no newline"
    assert extract_section(raw, a.tree, (1,), None) == b"no newline"
    assert a.tree.lines == 1
    assert a.tree.size == 10


def test_header_without_body_or_newline() -> None:
    raw = b"Subject: only a header"
    a = analyse_strict(raw)
    assert a.header_end == len(raw)
    assert extract_section(raw, a.tree, (), "HEADER") == raw
    assert extract_section(raw, a.tree, (), "TEXT") == b""
    assert extract_section(raw, a.tree, (), "HEADER.FIELDS", ("subject",)) == raw + b"\r\n\r\n"


def test_multipart_without_close_delimiter() -> None:
    raw = crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b\n\ntwo\n")
    a = analyse_strict(raw)
    assert extract_section(raw, a.tree, (1,), None) == b"one"
    assert extract_section(raw, a.tree, (2,), None) == b"two\r\n"


def test_partial() -> None:
    assert partial(b"0123456789", 0, 4) == b"0123"
    assert partial(b"0123456789", 8, 10) == b"89"
    assert partial(b"0123456789", 10, 1) == b""
    assert partial(b"0123456789", 3, 0) == b""
