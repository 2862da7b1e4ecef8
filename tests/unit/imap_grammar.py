"""A small, independent checker for RFC 3501 section 9 BODY/BODYSTRUCTURE/ENVELOPE.

Deliberately shares no code with mailhost.mime: it tokenises the wire form
(parenthesised lists, quoted strings, literals, NIL, numbers) and validates
the shape of body-type-1part / body-type-mpart / envelope / address.
"""

from __future__ import annotations

import re


class GrammarError(AssertionError):
    pass


class Lst(list):  # type: ignore[type-arg]
    """A parenthesised list; ``spaced[i]`` tells whether SP preceded item i."""

    def __init__(self) -> None:
        super().__init__()
        self.spaced: list[bool] = []


_NUMBER = re.compile(rb"[0-9]+")
_LITERAL = re.compile(rb"\{([0-9]+)\}\r\n")


def parse(data: bytes) -> object:
    """Parse one value and require that it spans all of ``data``."""
    value, pos = _value(data, 0)
    if pos != len(data):
        raise GrammarError(f"trailing data at {pos}: {data[pos : pos + 20]!r}")
    return value


def _value(data: bytes, pos: int) -> tuple[object, int]:
    if pos >= len(data):
        raise GrammarError("unexpected end")
    c = data[pos : pos + 1]
    if c == b"(":
        lst = Lst()
        pos += 1
        if data[pos : pos + 1] == b")":
            raise GrammarError("empty list")
        first = True
        while True:
            spaced = False
            if not first:
                if data[pos : pos + 1] == b")":
                    return lst, pos + 1
                if data[pos : pos + 1] == b" ":
                    spaced = True
                    pos += 1
            item, pos = _value(data, pos)
            lst.append(item)
            lst.spaced.append(spaced)
            first = False
    if c == b'"':
        out = bytearray()
        pos += 1
        while True:
            if pos >= len(data):
                raise GrammarError("unterminated quoted string")
            b = data[pos]
            if b == 0x22:
                return bytes(out), pos + 1
            if b == 0x5C:
                nxt = data[pos + 1 : pos + 2]
                if nxt not in (b"\\", b'"'):
                    raise GrammarError("bad escape in quoted string")
                out += nxt
                pos += 2
                continue
            if b in (0x0D, 0x0A) or b == 0 or b > 0x7F:
                raise GrammarError(f"bad char {b:#x} in quoted string")
            out.append(b)
            pos += 1
    if c == b"{":
        m = _LITERAL.match(data, pos)
        if m is None:
            raise GrammarError("bad literal header")
        n = int(m.group(1))
        body = data[m.end() : m.end() + n]
        if len(body) != n:
            raise GrammarError("short literal")
        if b"\x00" in body:
            raise GrammarError("NUL in literal")
        return body, m.end() + n
    if data.startswith(b"NIL", pos):
        return None, pos + 3
    m = _NUMBER.match(data, pos)
    if m is not None:
        return int(m.group()), m.end()
    raise GrammarError(f"unexpected {data[pos : pos + 20]!r} at {pos}")


def _need(cond: bool, what: str) -> None:
    if not cond:
        raise GrammarError(what)


def _string(v: object, what: str) -> None:
    _need(isinstance(v, bytes), f"{what}: string expected, got {v!r}")


def _nstring(v: object, what: str) -> None:
    _need(v is None or isinstance(v, bytes), f"{what}: nstring expected, got {v!r}")


def _all_spaced(lst: Lst, what: str) -> None:
    _need(all(lst.spaced[1:]), f"{what}: items must be separated by SP")


def check_params(v: object) -> None:
    if v is None:
        return
    _need(isinstance(v, Lst) and len(v) >= 2 and len(v) % 2 == 0, f"body-fld-param: {v!r}")
    assert isinstance(v, Lst)
    _all_spaced(v, "body-fld-param")
    for item in v:
        _string(item, "body-fld-param item")


def check_dsp(v: object) -> None:
    if v is None:
        return
    _need(isinstance(v, Lst) and len(v) == 2, f"body-fld-dsp: {v!r}")
    assert isinstance(v, Lst)
    _all_spaced(v, "body-fld-dsp")
    _string(v[0], "disposition")
    check_params(v[1])


def check_lang(v: object) -> None:
    if isinstance(v, Lst):
        _all_spaced(v, "body-fld-lang")
        for t in v:
            _string(t, "language")
    else:
        _nstring(v, "body-fld-lang")


def _check_ext(rest: list[object], first_md5: bool) -> None:
    """body-ext-1part / body-ext-mpart after the mandatory fields (all optional)."""
    checks = [check_params] if not first_md5 else [lambda v: _nstring(v, "md5")]
    checks += [check_dsp, check_lang, lambda v: _nstring(v, "location")]
    for check, v in zip(checks, rest, strict=False):
        check(v)
    # Anything after location is body-extension: any nesting of nstring/number.


def check_body(v: object, extensible: bool) -> None:
    _need(isinstance(v, Lst), f"body must be a list: {v!r}")
    assert isinstance(v, Lst)
    if isinstance(v[0], Lst):  # body-type-mpart
        n = 0
        while n < len(v) and isinstance(v[n], Lst):
            if n:
                _need(not v.spaced[n], "mpart bodies must not be separated by SP")
            check_body(v[n], extensible)
            n += 1
        _need(n < len(v), "mpart: media-subtype missing")
        _need(v.spaced[n], "mpart: SP before media-subtype")
        _string(v[n], "mpart media-subtype")
        _need(all(v.spaced[n:]), "mpart: extension items separated by SP")
        rest = list(v[n + 1 :])
        if not extensible:
            _need(not rest, "BODY must not carry extension data")
        _check_ext(rest, first_md5=False)
        return
    _all_spaced(v, "body-type-1part")
    _need(len(v) >= 7, f"body-fields too short: {v!r}")
    _string(v[0], "media type")
    _string(v[1], "media subtype")
    check_params(v[2])
    _nstring(v[3], "body-fld-id")
    _nstring(v[4], "body-fld-desc")
    _string(v[5], "body-fld-enc")
    _need(isinstance(v[6], int), "body-fld-octets")
    mtype = v[0].lower() if isinstance(v[0], bytes) else b""
    stype = v[1].lower() if isinstance(v[1], bytes) else b""
    if mtype == b"message" and stype == b"rfc822" and len(v) > 7 and isinstance(v[7], Lst):
        _need(len(v) >= 10, "body-type-msg too short")
        check_envelope(v[7])
        check_body(v[8], extensible)
        _need(isinstance(v[9], int), "body-type-msg lines")
        rest = list(v[10:])
    elif mtype == b"text":
        _need(len(v) >= 8 and isinstance(v[7], int), "body-type-text lines")
        rest = list(v[8:])
    else:
        rest = list(v[7:])
    if not extensible:
        _need(not rest, f"BODY must not carry extension data: {rest!r}")
    _check_ext(rest, first_md5=True)


def check_address_list(v: object, what: str) -> None:
    if v is None:
        return
    _need(isinstance(v, Lst) and len(v) >= 1, f"{what}: NIL or list of addresses")
    assert isinstance(v, Lst)
    _need(not any(v.spaced[1:]), f"{what}: addresses must not be separated by SP")
    depth = 0
    for a in v:
        _need(isinstance(a, Lst) and len(a) == 4, f"{what}: address must have 4 fields: {a!r}")
        assert isinstance(a, Lst)
        _all_spaced(a, "address")
        for f in a:
            _nstring(f, "address field")
        if a[3] is None:  # group syntax
            _need(a[0] is None and a[1] is None, "group marker with name/adl")
            if a[2] is None:
                _need(depth > 0, "group end without start")
                depth -= 1
            else:
                _need(depth == 0, "nested group")
                depth += 1
        else:
            _need(a[2] is not None, "address without mailbox")
    _need(depth == 0, "unterminated group")


def check_envelope(v: object) -> None:
    _need(isinstance(v, Lst) and len(v) == 10, f"envelope must have 10 fields: {v!r}")
    assert isinstance(v, Lst)
    _all_spaced(v, "envelope")
    _nstring(v[0], "env-date")
    _nstring(v[1], "env-subject")
    for i, name in enumerate(("from", "sender", "reply-to", "to", "cc", "bcc"), start=2):
        check_address_list(v[i], f"env-{name}")
    _nstring(v[8], "env-in-reply-to")
    _nstring(v[9], "env-message-id")


def validate_body(data: bytes, extensible: bool) -> object:
    v = parse(data)
    check_body(v, extensible)
    return v


def validate_envelope(data: bytes) -> object:
    v = parse(data)
    check_envelope(v)
    return v
