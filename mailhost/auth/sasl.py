"""Sans-I/O SASL server mechanisms (RFC 4422): PLAIN (RFC 4616) and LOGIN.

A mechanism only turns client bytes into the next step; the protocol layer (POP3 AUTH, IMAP
AUTHENTICATE, SMTP AUTH) owns the wire syntax, base64-encodes challenges and hands decoded
client responses back through :func:`decode_client_response`. A mechanism never checks a
password: it ends with :class:`Credentials`, which the authenticator verifies.

Identities and passwords are returned exactly as sent (UTF-8 validated, no SASLprep), because
stored hashes imported from Dovecot were computed over the raw bytes.
"""

from __future__ import annotations

import binascii
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import ClassVar


@dataclass(frozen=True)
class Challenge:
    """Raw challenge bytes for the client; the protocol layer base64-encodes them."""

    data: bytes


@dataclass(frozen=True)
class Credentials:
    """The exchange finished: identities and password for the authenticator to verify."""

    authcid: str
    authzid: str | None
    password: str = field(repr=False)


@dataclass(frozen=True)
class SaslFailure:
    """The exchange failed; ``reason`` is for logs and may be shown to the client."""

    reason: str


SaslStep = Challenge | Credentials | SaslFailure


@dataclass(frozen=True)
class Cancelled:
    """The client answered ``*``: abort the exchange (RFC 4422 section 3.5)."""


CANCELLED = Cancelled()


class InvalidClientResponse(ValueError):
    """A client response line that is not valid base64; the exchange must fail."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    @property
    def failure(self) -> SaslFailure:
        """The same problem as a step, for callers that treat every outcome as a SaslStep."""
        return SaslFailure(self.reason)


def decode_client_response(line: bytes) -> bytes | Cancelled:
    """Decode one base64 client response line (a trailing CRLF or LF is ignored).

    ``*`` cancels. ``=`` is the empty response (RFC 4954/4959/5034 initial responses), as is an
    empty line (an empty continuation response). Anything not strictly base64 raises
    InvalidClientResponse, so no garbage ever reaches a mechanism.
    """
    text = line.removesuffix(b"\r\n") if line.endswith(b"\r\n") else line.removesuffix(b"\n")
    if text == b"*":
        return CANCELLED
    if text in (b"", b"="):
        return b""
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except binascii.Error as exc:
        raise InvalidClientResponse(f"invalid base64 in client response: {exc}") from None


def _decode_field(raw: bytes, what: str) -> str | SaslFailure:
    """Validate one identity or password: non-empty UTF-8 without NUL (RFC 4616 ``1*SAFE``)."""
    if not raw:
        return SaslFailure(f"empty {what}")
    if b"\0" in raw:
        return SaslFailure(f"NUL in {what}")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return SaslFailure(f"{what} is not valid UTF-8")


class SaslServer(ABC):
    """One server-side exchange: call start() once, then step() for each client response.

    After Credentials or SaslFailure the exchange is over and further steps fail, so a
    confused protocol layer cannot restart a mechanism half-way.
    """

    name: ClassVar[str]

    def __init__(self) -> None:
        self._started = False
        self._finished = False

    def start(self, initial_response: bytes | None) -> SaslStep:
        """Begin; ``initial_response`` is None if the client sent none, b"" if it sent ``=``."""
        if self._started:
            return self._finish(SaslFailure("exchange already started"))
        self._started = True
        return self._finish(self._on_start(initial_response))

    def step(self, client_data: bytes) -> SaslStep:
        """Feed the client's decoded answer to the last Challenge."""
        if not self._started or self._finished:
            return self._finish(SaslFailure("no challenge is outstanding"))
        return self._finish(self._on_response(client_data))

    def _finish(self, result: SaslStep) -> SaslStep:
        if not isinstance(result, Challenge):
            self._finished = True
        return result

    @abstractmethod
    def _on_start(self, initial_response: bytes | None) -> SaslStep:
        """Mechanism-specific first step."""

    @abstractmethod
    def _on_response(self, client_data: bytes) -> SaslStep:
        """Mechanism-specific handling of an answer to a challenge."""


class PlainServer(SaslServer):
    """RFC 4616 PLAIN: one message ``[authzid] NUL authcid NUL passwd``."""

    name = "PLAIN"

    def _on_start(self, initial_response: bytes | None) -> SaslStep:
        if initial_response is None:
            return Challenge(b"")
        return self._parse(initial_response)

    def _on_response(self, client_data: bytes) -> SaslStep:
        return self._parse(client_data)

    @staticmethod
    def _parse(message: bytes) -> SaslStep:
        parts = message.split(b"\0")
        if len(parts) != 3:
            return SaslFailure(f"PLAIN message needs exactly 2 NULs, got {len(parts) - 1}")
        raw_authzid, raw_authcid, raw_password = parts
        authcid = _decode_field(raw_authcid, "authentication identity")
        if isinstance(authcid, SaslFailure):
            return authcid
        password = _decode_field(raw_password, "password")
        if isinstance(password, SaslFailure):
            return password
        if not raw_authzid:
            return Credentials(authcid=authcid, authzid=None, password=password)
        authzid = _decode_field(raw_authzid, "authorization identity")
        if isinstance(authzid, SaslFailure):
            return authzid
        return Credentials(authcid=authcid, authzid=authzid, password=password)


class LoginServer(SaslServer):
    """LOGIN (draft-murchison-sasl-login): ``Username:`` then ``Password:`` challenges.

    A non-empty initial response is taken as the user name, as Dovecot and Cyrus do for the
    clients that send one; an empty one is treated as absent.
    """

    name = "LOGIN"
    USERNAME_CHALLENGE = b"Username:"
    PASSWORD_CHALLENGE = b"Password:"

    def __init__(self) -> None:
        super().__init__()
        self._username: str | None = None

    def _on_start(self, initial_response: bytes | None) -> SaslStep:
        if not initial_response:
            return Challenge(self.USERNAME_CHALLENGE)
        return self._on_response(initial_response)

    def _on_response(self, client_data: bytes) -> SaslStep:
        if self._username is None:
            username = _decode_field(client_data, "user name")
            if isinstance(username, SaslFailure):
                return username
            self._username = username
            return Challenge(self.PASSWORD_CHALLENGE)
        password = _decode_field(client_data, "password")
        if isinstance(password, SaslFailure):
            return password
        return Credentials(authcid=self._username, authzid=None, password=password)


MECHANISMS: Mapping[str, Callable[[], SaslServer]] = MappingProxyType(
    {PlainServer.name: PlainServer, LoginServer.name: LoginServer}
)
"""Supported mechanisms by upper-case name, in the order servers should advertise them."""


def mechanism(name: str) -> SaslServer | None:
    """A fresh server for ``name`` (ASCII case-insensitive), or None when unsupported."""
    if not name.isascii():
        return None
    factory = MECHANISMS.get(name.upper())
    return factory() if factory is not None else None
