"""``mailhost deliver``: input checks and sysexits mapping, without a process."""

from __future__ import annotations

import pytest

from mailhost.delivery import lda, replies
from mailhost.delivery.replies import Reply


def test_prepare_strips_an_mbox_envelope_line() -> None:
    raw = b"From sender@example.test Mon Jan  1 00:00:00 2024\nSubject: x\n\nbody\n"
    assert lda.prepare(raw, 1000) == b"Subject: x\n\nbody\n"
    assert lda.prepare(b"From: a@example.test\r\n\r\nx", 1000).startswith(b"From: a@")


@pytest.mark.parametrize("raw", [b"", b"\r\n\r\n", b"\x00\x01binary", b"no header here\n",
                                 b"From only-an-envelope-line\n", b": empty name\n"])
def test_prepare_refuses_unusable_input(raw: bytes) -> None:
    with pytest.raises(lda.UnusableInput):
        lda.prepare(raw, 1000)


def test_prepare_refuses_oversized_input() -> None:
    with pytest.raises(lda.UnusableInput, match="larger than 10 bytes"):
        lda.prepare(b"Subject: x\n\n0123456789", 10)


def test_exit_codes_follow_sysexits() -> None:
    assert lda.exit_code(replies.DELIVERED) == lda.EX_OK == 0
    assert lda.exit_code(replies.DISCARDED) == 0
    assert lda.exit_code(replies.USER_UNKNOWN) == lda.EX_NOUSER == 67
    assert lda.exit_code(replies.RELAY_DENIED) == 67
    assert lda.exit_code(replies.BAD_RECIPIENT) == 67
    assert lda.exit_code(replies.BAD_SENDER) == lda.EX_DATAERR == 65
    assert lda.exit_code(Reply(550, "5.7.1", "policy")) == lda.EX_NOPERM == 77
    for temporary in (replies.OVER_QUOTA, replies.STORAGE_FULL, replies.PLUGIN_FAILED,
                      replies.LOCAL_ERROR, Reply(451, "4.7.1", "greylisted")):
        assert lda.exit_code(temporary) == lda.EX_TEMPFAIL == 75
