"""A lenient RFC 5322 address-list parser for ENVELOPE and SEARCH.

Input is an unfolded header value as str (bytes decoded with surrogateescape).
Output is a flat list of :class:`Address` items in the shape IMAP's ENVELOPE
uses: ordinary addresses, plus group start (``host is None``, ``mailbox`` is
the group name) and group end (everything None) markers.

Choices, following Dovecot (the most widely deployed IMAP server):

* A missing domain (``To: alice``) gives host ``MISSING_DOMAIN`` and a missing
  local part ``MISSING_MAILBOX``. A NIL host is *not* an option: in RFC 3501 a
  NIL host marks group syntax, so clients would read ``(NIL NIL "alice" NIL)``
  as the start of a group named alice.
* With no display name, a comment is used as the name (``a@b (Alice)``).
* Quoted strings are unquoted: the name and mailbox are their semantic values.
  Encoded-words are left as they are.
* Parsing is bounded: at most :data:`MAX_HEADER` characters of the header and
  :data:`MAX_ADDRESSES` addresses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

MAX_HEADER = 256 * 1024
MAX_ADDRESSES = 10_000
MISSING_MAILBOX = "MISSING_MAILBOX"
MISSING_DOMAIN = "MISSING_DOMAIN"


@dataclass(frozen=True, slots=True)
class Address:
    name: str | None
    adl: str | None
    mailbox: str | None
    host: str | None

    @property
    def is_group_start(self) -> bool:
        return self.host is None and self.mailbox is not None

    @property
    def is_group_end(self) -> bool:
        return self.host is None and self.mailbox is None


GROUP_END = Address(None, None, None, None)

_TOKEN_RE = re.compile(
    r"""
     (?P<ws>[ \t\r\n]+)
    |"(?P<qs>(?:[^"\\]|\\.)*)"?
    |(?P<dl>\[(?:[^\[\]\\]|\\.)*\]?)
    |(?P<sp>[<>@,;:.])
    |(?P<cm>\()
    |(?P<atom>[^ \t\r\n"\[\]()<>@,;:.\\]+|\\.?|[\])])
    """,
    re.X | re.S,
)
_COMMENT_RE = re.compile(r"[^()\\]+|\\.?|[()]", re.S)
_UNESCAPE_RE = re.compile(r"\\(.)", re.S)

# Token kinds: one of the specials "<>@,;:." or one of these.
_ATOM = "a"
_QS = "q"
_DL = "d"
_CM = "c"


@dataclass(slots=True)
class _Tok:
    kind: str
    text: str
    ws: bool  # whitespace or a comment came before it


def _tokenise(value: str) -> list[_Tok]:
    toks: list[_Tok] = []
    pos = 0
    n = len(value)
    ws = False
    match = _TOKEN_RE.match
    while pos < n:
        m = match(value, pos)
        if m is None:  # cannot happen: the atom branch takes any single char
            break
        kind = m.lastgroup
        if kind == "ws":
            ws = True
            pos = m.end()
            continue
        if kind == "cm":
            depth = 0
            parts: list[str] = []
            end = n
            for c in _COMMENT_RE.finditer(value, pos):
                t = c.group()
                if t == "(":
                    depth += 1
                    if depth == 1:
                        continue
                elif t == ")":
                    depth -= 1
                    if depth == 0:
                        end = c.end()
                        break
                parts.append(t[1:] if t[0] == "\\" and len(t) == 2 else t)
            toks.append(_Tok(_CM, "".join(parts).strip(), ws))
            ws = True
            pos = end
            continue
        if kind == "qs":
            q = m.group("qs")
            toks.append(_Tok(_QS, _UNESCAPE_RE.sub(r"\1", q) if "\\" in q else q, ws))
        elif kind == "dl":
            toks.append(_Tok(_DL, m.group(), ws))
        elif kind == "sp":
            toks.append(_Tok(m.group(), m.group(), ws))
        else:
            toks.append(_Tok(_ATOM, m.group(), ws))
        ws = False
        pos = m.end()
    return toks


def _phrase(toks: list[_Tok]) -> str | None:
    out: list[str] = []
    for t in toks:
        if out and t.ws:
            out.append(" ")
        out.append(t.text)
    s = "".join(out).strip()
    return s or None


def _joined(toks: list[_Tok]) -> str:
    return "".join(t.text for t in toks)


_WORDS = frozenset({_ATOM, _QS, _DL, ".", ">"})


def parse_addresses(value: str) -> tuple[Address, ...]:
    """Parse an address-list header value. Never raises.

    Results are cached (a few entries), since ENVELOPE and SEARCH parse the
    same headers one after the other.
    """
    if len(value) > MAX_HEADER:
        value = value[:MAX_HEADER]
    return _parse_cached(value)


@lru_cache(maxsize=32)
def _parse_cached(value: str) -> tuple[Address, ...]:
    return tuple(_parse(value))


def _parse(value: str) -> list[Address]:
    toks = _tokenise(value)
    n = len(toks)
    out: list[Address] = []
    pending: list[_Tok] = []
    comments: list[str] = []
    in_group = False

    def flush() -> None:
        # A phrase with neither "@" nor "<": a local part without a domain.
        if any(t.kind != "." for t in pending):
            name = comments[0] if comments and comments[0] else None
            out.append(Address(name, None, _joined(pending) or MISSING_MAILBOX, MISSING_DOMAIN))
        pending.clear()
        comments.clear()

    def skip_to_separator(i: int, name: str | None) -> tuple[int, str | None]:
        while i < n and toks[i].kind not in (",", ";"):
            if name is None and toks[i].kind == _CM and toks[i].text:
                name = toks[i].text
            i += 1
        return i, name

    i = 0
    while i < n and len(out) < MAX_ADDRESSES:
        t = toks[i]
        k = t.kind
        if k in _WORDS:
            pending.append(t)
            i += 1
        elif k == _CM:
            comments.append(t.text)
            i += 1
        elif k == ",":
            flush()
            i += 1
        elif k == ";":
            flush()
            if in_group:
                out.append(GROUP_END)
                in_group = False
            i += 1
        elif k == ":":
            if in_group:
                pending.append(t)
            else:
                out.append(Address(None, None, _phrase(pending) or "", None))
                pending.clear()
                comments.clear()
                in_group = True
            i += 1
        elif k == "<":
            name = _phrase(pending)
            if name is None and comments and comments[0]:
                name = comments[0]
            i, adl, local, domain = _angle_addr(toks, i + 1)
            i, name = skip_to_separator(i, name)
            out.append(Address(name, adl, local or MISSING_MAILBOX, domain or MISSING_DOMAIN))
            pending.clear()
            comments.clear()
        else:  # "@"
            local = _joined(pending)
            i, domain, cms = _domain(toks, i + 1)
            name = next((c for c in comments + cms if c), None)
            i, name = skip_to_separator(i, name)
            out.append(Address(name, None, local or MISSING_MAILBOX, domain or MISSING_DOMAIN))
            pending.clear()
            comments.clear()
    if len(out) < MAX_ADDRESSES:
        flush()
    if in_group:
        out.append(GROUP_END)
    return out


def _domain(toks: list[_Tok], i: int) -> tuple[int, str, list[str]]:
    """Domain tokens up to a separator, "<" or ">"; comments are collected."""
    parts: list[str] = []
    cms: list[str] = []
    n = len(toks)
    while i < n:
        t = toks[i]
        if t.kind in (_ATOM, _DL, ".", _QS):
            if parts and t.ws and t.kind != "." and parts[-1] != ".":
                break  # "a@b c": the domain ended at the whitespace
            parts.append(t.text)
        elif t.kind == _CM:
            cms.append(t.text)
        else:
            break
        i += 1
    return i, "".join(parts), cms


def _angle_addr(toks: list[_Tok], i: int) -> tuple[int, str | None, str, str]:
    """Parse ``[route ":"] local ["@" domain] ">"`` after the "<"."""
    n = len(toks)
    adl: str | None = None
    if i < n and toks[i].kind == "@":
        # Obsolete source route: @a,@b:
        j = i
        while j < n and toks[j].kind not in (":", ">"):
            j += 1
        if j < n and toks[j].kind == ":":
            adl = "".join(t.text for t in toks[i:j] if t.kind != _CM)
            i = j + 1
    local: list[str] = []
    while i < n and toks[i].kind not in ("@", ">", ",", ";", "<"):
        if toks[i].kind != _CM:
            local.append(toks[i].text)
        i += 1
    domain = ""
    if i < n and toks[i].kind == "@":
        i, domain, _ = _domain(toks, i + 1)
    while i < n and toks[i].kind not in (">", ",", ";"):
        i += 1
    if i < n and toks[i].kind == ">":
        i += 1
    return i, adl, "".join(local), domain
