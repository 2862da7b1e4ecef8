"""Numbered schema migrations. Append new steps; never edit a step that has shipped."""

from __future__ import annotations

DIRECTORY_MIGRATIONS: tuple[str, ...] = (
    # 1: domains, users, aliases, per-user settings for policy plugins.
    """
    CREATE TABLE domain (
        name TEXT PRIMARY KEY
    ) WITHOUT ROWID;
    CREATE TABLE user (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        address TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        created_at REAL NOT NULL,
        quota_bytes INTEGER NOT NULL DEFAULT 0,
        quota_messages INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE alias (
        address TEXT PRIMARY KEY,
        target TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE user_setting (
        user_id INTEGER NOT NULL REFERENCES user(id) ON DELETE CASCADE,
        namespace TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (user_id, namespace, key)
    ) WITHOUT ROWID;
    """,
)

# What the trigger of the message_insert view does for each row (schema steps 6 and 7): the
# new body's rowid is last_insert_rowid() in each step, as body_raw and body_text use body_id
# as their rowid.
_MESSAGE_INSERT_STEPS = """\
        INSERT INTO body(size, header_end, envelope, bodystructure, body_simple, tree,
            hdr_from, hdr_to, hdr_cc, hdr_bcc, hdr_subject, hdr_message_id, x_uidl, sent_date,
            analysed)
        VALUES (length(NEW.raw), NEW.header_end, NEW.envelope, NEW.bodystructure,
            NEW.body_simple, NEW.tree, NEW.hdr_from, NEW.hdr_to, NEW.hdr_cc, NEW.hdr_bcc,
            NEW.hdr_subject, NEW.hdr_message_id, NEW.x_uidl, NEW.sent_date, NEW.analysed);
        INSERT INTO body_raw(body_id, raw) VALUES (last_insert_rowid(), NEW.raw);
        INSERT INTO body_text(body_id, text)
            SELECT last_insert_rowid(), NEW.text WHERE NEW.text IS NOT NULL;
        INSERT INTO message(mailbox_id, uid, body_id, modseq, flags, keywords, internaldate,
            internaldate_tz, savedate, size, internal_day)
        VALUES (NEW.mailbox_id, NEW.uid, last_insert_rowid(), NEW.modseq, NEW.flags,
            NEW.keywords, NEW.internaldate, NEW.internaldate_tz, NEW.savedate,
            length(NEW.raw), NEW.internal_day);
        UPDATE mailbox SET uidnext = NEW.uid + 1, highestmodseq = NEW.modseq
            WHERE id = NEW.mailbox_id;
"""

# The message of the guard in message_insert (schema step 7).
STALE_PLAN = "mailhost: stale append plan"

# Per-account database. AUTOINCREMENT on every id so SQLite never reuses the largest rowid,
# and UIDs come from mailbox.uidnext, which only ever grows.
ACCOUNT_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE account_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        next_uidvalidity INTEGER NOT NULL
    );
    CREATE TABLE mailbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        uidvalidity INTEGER NOT NULL,
        uidnext INTEGER NOT NULL DEFAULT 1,
        highestmodseq INTEGER NOT NULL DEFAULT 1,
        first_recent_uid INTEGER NOT NULL DEFAULT 1,
        subscribed INTEGER NOT NULL DEFAULT 0,
        special_use TEXT,
        created_at REAL NOT NULL
    );
    CREATE TABLE body (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        size INTEGER NOT NULL,
        header_end INTEGER NOT NULL,
        envelope BLOB NOT NULL,
        bodystructure BLOB NOT NULL,
        body_simple BLOB NOT NULL,
        tree BLOB NOT NULL,
        hdr_from TEXT NOT NULL,
        hdr_to TEXT NOT NULL,
        hdr_cc TEXT NOT NULL,
        hdr_bcc TEXT NOT NULL,
        hdr_subject TEXT NOT NULL,
        hdr_message_id TEXT NOT NULL,
        x_uidl TEXT,
        sent_date REAL
    );
    -- Bodies and their searchable text live apart from the metadata so that index scans
    -- never walk the overflow pages of a 2 MB blob.
    CREATE TABLE body_raw (
        body_id INTEGER PRIMARY KEY REFERENCES body(id) ON DELETE CASCADE,
        raw BLOB NOT NULL
    );
    CREATE TABLE body_text (
        body_id INTEGER PRIMARY KEY REFERENCES body(id) ON DELETE CASCADE,
        text TEXT NOT NULL
    );
    CREATE TABLE message (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        mailbox_id INTEGER NOT NULL REFERENCES mailbox(id) ON DELETE CASCADE,
        uid INTEGER NOT NULL,
        body_id INTEGER NOT NULL REFERENCES body(id),
        modseq INTEGER NOT NULL,
        flags INTEGER NOT NULL DEFAULT 0,
        keywords TEXT NOT NULL DEFAULT '',
        internaldate REAL NOT NULL,
        internaldate_tz INTEGER NOT NULL DEFAULT 0,
        savedate REAL NOT NULL,
        size INTEGER NOT NULL,
        UNIQUE (mailbox_id, uid)
    );
    CREATE INDEX message_body ON message(body_id);
    CREATE INDEX message_modseq ON message(mailbox_id, modseq);
    CREATE TABLE expunged (
        mailbox_id INTEGER NOT NULL REFERENCES mailbox(id) ON DELETE CASCADE,
        uid INTEGER NOT NULL,
        modseq INTEGER NOT NULL,
        PRIMARY KEY (mailbox_id, uid)
    ) WITHOUT ROWID;
    CREATE INDEX expunged_modseq ON expunged(mailbox_id, modseq);
    -- A body shared by COPY lives until its last message goes.
    CREATE TRIGGER body_gc AFTER DELETE ON message
    WHEN NOT EXISTS (SELECT 1 FROM message WHERE body_id = OLD.body_id)
    BEGIN
        DELETE FROM body WHERE id = OLD.body_id;
    END;
    """,
    # 2: only the newest expunges of a mailbox are remembered for QRESYNC; those with a
    # MODSEQ up to expunged_floor have been forgotten (see SqliteMailStore.expunged_since).
    """
    ALTER TABLE mailbox ADD COLUMN expunged_floor INTEGER NOT NULL DEFAULT 0;
    """,
    # 3: counters kept by triggers, so SELECT, STATUS, APPEND and the quota check read one
    # row instead of aggregating every message of a mailbox; the local day of INTERNALDATE
    # (days since 1970-01-01 in the message's own zone) for indexed SEARCH BEFORE/ON/SINCE;
    # an index that finds the first unseen message without a scan.
    """
    ALTER TABLE mailbox ADD COLUMN messages INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE mailbox ADD COLUMN unseen INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE mailbox ADD COLUMN size INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE account_state ADD COLUMN used_bytes INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE account_state ADD COLUMN used_messages INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE message ADD COLUMN internal_day INTEGER NOT NULL DEFAULT 0;
    UPDATE message SET internal_day =
        CAST((internaldate + internaldate_tz * 60) / 86400.0 AS INTEGER)
        - ((internaldate + internaldate_tz * 60) / 86400.0
           < CAST((internaldate + internaldate_tz * 60) / 86400.0 AS INTEGER));
    UPDATE mailbox SET
        messages = (SELECT COUNT(*) FROM message WHERE mailbox_id = mailbox.id),
        unseen = (SELECT COUNT(*) FROM message WHERE mailbox_id = mailbox.id
                  AND (flags & 1) = 0),
        size = (SELECT COALESCE(SUM(size), 0) FROM message WHERE mailbox_id = mailbox.id);
    UPDATE account_state SET
        used_bytes = (SELECT COALESCE(SUM(size), 0) FROM message),
        used_messages = (SELECT COUNT(*) FROM message);
    CREATE INDEX message_day ON message(mailbox_id, internal_day);
    CREATE INDEX message_unseen ON message(mailbox_id, uid) WHERE (flags & 1) = 0;
    CREATE TRIGGER message_counts_insert AFTER INSERT ON message
    BEGIN
        UPDATE mailbox SET messages = messages + 1, unseen = unseen + ((NEW.flags & 1) = 0),
            size = size + NEW.size WHERE id = NEW.mailbox_id;
        UPDATE account_state SET used_bytes = used_bytes + NEW.size,
            used_messages = used_messages + 1 WHERE id = 1;
    END;
    CREATE TRIGGER message_counts_delete AFTER DELETE ON message
    BEGIN
        UPDATE mailbox SET messages = messages - 1, unseen = unseen - ((OLD.flags & 1) = 0),
            size = size - OLD.size WHERE id = OLD.mailbox_id;
        UPDATE account_state SET used_bytes = used_bytes - OLD.size,
            used_messages = used_messages - 1 WHERE id = 1;
    END;
    CREATE TRIGGER message_counts_flags AFTER UPDATE OF flags, size ON message
    WHEN OLD.mailbox_id = NEW.mailbox_id
        AND ((OLD.flags & 1) != (NEW.flags & 1) OR OLD.size != NEW.size)
    BEGIN
        UPDATE mailbox SET unseen = unseen + ((NEW.flags & 1) = 0) - ((OLD.flags & 1) = 0),
            size = size + NEW.size - OLD.size WHERE id = NEW.mailbox_id;
        UPDATE account_state SET used_bytes = used_bytes + NEW.size - OLD.size WHERE id = 1;
    END;
    CREATE TRIGGER message_counts_move AFTER UPDATE OF mailbox_id ON message
    WHEN OLD.mailbox_id != NEW.mailbox_id
    BEGIN
        UPDATE mailbox SET messages = messages - 1, unseen = unseen - ((OLD.flags & 1) = 0),
            size = size - OLD.size WHERE id = OLD.mailbox_id;
        UPDATE mailbox SET messages = messages + 1, unseen = unseen + ((NEW.flags & 1) = 0),
            size = size + NEW.size WHERE id = NEW.mailbox_id;
        UPDATE account_state SET used_bytes = used_bytes + NEW.size - OLD.size WHERE id = 1;
    END;
    """,
    # 4: a delivered message may be stored before its MIME analysis (envelope, structure,
    # search fields, body_text), which then follows in the background or before the next
    # read (see SqliteMailStore._analyse_pending); analysed = 0 marks such a body.
    """
    ALTER TABLE body ADD COLUMN analysed INTEGER NOT NULL DEFAULT 1;
    CREATE INDEX body_unanalysed ON body(id) WHERE analysed = 0;
    """,
    # 5: subscriptions are names, not mailbox rows (RFC 3501 §6.3.6, RFC 9051 §6.3.7): they
    # survive DELETE and may name a mailbox that does not exist. mailbox.subscribed stays
    # (SQLite cannot drop a column cheaply) but is no longer read or written.
    """
    CREATE TABLE subscription (
        name TEXT PRIMARY KEY
    ) WITHOUT ROWID;
    INSERT INTO subscription(name) SELECT name FROM mailbox WHERE subscribed = 1;
    """,
    # 6: a group commit stores all its messages with one multi-row INSERT into this view: each
    # row becomes a body, its raw bytes (and searchable text, when analysed) and a message,
    # and moves the mailbox's uidnext and highestmodseq to the values the row carries. One
    # statement instead of six per message: the database thread gives up and waits for the
    # GIL around every statement, which cost more than the inserts while the event loop was
    # busy with other deliveries. The caller computes uid and modseq (it holds the write
    # lock).
    """
    CREATE VIEW message_insert(
        header_end, envelope, bodystructure, body_simple, tree, hdr_from, hdr_to, hdr_cc,
        hdr_bcc, hdr_subject, hdr_message_id, x_uidl, sent_date, analysed, raw, text,
        mailbox_id, uid, modseq, flags, keywords, internaldate, internaldate_tz, savedate,
        internal_day
    ) AS SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
        NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL WHERE 0;
    CREATE TRIGGER message_insert_row INSTEAD OF INSERT ON message_insert
    BEGIN
""" + _MESSAGE_INSERT_STEPS + """    END;
    """,
    # 7: each row of message_insert also names the mailbox it was planned for, and the insert
    # is refused unless that mailbox still has this id, name, uidnext and highestmodseq. A
    # group commit may then be planned from the mailbox rows as this connection's last
    # commit left them and stored by that one INSERT in autocommit mode, one statement and one
    # transaction (see SqliteMailStore._store_from_memory): a change by another process in
    # between (``mailhost deliver``, the CLI) fails the whole statement, and the group is
    # planned again from fresh reads.
    """
    DROP TRIGGER message_insert_row;
    DROP VIEW message_insert;
    CREATE VIEW message_insert(
        header_end, envelope, bodystructure, body_simple, tree, hdr_from, hdr_to, hdr_cc,
        hdr_bcc, hdr_subject, hdr_message_id, x_uidl, sent_date, analysed, raw, text,
        mailbox_id, uid, modseq, flags, keywords, internaldate, internaldate_tz, savedate,
        internal_day, mailbox_name
    ) AS SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
        NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL WHERE 0;
    CREATE TRIGGER message_insert_row INSTEAD OF INSERT ON message_insert
    BEGIN
        SELECT RAISE(ABORT, '""" + STALE_PLAN + """') WHERE NOT EXISTS (
            SELECT 1 FROM mailbox WHERE id = NEW.mailbox_id AND name = NEW.mailbox_name
                AND uidnext = NEW.uid AND highestmodseq = NEW.modseq - 1);
""" + _MESSAGE_INSERT_STEPS + """    END;
    """,
)

# MailboxInfo.subscribed for a row of ``mailbox``: a primary-key probe (schema step 5), cheap
# enough for the row every append reads.
SUBSCRIBED_SQL = "EXISTS (SELECT 1 FROM subscription WHERE subscription.name = mailbox.name)"

# Values per row of the message_insert view (schema step 7).
MESSAGE_INSERT_COLUMNS = 26
