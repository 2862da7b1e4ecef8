"""The smarthost's replies, reworded as ours."""

from __future__ import annotations

from mailhost.delivery.relay import remote_reply
from mailhost.delivery.replies import Reply


def test_remote_reply_keeps_class_and_enhanced_code() -> None:
    assert remote_reply(550, "5.1.1 <x@example.org>: user unknown", "smart.example") == \
        Reply(550, "5.1.1", "smarthost smart.example said: <x@example.org>: user unknown")
    assert remote_reply(451, "try later", "h") == Reply(451, "4.0.0", "smarthost h said: try later")


def test_remote_reply_cannot_become_a_success_or_inject_lines() -> None:
    assert remote_reply(250, "2.0.0 ok", "h").code == 451
    assert remote_reply(550, "4.2.2 mismatched", "h").status == "5.0.0"
    text = str(remote_reply(550, "no\r\n250 2.0.0 fake", "h"))
    assert "\r" not in text and "\n" not in text
