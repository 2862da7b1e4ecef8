"""Parsing of MIME structured header values: ``value; name=param; ...``.

Handles quoted strings, RFC 822 comments, and RFC 2231 parameter continuations
(``name*0=``, ``name*1*=``) and charset/language-tagged values (``name*=utf-8''%E2%82%AC``).
Never raises.
"""

from __future__ import annotations

import codecs
import re
from functools import lru_cache
from urllib.parse import unquote_to_bytes

from mailhost.mime._headers import to_bytes

MAX_MIME_VALUE = 64 * 1024
"""MIME header values longer than this are cut before parsing (bounded work on bombs)."""

MAX_PARAMS = 256
"""At most this many parameters are kept per header."""

_PARAM_RE = re.compile(
    r"""
    [\s;]*
    (?P<name>[^\s=;"]+)? \s*
    (?: = \s* (?: "(?P<q>(?:[^"\\]|\\.)*)"? | (?P<t>[^;]*) ) )?
    [^;]*
    """,
    re.X | re.S,
)
_UNESCAPE_RE = re.compile(r"\\(.)", re.S)
_SECTION_RE = re.compile(r"([^*]+)\*(?:(\d{1,4})(\*)?)?")
_COMMENT_CHUNK_RE = re.compile(r'[^"()\\]+|\\.?|"(?:[^"\\]|\\.)*"?|[()]', re.S)
_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`{|}~0-9A-Za-z]+")


def strip_comments(value: str) -> str:
    """Remove RFC 822 ``(comments)`` (nested) outside quoted strings."""
    if "(" not in value:
        return value
    out: list[str] = []
    depth = 0
    for m in _COMMENT_CHUNK_RE.finditer(value):
        chunk = m.group()
        if chunk == "(":
            depth += 1
        elif chunk == ")":
            if depth:
                depth -= 1
            else:
                out.append(chunk)
        elif depth == 0:
            out.append(chunk)
    return "".join(out)


def charset_decode(data: bytes, charset: str | None) -> str:
    """Decode with the named charset (unknown charsets fall back to UTF-8), replacing errors."""
    long_name = charset is not None and len(charset) > _SHORT_CHARSET
    codec = _find_codec(charset) if long_name else _cached_codec(charset)
    try:
        return codec.decode(data, "replace")[0]
    except Exception:  # a broken codec (some CJK codecs raise on odd input)
        return data.decode("utf-8", "replace")


_SHORT_CHARSET = 40
"""Charset names up to this length are cached: a handful recur in nearly every message."""


def _find_codec(charset: str | None) -> codecs.CodecInfo:
    """The codec for a charset label; unknown ones and ASCII decode as UTF-8."""
    name = (charset or "").strip().lower()
    if name:
        try:
            codec = codecs.lookup(name)
        except (LookupError, ValueError):
            codec = codecs.lookup("utf-8")
    else:
        codec = codecs.lookup("utf-8")
    if codec.name in ("ascii", "us-ascii"):
        codec = codecs.lookup("utf-8")
    return codec


_cached_codec = lru_cache(maxsize=128)(_find_codec)


def is_token(value: str) -> bool:
    """True for a non-empty RFC 2045 token."""
    return _TOKEN_RE.fullmatch(value) is not None


def parse_mime_value(value: str) -> tuple[str, dict[str, str]]:
    """Split ``main; a=b; c="d"`` into (main lower-cased, {name lower-cased: value}).

    RFC 2231 continuations are joined and extended values decoded to str. The
    first occurrence of a parameter wins; an RFC 2231 form wins over a plain one.
    """
    if len(value) > MAX_MIME_VALUE:
        value = value[:MAX_MIME_VALUE]
    value = strip_comments(value)
    semi = value.find(";")
    if semi < 0:
        return value.strip().lower(), {}
    main = value[:semi].strip().lower()
    plain: dict[str, str] = {}
    sections: dict[str, dict[int, tuple[str, bool]]] = {}
    order: list[str] = []
    pos = semi
    n = len(value)
    while pos < n and len(order) < MAX_PARAMS:
        m = _PARAM_RE.match(value, pos)
        if m is None or m.end() <= pos:
            break
        pos = m.end()
        name = m.group("name")
        if not name:
            continue
        q = m.group("q")
        if q is not None:
            pval = _UNESCAPE_RE.sub(r"\1", q) if "\\" in q else q
        else:
            pval = (m.group("t") or "").strip()
        lname = name.lower()
        sm = _SECTION_RE.fullmatch(lname) if "*" in lname else None
        if sm is None:
            if lname not in plain:
                plain[lname] = pval
                if lname not in order:
                    order.append(lname)
            continue
        base = sm.group(1)
        number = int(sm.group(2)) if sm.group(2) is not None else 0
        extended = sm.group(2) is None or sm.group(3) is not None
        secs = sections.setdefault(base, {})
        if number not in secs:
            secs[number] = (pval, extended)
        if base not in order:
            order.append(base)
    params: dict[str, str] = {}
    for name in order:
        if name in sections:
            params[name] = _join_sections(sections[name])
        else:
            params[name] = plain[name]
    return main, params


def _join_sections(secs: dict[int, tuple[str, bool]]) -> str:
    charset: str | None = None
    chunks: list[bytes] = []
    for i, number in enumerate(sorted(secs)):
        text, extended = secs[number]
        if extended:
            if i == 0 and text.count("'") >= 2:
                charset, _, rest = text.partition("'")
                _lang, _, text = rest.partition("'")
            chunks.append(unquote_to_bytes(to_bytes(text)))
        else:
            chunks.append(to_bytes(text))
    data = b"".join(chunks)
    if charset is None:
        return data.decode("utf-8", "surrogateescape")
    return charset_decode(data, charset)
