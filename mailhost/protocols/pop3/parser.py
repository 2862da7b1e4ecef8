"""POP3 command lines to command objects, and replies to bytes. No I/O here.

RFC 1939 keeps commands simple: a keyword and space-separated arguments. RFC 2449 caps a
command line at 255 octets. PASS takes the rest of the line, since passwords may hold spaces.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_COMMAND_LINE = 255
MAX_ARGUMENT = 40


@dataclass(frozen=True)
class Pop3Command:
    verb: str
    args: tuple[str, ...]
    rest: str  # everything after the verb and one space, for PASS


class Pop3ParseError(ValueError):
    pass


def parse_command(line: bytes) -> Pop3Command:
    """Split a line into verb and arguments; raise Pop3ParseError with a client-safe reason."""
    if b"\x00" in line:
        raise Pop3ParseError("NUL byte in command")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise Pop3ParseError("command is not valid UTF-8") from None
    verb, _, rest = text.partition(" ")
    if not verb or not verb.isascii() or not verb.isalpha() or len(verb) > 8:
        raise Pop3ParseError("unknown command")
    args = tuple(rest.split(" ")) if rest else ()
    return Pop3Command(verb.upper(), args, rest)


def parse_message_number(text: str) -> int | None:
    """A positive message number, or None for anything else (0, -1, 1e9, 20 digits...)."""
    if not text.isascii() or not text.isdigit() or len(text) > 10:
        return None
    number = int(text)
    return number if number > 0 else None


def ok(text: str = "") -> bytes:
    return f"+OK {text}\r\n".encode() if text else b"+OK\r\n"


def err(text: str, code: str | None = None) -> bytes:
    """``-ERR [CODE] text``; codes are RFC 2449/3206 response codes such as IN-USE."""
    prefix = f"[{code}] " if code else ""
    return f"-ERR {prefix}{text}\r\n".encode()


def multiline(lines: list[str]) -> bytes:
    """A multi-line response body of short text lines (LIST, UIDL, CAPA), terminated."""
    body = "".join(f"{'.' if line.startswith('.') else ''}{line}\r\n" for line in lines)
    return body.encode() + b".\r\n"


def dot_stuff(message: bytes) -> bytes:
    """Byte-stuff a stored (CRLF-normalised) message and terminate it, without a line loop."""
    return with_message(b"", message)


def with_message(status: bytes, message: bytes) -> bytes:
    """``status`` followed by ``message`` byte-stuffed and terminated, as one buffer."""
    return b"".join(message_reply(status, message))


def message_reply(status: bytes, message: bytes) -> list[bytes]:
    """``status`` followed by ``message`` byte-stuffed and terminated, as buffers for one write.

    One write means one segment: the client's wait for the status line and for the body end
    together. The message itself is not copied unless a line starts with a dot (replace
    returns the same object when there is nothing to replace).
    """
    if not message:
        return [status + b".\r\n"]
    stuffed = stuffed_lines(message)
    head = status + b"." if stuffed.startswith(b".") else status
    tail = b".\r\n" if stuffed.endswith(b"\r\n") else b"\r\n.\r\n"
    return [head, stuffed, tail]


# Dots looked at one by one before handing the message to bytes.replace: few messages have
# more, and the bound keeps a message full of dots linear.
DOT_PROBES = 64


def stuffed_lines(message: bytes) -> bytes:
    """``message`` with a dot added to every line after the first that starts with one.

    ``bytes.replace`` alone reads the whole message with a substring search (~30 us for the
    average 35 KB message); most messages have few dots, and none at the start of a line, so
    finding the dots with ``find`` (memchr) settles it ~10x faster. Returns ``message``
    itself when nothing needs stuffing, exactly as ``replace`` does.
    """
    find = message.find
    dot = find(b".")
    for _ in range(DOT_PROBES):
        if dot < 0:
            return message
        if dot >= 2 and message[dot - 2:dot] == b"\r\n":
            break
        dot = find(b".", dot + 1)
    return message.replace(b"\r\n.", b"\r\n..")


def top_of(message: bytes, body_lines: int) -> bytes:
    """Headers, the blank line, and the first ``body_lines`` lines of the body (RFC 1939 TOP)."""
    split = message.find(b"\r\n\r\n")
    if split < 0:
        return message
    head_end = split + 4
    if body_lines <= 0:
        return message[:head_end]
    pos = head_end
    for _ in range(body_lines):
        nxt = message.find(b"\r\n", pos)
        if nxt < 0:
            return message
        pos = nxt + 2
    return message[:pos]
