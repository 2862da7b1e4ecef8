"""The commit token sessions use to skip "what changed?" queries: it must move with every
commit of any connection, stay put for reads, and never repeat an old value after the
database was closed and reopened (SQLite deletes the -shm file with the last connection)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mailhost.store.sqlite.changes import commit_token


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    return conn


def test_every_commit_moves_the_token_and_reads_do_not(tmp_path: Path) -> None:
    path = tmp_path / "account.sqlite"
    writer, other = connect(path), connect(path)
    writer.execute("CREATE TABLE t(x)")
    seen = {commit_token(path)}
    for n in range(300):
        conn = other if n % 3 else writer
        conn.execute("INSERT INTO t VALUES (?)", (n,))
        if n % 50 == 0:
            writer.execute("PRAGMA wal_checkpoint(RESTART)")
        token = commit_token(path)
        other.execute("SELECT COUNT(*) FROM t").fetchone()
        assert commit_token(path) == token  # a read commits nothing
        assert token is None or token not in seen
        seen.add(token)
    writer.close()
    other.close()


def test_no_token_repeats_after_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "account.sqlite"
    conn = connect(path)
    conn.execute("CREATE TABLE t(x)")
    conn.execute("INSERT INTO t VALUES (1)")
    assert commit_token(path) is not None
    conn.close()  # the last connection: WAL and -shm are gone
    assert commit_token(path) is None
    conn = connect(path)
    conn.execute("SELECT * FROM t").fetchall()
    empty = commit_token(path)
    conn.execute("INSERT INTO t VALUES (2)")
    conn.close()
    conn = connect(path)
    conn.execute("SELECT * FROM t").fetchall()
    # A reopened database starts from the same header bytes whatever was written before,
    # so a WAL without frames gives no token at all.
    assert empty is None and commit_token(path) is None
    conn.close()


def test_no_database_path_means_no_token() -> None:
    assert commit_token(None) is None
