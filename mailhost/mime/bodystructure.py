"""BODY and BODYSTRUCTURE (RFC 3501 sections 7.4.2 and 9) in wire form.

Recursion follows the Part tree, whose depth the parser caps at
:data:`mailhost.mime.structure.MAX_DEPTH`.
"""

from __future__ import annotations

from mailhost.mime._imap import NIL, nsstring, param_string, sstring, string
from mailhost.mime.envelope import render_envelope
from mailhost.mime.structure import Part


def render_body(raw: bytes, part: Part) -> bytes:
    """BODY: the non-extensible form."""
    out: list[bytes] = []
    _render(raw, part, False, out)
    return b"".join(out)


def render_bodystructure(raw: bytes, part: Part) -> bytes:
    """BODYSTRUCTURE: with extension data."""
    out: list[bytes] = []
    _render(raw, part, True, out)
    return b"".join(out)


def _params(params: dict[str, str]) -> bytes:
    if not params:
        return NIL
    return (
        b"("
        + b" ".join(
            string(k.encode("utf-8", "surrogateescape")) + b" " + param_string(v)
            for k, v in params.items()
        )
        + b")"
    )


def _disposition(part: Part) -> bytes:
    if part.disposition is None:
        return NIL
    return b"(" + sstring(part.disposition) + b" " + _params(part.disposition_params) + b")"


def _language(part: Part) -> bytes:
    lang = part.language
    if not lang:
        return NIL
    if len(lang) == 1:
        return sstring(lang[0])
    return b"(" + b" ".join(sstring(t) for t in lang) + b")"


def _render(raw: bytes, part: Part, ext: bool, out: list[bytes]) -> None:
    out.append(b"(")
    if part.is_multipart:
        for child in part.children:
            _render(raw, child, ext, out)
        out.append(b" " + sstring(part.subtype))
        if ext:
            out.append(
                b" %s %s %s %s"
                % (
                    _params(part.params),
                    _disposition(part),
                    _language(part),
                    nsstring(part.location),
                )
            )
        out.append(b")")
        return
    out.append(
        b"%s %s %s %s %s %s %d"
        % (
            sstring(part.type),
            sstring(part.subtype),
            _params(part.params),
            nsstring(part.content_id),
            nsstring(part.description),
            sstring(part.encoding or "7bit"),
            part.size,
        )
    )
    if part.is_message:
        child = part.children[0]
        out.append(b" " + render_envelope(raw, child) + b" ")
        _render(raw, child, ext, out)
        out.append(b" %d" % (part.lines or 0))
    elif part.type == "text":
        out.append(b" %d" % (part.lines or 0))
    if ext:
        out.append(
            b" %s %s %s %s"
            % (nsstring(part.md5), _disposition(part), _language(part), nsstring(part.location))
        )
    out.append(b")")
