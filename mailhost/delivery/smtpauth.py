"""SMTP AUTH (RFC 4954) for submission: mailhost's SASL mechanisms and Authenticator.

aiosmtpd's built-in PLAIN and LOGIN call a synchronous callback, which cannot await the
authenticator (password hashing runs off the event loop, failures are delayed and counted for
the per-IP lockout). So the exchange is driven here with the same sans-I/O mechanisms POP3
uses, and aiosmtpd only carries the 334 challenges (``challenge_auth``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiosmtpd.smtp import MISSING

from mailhost.auth.authenticator import LoginAttempt
from mailhost.auth.exchange import decode_initial_response
from mailhost.auth.sasl import Challenge, Credentials, SaslFailure, mechanism
from mailhost.decisions import AuthFailure

if TYPE_CHECKING:
    from mailhost.app import App
    from mailhost.delivery.smtpd import MailhostSession, MailhostSMTP

MAX_ROUNDS = 4  # PLAIN needs one, LOGIN two
AUTH_OK = "235 2.7.0 Authentication successful"
AUTH_INVALID = "535 5.7.8 Authentication credentials invalid"
AUTH_TEMPFAIL = "454 4.7.0 Temporary authentication failure"
AUTH_LOCKED_OUT = "421 4.7.0 too many failed logins from your address, closing connection"


async def _exchange(server: MailhostSMTP, args: list[str]) -> Credentials | str | None:
    """Run the SASL exchange: credentials, a reply to send, or None if aiosmtpd replied."""
    sasl = mechanism(args[0])
    if sasl is None:
        return "504 5.5.4 Unrecognized authentication type"
    initial: bytes | None = None
    if len(args) > 1:
        decoded = decode_initial_response(args[1])
        if isinstance(decoded, SaslFailure):
            return f"501 5.5.2 {decoded.reason}"
        initial = decoded
    step = sasl.start(initial)
    for _ in range(MAX_ROUNDS):
        if not isinstance(step, Challenge):
            break
        answer = await server.challenge_auth(step.data)
        if answer is MISSING:  # "*" or bad base64: aiosmtpd has already sent 501
            return None
        assert isinstance(answer, bytes)
        step = sasl.step(answer)
    if isinstance(step, Credentials):
        return step
    if isinstance(step, SaslFailure):
        return f"501 5.5.2 {step.reason}"
    return "501 5.5.2 too many SASL rounds"


async def authenticate(
    app: App, server: MailhostSMTP, session: MailhostSession, args: list[str], peer_ip: str
) -> str | None:
    """Handle ``AUTH mechanism [initial-response]``; on success the session is logged in."""
    result = await _exchange(server, args)
    if not isinstance(result, Credentials):
        return result
    name = args[0].upper()
    outcome = await app.authenticator.login(LoginAttempt(
        result.authcid, result.password, "submission", name, peer_ip, result.authzid,
    ))
    if isinstance(outcome, AuthFailure):
        if app.authenticator.is_locked_out(peer_ip):  # the lockout covers this session too
            await server.push(AUTH_LOCKED_OUT)
            server.close()
            return None
        return AUTH_TEMPFAIL if outcome.temporary else AUTH_INVALID
    session.authenticated = True
    session.user = outcome.username
    await app.plugins.notify("mailhost_login", app=app, username=outcome.username,
                             protocol="submission", peer=peer_ip)
    return AUTH_OK
