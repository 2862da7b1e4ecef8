"""The POP3 view of an account: numbered messages drawn from one or more folders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mailhost.store.interface import MailboxInfo, MessageMeta

if TYPE_CHECKING:
    from mailhost.app import App
    from mailhost.protocols.pop3.session import Pop3Session

HIDDEN_KEYWORD = "$POP3Deleted"  # set by the "hide" action; the default view skips it


def uidl_for(uidvalidity: int, uid: int) -> str:
    """Dovecot's default ``%08Xu%08Xv``: stable for as long as the message exists."""
    return f"{uid:08X}{uidvalidity:08X}"


@dataclass(slots=True)
class MaildropEntry:
    """One message as POP3 sees it. ``number`` is its 1-based message number."""

    number: int
    mailbox: str
    mailbox_id: int
    uidvalidity: int
    uid: int
    size: int
    uidl: str
    flags: tuple[str, ...] = ()
    savedate: float = 0.0  # when the message was stored (policies filter on it)
    deleted: bool = False
    retrieved: bool = False
    extra: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Pop3Advert:
    """What CAPA says about retention and login frequency (RFC 2449 EXPIRE, LOGIN-DELAY)."""

    expire_days: int | None = None  # None: NEVER
    login_delay: int = 0


def entries_for(
    mailboxes: list[tuple[MailboxInfo, list[MessageMeta]]],
    x_uidls: dict[tuple[int, int], str] | None = None,
) -> list[MaildropEntry]:
    """Number the given folders' messages into one view, skipping hidden ones.

    Folders are merged in the order given and by arrival within each, so message numbers are
    stable for the whole session as RFC 1939 requires. A migrated X-UIDL is used once only: a
    message copied into two merged folders carries it twice, and a client that sees one UIDL
    twice skips or deletes the wrong message.
    """
    entries: list[MaildropEntry] = []
    used: set[str] = set()
    migrated = x_uidls or {}
    for mailbox, messages in mailboxes:
        validity = f"{mailbox.uidvalidity:08X}"  # the second half of uidl_for, once a folder
        for meta in messages:
            if HIDDEN_KEYWORD in meta.flags:
                continue
            uidl = migrated.get((mailbox.id, meta.uid)) if migrated else None
            if uidl is None or uidl in used:
                uidl = f"{meta.uid:08X}{validity}"
            used.add(uidl)
            entries.append(MaildropEntry(
                len(entries) + 1, mailbox.name, mailbox.id, mailbox.uidvalidity, meta.uid,
                meta.size, uidl, meta.flags, meta.savedate,
            ))
    return entries


async def default_maildrop(app: App, session: Pop3Session) -> list[MaildropEntry]:
    """The folders the folder policy names (INBOX by default), merged, hidden ones left out."""
    mail = session.mail
    assert mail is not None and session.username is not None
    names = await app.plugins.decide("mailhost_pop3_folders", app=app,
                                     username=session.username) or ["INBOX"]
    folders: list[tuple[MailboxInfo, list[MessageMeta]]] = []
    x_uidls: dict[tuple[int, int], str] = {}
    for name in names:
        box = await mail.get_mailbox(name)
        if box is None or any(box.id == seen.id for seen, _ in folders):
            continue
        folders.append((box, await mail.messages(box.id)))
        if app.config.pop3.reuse_x_uidl:
            x_uidls.update({(box.id, uid): value
                            for uid, value in (await mail.x_uidls(box.id)).items()})
    return entries_for(folders, x_uidls)
