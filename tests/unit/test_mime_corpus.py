"""Every message of CPython's email test corpus through analyse()."""

from __future__ import annotations

import email
import email.message
import email.policy
import os
from pathlib import Path

import pytest
import test.test_email

from mailhost.mime import Part, analyse_strict, tree_from_json
from tests.unit.imap_grammar import Lst, validate_body, validate_envelope

CORPUS = Path(os.path.dirname(test.test_email.__file__)) / "data"
MESSAGES = sorted(CORPUS.glob("msg_*.txt"))


def test_corpus_is_there() -> None:
    assert len(MESSAGES) >= 40


@pytest.mark.parametrize("path", MESSAGES, ids=lambda p: p.name)
def test_corpus_message(path: Path) -> None:
    raw = path.read_bytes()
    a = analyse_strict(raw)
    assert a.size == len(raw)
    assert tree_from_json(a.tree_json) == a.tree
    validate_envelope(a.envelope)
    validate_body(a.body, extensible=False)
    bs = validate_body(a.bodystructure, extensible=True)
    assert isinstance(bs, Lst)
    _check_offsets(a.tree, len(raw))
    # Also with CRLF line endings, as the store may hold them.
    crlf = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    b = analyse_strict(crlf)
    validate_envelope(b.envelope)
    validate_body(b.bodystructure, extensible=True)
    assert _shape(b.tree) == _shape(a.tree)


def _check_offsets(part: Part, size: int) -> None:
    stack = [part]
    while stack:
        p = stack.pop()
        assert 0 <= p.header_start <= p.body_start <= p.end <= size
        assert p.size == p.end - p.body_start
        for c in p.children:
            assert p.body_start <= c.header_start <= c.end <= p.end
        stack.extend(p.children)


def _shape(part: Part) -> tuple[object, ...]:
    return (part.media_type, tuple(_shape(c) for c in part.children))


# --- cross-check against Python's email package ---------------------------------------


def _py_defects(msg: email.message.Message) -> bool:
    return any(bool(m.defects) for m in msg.walk())


def _py_summary(msg: email.message.Message) -> tuple[list[str], list[str]]:
    """Leaf content types and multipart subtypes, depth first.

    The email package also descends into message/delivery-status and
    message/external-body; IMAP (RFC 3501) treats those as leaves.
    """
    leaves: list[str] = []
    multis: list[str] = []
    stack = [msg]
    while stack:
        m = stack.pop()
        ctype = m.get_content_type()
        if m.is_multipart() and (
            ctype == "message/rfc822" or m.get_content_maintype() != "message"
        ):
            if m.get_content_maintype() == "multipart":
                multis.append(m.get_content_subtype())
            payload = m.get_payload()
            assert isinstance(payload, list)
            stack.extend(reversed(payload))
        else:
            leaves.append(ctype)
    return leaves, multis


def _our_summary(root: Part) -> tuple[list[str], list[str]]:
    leaves: list[str] = []
    multis: list[str] = []
    stack = [root]
    while stack:
        p = stack.pop()
        if p.is_multipart:
            multis.append(p.subtype)
        elif not p.children:
            leaves.append(p.media_type)
        stack.extend(reversed(p.children))
    return leaves, multis


def _clean_corpus() -> list[Path]:
    out = []
    for path in MESSAGES:
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.compat32)
        if not _py_defects(msg):
            out.append(path)
    return out


CLEAN = _clean_corpus()


def test_cross_check_sample_is_large() -> None:
    assert len(CLEAN) >= 30


@pytest.mark.parametrize("path", CLEAN, ids=lambda p: p.name)
def test_agrees_with_email_package(path: Path) -> None:
    raw = path.read_bytes()
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    py_leaves, py_multis = _py_summary(msg)
    leaves, multis = _our_summary(analyse_strict(raw).tree)
    assert leaves == py_leaves
    assert multis == py_multis
