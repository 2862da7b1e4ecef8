"""Mailbox commands: SELECT/EXAMINE, CREATE, DELETE, RENAME, (UN)SUBSCRIBE, LIST, LSUB,
STATUS, APPEND and QUOTA (RFC 3501 §6.3, 4315, 5258, 5819, 6154, 7162, 8438, 9208)."""

from __future__ import annotations

from mailhost.protocols.imap import commands as cmd
from mailhost.protocols.imap.listing import (
    canonical_pattern,
    has_children,
    hierarchy_gaps,
    matches,
    parents_of,
    special_use_attributes,
)
from mailhost.protocols.imap.selected import SelectedMailbox
from mailhost.protocols.imap.session import ImapSession
from mailhost.protocols.imap.state import State
from mailhost.protocols.imap.vanished import ranges_bytes, vanished_since
from mailhost.protocols.imap.wire import flag_list, mailbox_name
from mailhost.store.flags import CANONICAL
from mailhost.store.interface import InvalidMailboxName, MailboxInfo, MailboxNotFound
from mailhost.store.names import subtree_match, validate_mailbox_name
from mailhost.store.sqlite import views

SPECIAL_USES = frozenset({"\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent",
                          "\\Trash"})
SYSTEM_FLAG_NAMES = tuple(CANONICAL.values())


def _deselect(session: ImapSession) -> None:
    if session.selected is not None:
        session.selected = None
        session.state = State.AUTHENTICATED
        if session.qresync:
            session.untagged(b"OK [CLOSED] previous mailbox closed")


async def select(session: ImapSession, command: cmd.Select) -> None:
    mail = session.require_mail()
    _deselect(session)
    if command.qresync is not None and not session.qresync:
        session.bad(command, "QRESYNC must be enabled first (ENABLE QRESYNC)")
        return
    try:
        name = validate_mailbox_name(command.mailbox)
    except InvalidMailboxName:
        name = None
    token = session.commit_token()  # before reading: a commit after it moves the token
    opened = await SelectedMailbox.open(mail, name, command.read_only) if name else None
    if opened is None:
        session.no(command, "no such mailbox", b"NONEXISTENT")
        return
    box, selection = opened
    with session.one_write():
        info = box.info
        if command.condstore:
            session.enabled.add("CONDSTORE")
        keywords = selection.keywords
        session.untagged(b"FLAGS " + flag_list([*SYSTEM_FLAG_NAMES, *keywords]))
        permanent = [] if box.read_only else [*SYSTEM_FLAG_NAMES, *keywords, "\\*"]
        session.untagged(b"OK [PERMANENTFLAGS " + flag_list(permanent) + b"] flags allowed")
        session.untagged(b"%d EXISTS" % box.exists)
        session.untagged(b"%d RECENT" % box.recent_count)
        first_unseen = box.seq_of(selection.first_unseen) if selection.first_unseen else None
        if first_unseen is not None:
            session.untagged(b"OK [UNSEEN %d] first unseen message" % first_unseen)
        session.untagged(b"OK [UIDVALIDITY %d] UIDs valid" % info.uidvalidity)
        session.untagged(b"OK [UIDNEXT %d] predicted next UID" % info.uidnext)
        session.untagged(b"OK [HIGHESTMODSEQ %d] highest mod-sequence" % info.highestmodseq)
        if command.qresync is not None and command.qresync.uidvalidity == info.uidvalidity:
            await _qresync_catch_up(session, box, command.qresync)
        session.selected = box
        session.note_synced(box, token)
        session.state = State.SELECTED
        code = b"READ-ONLY" if box.read_only else b"READ-WRITE"
        session.tagged(command.tag, b"OK", f"{'EXAMINE' if command.read_only else 'SELECT'} "
                       "completed", code)


async def _qresync_catch_up(
    session: ImapSession, box: SelectedMailbox, params: cmd.QresyncParams
) -> None:
    """RFC 7162 §3.2.5: what vanished and what changed since the client's mod-sequence."""
    mail = session.require_mail()
    match = None
    if params.known_sequences is not None and params.known_sequence_uids is not None:
        match = (params.known_sequences, params.known_sequence_uids)
    gone = await vanished_since(
        mail, box.info.id, params.modseq, box.info.uidnext, within=params.known_uids,
        match=match, current=box.uids,
    )
    if gone:
        session.untagged(b"VANISHED (EARLIER) " + ranges_bytes(gone))
    for row in await views.changed_flags(mail, box.info.id, params.modseq):
        if box.seq_of(row[0]) is not None:
            session.send(box.row_flags_line(row, with_uid=True, modseq=True))


async def create(session: ImapSession, command: cmd.Create) -> None:
    mail = session.require_mail()
    unknown = [use for use in command.special_use if use not in SPECIAL_USES]
    if unknown:
        session.no(command, f"unsupported special-use attribute {unknown[0]}", b"USEATTR")
        return
    name = validate_mailbox_name(command.mailbox.rstrip("/"))
    if await mail.get_mailbox(name) is not None:
        session.no(command, "mailbox already exists", b"ALREADYEXISTS")
        return
    for parent in parents_of(name):  # RFC 3501: create superior names as needed
        if await mail.get_mailbox(parent) is None:
            await mail.create_mailbox(parent)
    await mail.create_mailbox(name, " ".join(command.special_use) or None)
    await session.complete(command)


async def delete(session: ImapSession, command: cmd.Delete) -> None:
    mail = session.require_mail()
    name = validate_mailbox_name(command.mailbox)
    if name == "INBOX":
        session.no(command, "INBOX cannot be deleted", b"CANNOT")
        return
    names = [box.name for box in await mail.list_mailboxes()]
    if name not in names:
        session.no(command, "no such mailbox", b"NONEXISTENT")
        return
    # With inferiors it goes too, mail and all; they stay, and LIST shows the name as a
    # \Noselect level above them (RFC 3501 §6.3.4).
    refusal = await session.app.plugins.decide(
        "mailhost_mailbox_delete_check", app=session.app, username=session.username,
        mailbox=name,
    )
    if refusal:
        session.no(command, str(refusal), b"CANNOT")
        return
    await mail.delete_mailbox(name)
    await session.complete(command)


async def rename(session: ImapSession, command: cmd.Rename) -> None:
    mail = session.require_mail()
    old = validate_mailbox_name(command.mailbox)
    new = validate_mailbox_name(command.new_name)
    for parent in parents_of(new):
        if parent != old and await mail.get_mailbox(parent) is None:
            await mail.create_mailbox(parent)
    await mail.rename_mailbox(old, new)
    await session.complete(command)


async def subscribe(session: ImapSession, command: cmd.Subscribe) -> None:
    """A name with no mailbox is subscribed too: RFC 3501 §6.3.6 only allows checking, and
    RFC 9051 §6.3.7 / RFC 5258 list such names (a client may create the mailbox later)."""
    mail = session.require_mail()
    await mail.set_subscribed(command.mailbox, True)
    await session.complete(command)


async def unsubscribe(session: ImapSession, command: cmd.Unsubscribe) -> None:
    mail = session.require_mail()
    await mail.set_subscribed(command.mailbox, False)
    await session.complete(command)


def _hidden(session: ImapSession) -> list[str]:
    """The folder patterns plugins hide; each hides the folders below its matches too."""
    hidden: list[str] = []
    for names in session.app.plugins.collect("mailhost_hidden_mailboxes", app=session.app,
                                             username=session.username):
        hidden.extend(names)
    return hidden


def _visible(boxes: list[MailboxInfo], hidden: list[str]) -> list[MailboxInfo]:
    """``boxes`` minus those the patterns ``hidden`` (from :func:`_hidden`) hide."""
    if not hidden:
        return boxes  # the usual case; LIST of 100k folders should not pay for the check
    return [box for box in boxes if subtree_match(box.name, hidden) is None]


async def _subscriptions(session: ImapSession, hidden: list[str]) -> set[str]:
    """Subscribed names the patterns ``hidden`` do not hide, with or without a mailbox."""
    return {name for name in await session.require_mail().list_subscriptions()
            if subtree_match(name, hidden) is None}


async def list_(session: ImapSession, command: cmd.List) -> None:
    mail = session.require_mail()
    if command.patterns == ("",) and not command.extended:
        session.untagged(b'LIST (\\Noselect) "/" ""')
        await session.complete(command)
        return
    hidden = _hidden(session)  # the plugins are asked once per command
    boxes = _visible(await mail.list_mailboxes(), hidden)
    names = [box.name for box in boxes]
    select_subscribed = cmd.ListSelect.SUBSCRIBED in command.selection
    select_special = cmd.ListSelect.SPECIAL_USE in command.selection
    recursive = cmd.ListSelect.RECURSIVEMATCH in command.selection
    show_subscribed = select_subscribed or cmd.ListReturn.SUBSCRIBED in command.return_options
    patterns = [canonical_pattern(command.reference, p) for p in command.patterns]
    subscribed = await _subscriptions(session, hidden) if show_subscribed else set()
    entries: dict[str, MailboxInfo | None] = {}
    if not (select_subscribed or select_special):
        for pattern in patterns:
            entries.update(dict.fromkeys(hierarchy_gaps(names, pattern)))
    if select_subscribed:  # RFC 5258 §3.4: subscribed names with no mailbox are listed too
        entries.update(dict.fromkeys(
            name for name in subscribed.difference(names)
            if any(matches(name, pattern) for pattern in patterns)))
    entries.update((box.name, box) for box in boxes
                   if any(matches(box.name, pattern) for pattern in patterns))
    for name, found in sorted(entries.items()):
        if found is None:  # a level above mailboxes, or a subscription without a mailbox
            if name not in subscribed:
                attributes = ["\\Noselect", "\\HasChildren"]
            else:  # RFC 5258 §3.4: \\NonExistent (which implies \\Noselect)
                children = ["\\HasChildren"] if has_children(name, names) else []
                attributes = ["\\NonExistent", *children, "\\Subscribed"]
            session.untagged(b"LIST " + flag_list(attributes) + b' "/" ' + mailbox_name(name))
            continue
        box = found
        child_info = b""
        if select_subscribed and box.name not in subscribed:
            subscribed_child = any(other.startswith(box.name + "/") for other in subscribed)
            if not (recursive and subscribed_child):
                continue
            child_info = b' ("CHILDINFO" ("SUBSCRIBED"))'
        if select_special and not box.special_use:
            continue
        attributes = ["\\HasChildren" if has_children(box.name, names) else "\\HasNoChildren"]
        if box.name in subscribed:
            attributes.append("\\Subscribed")
        attributes.extend(special_use_attributes(box.special_use))
        session.untagged(b"LIST " + flag_list(attributes) + b' "/" ' + mailbox_name(box.name)
                         + child_info)
        if command.status_items:
            await _status_line(session, box, command.status_items)
    await session.complete(command)


async def lsub(session: ImapSession, command: cmd.Lsub) -> None:
    mail = session.require_mail()
    pattern = canonical_pattern(command.reference, command.pattern)
    # RFC 3501 §6.3.9: a subscription outlives its mailbox; such a name cannot be selected.
    names = {box.name for box in await mail.list_mailboxes()}
    subscribed = sorted(await _subscriptions(session, _hidden(session)))
    entries = {name: b"()" if name in names else b"(\\Noselect)"
               for name in subscribed if matches(name, pattern)}
    entries.update(dict.fromkeys(hierarchy_gaps(subscribed, pattern), b"(\\Noselect)"))
    for name, attributes in sorted(entries.items()):
        session.untagged(b"LSUB " + attributes + b' "/" ' + mailbox_name(name))
    await session.complete(command)


# STATUS items counted from every message's \Deleted flag; RECENT is a range of the UID
# index, and the other items are kept in the mailbox row.
_DELETED_ITEMS = frozenset({cmd.StatusItem.DELETED, cmd.StatusItem.DELETED_STORAGE})


async def _status_line(
    session: ImapSession, box: MailboxInfo, items: tuple[cmd.StatusItem, ...]
) -> None:
    mail = session.require_mail()
    recent = deleted = deleted_size = 0
    wants_deleted = not _DELETED_ITEMS.isdisjoint(items)
    if wants_deleted or cmd.StatusItem.RECENT in items:
        recent, deleted, deleted_size = await mail.status_counts(box.id, deleted=wants_deleted)
    values = {
        cmd.StatusItem.MESSAGES: box.messages,
        cmd.StatusItem.RECENT: recent,
        cmd.StatusItem.UIDNEXT: box.uidnext,
        cmd.StatusItem.UIDVALIDITY: box.uidvalidity,
        cmd.StatusItem.UNSEEN: box.unseen,
        cmd.StatusItem.HIGHESTMODSEQ: box.highestmodseq,
        cmd.StatusItem.SIZE: box.size,
        cmd.StatusItem.DELETED: deleted,
        cmd.StatusItem.DELETED_STORAGE: deleted_size,
    }
    body = b" ".join(item.value + b" %d" % values[item] for item in items)
    session.untagged(b"STATUS " + mailbox_name(box.name) + b" (" + body + b")")


async def status(session: ImapSession, command: cmd.Status) -> None:
    mail = session.require_mail()
    box = await mail.get_mailbox(command.mailbox)
    if box is None or not _visible([box], _hidden(session)):
        session.no(command, "no such mailbox", b"NONEXISTENT")
        return
    await _status_line(session, box, command.items)
    await session.complete(command)


async def append(session: ImapSession, command: cmd.Append) -> None:
    """APPEND; the store looks the mailbox up in the same step that stores the message."""
    mail = session.require_mail()
    try:
        info, meta = await mail.append(command.mailbox, command.message, command.flags,
                                       command.date_time)
    except (MailboxNotFound, InvalidMailboxName):
        session.no(command, "mailbox does not exist; create it first", b"TRYCREATE")
        return
    await session.complete(command, "completed",
                           b"APPENDUID %d %d" % (info.uidvalidity, meta.uid))


async def _quota_line(session: ImapSession) -> None:
    mail = session.require_mail()
    await mail.refresh_quota()
    used_bytes, used_messages = await mail.usage()
    resources = []
    if mail.quota_bytes:
        resources.append(b"STORAGE %d %d" % ((used_bytes + 1023) // 1024,
                                             mail.quota_bytes // 1024))
    if mail.quota_messages:
        resources.append(b"MESSAGE %d %d" % (used_messages, mail.quota_messages))
    session.untagged(b'QUOTA "" (' + b" ".join(resources) + b")")


async def getquotaroot(session: ImapSession, command: cmd.GetQuotaRoot) -> None:
    mail = session.require_mail()
    if await mail.get_mailbox(command.mailbox) is None:
        session.no(command, "no such mailbox", b"NONEXISTENT")
        return
    session.untagged(b"QUOTAROOT " + mailbox_name(command.mailbox) + b' ""')
    await _quota_line(session)
    await session.complete(command)


async def getquota(session: ImapSession, command: cmd.GetQuota) -> None:
    if command.root != "":
        session.no(command, "no such quota root", b"NONEXISTENT")
        return
    await _quota_line(session)
    await session.complete(command)


async def setquota(session: ImapSession, command: cmd.SetQuota) -> None:
    session.no(command, "quotas are set by the administrator (mailhost user quota)",
               b"NOPERM")
