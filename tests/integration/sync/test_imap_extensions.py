"""LIST-EXTENDED (RFC 5258) with SPECIAL-USE (6154) and LIST-STATUS (5819), STATUS=SIZE
(8438), ESEARCH (4731) and SEARCHRES (5182), including what other sessions change."""

from __future__ import annotations

from tests.integration.sync.conftest import Connect, Deliver, Fill


def test_list_extended_selection_and_return_options(connect: Connect) -> None:
    wire = connect(select=None)
    wire.ok(b"CREATE Archive/2023")
    wire.ok(b"CREATE Sent (USE (\\Sent))")
    wire.ok(b"SUBSCRIBE Archive/2023")
    assert wire.ok(b'LIST (SUBSCRIBED) "" "*"') == [
        b'* LIST (\\HasNoChildren \\Subscribed) "/" Archive/2023',
        b'* LIST (\\HasNoChildren \\Subscribed) "/" INBOX']
    # The parent is not subscribed, but a child below "%" is: RFC 5258 CHILDINFO.
    assert wire.ok(b'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"') == [
        b'* LIST (\\HasChildren) "/" Archive ("CHILDINFO" ("SUBSCRIBED"))',
        b'* LIST (\\HasNoChildren \\Subscribed) "/" INBOX']
    assert wire.command(b'LIST (RECURSIVEMATCH) "" "%"')[-1].split(b" ")[1] == b"BAD"
    assert wire.ok(b'LIST (SPECIAL-USE) "" "*"') == [b'* LIST (\\HasNoChildren \\Sent) "/" Sent']
    assert wire.ok(b'LIST "" "A*" RETURN (CHILDREN SUBSCRIBED SPECIAL-USE)') == [
        b'* LIST (\\HasChildren) "/" Archive',
        b'* LIST (\\HasNoChildren \\Subscribed) "/" Archive/2023']
    assert wire.ok(b'LIST "" ("INBOX" "Sent")') == [
        b'* LIST (\\HasNoChildren) "/" INBOX', b'* LIST (\\HasNoChildren \\Sent) "/" Sent']


def test_list_status_and_status_size_follow_other_sessions(
    connect: Connect, deliver: Deliver,
) -> None:
    wire = connect(select=None)
    deliver(1)
    size = int(wire.ok(b"STATUS INBOX (SIZE)")[0].split(b"SIZE ")[1].rstrip(b")"))
    assert size > 0
    deliver(2)
    connect().ok(b"STORE 1 +FLAGS.SILENT (\\Seen)")
    lines = wire.ok(b'LIST "" "INBOX" RETURN (STATUS (MESSAGES UNSEEN SIZE))')
    assert lines[0] == b'* LIST (\\HasNoChildren) "/" INBOX'
    assert lines[1].startswith(b"* STATUS INBOX (MESSAGES 2 UNSEEN 1 SIZE ")
    assert int(lines[1].split(b"SIZE ")[1].rstrip(b")")) > size


def test_esearch_return_options(connect: Connect, fill: Fill) -> None:
    fill(5)
    wire = connect()
    wire.ok(b"STORE 2,4 +FLAGS.SILENT (\\Seen)")
    assert wire.ok(b"SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN") == [
        b'* ESEARCH (TAG "w4") MIN 1 MAX 5 ALL 1,3,5 COUNT 3']
    assert wire.ok(b"UID SEARCH RETURN () SEEN") == [b'* ESEARCH (TAG "w5") UID ALL 2,4']
    assert wire.ok(b"SEARCH RETURN (COUNT) DELETED") == [b'* ESEARCH (TAG "w6") COUNT 0']
    assert wire.ok(b"SEARCH RETURN (MIN) DELETED") == [b'* ESEARCH (TAG "w7")']


def test_searchres_saves_what_rfc_5182_says_and_tracks_expunges(
    connect: Connect, fill: Fill,
) -> None:
    fill(5)
    wire, other = connect(), connect()
    assert wire.ok(b"SEARCH RETURN (SAVE MIN MAX) ALL") == [b'* ESEARCH (TAG "w3") MIN 1 MAX 5']
    assert wire.ok(b"FETCH $ (UID)") == [b"* 1 FETCH (UID 1)", b"* 5 FETCH (UID 5)"]
    assert wire.ok(b"SEARCH RETURN (SAVE COUNT) 2:4") == [b'* ESEARCH (TAG "w5") COUNT 3']
    assert wire.ok(b"UID SEARCH UID $") == [b"* SEARCH 2 3 4"]
    other.expunge(b"3")
    assert wire.ok(b"NOOP") == [b"* 3 EXPUNGE"]
    assert wire.ok(b"UID FETCH $ (UID)") == [b"* 2 FETCH (UID 2)", b"* 3 FETCH (UID 4)"]
    failed = wire.command(b"SEARCH RETURN (SAVE) 1:9")  # only four messages now
    assert failed[-1].split(b" ")[1] == b"BAD"
    assert wire.ok(b"FETCH $ (UID)") == []  # a failed SAVE leaves "$" empty


def test_list_subscribed_shows_a_deleted_parent_as_nonexistent(connect: Connect) -> None:
    """RFC 5258 §3.4: a subscribed name whose mailbox was deleted (its child stays) is
    listed \\NonExistent; plain LIST still shows the level as \\Noselect."""
    wire = connect(select=None)
    wire.ok(b"CREATE Team/notes")
    wire.ok(b"SUBSCRIBE Team")
    wire.ok(b"DELETE Team")
    assert wire.ok(b'LIST (SUBSCRIBED) "" "T*"') == [
        b'* LIST (\\NonExistent \\HasChildren \\Subscribed) "/" Team']
    # Only selected by SUBSCRIBED is a missing name listed; "%" stopping above a mailbox
    # returns the level, which RETURN (SUBSCRIBED) then marks.
    assert wire.ok(b'LIST "" "T*" RETURN (SUBSCRIBED)') == [
        b'* LIST (\\HasNoChildren) "/" Team/notes']
    assert wire.ok(b'LIST "" "T%" RETURN (SUBSCRIBED)') == [
        b'* LIST (\\NonExistent \\HasChildren \\Subscribed) "/" Team']
    assert wire.ok(b'LIST "" "T%"') == [b'* LIST (\\Noselect \\HasChildren) "/" Team']
    assert wire.ok(b'LSUB "" "T*"') == [b'* LSUB (\\Noselect) "/" Team']


def test_status_recent_and_deleted_counts_follow_other_sessions(
    connect: Connect, deliver: Deliver,
) -> None:
    wire = connect(select=None)
    for n in range(3):
        deliver(n)
    assert wire.ok(b"STATUS INBOX (MESSAGES RECENT)") == [
        b"* STATUS INBOX (MESSAGES 3 RECENT 3)"]
    other = connect()  # selecting INBOX takes its \Recent
    other.ok(b"STORE 1,3 +FLAGS.SILENT (\\Deleted)")
    line = wire.ok(b"STATUS INBOX (RECENT DELETED DELETED-STORAGE UNSEEN)")[0]
    assert line.startswith(b"* STATUS INBOX (RECENT 0 DELETED 2 DELETED-STORAGE ")
    stored = int(line.split(b"DELETED-STORAGE ")[1].split(b" ")[0])
    sizes = other.ok(b"FETCH 1,3 (RFC822.SIZE)")
    assert stored == sum(int(s.split(b"RFC822.SIZE ")[1].rstrip(b")")) for s in sizes)
    assert wire.ok(b"STATUS INBOX (MESSAGES UNSEEN RECENT)") == [
        b"* STATUS INBOX (MESSAGES 3 UNSEEN 3 RECENT 0)"]
