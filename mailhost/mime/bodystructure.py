"""BODY and BODYSTRUCTURE (RFC 3501 sections 7.4.2 and 9) in wire form.

Both forms are rendered in one walk of the Part tree (they share everything but the
extension data). Recursion follows the tree, whose depth the parser caps at
:data:`mailhost.mime.structure.MAX_DEPTH`.
"""

from __future__ import annotations

from mailhost.mime._imap import NIL, nsstring, param_string, sstring
from mailhost.mime.envelope import envelope_of, render_envelope
from mailhost.mime.structure import MessageHeaders, Part


def render_body(raw: bytes, part: Part) -> bytes:
    """BODY: the non-extensible form."""
    return render_both(raw, part)[0]


def render_bodystructure(raw: bytes, part: Part) -> bytes:
    """BODYSTRUCTURE: with extension data."""
    return render_both(raw, part)[1]


def render_both(
    raw: bytes, part: Part, headers: MessageHeaders | None = None
) -> tuple[bytes, bytes]:
    """(BODY, BODYSTRUCTURE); ``headers`` from :func:`~mailhost.mime.structure.parse_with_headers`
    saves scanning the headers of encapsulated messages again for their ENVELOPE."""
    body: list[bytes] = []
    ext: list[bytes] = []
    _render(raw, part, headers or {}, body, ext)
    return b"".join(body), b"".join(ext)


def _params(params: dict[str, str]) -> bytes:
    if not params:
        return NIL
    return (
        b"("
        + b" ".join(
            sstring(k) + b" " + param_string(v)
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


def _render(
    raw: bytes, part: Part, headers: MessageHeaders, body: list[bytes], ext: list[bytes]
) -> None:
    if part.is_multipart:
        body.append(b"(")
        ext.append(b"(")
        for child in part.children:
            _render(raw, child, headers, body, ext)
        subtype = b" " + sstring(part.subtype)
        body.append(subtype + b")")
        ext.append(
            subtype
            + b" %s %s %s %s)"
            % (
                _params(part.params),
                _disposition(part),
                _language(part),
                nsstring(part.location),
            )
        )
        return
    fields = b"(%s %s %s %s %s %s %d" % (
        sstring(part.type),
        sstring(part.subtype),
        _params(part.params),
        nsstring(part.content_id),
        nsstring(part.description),
        sstring(part.encoding or "7bit"),
        part.size,
    )
    if part.is_message:
        child = part.children[0]
        values = headers.get((child.header_start, child.body_start))
        envelope = render_envelope(raw, child) if values is None else envelope_of(values)
        fields += b" " + envelope + b" "
        body.append(fields)
        ext.append(fields)
        _render(raw, child, headers, body, ext)
        lines = b" %d" % (part.lines or 0)
        body.append(lines + b")")
        ext.append(lines)
    else:
        if part.type == "text":
            fields += b" %d" % (part.lines or 0)
        body.append(fields + b")")
        ext.append(fields)
    ext.append(
        b" %s %s %s %s)"
        % (nsstring(part.md5), _disposition(part), _language(part), nsstring(part.location))
    )
