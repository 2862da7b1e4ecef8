"""parse_structure, the JSON form, and BODY/BODYSTRUCTURE rendering."""

from __future__ import annotations

import json

from mailhost.mime import (
    analyse_strict,
    parse_structure,
    render_body,
    render_bodystructure,
    tree_from_json,
    tree_to_json,
)
from mailhost.mime._params import parse_mime_value
from mailhost.mime.structure import _to_list
from tests.unit.imap_grammar import validate_body
from tests.unit.mime_samples import RFC3501_EXAMPLE, crlf


def test_simple_message_defaults() -> None:
    raw = crlf("Subject: x\n\nline one\nline two\n")
    p = parse_structure(raw)
    assert (p.type, p.subtype, p.params) == ("text", "plain", {"charset": "us-ascii"})
    assert (p.header_start, p.body_start, p.end) == (0, 14, len(raw))
    assert (p.size, p.lines, p.children) == (20, 2, ())
    assert render_body(raw, p) == b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 20 2)'
    assert render_bodystructure(raw, p) == (
        b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 20 2 NIL NIL NIL NIL)'
    )


def test_all_mime_fields() -> None:
    raw = crlf(
        'Content-Type: Text/HTML; Charset="UTF-8"; format=flowed\n'
        "Content-Transfer-Encoding: Quoted-Printable\n"
        "Content-ID: <id@x>\n"
        "Content-Description: a\n  description\n"
        'Content-Disposition: INLINE; filename="a b.html"\n'
        "Content-Language: en, de\n"
        "Content-Location: http://example.com/a\n"
        "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\n\n<p>hi</p>\n"
    )
    p = parse_structure(raw)
    assert (p.type, p.subtype) == ("text", "html")
    assert p.params == {"charset": "UTF-8", "format": "flowed"}
    assert p.encoding == "quoted-printable"
    assert p.content_id == "<id@x>"
    assert p.description == "a  description"
    assert (p.disposition, p.disposition_params) == ("inline", {"filename": "a b.html"})
    assert p.language == ("en", "de")
    assert p.location == "http://example.com/a"
    assert p.md5 == "Q2hlY2sgSW50ZWdyaXR5IQ=="
    assert render_bodystructure(raw, p) == (
        b'("text" "html" ("charset" "UTF-8" "format" "flowed") "<id@x>" "a  description" '
        b'"quoted-printable" 11 1 "Q2hlY2sgSW50ZWdyaXR5IQ==" ("inline" ("filename" "a b.html")) '
        b'("en" "de") "http://example.com/a")'
    )
    assert render_body(raw, p) == (
        b'("text" "html" ("charset" "UTF-8" "format" "flowed") "<id@x>" "a  description" '
        b'"quoted-printable" 11 1)'
    )


def test_multipart_rendering() -> None:
    raw = crlf(
        "Content-Type: multipart/alternative; boundary=zz\n"
        "Content-Disposition: inline\nContent-Language: fr\n\n"
        "--zz\n\nplain\n--zz\nContent-Type: text/html\n\n<b>x</b>\n--zz--\n"
    )
    p = parse_structure(raw)
    assert [c.media_type for c in p.children] == ["text/plain", "text/html"]
    assert render_body(raw, p) == (
        b'(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 1)'
        b'("text" "html" ("charset" "us-ascii") NIL NIL "7bit" 8 1) "alternative")'
    )
    assert render_bodystructure(raw, p).endswith(
        b' "alternative" ("boundary" "zz") ("inline" NIL) "fr" NIL)'
    )


def test_rfc3501_example_structure() -> None:
    p = parse_structure(RFC3501_EXAMPLE)
    assert p.media_type == "multipart/mixed"
    assert [c.media_type for c in p.children] == [
        "text/plain",
        "application/octet-stream",
        "message/rfc822",
        "multipart/mixed",
    ]
    three = p.children[2]
    assert three.is_message and three.children[0].media_type == "multipart/mixed"
    assert three.lines == RFC3501_EXAMPLE[three.body_start : three.end].count(b"\n") + 1
    four_two = p.children[3].children[1]
    assert [c.media_type for c in four_two.children[0].children] == [
        "text/plain",
        "multipart/alternative",
    ]
    validate_body(render_bodystructure(RFC3501_EXAMPLE, p), extensible=True)
    validate_body(render_body(RFC3501_EXAMPLE, p), extensible=False)


def test_message_rfc822_bodystructure() -> None:
    raw = crlf(
        "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\n\n"
        "Subject: inner\nFrom: a@b.c\n\nhello\n--b--\n"
    )
    p = parse_structure(raw)
    bs = render_bodystructure(raw, p)
    assert bs == (
        b'(("message" "rfc822" NIL NIL NIL "7bit" 36 (NIL "inner" ((NIL NIL "a" "b.c")) '
        b'((NIL NIL "a" "b.c")) ((NIL NIL "a" "b.c")) NIL NIL NIL NIL NIL) '
        b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 1 NIL NIL NIL NIL) 4 '
        b'NIL NIL NIL NIL) "mixed" ("boundary" "b") NIL NIL NIL)'
    )
    validate_body(bs, extensible=True)


def test_encoded_message_rfc822_is_a_leaf() -> None:
    raw = crlf(
        "Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n"
        "U3ViamVjdDogeA0KDQpib2R5DQo=\n"
    )
    p = parse_structure(raw)
    assert p.children == ()
    bs = render_bodystructure(raw, p)
    assert bs.startswith(b'("message" "rfc822" NIL NIL NIL "base64" 30 NIL')
    validate_body(bs, extensible=True)


def test_digest_default_is_message_rfc822() -> None:
    raw = crlf(
        "Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: one\n\n1\n"
        "--d\nContent-Type: text/plain\n\nnot a message\n--d--\n"
    )
    p = parse_structure(raw)
    assert [c.media_type for c in p.children] == ["message/rfc822", "text/plain"]
    assert p.children[0].is_message


def test_missing_boundary_is_a_text_leaf() -> None:
    raw = crlf("Content-Type: multipart/mixed\n\n--b\n\nx\n--b--\n")
    p = parse_structure(raw)
    assert (p.media_type, p.children) == ("text/plain", ())
    assert p.params == {"charset": "us-ascii"}
    validate_body(render_bodystructure(raw, p), extensible=True)


def test_boundary_never_found_is_a_text_leaf() -> None:
    raw = crlf("Content-Type: multipart/mixed; boundary=nope\n\nno parts here\n")
    p = parse_structure(raw)
    assert (p.media_type, p.params["boundary"]) == ("text/plain", "nope")


def test_preamble_epilogue_and_transport_padding() -> None:
    raw = crlf(
        'Content-Type: multipart/mixed; boundary="b"\n\npreamble\n--b  \t\n\none\n'
        "--b\n\ntwo\n--b--  trailing junk\nepilogue\n--b\n\nnot a part\n"
    )
    p = parse_structure(raw)
    assert [raw[c.body_start : c.end] for c in p.children] == [b"one", b"two"]


def test_boundary_must_start_a_line_and_be_followed_by_space_or_eol() -> None:
    raw = crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx --b\n--bb\n--b\n\ny\n--b--\n")
    p = parse_structure(raw)
    assert [raw[c.body_start : c.end] for c in p.children] == [b"x --b\r\n--bb", b"y"]


def test_empty_parts_and_headers_only_parts() -> None:
    raw = crlf(
        "Content-Type: multipart/mixed; boundary=b\n\n--b\n\n--b\nContent-Type: text/html\n--b--\n"
    )
    p = parse_structure(raw)
    assert len(p.children) == 2
    first, second = p.children
    assert (first.size, first.lines) == (0, 0)
    assert second.media_type == "text/html"
    assert second.body_start == second.end  # no blank line: all header, empty body


def test_inner_part_cut_by_outer_boundary() -> None:
    raw = crlf(
        "Content-Type: multipart/mixed; boundary=outer\n\n--outer\n"
        "Content-Type: multipart/mixed; boundary=inner\n\n--inner\n\nin one\n"
        "--outer\n\nouter two\n--outer--\n"
    )
    p = parse_structure(raw)
    assert len(p.children) == 2
    inner = p.children[0]
    assert [raw[c.body_start : c.end] for c in inner.children] == [b"in one"]
    assert raw[p.children[1].body_start : p.children[1].end] == b"outer two"


def test_invalid_content_type_defaults_to_text_plain() -> None:
    for ctype in ("garbage", "text/", "/plain", "te xt/plain", ""):
        p = parse_structure(crlf(f"Content-Type: {ctype}\n\nx\n"))
        assert p.media_type == "text/plain", ctype


def test_rfc2231_parameters() -> None:
    main, params = parse_mime_value(
        "attachment; filename*0*=utf-8'en'%E2%82%AC%20rates; filename*1=\".txt\"; "
        'title*=iso-8859-1\'\'caf%E9; plain="quoted \\"x\\""; name*1=b; name*0=a'
    )
    assert main == "attachment"
    assert params == {
        "filename": "\u20ac rates.txt",
        "title": "caf\u00e9",
        "plain": 'quoted "x"',
        "name": "ab",
    }


def test_parameter_comments_and_odd_spacing() -> None:
    main, params = parse_mime_value(
        'text/plain (a comment) ;charset = "utf-8" (c); ;; format=flowed;'
    )
    assert main == "text/plain"
    assert params == {"charset": "utf-8", "format": "flowed"}


def test_non_ascii_parameter_values_are_sent_as_encoded_words() -> None:
    raw = crlf(
        "Content-Type: application/pdf; name*=utf-8''%E2%82%AC.pdf\n"
        'Content-Disposition: attachment; filename="caf\u00e9.pdf"\n\nx\n'
    )
    bs = render_bodystructure(raw, parse_structure(raw))
    assert b'("name" "=?utf-8?b?4oKsLnBkZg==?=")' in bs
    assert b'("attachment" ("filename" "=?utf-8?b?Y2Fmw6kucGRm?="))' in bs
    validate_body(bs, extensible=True)


def test_undecodable_bytes_are_sent_as_literals() -> None:
    raw = b'Content-Type: text/plain; name="caf\xe9"\r\nContent-Description: \xff\r\n\r\nx\r\n'
    bs = render_bodystructure(raw, parse_structure(raw))
    assert b'"name" {4}\r\ncaf\xe9)' in bs
    assert b"{1}\r\n\xff" in bs
    validate_body(bs, extensible=True)


def test_json_round_trip() -> None:
    for raw in (
        RFC3501_EXAMPLE,
        b'Content-Type: text/plain; name="\xff\xfe"\r\nContent-ID: \x80\r\n\r\n',
        b"",
        b"\xff\xfe garbage",
        crlf("Content-Type: text/plain; name*=utf-8''%FF\n\n"),
    ):
        tree = parse_structure(raw)
        data = tree_to_json(tree)
        assert data.isascii()
        assert tree_from_json(data) == tree
        assert tree_to_json(tree_from_json(data)) == data


def test_analyse_fields() -> None:
    a = analyse_strict(RFC3501_EXAMPLE)
    assert a.size == len(RFC3501_EXAMPLE)
    assert a.header_end == a.tree.body_start == RFC3501_EXAMPLE.index(b"\r\n\r\n") + 4
    assert a.body == render_body(RFC3501_EXAMPLE, a.tree)
    assert a.bodystructure == render_bodystructure(RFC3501_EXAMPLE, a.tree)
    assert tree_from_json(a.tree_json) == a.tree


def test_degenerate_inputs() -> None:
    for raw in (b"", b"\n", b"\r\n", b"\r\n\r\n", b"x", b":", b"\n\nbody", b"--", b"\x00" * 10):
        a = analyse_strict(raw)
        validate_body(a.bodystructure, extensible=True)
        assert 0 <= a.header_end <= len(raw)


def test_tree_json_matches_the_standard_encoder_for_non_ascii_and_undecodable_values() -> None:
    """tree_to_json reuses one C encoder; its output must stay json.dumps's, byte for byte."""
    raw = (
        b"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n"
        b"Content-Type: text/plain; charset=\"utf-8\";\r\n"
        b" name=\"Gr\xc3\xbc\xc3\x9fe \xff\\\"q\\\".txt\"\r\n"
        b"Content-Transfer-Encoding: Quoted-Printable (why not)\r\n"
        b"Content-Language: de, en\r\n\r\nhi\r\n--b--\r\n"
    )
    tree = parse_structure(raw)
    expected = json.dumps(_to_list(tree), separators=(",", ":"), ensure_ascii=True)
    assert tree_to_json(tree) == expected.encode("ascii")
    assert tree.children[0].encoding == "quoted-printable"
    assert tree_from_json(tree_to_json(tree)) == tree
