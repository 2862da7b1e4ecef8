"""Deterministic, realistic test messages: both servers must get byte-identical mail.

Sizes follow a skewed mix from 1 KB to 2 MB (most mail is small, a few messages carry large
attachments). Messages above a few KB are multipart with an HTML alternative and, for the
larger ones, a base64 attachment; headers carry RFC 2047 encoded non-ASCII names and
subjects. Everything derives from ``random.Random(seed)``, so a run is reproducible and the
SEARCH workload knows how many messages match each query.
"""

from __future__ import annotations

import base64
import math
import quopri
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.header import Header

# (share of messages, smallest size, largest size): log-uniform within a bucket. The mean is
# about 35 KB, close to what personal mailboxes hold once newsletters and photos are counted.
SIZE_MIX: tuple[tuple[float, int, int], ...] = (
    (0.70, 1_024, 8_192),
    (0.22, 8_192, 65_536),
    (0.07, 65_536, 524_288),
    (0.01, 524_288, 2_097_152),
)

# Internal dates are spread over this period; SEARCH SINCE uses its midpoint.
DATE_START = datetime(2023, 1, 1, 8, 0, tzinfo=UTC)
DATE_SPAN = timedelta(days=730)

# A word that only a known share of bodies contains, for SEARCH TEXT.
RARE_WORD = "quokka"
RARE_WORD_SHARE = 0.05

# Sender pool; SEARCH FROM uses one local part, so about 1/len(SENDERS) of messages match.
SENDERS: tuple[tuple[str, str], ...] = (
    ("Zoë Müller", "zoe.mueller@example.org"),
    ("José Álvarez", "jose@correo.example.net"),
    ("Ingrid Østergård", "ingrid@example.dk"),
    ("Łukasz Wróbel", "lukasz.wrobel@example.pl"),
    ("François Dupré", "f.dupre@example.fr"),
    ("山田 太郎", "yamada@example.jp"),
    ("Алексей Смирнов", "alexei@example.ru"),
    ("Ana Silva", "ana.silva@example.pt"),
    ("Newsletter", "news@lists.example.com"),
    ("Jörg Brandt", "joerg@example.de"),
    ("Mary O'Brien", "mary@example.ie"),
    ("Søren Kierkegaard", "soren@example.dk"),
    ("Dana Lee", "dana.lee@example.com"),
    ("Ömer Çelik", "omer@example.com.tr"),
    ("Billing", "billing@shop.example.com"),
    ("Νίκος Παπαδόπουλος", "nikos@example.gr"),
    ("Chris Wong", "chris.wong@example.hk"),
    ("Renée Lefèvre", "renee@example.be"),
    ("Tomás Ó Briain", "tomas@example.ie"),
    ("Priya Natarajan", "priya@example.in"),
)
SEARCH_FROM = "ingrid"

_WORDS: tuple[str, ...] = (
    "meeting", "agenda", "invoice", "holiday", "photos", "garden", "weekend", "dinner", "report",
    "budget", "school", "football", "club", "minutes", "train", "ticket", "doctor", "appointment",
    "birthday", "party", "recipe", "soup", "Grüße", "café", "naïve", "façade", "smörgåsbord",
    "crème", "brûlée", "jalapeño", "piñata", "déjà", "vu", "東京", "München", "Zürich", "Kraków",
    "São", "Paulo", "Reykjavík",
)


@dataclass(frozen=True)
class Message:
    """One message with the internal date both servers are told to store."""

    raw: bytes
    internaldate: datetime
    sender: str
    has_rare_word: bool


def mixed_size(rng: random.Random) -> int:
    """A target size drawn from :data:`SIZE_MIX`."""
    pick = rng.random()
    for share, low, high in SIZE_MIX:
        if pick < share:
            return int(math.exp(rng.uniform(math.log(low), math.log(high))))
        pick -= share
    return SIZE_MIX[-1][1]


def _encoded(text: str) -> str:
    """RFC 2047 encode a header value when it is not plain ASCII."""
    try:
        text.encode("ascii")
    except UnicodeEncodeError:
        return Header(text, "utf-8").encode()
    return text


def _address(name: str, address: str) -> str:
    return f"{_encoded(name)} <{address}>"


def _text(rng: random.Random, size: int, rare: bool) -> str:
    words: list[str] = []
    length = 0
    while length < size:
        word = rng.choice(_WORDS)
        words.append(word)
        length += len(word.encode()) + 1
    if rare:
        words.insert(rng.randrange(len(words) + 1), RARE_WORD)
    lines = [" ".join(words[i:i + 12]) for i in range(0, len(words), 12)]
    return "\r\n".join(lines) + "\r\n"


def _qp(text: str) -> bytes:
    return quopri.encodestring(text.encode()).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _b64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


class MessageFactory:
    """Builds message number ``index`` the same way on every call and every run."""

    def __init__(self, seed: int, recipient: str = "user@example.test") -> None:
        self.seed = seed
        self.recipient = recipient

    def make(self, index: int, size: int | None = None) -> Message:
        """Message ``index``; ``size`` overrides the mixed size (e.g. ~5 KB for LMTP)."""
        rng = random.Random(self.seed * 1_000_003 + index)
        target = size if size is not None else mixed_size(rng)
        name, sender = rng.choice(SENDERS)
        rare = rng.random() < RARE_WORD_SHARE
        when = DATE_START + DATE_SPAN * rng.random()
        when = when.replace(microsecond=0)
        subject = f"{rng.choice(_WORDS)} {rng.choice(_WORDS)} #{index}"
        headers = [
            f"Return-Path: <{sender}>",
            f"From: {_address(name, sender)}",
            f"To: {_address('Bench Nutzer', self.recipient)}",
            f"Subject: {_encoded(subject)}",
            f"Date: {when.strftime('%a, %d %b %Y %H:%M:%S +0000')}",
            f"Message-ID: <{self.seed}.{index}@bench.example.test>",
            "MIME-Version: 1.0",
        ]
        header_len = len("\r\n".join(headers).encode()) + 120
        body_budget = max(target - header_len, 200)
        if target <= 4_096:
            body = _text(rng, body_budget, rare)
            headers += ["Content-Type: text/plain; charset=utf-8",
                        "Content-Transfer-Encoding: 8bit"]
            raw = ("\r\n".join(headers) + "\r\n\r\n" + body).encode()
        else:
            raw = self._multipart(rng, index, headers, body_budget, rare)
        return Message(raw=raw, internaldate=when, sender=sender, has_rare_word=rare)

    def _multipart(
        self, rng: random.Random, index: int, headers: list[str], budget: int, rare: bool,
    ) -> bytes:
        boundary = f"=_bench_{self.seed}_{index}"
        alt = f"=_alt_{self.seed}_{index}"
        text = _text(rng, min(budget // 3, 6_000), rare)
        html = "<html><body><p>" + text.replace("\r\n", "</p>\r\n<p>") + "</p></body></html>"
        parts = [
            f"--{boundary}\r\nContent-Type: multipart/alternative; boundary=\"{alt}\"\r\n\r\n"
            .encode(),
            f"--{alt}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n".encode() + _qp(text),
            f"\r\n--{alt}\r\nContent-Type: text/html; charset=utf-8\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n".encode() + _qp(html),
            f"\r\n--{alt}--\r\n".encode(),
        ]
        # What is left of the budget goes to an attachment (base64: 4/3 plus line ends).
        attach = (budget - sum(map(len, parts)) - 300) * 57 // 78
        if attach > 0:
            filename = _encoded(f"Übersicht {index}.pdf")
            parts.append(
                f"--{boundary}\r\nContent-Type: application/pdf; name=\"{filename}\"\r\n"
                f"Content-Disposition: attachment; filename=\"{filename}\"\r\n"
                "Content-Transfer-Encoding: base64\r\n\r\n".encode() + _b64(rng.randbytes(attach))
            )
        parts.append(f"--{boundary}--\r\n".encode())
        head = [*headers, f"Content-Type: multipart/mixed; boundary=\"{boundary}\""]
        return ("\r\n".join(head) + "\r\n\r\nThis is a MIME message.\r\n").encode() + b"".join(
            parts)


def batch(factory: MessageFactory, start: int, count: int,
          size: int | None = None) -> Iterator[Message]:
    """Messages ``start`` .. ``start + count - 1``."""
    for index in range(start, start + count):
        yield factory.make(index, size)


def search_since() -> datetime:
    """The SINCE date: the midpoint of the date span, so about half the messages match."""
    return DATE_START + DATE_SPAN / 2
