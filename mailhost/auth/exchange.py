"""One SASL exchange over a line-based protocol (POP3 AUTH and IMAP AUTHENTICATE share it).

Both protocols send a challenge as ``+ <base64>`` and read one base64 line back, with ``*``
cancelling; only the final verdict is phrased per protocol.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from mailhost.auth.sasl import (
    Cancelled,
    Challenge,
    Credentials,
    InvalidClientResponse,
    SaslFailure,
    decode_client_response,
    mechanism,
)
from mailhost.channel import Channel
from mailhost.linebuffer import LineTooLong

SASL_LINE_LIMIT = 8192


@dataclass(frozen=True)
class Aborted:
    """The client cancelled with ``*`` (or sent a line too long to be a response)."""

    reason: str


async def run_sasl(
    channel: Channel, mechanism_name: str, initial: bytes | None, timeout: float,
    restore_line_limit: int,
) -> Credentials | SaslFailure | Aborted:
    """Drive ``mechanism_name`` to credentials; ``initial`` is the decoded initial response."""
    server = mechanism(mechanism_name)
    if server is None:
        return SaslFailure(f"unsupported mechanism {mechanism_name[:20]!r}")
    step = server.start(initial)
    channel.set_max_line(SASL_LINE_LIMIT)
    try:
        for _ in range(8):  # PLAIN needs one round, LOGIN two; more is a confused client
            if not isinstance(step, Challenge):
                return step
            channel.write(b"+ " + base64.b64encode(step.data) + b"\r\n")
            await channel.drain()
            line = await channel.read_line(timeout)
            if isinstance(line, LineTooLong):
                return Aborted("SASL response too long")
            try:
                decoded = decode_client_response(line)
            except InvalidClientResponse as exc:
                return exc.failure
            if isinstance(decoded, Cancelled):
                return Aborted("authentication cancelled")
            step = server.step(decoded)
        return SaslFailure("too many SASL rounds")
    finally:
        channel.set_max_line(restore_line_limit)


def decode_initial_response(text: str) -> bytes | SaslFailure | None:
    """The initial response given on the command line (``=`` means empty)."""
    try:
        decoded = decode_client_response(text.encode("ascii"))
    except (InvalidClientResponse, UnicodeEncodeError):
        return SaslFailure("invalid base64 in initial response")
    if isinstance(decoded, Cancelled):
        return SaslFailure("authentication cancelled")
    return decoded
