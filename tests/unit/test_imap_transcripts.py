"""IMAP sessions driven byte for byte with no socket, pinned to RFC 3501's examples (§6, §7).

Each test replays an example of the RFC against a real :class:`ImapSession` (real store, real
hooks) on a :class:`MemoryChannel`. ``S:`` lines are regular expressions: where the RFC's
example text is not normative (human-readable text, the order of untagged data, values the
server chooses such as UIDVALIDITY) the pattern says so; everything else is pinned. The
mailbox contents each example assumes (172 messages, UIDNEXT 4392, ...) are built first.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path

import pytest

from mailhost.app import App
from mailhost.auth.passwords import hash_password
from mailhost.config import ListenerSection, parse_config
from mailhost.protocols.imap.session import ImapSession
from mailhost.store.sqlite.mailstore import SqliteMailStore
from mailhost.testing.transcript import Action, MemoryChannel, run_transcript

USER = "joe@example.test"
PASSWORD = "password"
LISTENER = ListenerSection(protocol="imap", port=0, tls="starttls")
GREETING = r"S: \* OK \[CAPABILITY IMAP4rev1 [^]]*\] imap\.example\.test IMAP4rev1 ready"
LOGGED_IN = rf"""
    {GREETING}
    C: a000 LOGIN {USER} {PASSWORD}
    S: a000 OK \[CAPABILITY IMAP4rev1 [^]]*\] LOGIN completed
"""
PRE_AUTH_CAPS = r"IMAP4rev1 LITERAL\+ SASL-IR ID ENABLE IDLE NAMESPACE"
UIDVALIDITY = r"\* OK \[UIDVALIDITY [0-9]+\] .*"
HIGHESTMODSEQ = r"\* OK \[HIGHESTMODSEQ [0-9]+\] .*"
ALL_FLAGS = r"\\Seen \\Answered \\Flagged \\Deleted \\Draft"
RFC_MESSAGE = (
    "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)",
    "From: Fred Foobar <foobar@Blurdybloop.COM>",
    "Subject: afternoon meeting",
    "To: mooch@owatagu.siam.edu",
    "Message-Id: <B27397-0100000@Blurdybloop.COM>",
    "MIME-Version: 1.0",
    "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII",
    "",
    "Hello Joe, do you think we can meet at 3:30 tomorrow?",
)


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    config = parse_config({
        "storage": {"data_dir": str(tmp_path)},
        "auth": {"failure_delay": 0.0},
        "server": {"hostname": "imap.example.test"},
        "listener": [{"protocol": "imap", "port": 0, "tls": "starttls"}],
    }, "<test>")
    application = await App.create(config)
    await application.store.directory.add_user(USER, hash_password(PASSWORD))
    yield application
    await application.close()


def opened(tag: str, exists: int, *, unseen: bool = True, mode: str = "READ-WRITE") -> str:
    """Transcript lines for a SELECT or EXAMINE reply of which only EXISTS matters."""
    lines = [r"\* FLAGS .*", r"\* OK \[PERMANENTFLAGS .*", rf"\* {exists} EXISTS",
             r"\* [0-9]+ RECENT", *([r"\* OK \[UNSEEN .*"] if unseen else []),
             r"\* OK \[UIDVALIDITY .*", r"\* OK \[UIDNEXT .*", r"\* OK \[HIGHESTMODSEQ .*",
             rf"{tag} OK \[{mode}\] .*"]
    return "\n".join("S: " + line for line in lines) + "\n"


def plain(password: str) -> str:
    """A SASL PLAIN response (RFC 4616) for USER."""
    return base64.b64encode(f"\0{USER}\0{password}".encode()).decode()


def imap(app: App) -> Callable[[MemoryChannel], Awaitable[None]]:
    async def run(channel: MemoryChannel) -> None:
        await ImapSession(app, channel, LISTENER).run()
    return run


async def replay(
    app: App, script: str, channel: MemoryChannel | None = None,
    actions: dict[str, Action] | None = None,
) -> list[str]:
    return await run_transcript(script, imap(app), channel, actions=actions)


def numbered(n: int, sender: str = "someone@example.test", text: str = "") -> bytes:
    return (f"From: {sender}\r\nSubject: message {n}\r\nDate: Tue, 1 Feb 1994 10:00:00 +0000"
            f"\r\n\r\nbody {n}{' ' + text if text else ''}\r\n").encode()


async def fill(
    app: App, mailbox: str, count: int, *, first_uid: int | None = None, recent: int = 0,
    flags: Callable[[int], Iterable[str]] = lambda n: (),
    message: Callable[[int], bytes] = numbered,
) -> None:
    """Create ``mailbox`` with ``count`` messages, the last ``recent`` of them \\Recent.

    ``first_uid`` moves UIDNEXT first, so an example's UIDs can be reproduced.
    """
    async with app.store.account(USER) as mail:
        if await mail.get_mailbox(mailbox) is None:
            await mail.create_mailbox(mailbox)
        info = await mail.get_mailbox(mailbox)
        assert info is not None
        if first_uid is not None:
            await set_uidnext(mail, info.id, first_uid)
        for n in range(1, count + 1):
            if n == count - recent + 1:
                await mail.claim_recent(info.id)  # an earlier session has seen the rest
            await mail.append(mailbox, message(n), list(flags(n)))
        if recent == 0:
            await mail.claim_recent(info.id)


async def set_uidnext(mail: SqliteMailStore, mailbox_id: int, uid: int) -> None:
    """Let the next message get ``uid``, as if earlier ones had come and gone."""
    await mail.run(lambda conn: conn.execute(
        "UPDATE mailbox SET uidnext = ?, first_recent_uid = ? WHERE id = ?",
        (uid, uid, mailbox_id)))
    mail.after_commit()


# -- §6.1 any state, §6.2 not authenticated ---------------------------------------------


async def test_rfc3501_capability_starttls_logindisabled(app: App) -> None:
    """§6.1.1 and §6.2.1: an unencrypted remote client sees LOGINDISABLED, no AUTH=."""
    remote = MemoryChannel(peer_ip="192.0.2.10", secure=False)
    await replay(app, rf"""
        S: \* OK \[CAPABILITY {PRE_AUTH_CAPS} STARTTLS LOGINDISABLED\] .*
        C: abcd CAPABILITY
        S: \* CAPABILITY {PRE_AUTH_CAPS} STARTTLS LOGINDISABLED
        S: abcd OK CAPABILITY completed
        C: abce LOGIN {USER} {PASSWORD}
        S: abce NO \[PRIVACYREQUIRED\] .*
        C: abcf AUTHENTICATE PLAIN {plain(PASSWORD)}
        S: abcf NO \[PRIVACYREQUIRED\] .*
        C: efgh STARTTLS
        S: efgh OK Begin TLS negotiation now
        C: ijkl CAPABILITY
        S: \* CAPABILITY {PRE_AUTH_CAPS} AUTH=PLAIN AUTH=LOGIN
        S: ijkl OK CAPABILITY completed
        C: efgi STARTTLS
        S: efgi BAD .*
        C: a004 LOGIN {USER} {PASSWORD}
        S: a004 OK \[CAPABILITY .*\] LOGIN completed
    """, remote)


async def test_starttls_drops_commands_sent_with_it(app: App) -> None:
    """Both lines arrive in one read; the one after STARTTLS is plaintext and discarded."""
    remote = MemoryChannel(peer_ip="192.0.2.11", secure=False)
    await replay(app, rf"""
        S: \* OK .*
        C: a002 STARTTLS
        C: a003 LOGIN {USER} {PASSWORD}
        S: a002 OK Begin TLS negotiation now
        C: a004 NOOP
        S: a004 OK NOOP completed
    """, remote)


async def test_rfc3501_noop_reports_what_changed(app: App) -> None:
    """§6.1.2: NOOP is how a client polls; the changes are those of the RFC's example."""
    await fill(app, "INBOX", 23, recent=3)

    async def another_client() -> None:
        async with app.store.account(USER) as mail:
            inbox = await mail.get_mailbox("INBOX")
            assert inbox is not None
            await mail.store_flags(inbox.id, [14], "add", ["\\Seen", "\\Deleted"])
            await mail.expunge(inbox.id, [22])
            await mail.append("INBOX", numbered(24))

    # Untagged data may come in any order; this server sends flag changes first.
    await replay(app, LOGGED_IN + r"""
        C: a001 SELECT INBOX
        S: \* FLAGS .*
        S: \* OK \[PERMANENTFLAGS .*
        S: \* 23 EXISTS
        S: \* 3 RECENT
        S: \* OK \[UNSEEN 1\] .*
        S: \* OK \[UIDVALIDITY .*
        S: \* OK \[UIDNEXT 24\] .*
        S: \* OK \[HIGHESTMODSEQ .*
        S: a001 OK \[READ-WRITE\] SELECT completed
        C: a002 NOOP
        S: a002 OK NOOP completed
        A: another client
        C: a047 NOOP
        S: \* 14 FETCH \(FLAGS \(\\Seen \\Deleted\)\)
        S: \* 22 EXPUNGE
        S: \* 23 EXISTS
        S: \* 3 RECENT
        S: a047 OK NOOP completed
    """, actions={"another client": another_client})


async def test_rfc3501_logout(app: App) -> None:
    """§6.1.3, in each state; nothing is read after LOGOUT."""
    await replay(app, rf"""
        {GREETING}
        C: A023 LOGOUT
        S: \* BYE .*
        S: A023 OK LOGOUT completed
        C: A024 NOOP
    """)
    await replay(app, LOGGED_IN + r"""
        C: A025 SELECT INBOX
        """ + opened("A025", 0, unseen=False) + r"""
        C: A026 LOGOUT
        S: \* BYE .*
        S: A026 OK LOGOUT completed
    """)


async def test_rfc3501_authenticate(app: App) -> None:
    """§6.2.2 with PLAIN (RFC 4616): a continuation round, SASL-IR, and a cancel."""
    credentials = plain(PASSWORD)
    await replay(app, rf"""
        {GREETING}
        C: A000 AUTHENTICATE X-UNKNOWN
        S: A000 NO .*
        C: A001 AUTHENTICATE PLAIN
        S: \+ ?
        C: *
        S: A001 BAD .*
        C: A002 AUTHENTICATE PLAIN
        S: \+ ?
        C: {plain("wrong")}
        S: A002 NO \[AUTHENTICATIONFAILED\] .*
        C: A003 AUTHENTICATE PLAIN
        S: \+ ?
        C: {credentials}
        S: A003 OK \[CAPABILITY .*\] AUTHENTICATE completed
        C: A004 AUTHENTICATE PLAIN {credentials}
        S: A004 BAD .*
    """)
    await replay(app, rf"""
        {GREETING}
        C: A001 AUTHENTICATE PLAIN {credentials}
        S: A001 OK \[CAPABILITY .*\] AUTHENTICATE completed
    """)


async def test_rfc3501_login(app: App) -> None:
    """§6.2.3, with a wrong password first; after login the capabilities change."""
    await replay(app, rf"""
        {GREETING}
        C: a001 LOGIN {USER} SESAME
        S: a001 NO \[AUTHENTICATIONFAILED\] .*
        C: a002 SELECT INBOX
        S: a002 BAD .*
        C: a003 LOGIN "{USER}" {{{len(PASSWORD)}}}
        S: \+ .*
        C: {PASSWORD}
        S: a003 OK \[CAPABILITY IMAP4rev1 [^]]*UIDPLUS[^]]*\] LOGIN completed
        C: a004 LOGIN {USER} {PASSWORD}
        S: a004 BAD .*
        C: a005 ID NIL
        S: \* ID \("name" "mailhost" "version" "[^"]+"\)
        S: a005 OK ID completed
    """)


async def test_id_before_login_names_no_version(app: App) -> None:
    await replay(app, rf"""
        {GREETING}
        C: a001 ID ("name" "sodr" "version" "19.34")
        S: \* ID \("name" "mailhost"\)
        S: a001 OK ID completed
    """)


# -- §6.3 authenticated state ----------------------------------------------------------


async def test_rfc3501_select(app: App) -> None:
    """§6.3.1: 172 messages, the last one recent, message 12 the first unseen."""
    await fill(app, "INBOX", 172, first_uid=4392 - 172, recent=1,
               flags=lambda n: ["\\Seen"] if n < 12 else [])
    await replay(app, LOGGED_IN + rf"""
        C: A142 SELECT INBOX
        S: \* FLAGS \({ALL_FLAGS}\)
        S: \* OK \[PERMANENTFLAGS \({ALL_FLAGS} \\\*\)\] .*
        S: \* 172 EXISTS
        S: \* 1 RECENT
        S: \* OK \[UNSEEN 12\] .*
        S: {UIDVALIDITY}
        S: \* OK \[UIDNEXT 4392\] .*
        S: {HIGHESTMODSEQ}
        S: A142 OK \[READ-WRITE\] SELECT completed
        C: A143 SELECT nosuchbox
        S: A143 NO \[NONEXISTENT\] .*
        C: A144 FETCH 1 FLAGS
        S: A144 BAD .*
    """)


async def test_rfc3501_examine(app: App) -> None:
    """§6.3.2: read-only; \\Recent is shown but not taken, \\Seen is not set by FETCH."""
    await fill(app, "blurdybloop", 17, first_uid=4392 - 17, recent=2,
               flags=lambda n: ["\\Seen"] if n < 8 else [])
    examine = rf"""
        S: \* FLAGS \({ALL_FLAGS}\)
        S: \* OK \[PERMANENTFLAGS \(\)\] .*
        S: \* 17 EXISTS
        S: \* 2 RECENT
        S: \* OK \[UNSEEN 8\] .*
        S: {UIDVALIDITY}
        S: \* OK \[UIDNEXT 4392\] .*
        S: {HIGHESTMODSEQ}
        S: A932 OK \[READ-ONLY\] EXAMINE completed
    """
    await replay(app, LOGGED_IN + "C: A932 EXAMINE blurdybloop\n" + examine + r"""
        C: A933 FETCH 8 (FLAGS BODY[TEXT])
        S: \* 8 FETCH \(FLAGS \(\) BODY\[TEXT\] \{8\}
        S: body 8
        S: \)
        S: A933 OK FETCH completed
        C: A934 STORE 8 +FLAGS (\Seen)
        S: A934 NO \[READ-ONLY\] .*
        C: A935 FETCH 16:17 FLAGS
        S: \* 16 FETCH \(FLAGS \(\\Recent\)\)
        S: \* 17 FETCH \(FLAGS \(\\Recent\)\)
        S: A935 OK FETCH completed
    """)
    # EXAMINE took nothing: the same state the next time.
    await replay(app, LOGGED_IN + "C: A932 EXAMINE blurdybloop\n" + examine)


async def test_rfc3501_create(app: App) -> None:
    """§6.3.3: a trailing separator is dropped; superior names are created as needed."""
    await replay(app, LOGGED_IN + r"""
        C: A003 CREATE owatagusiam/
        S: A003 OK CREATE completed
        C: A004 CREATE owatagusiam/blurdybloop
        S: A004 OK CREATE completed
        C: A005 CREATE a/b/c
        S: A005 OK CREATE completed
        C: A006 CREATE owatagusiam
        S: A006 NO \[ALREADYEXISTS\] .*
        C: A007 CREATE inbox
        S: A007 NO \[ALREADYEXISTS\] .*
        C: A008 LIST "" *
        S: \* LIST \(\\HasNoChildren\) "/" INBOX
        S: \* LIST \(\\HasChildren\) "/" a
        S: \* LIST \(\\HasChildren\) "/" a/b
        S: \* LIST \(\\HasNoChildren\) "/" a/b/c
        S: \* LIST \(\\HasChildren\) "/" owatagusiam
        S: \* LIST \(\\HasNoChildren\) "/" owatagusiam/blurdybloop
        S: A008 OK LIST completed
    """)


async def test_rfc3501_delete(app: App) -> None:
    """§6.3.4, the second example: deleting a name with inferiors leaves them alone, and
    the name lives on as a \\Noselect level of the hierarchy, which RENAME can move
    (§6.3.5's first example)."""
    await fill(app, "foo", 2)
    await replay(app, LOGGED_IN + r"""
        C: A80 CREATE blurdybloop
        S: A80 OK CREATE completed
        C: A81 CREATE foo/bar
        S: A81 OK CREATE completed
        C: A82 LIST "" *
        S: \* LIST \(\\HasNoChildren\) "/" INBOX
        S: \* LIST \(\\HasNoChildren\) "/" blurdybloop
        S: \* LIST \(\\HasChildren\) "/" foo
        S: \* LIST \(\\HasNoChildren\) "/" foo/bar
        S: A82 OK LIST completed
        C: A83 DELETE blurdybloop
        S: A83 OK DELETE completed
        C: A84 DELETE foo
        S: A84 OK DELETE completed
        C: A85 LIST "" *
        S: \* LIST \(\\HasNoChildren\) "/" INBOX
        S: \* LIST \(\\HasNoChildren\) "/" foo/bar
        S: A85 OK LIST completed
        C: A86 LIST "" %
        S: \* LIST \(\\HasNoChildren\) "/" INBOX
        S: \* LIST \(\\Noselect \\HasChildren\) "/" foo
        S: A86 OK LIST completed
        C: A87 SELECT foo
        S: A87 NO \[NONEXISTENT\] .*
        C: A88 DELETE INBOX
        S: A88 NO .*
        C: A89 DELETE blurdybloop
        S: A89 NO \[NONEXISTENT\] .*
        C: A90 CREATE foo
        S: A90 OK CREATE completed
        C: A91 STATUS foo (MESSAGES)
        S: \* STATUS foo \(MESSAGES 0\)
        S: A91 OK STATUS completed
        C: A92 DELETE foo
        S: A92 OK DELETE completed
        C: A684 RENAME foo zowie
        S: A684 OK RENAME completed
        C: A685 LIST "" %
        S: \* LIST \(\\HasNoChildren\) "/" INBOX
        S: \* LIST \(\\Noselect \\HasChildren\) "/" zowie
        S: A685 OK LIST completed
        C: A686 LIST "" zowie/%
        S: \* LIST \(\\HasNoChildren\) "/" zowie/bar
        S: A686 OK LIST completed
    """)


async def test_rfc3501_rename(app: App) -> None:
    """§6.3.5: both examples; renaming INBOX moves its mail and leaves an empty INBOX."""
    await fill(app, "INBOX", 3)
    await replay(app, LOGGED_IN + r"""
        C: A680 CREATE blurdybloop
        S: A680 OK CREATE completed
        C: A681 CREATE foo/bar
        S: A681 OK CREATE completed
        C: A682 CREATE INBOX/bar
        S: A682 OK CREATE completed
        C: A683 RENAME blurdybloop sarasoop
        S: A683 OK RENAME completed
        C: A684 RENAME foo zowie
        S: A684 OK RENAME completed
        C: A685 LIST "" *
        S: \* LIST \(\\HasChildren\) "/" INBOX
        S: \* LIST \(\\HasNoChildren\) "/" INBOX/bar
        S: \* LIST \(\\HasNoChildren\) "/" sarasoop
        S: \* LIST \(\\HasChildren\) "/" zowie
        S: \* LIST \(\\HasNoChildren\) "/" zowie/bar
        S: A685 OK LIST completed
        C: Z433 RENAME INBOX old-mail
        S: Z433 OK RENAME completed
        C: Z434 LIST "" *
        S: \* LIST \(\\HasChildren\) "/" INBOX
        S: \* LIST \(\\HasNoChildren\) "/" INBOX/bar
        S: \* LIST \(\\HasNoChildren\) "/" old-mail
        S: \* LIST \(\\HasNoChildren\) "/" sarasoop
        S: \* LIST \(\\HasChildren\) "/" zowie
        S: \* LIST \(\\HasNoChildren\) "/" zowie/bar
        S: Z434 OK LIST completed
        C: Z435 STATUS INBOX (MESSAGES UIDNEXT)
        S: \* STATUS INBOX \(MESSAGES 0 UIDNEXT 4\)
        S: Z435 OK STATUS completed
        C: Z436 STATUS old-mail (MESSAGES)
        S: \* STATUS old-mail \(MESSAGES 3\)
        S: Z436 OK STATUS completed
        C: Z437 RENAME sarasoop zowie/bar
        S: Z437 NO \[ALREADYEXISTS\] .*
        C: Z438 RENAME nosuch other
        S: Z438 NO \[NONEXISTENT\] .*
        C: Z439 RENAME zowie zowie/bar/baz
        S: Z439 NO .*
    """)


async def test_rfc3501_subscribe_unsubscribe_lsub(app: App) -> None:
    """§6.3.6, §6.3.7, §6.3.9, with "/" where the RFC's news server used ".": a "%" that
    stops above subscribed names returns their unsubscribed parent as \\Noselect. A name
    with no mailbox can be subscribed (RFC 9051 §6.3.7) and LSUB shows it \\Noselect."""
    await replay(app, LOGGED_IN + r"""
        C: A000 CREATE news/comp/mail/mime
        S: A000 OK CREATE completed
        C: A001 CREATE news/comp/mail/misc
        S: A001 OK CREATE completed
        C: A002 SUBSCRIBE news/comp/mail/mime
        S: A002 OK SUBSCRIBE completed
        C: A003 SUBSCRIBE news/comp/mail/misc
        S: A003 OK SUBSCRIBE completed
        C: A004 LSUB "news/" "comp/mail/*"
        S: \* LSUB \(\) "/" news/comp/mail/mime
        S: \* LSUB \(\) "/" news/comp/mail/misc
        S: A004 OK LSUB completed
        C: A005 LSUB "news/" "comp/%"
        S: \* LSUB \(\\Noselect\) "/" news/comp/mail
        S: A005 OK LSUB completed
        C: A006 UNSUBSCRIBE news/comp/mail/mime
        S: A006 OK UNSUBSCRIBE completed
        C: A007 LSUB "" *
        S: \* LSUB \(\) "/" INBOX
        S: \* LSUB \(\) "/" news/comp/mail/misc
        S: A007 OK LSUB completed
        C: A008 SUBSCRIBE nosuchbox
        S: A008 OK SUBSCRIBE completed
        C: A009 LSUB "" nosuch%
        S: \* LSUB \(\\Noselect\) "/" nosuchbox
        S: A009 OK LSUB completed
    """)


async def test_rfc3501_list(app: App) -> None:
    """§6.3.8: the delimiter query, references, and "%" stopping at a level."""
    await replay(app, LOGGED_IN + r"""
        C: A000 CREATE Mail/meetings
        S: A000 OK CREATE completed
        C: A001 CREATE Mail/foo/bar
        S: A001 OK CREATE completed
        C: A101 LIST "" ""
        S: \* LIST \(\\Noselect\) "/" ""
        S: A101 OK LIST completed
        C: A102 LIST Mail/foo ""
        S: \* LIST \(\\Noselect\) "/" ""
        S: A102 OK LIST completed
        C: A202 LIST Mail/ %
        S: \* LIST \(\\HasChildren\) "/" Mail/foo
        S: \* LIST \(\\HasNoChildren\) "/" Mail/meetings
        S: A202 OK LIST completed
        C: A203 LIST "" Mail/*
        S: \* LIST \(\\HasChildren\) "/" Mail/foo
        S: \* LIST \(\\HasNoChildren\) "/" Mail/foo/bar
        S: \* LIST \(\\HasNoChildren\) "/" Mail/meetings
        S: A203 OK LIST completed
        C: A204 LIST "" inbox
        S: \* LIST \(\\HasNoChildren\) "/" INBOX
        S: A204 OK LIST completed
        C: A205 LIST "" nomatch%
        S: A205 OK LIST completed
    """)


async def test_rfc3501_status(app: App) -> None:
    """§6.3.10: 231 messages, UIDNEXT 44292; items in any order."""
    await fill(app, "blurdybloop", 231, first_uid=44292 - 231, recent=5,
               flags=lambda n: ["\\Seen"] if n > 1 else [])
    await replay(app, LOGGED_IN + r"""
        C: A042 STATUS blurdybloop (UIDNEXT MESSAGES)
        S: \* STATUS blurdybloop \(UIDNEXT 44292 MESSAGES 231\)
        S: A042 OK STATUS completed
        C: A043 STATUS blurdybloop (RECENT UNSEEN UIDVALIDITY)
        S: \* STATUS blurdybloop \(RECENT 5 UNSEEN 1 UIDVALIDITY [0-9]+\)
        S: A043 OK STATUS completed
        C: A044 STATUS nosuchbox (MESSAGES)
        S: A044 NO \[NONEXISTENT\] .*
    """)


async def test_rfc3501_append(app: App) -> None:
    """§6.3.11: the RFC's 310-octet message, then read back with the date it was given."""
    await fill(app, "saved-messages", 0)
    message = "\n".join("        C: " + line for line in RFC_MESSAGE)
    await replay(app, LOGGED_IN + r"""
        C: A003 APPEND saved-messages (\Seen) {310}
        S: \+ Ready for literal data
""" + message + r"""
        C:
        S: A003 OK \[APPENDUID [0-9]+ 1\] APPEND completed
        C: A004 APPEND saved-messages (\Flagged $Work) "07-Feb-1994 21:52:25 -0800" {10+}
        C: Subject:
        C:
        S: A004 OK \[APPENDUID [0-9]+ 2\] APPEND completed
        C: A005 APPEND nosuchbox {10+}
        C: Subject:
        C:
        S: A005 NO \[TRYCREATE\] .*
        C: A006 SELECT saved-messages
        S: \* FLAGS \(.* \$Work\)
        S: \* .*
        S: \* 2 EXISTS
        S: \* 2 RECENT
        S: \* OK \[UNSEEN 2\] .*
        S: \* .*
        S: \* .*
        S: \* .*
        S: A006 OK \[READ-WRITE\] SELECT completed
        C: A007 FETCH 1:2 (FLAGS RFC822.SIZE INTERNALDATE)
        S: \* 1 FETCH \(FLAGS \(\\Seen \\Recent\) RFC822\.SIZE 310 INTERNALDATE "[^"]+"\)
        S: \* 2 FETCH \(FLAGS \(\\Flagged \$Work \\Recent\) RFC822\.SIZE 10 INTERNALDATE .*\)
        S: A007 OK FETCH completed
        C: A008 FETCH 2 INTERNALDATE
        S: \* 2 FETCH \(INTERNALDATE " 7-Feb-1994 21:52:25 -0800"\)
        S: A008 OK FETCH completed
    """)


# -- §6.4 selected state ---------------------------------------------------------------


async def test_rfc3501_check_close_expunge(app: App) -> None:
    """§6.4.1-§6.4.3: EXPUNGE reports each removal with the numbers as they shift; CLOSE
    expunges silently; neither works once the mailbox is closed."""
    deleted = {3, 4, 7, 11}
    await fill(app, "INBOX", 12, flags=lambda n: ["\\Deleted"] if n in deleted else [])
    await fill(app, "other", 2, flags=lambda n: ["\\Deleted"])
    await replay(app, LOGGED_IN + r"""
        C: A200 SELECT INBOX
        """ + opened("A200", 12) + r"""
        C: FXXZ CHECK
        S: FXXZ OK CHECK completed
        C: A202 EXPUNGE
        S: \* 3 EXPUNGE
        S: \* 3 EXPUNGE
        S: \* 5 EXPUNGE
        S: \* 8 EXPUNGE
        S: A202 OK EXPUNGE completed
        C: A203 FETCH 8 UID
        S: \* 8 FETCH \(UID 12\)
        S: A203 OK FETCH completed
        C: A204 SELECT other
        """ + opened("A204", 2) + r"""
        C: A341 CLOSE
        S: A341 OK CLOSE completed
        C: A342 CHECK
        S: A342 BAD .*
        C: A343 STATUS other (MESSAGES)
        S: \* STATUS other \(MESSAGES 0\)
        S: A343 OK STATUS completed
    """)


async def test_rfc3501_search(app: App) -> None:
    """§6.4.4: the three searches of the example, the last with a UTF-8 literal."""
    matching = {2, 84, 882}

    def message(n: int) -> bytes:
        sender = "Smith <smith@example.test>" if n in (3, 85) else "jones@example.test"
        text = "Grüße" if n == 43 else ""
        return numbered(n, sender, text)

    await fill(app, "INBOX", 882, message=message,
               flags=lambda n: ["\\Flagged"] if n in matching | {3, 85} else [])
    await replay(app, LOGGED_IN + r"""
        C: A281 SELECT INBOX
        """ + opened("A281", 882) + r"""
        C: A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"
        S: \* SEARCH 2 84 882
        S: A282 OK SEARCH completed
        C: A283 SEARCH TEXT "string not in mailbox"
        S: \* SEARCH
        S: A283 OK SEARCH completed
        C: A284 SEARCH CHARSET UTF-8 TEXT {6}
        S: \+ Ready for literal data
        C: GRÜẞE
        S: \* SEARCH 43
        S: A284 OK SEARCH completed
        C: A285 SEARCH CHARSET KOI8-R TEXT x
        S: A285 NO \[BADCHARSET \(US-ASCII UTF-8\)\] .*
    """.replace("{6}", f"{{{len('GRÜẞE'.encode())}}}"))


async def test_rfc3501_fetch_store_copy_uid(app: App) -> None:
    """§6.4.5-§6.4.8: header fields of 2:4, +FLAGS with their new flags, COPY, and UID
    FETCH over the UIDs of the example (4827313, 4827943, 4828442 as messages 23-25)."""
    await fill(app, "INBOX", 22)
    headers = b"Date: Mon, 7 Feb 1994 21:52:25 -0800\r\nFrom: Fred <fred@example.test>\r\n"

    async def add_examples() -> None:
        async with app.store.account(USER) as mail:
            inbox = await mail.get_mailbox("INBOX")
            assert inbox is not None
            for uid in (4827313, 4827943, 4828442):
                await set_uidnext(mail, inbox.id, uid)
                await mail.append("INBOX", headers + b"Subject: x\r\n\r\nhi\r\n", ["\\Seen"])
            await mail.store_flags(inbox.id, [2], "set", ["\\Seen"])
            await mail.store_flags(inbox.id, [4], "set", ["\\Flagged", "\\Seen"])
            await mail.create_mailbox("MEETING")
            await mail.claim_recent(inbox.id)

    await add_examples()
    await replay(app, LOGGED_IN + r"""
        C: A000 EXAMINE INBOX
        """ + opened("A000", 25, mode="READ-ONLY") + r"""
        C: A654 FETCH 23:24 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])
        S: \* 23 FETCH \(FLAGS \(\\Seen\) BODY\[HEADER\.FIELDS \(DATE FROM\)\] \{72\}
        S: Date: Mon, 7 Feb 1994 21:52:25 -0800
        S: From: Fred <fred@example\.test>
        S:
        S: \)
        S: \* 24 FETCH \(FLAGS \(\\Seen\) BODY\[HEADER\.FIELDS \(DATE FROM\)\] \{72\}
        S: Date: Mon, 7 Feb 1994 21:52:25 -0800
        S: From: Fred <fred@example\.test>
        S:
        S: \)
        S: A654 OK FETCH completed
        C: A999 UID FETCH 4827313:4828442 FLAGS
        S: \* 23 FETCH \(UID 4827313 FLAGS \(\\Seen\)\)
        S: \* 24 FETCH \(UID 4827943 FLAGS \(\\Seen\)\)
        S: \* 25 FETCH \(UID 4828442 FLAGS \(\\Seen\)\)
        S: A999 OK FETCH completed
        C: A001 SELECT INBOX
        """ + opened("A001", 25) + r"""
        C: A003 STORE 2:4 +FLAGS (\Deleted)
        S: \* 2 FETCH \(FLAGS \(\\Seen \\Deleted\)\)
        S: \* 3 FETCH \(FLAGS \(\\Deleted\)\)
        S: \* 4 FETCH \(FLAGS \(\\Seen \\Flagged \\Deleted\)\)
        S: A003 OK STORE completed
        C: A004 STORE 2 -FLAGS.SILENT (\Deleted)
        S: A004 OK STORE completed
        C: A005 STORE 2 FLAGS ($Label1 \Answered)
        S: \* 2 FETCH \(FLAGS \(\\Answered \$Label1\)\)
        S: A005 OK STORE completed
        C: A003 COPY 2:4 MEETING
        S: A003 OK \[COPYUID [0-9]+ 2:4 1:3\] COPY completed
        C: A006 COPY 2:4 nosuchbox
        S: A006 NO \[TRYCREATE\] .*
        C: A007 UID COPY 4827313:* MEETING
        S: A007 OK \[COPYUID [0-9]+ 4827313,4827943,4828442 4:6\] COPY completed
        C: A008 UID STORE 4827943 +FLAGS (\Draft)
        S: \* 24 FETCH \(FLAGS \(\\Seen \\Draft\) UID 4827943\)
        S: A008 OK STORE completed
        C: A009 UID SEARCH UID 4827900:*
        S: \* SEARCH 4827943 4828442
        S: A009 OK SEARCH completed
        C: A010 FETCH 26 FLAGS
        S: A010 BAD .*
        C: A011 UID FETCH 26 FLAGS
        S: A011 OK FETCH completed
        C: A012 STATUS MEETING (MESSAGES)
        S: \* STATUS MEETING \(MESSAGES 6\)
        S: A012 OK STATUS completed
    """)


async def test_wrong_state_and_unknown_commands_get_bad(app: App) -> None:
    """§6: commands outside their state are BAD, and BAD never closes a good session."""
    await replay(app, rf"""
        {GREETING}
        C: a1 SELECT INBOX
        S: a1 BAD .*
        C: a2 FETCH 1 FLAGS
        S: a2 BAD .*
        C: a3 XYZZY
        S: a3 BAD .*
        C: a4 LOGIN {USER} {PASSWORD}
        S: a4 OK .*
        C: a5 EXPUNGE
        S: a5 BAD .*
        C: a6 CLOSE
        S: a6 BAD .*
        C: a7 CAPABILITY
        S: \* CAPABILITY .*
        S: a7 OK CAPABILITY completed
    """)
