"""Connection-level commands: CAPABILITY, NOOP, LOGOUT, STARTTLS, LOGIN, AUTHENTICATE, ID,
ENABLE, NAMESPACE (RFC 3501 §6.1-6.2, 2971, 5161, 2342, 4959)."""

from __future__ import annotations

import logging

from mailhost.auth.authenticator import LoginAttempt
from mailhost.auth.exchange import Aborted, run_sasl
from mailhost.auth.sasl import MECHANISMS, SaslFailure
from mailhost.decisions import AuthFailure
from mailhost.protocols.imap import commands as cmd
from mailhost.protocols.imap.session import ImapSession
from mailhost.protocols.imap.state import State
from mailhost.protocols.imap.wire import nstring, quoted

log = logging.getLogger("mailhost.imap")

# Extensions advertised once a user is logged in (all implemented by the handlers here).
AUTHENTICATED_CAPABILITIES = (
    b"UIDPLUS", b"MOVE", b"UNSELECT", b"CHILDREN", b"SPECIAL-USE", b"CREATE-SPECIAL-USE",
    b"CONDSTORE", b"QRESYNC", b"ESEARCH", b"SEARCHRES", b"LIST-EXTENDED", b"LIST-STATUS",
    b"STATUS=SIZE", b"QUOTA", b"QUOTA=RES-STORAGE", b"QUOTA=RES-MESSAGE",
)
ENABLE_ABLE = frozenset({"CONDSTORE", "QRESYNC"})


def capability_atoms(session: ImapSession) -> list[bytes]:
    caps = [b"IMAP4rev1", b"LITERAL+", b"SASL-IR", b"ID", b"ENABLE", b"IDLE", b"NAMESPACE"]
    if session.state == State.NOT_AUTHENTICATED:
        if session.starttls_available:
            caps.append(b"STARTTLS")
        if session.cleartext_allowed:
            caps.extend(b"AUTH=" + name.encode() for name in MECHANISMS)
        else:
            caps.append(b"LOGINDISABLED")
    else:
        caps.extend(AUTHENTICATED_CAPABILITIES)
        caps.append(b"APPENDLIMIT=%d" % session.settings.append_limit)
    return caps


async def capability(session: ImapSession, command: cmd.Capability) -> None:
    session.untagged(b"CAPABILITY " + b" ".join(capability_atoms(session)))
    await session.complete(command)


async def noop(session: ImapSession, command: cmd.Noop) -> None:
    await session.complete(command)


async def logout(session: ImapSession, command: cmd.Logout) -> None:
    session.untagged(b"BYE logging out")
    session.tagged(command.tag, b"OK", "LOGOUT completed")
    session.state = State.LOGOUT


async def starttls(session: ImapSession, command: cmd.Starttls) -> None:
    if not session.starttls_available:
        session.bad(command, "STARTTLS is not available on this connection")
        return
    session.tagged(command.tag, b"OK", "Begin TLS negotiation now")
    await session.channel.drain()
    await session.channel.start_tls(session.app.tls_context,
                                    session.app.config.tls.handshake_timeout)


async def login(session: ImapSession, command: cmd.Login) -> None:
    if not session.cleartext_allowed:
        session.no(command, "plaintext login is disabled without TLS", b"PRIVACYREQUIRED")
        return
    try:
        password = command.password.decode("utf-8")
    except UnicodeDecodeError:
        password = "\ufffd"  # cannot match any stored password, still fails the usual way
    await _authenticate(session, command, command.username, password, "LOGIN", None)


async def authenticate(session: ImapSession, command: cmd.Authenticate) -> None:
    if command.mechanism not in MECHANISMS:
        session.no(command, "unsupported authentication mechanism", b"CANNOT")
        return
    if not session.cleartext_allowed:
        session.no(command, "plaintext authentication is disabled without TLS",
                   b"PRIVACYREQUIRED")
        return
    result = await run_sasl(session.channel, command.mechanism, command.initial_response,
                            session.timeout, session.settings.max_line)
    if isinstance(result, Aborted):
        session.bad(command, result.reason)
        return
    if isinstance(result, SaslFailure):
        session.no(command, result.reason, b"AUTHENTICATIONFAILED")
        return
    await _authenticate(session, command, result.authcid, result.password, command.mechanism,
                        result.authzid)


async def _authenticate(
    session: ImapSession, command: cmd.Command, username: str, password: str,
    mechanism: str, authzid: str | None,
) -> None:
    app = session.app
    attempt = LoginAttempt(username, password, "imap", mechanism, session.channel.peer_ip,
                           authzid)
    outcome = await app.authenticator.login(attempt)
    if isinstance(outcome, AuthFailure):
        if outcome.temporary:
            session.no(command, "authentication temporarily unavailable", b"UNAVAILABLE")
        else:
            session.no(command, "authentication failed", b"AUTHENTICATIONFAILED")
        return
    session.mail = await session.stack.enter_async_context(app.store.account(outcome.username))
    session.username = outcome.username
    session.state = State.AUTHENTICATED
    session.logged_in()
    await app.plugins.notify("mailhost_login", app=app, username=outcome.username,
                             protocol="imap", peer=session.channel.peer_ip)
    caps = b" ".join(capability_atoms(session))
    await session.complete(command, "completed", b"CAPABILITY " + caps)


async def id_(session: ImapSession, command: cmd.Id) -> None:
    # No version before login, so scanners learn nothing useful (issue requirement).
    fields = [(b"name", b"mailhost")]
    if session.state != State.NOT_AUTHENTICATED:
        from importlib.metadata import version

        fields.append((b"version", version("mailhost").encode()))
    body = b" ".join(quoted(k) + b" " + nstring(v) for k, v in fields)
    session.untagged(b"ID (" + body + b")")
    await session.complete(command)


async def enable(session: ImapSession, command: cmd.Enable) -> None:
    newly = [name for name in command.capabilities
             if name in ENABLE_ABLE and name not in session.enabled]
    if "QRESYNC" in newly and "CONDSTORE" not in session.enabled:
        newly.append("CONDSTORE")  # RFC 7162 §3.2.3: QRESYNC implies CONDSTORE
    session.enabled.update(newly)
    session.untagged(b"ENABLED" + b"".join(b" " + name.encode() for name in newly))
    await session.complete(command)


async def namespace(session: ImapSession, command: cmd.Namespace) -> None:
    session.untagged(b'NAMESPACE (("" "/")) NIL NIL')
    await session.complete(command)
