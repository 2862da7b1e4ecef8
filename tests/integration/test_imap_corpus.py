"""Every message of CPython's email test corpus through IMAP: APPENDed, then BODYSTRUCTURE,
BODY and ENVELOPE FETCHed and checked against RFC 3501's grammar with the independent
checker in tests/unit/imap_grammar.py; the MIME tree is cross-checked against Python's
own email parser, which shares no code with mailhost.mime."""

from __future__ import annotations

import email
import email.message
import email.policy
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import test.test_email

from mailhost.store.sqlite.mailstore import normalise_line_endings
from mailhost.testing.server import MailhostTestServer
from tests.integration.helpers import RawImap, fetch_items
from tests.unit.imap_grammar import Lst, parse, validate_body, validate_envelope

CORPUS = Path(os.path.dirname(test.test_email.__file__)) / "data"
MESSAGES = sorted(CORPUS.glob("msg_*.txt"))
Shape = tuple[object, ...]


@pytest.fixture(scope="module")
def fetched(module_users: MailhostTestServer) -> Iterator[dict[Path, dict[bytes, bytes]]]:
    """Each corpus message's FETCH items, by file."""
    raw = RawImap(module_users.port("imap", "starttls"), timeout=60)
    raw.login()
    raw.ok(b"CREATE corpus")
    for path in MESSAGES:
        data = path.read_bytes()
        raw.ok(b"APPEND corpus {%d+}\r\n%s" % (len(data), data))
    raw.ok(b"EXAMINE corpus")
    lines = [line for line in raw.ok(b"FETCH 1:* (BODYSTRUCTURE BODY ENVELOPE RFC822.SIZE)")
             if b" FETCH (" in line]
    raw.close()
    assert len(lines) == len(MESSAGES)
    yield dict(zip(MESSAGES, (fetch_items(line) for line in lines), strict=True))


def test_corpus_is_there() -> None:
    assert len(MESSAGES) >= 40


@pytest.mark.parametrize("path", MESSAGES, ids=lambda p: p.name)
def test_corpus_message_over_imap(fetched: dict[Path, dict[bytes, bytes]], path: Path) -> None:
    items = fetched[path]
    assert int(items[b"RFC822.SIZE"]) == len(normalise_line_endings(path.read_bytes()))
    validate_envelope(items[b"ENVELOPE"])
    validate_body(items[b"BODY"], extensible=False)
    structure = validate_body(items[b"BODYSTRUCTURE"], extensible=True)
    assert shape_of_bodystructure(structure) == shape_of_bodystructure(parse(items[b"BODY"]))


def shape_of_bodystructure(body: object) -> Shape:
    """(type, subtype) of a leaf, with the enclosed shape for message/rfc822, or
    ("multipart", subtype, children) - lower case."""
    assert isinstance(body, Lst)
    if isinstance(body[0], Lst):
        count = next(i for i, item in enumerate(body) if not isinstance(item, Lst))
        children, subtype = body[:count], body[count]
        assert isinstance(subtype, bytes)
        return ("multipart", subtype.decode().lower(),
                tuple(shape_of_bodystructure(child) for child in children))
    kind, subtype = (str(v.decode()).lower() for v in body[:2])  # type: ignore[attr-defined]
    if (kind, subtype) == ("message", "rfc822") and len(body) > 8 and isinstance(body[8], Lst):
        return (kind, subtype, shape_of_bodystructure(body[8]))
    return (kind, subtype)


def shape_of_message(message: email.message.Message) -> Shape:
    """The same shape from Python's email package."""
    kind, subtype = message.get_content_maintype(), message.get_content_subtype()
    if message.is_multipart() and kind == "multipart":
        children = message.get_payload()
        assert isinstance(children, list)
        return ("multipart", subtype, tuple(shape_of_message(c) for c in children))
    if (kind, subtype) == ("message", "rfc822") and message.is_multipart():
        inner = message.get_payload(0)
        assert isinstance(inner, email.message.Message)
        return (kind, subtype, shape_of_message(inner))
    return (kind, subtype)


def well_formed(path: Path) -> bool:
    """Messages Python parses without defects: where both parsers must agree."""
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.compat32)
    return not any(part.defects for part in message.walk())


@pytest.mark.parametrize("path", [p for p in MESSAGES if well_formed(p)], ids=lambda p: p.name)
def test_mime_tree_agrees_with_python(fetched: dict[Path, dict[bytes, bytes]],
                                      path: Path) -> None:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.compat32)
    assert shape_of_bodystructure(parse(fetched[path][b"BODYSTRUCTURE"])) == \
        shape_of_message(message)
