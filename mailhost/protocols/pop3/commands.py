"""Handlers for every POP3 command (RFC 1939, 2449, 2595, 5034, 6856).

Each handler is ``async def handler(session, command)`` and is registered in
:mod:`mailhost.protocols.pop3.plugin` with the states that allow it, exactly as a plugin would
register an X-command. Commands answered from memory also have an instant form,
``def name_now(session, command) -> bool``, which the session calls straight from the
connection's data callback; it returns False, having sent nothing, when the answer needs an
await (a body not read ahead yet), and the handler then runs as usual.
"""

from __future__ import annotations

import logging
import weakref
from collections import defaultdict
from collections.abc import Awaitable, Callable

from mailhost.auth.authenticator import LoginAttempt
from mailhost.auth.exchange import Aborted, decode_initial_response, run_sasl
from mailhost.auth.sasl import MECHANISMS, SaslFailure
from mailhost.decisions import EXPUNGE, KEEP, AuthFailure, Pop3Action
from mailhost.protocols.pop3.maildrop import HIDDEN_KEYWORD, MaildropEntry, Pop3Advert
from mailhost.protocols.pop3.parser import (
    MAX_COMMAND_LINE,
    Pop3Command,
    err,
    message_reply,
    multiline,
    ok,
    parse_message_number,
    top_of,
)
from mailhost.protocols.pop3.session import (
    AUTHORIZATION,
    TRANSACTION,
    UPDATE,
    Pop3Session,
)
from mailhost.store.interface import StoreError

log = logging.getLogger("mailhost.pop3")

# One POP3 session per maildrop (RFC 1939 §8), per server instance.
_locks: weakref.WeakKeyDictionary[object, set[str]] = weakref.WeakKeyDictionary()


def _maildrop_locks(session: Pop3Session) -> set[str]:
    return _locks.setdefault(session.app, set())


# -- AUTHORIZATION ------------------------------------------------------------------------


async def advert(session: Pop3Session) -> Pop3Advert:
    answer = await session.app.plugins.decide(
        "mailhost_pop3_advert", app=session.app, username=session.username
    )
    return answer if isinstance(answer, Pop3Advert) else Pop3Advert()


async def capa(session: Pop3Session, command: Pop3Command) -> None:
    policy = await advert(session)
    lines = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "UTF8"]
    if session.state == AUTHORIZATION:
        if session.cleartext_allowed:
            lines.append("USER")
            lines.append("SASL " + " ".join(MECHANISMS))
        if session.starttls_available:
            lines.append("STLS")
    expire = "NEVER" if policy.expire_days is None else str(policy.expire_days)
    suffix = " USER" if session.state == AUTHORIZATION else ""
    lines.append(f"EXPIRE {expire}{suffix if expire != 'NEVER' else ''}")
    lines.append(f"LOGIN-DELAY {policy.login_delay}{suffix if policy.login_delay else ''}")
    lines.append("IMPLEMENTATION mailhost")
    session.reply(ok("Capability list follows") + multiline(lines))


async def stls(session: Pop3Session, command: Pop3Command) -> None:
    if not session.starttls_available:
        session.reply(err("STLS not available" if not session.channel.is_secure
                          else "already using TLS"))
        return
    session.reply(ok("Begin TLS negotiation"))
    await session.channel.drain()
    await session.channel.start_tls(session.app.tls_context,
                                    session.app.config.tls.handshake_timeout)


async def utf8(session: Pop3Session, command: Pop3Command) -> None:
    session.utf8 = True
    session.reply(ok("UTF8 enabled"))


def _refuse_cleartext(session: Pop3Session) -> bool:
    if session.cleartext_allowed:
        return False
    session.reply(err("plaintext authentication is not allowed without TLS; use STLS", "AUTH"))
    return True


async def user(session: Pop3Session, command: Pop3Command) -> None:
    if _refuse_cleartext(session):
        return
    if not command.rest or len(command.rest) > MAX_COMMAND_LINE:
        session.reply(err("USER needs a name"))
        return
    session.pending_user = command.rest
    session.reply(ok("send PASS"))


async def pass_(session: Pop3Session, command: Pop3Command) -> None:
    if _refuse_cleartext(session):
        return
    if session.pending_user is None:
        session.reply(err("send USER first"))
        return
    username, session.pending_user = session.pending_user, None
    await login(session, username, command.rest, "USER", None)


async def auth(session: Pop3Session, command: Pop3Command) -> None:
    if not command.args:
        session.reply(ok("methods follow") + multiline(list(MECHANISMS)))
        return
    if _refuse_cleartext(session):
        return
    name = command.args[0].upper()
    if name not in MECHANISMS:
        session.reply(err("unsupported SASL mechanism"))
        return
    initial: bytes | None = None
    if len(command.args) > 1:
        decoded = decode_initial_response(command.args[1])
        if isinstance(decoded, SaslFailure):
            session.reply(err(decoded.reason, "AUTH"))
            return
        initial = decoded
    result = await run_sasl(session.channel, name, initial, session.timeout, MAX_COMMAND_LINE)
    if isinstance(result, Aborted):
        session.reply(err(result.reason))
        return
    if isinstance(result, SaslFailure):
        session.reply(err(result.reason, "AUTH"))
        return
    await login(session, result.authcid, result.password, name, result.authzid)


async def login(
    session: Pop3Session, username: str, password: str, mechanism: str, authzid: str | None
) -> None:
    """Shared by USER/PASS and AUTH: authenticate, lock the maildrop, build the view."""
    app = session.app
    attempt = LoginAttempt(username, password, "pop3", mechanism, session.channel.peer_ip,
                           authzid)
    outcome = await app.authenticator.login(attempt)
    if isinstance(outcome, AuthFailure):
        if outcome.temporary:
            session.reply(err("authentication temporarily unavailable", "SYS/TEMP"))
        else:
            session.reply(err("authentication failed", "AUTH"))
        return
    account = outcome.username
    refusal = await app.plugins.decide(
        "mailhost_pop3_login_check", app=app, username=account, peer=session.channel.peer_ip
    )
    if refusal:
        session.reply(err(str(refusal), "LOGIN-DELAY"))
        return
    locks = _maildrop_locks(session)
    if account in locks:
        session.reply(err("maildrop already locked by another POP3 session", "IN-USE"))
        return
    locks.add(account)
    session.stack.callback(locks.discard, account)
    try:
        session.mail = await session.stack.enter_async_context(app.store.account(account))
    except StoreError as exc:
        log.error("cannot open maildrop of %s: %s", account, exc)
        session.reply(err("cannot open maildrop", "SYS/TEMP"))
        await session.stack.aclose()
        return
    session.stack.callback(session.readahead.close)  # before the account is released
    session.username = account
    await app.plugins.notify("mailhost_login", app=app, username=account, protocol="pop3",
                             peer=session.channel.peer_ip)
    view = await app.plugins.decide("mailhost_pop3_maildrop", app=app, session=session)
    session.maildrop = list(view or [])
    session.state = TRANSACTION
    total = sum(e.size for e in session.maildrop)
    session.reply(ok(f"{len(session.maildrop)} messages ({total} octets)"))


# -- TRANSACTION --------------------------------------------------------------------------

Instant = Callable[[Pop3Session, Pop3Command], bool]


def awaited(instant: Instant) -> Callable[[Pop3Session, Pop3Command], Awaitable[None]]:
    """The handler of a command that is always answered from memory: its instant form."""
    async def handler(session: Pop3Session, command: Pop3Command) -> None:
        instant(session, command)
    return handler


def stat_now(session: Pop3Session, command: Pop3Command) -> bool:
    visible = session.visible()
    session.reply(ok(f"{len(visible)} {sum(e.size for e in visible)}"))
    return True


def _one(session: Pop3Session, command: Pop3Command) -> MaildropEntry | None:
    """The message named by the first argument, replying -ERR when there is none."""
    if not command.args:
        session.reply(err("message number required"))
        return None
    number = parse_message_number(command.args[0])
    if number is not None and number <= len(session.maildrop) and \
            session.maildrop[number - 1].deleted:
        session.reply(err(f"message {number} already deleted"))
        return None
    entry = session.entry(number)
    if entry is None:
        session.reply(err("no such message"))
    return entry


def list_now(session: Pop3Session, command: Pop3Command) -> bool:
    if command.args:
        entry = _one(session, command)
        if entry is not None:
            session.reply(ok(f"{entry.number} {entry.size}"))
        return True
    visible = session.visible()
    session.reply(ok(f"{len(visible)} messages") +
                  multiline([f"{e.number} {e.size}" for e in visible]))
    return True


def uidl_now(session: Pop3Session, command: Pop3Command) -> bool:
    if command.args:
        entry = _one(session, command)
        if entry is not None:
            session.reply(ok(f"{entry.number} {entry.uidl}"))
        return True
    session.reply(ok() + multiline([f"{e.number} {e.uidl}" for e in session.visible()]))
    return True


async def _read(session: Pop3Session, entry: MaildropEntry, *, keep: bool) -> bytes | None:
    assert session.mail is not None
    raw = await session.readahead.body(session.mail, session.maildrop, entry, keep=keep)
    if raw is None:
        session.reply(err("message was removed by another session", "SYS/PERM"))
    return raw


def _send_retr(session: Pop3Session, entry: MaildropEntry, raw: bytes) -> None:
    session.channel.writelines(message_reply(ok(f"{entry.size} octets"), raw))
    entry.retrieved = True


async def retr(session: Pop3Session, command: Pop3Command) -> None:
    entry = _one(session, command)
    if entry is None:
        return
    raw = await _read(session, entry, keep=False)
    if raw is not None:
        _send_retr(session, entry, raw)


def retr_now(session: Pop3Session, command: Pop3Command) -> bool:
    entry = _one(session, command)
    if entry is None:
        return True
    assert session.mail is not None
    raw = session.readahead.ready(session.mail, session.maildrop, entry, keep=False)
    if raw is not None:
        _send_retr(session, entry, raw)
    return raw is not None


def _top_request(session: Pop3Session, command: Pop3Command) -> tuple[MaildropEntry, int] | None:
    """The message and line count TOP asks for, replying -ERR when the request is bad."""
    if len(command.args) != 2:
        session.reply(err("usage: TOP msg lines"))
        return None
    count_text = command.args[1]
    if not count_text.isascii() or not count_text.isdigit():
        session.reply(err("line count must be a non-negative number"))
        return None
    entry = _one(session, command)
    return None if entry is None else (entry, int(count_text[:12]))


def _send_top(session: Pop3Session, entry: MaildropEntry, lines: int, raw: bytes) -> None:
    part = top_of(raw, min(lines, len(raw)))
    session.channel.writelines(message_reply(ok("top of message follows"), part))
    if len(part) == len(raw):
        # fetchmail's "keep" downloads with TOP n-huge: the whole message went out, so
        # leave-on-server policy treats it as a download like RETR.
        entry.retrieved = True


async def top(session: Pop3Session, command: Pop3Command) -> None:
    request = _top_request(session, command)
    if request is None:
        return
    entry, lines = request
    raw = await _read(session, entry, keep=True)
    if raw is not None:
        _send_top(session, entry, lines, raw)


def top_now(session: Pop3Session, command: Pop3Command) -> bool:
    request = _top_request(session, command)
    if request is None:
        return True
    entry, lines = request
    assert session.mail is not None
    raw = session.readahead.ready(session.mail, session.maildrop, entry, keep=True)
    if raw is not None:
        _send_top(session, entry, lines, raw)
    return raw is not None


def dele_now(session: Pop3Session, command: Pop3Command) -> bool:
    entry = _one(session, command)
    if entry is not None:
        entry.deleted = True
        session.reply(ok(f"message {entry.number} deleted"))
    return True


def noop_now(session: Pop3Session, command: Pop3Command) -> bool:
    session.reply(ok())
    return True


def rset_now(session: Pop3Session, command: Pop3Command) -> bool:
    for entry in session.maildrop:
        entry.deleted = False
    visible = session.maildrop
    session.reply(ok(f"maildrop has {len(visible)} messages ({sum(e.size for e in visible)} "
                     "octets)"))
    return True


stat = awaited(stat_now)
list_ = awaited(list_now)
uidl = awaited(uidl_now)
dele = awaited(dele_now)
noop = awaited(noop_now)
rset = awaited(rset_now)


async def quit_(session: Pop3Session, command: Pop3Command) -> None:
    session.finished = True
    if session.state != TRANSACTION:
        session.reply(ok("bye"))
        return
    session.state = UPDATE
    try:
        removed = await apply_update(session)
    except StoreError as exc:
        log.error("POP3 UPDATE failed for %s: %s", session.username, exc)
        session.reply(err("some deleted messages not removed", "SYS/TEMP"))
        return
    finally:
        # Unlock the maildrop before answering, so a client that reconnects at once finds it
        # free (RFC 1939 §6: the lock is released in the UPDATE state).
        await session.stack.aclose()
    session.reply(ok(f"bye ({removed} messages removed)"))


async def apply_update(session: Pop3Session) -> int:
    """RFC 1939 UPDATE: apply each policy action; returns how many messages left the view."""
    app = session.app
    mail = session.mail
    assert mail is not None
    actions: dict[Pop3Action, list[MaildropEntry]] = defaultdict(list)
    for entry in session.maildrop:
        if entry.deleted:
            hook, default = "mailhost_pop3_on_delete", EXPUNGE
        elif entry.retrieved:
            hook, default = "mailhost_pop3_on_retrieve", KEEP
        else:
            continue
        action = await app.plugins.decide(hook, app=app, session=session, entry=entry)
        actions[action if isinstance(action, Pop3Action) else default].append(entry)
    removed = 0
    for action, entries in actions.items():
        by_box: dict[int, list[int]] = defaultdict(list)
        for entry in entries:
            by_box[entry.mailbox_id].append(entry.uid)
        for mailbox_id, uids in by_box.items():
            if action.kind == "expunge":
                removed += len(await mail.expunge(mailbox_id, uids))
            elif action.kind == "mark_seen":
                await mail.store_flags(mailbox_id, uids, "add", ["\\Seen"])
            elif action.kind == "hide":
                await mail.store_flags(mailbox_id, uids, "add", [HIDDEN_KEYWORD, "\\Seen"])
                removed += len(uids)
            elif action.kind == "move":
                await mail.move(mailbox_id, uids, action.folder)
                removed += len(uids)
    return removed
