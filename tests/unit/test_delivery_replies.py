"""Reply values, enhanced status codes and LMTP's one-reply-per-recipient rule."""

from __future__ import annotations

from mailhost.decisions import Defer, Reject
from mailhost.delivery.replies import (
    Reply,
    decision_reply,
    ehlo_response,
    one_per_recipient,
    with_enhanced_code,
)


def test_reply_classes() -> None:
    assert str(Reply(250, "2.0.0", "OK")) == "250 2.0.0 OK"
    assert Reply(250, "2.0.0", "x").ok
    assert Reply(451, "4.3.0", "x").temporary and not Reply(451, "4.3.0", "x").permanent
    assert Reply(550, "5.1.1", "x").permanent


def test_aiosmtpd_replies_get_enhanced_codes() -> None:
    assert with_enhanced_code("250 OK") == "250 2.0.0 OK"
    assert with_enhanced_code("503 Error: need RCPT command") == \
        "503 5.5.1 Error: need RCPT command"
    assert with_enhanced_code("552 Error: Too much mail data") == \
        "552 5.3.4 Error: Too much mail data"
    assert with_enhanced_code('500 Error: command "X" not recognized').startswith("500 5.5.2 ")
    assert with_enhanced_code("421 too busy") == "421 4.3.2 too busy"
    assert with_enhanced_code("599 odd") == "599 5.0.0 odd"


def test_codes_already_present_and_exempt_lines_are_untouched() -> None:
    assert with_enhanced_code("553 5.1.3 Error: malformed address") == \
        "553 5.1.3 Error: malformed address"
    assert with_enhanced_code("220 mail.example.test ESMTP") == "220 mail.example.test ESMTP"
    assert with_enhanced_code("354 End data with <CR><LF>.<CR><LF>") == \
        "354 End data with <CR><LF>.<CR><LF>"
    assert with_enhanced_code("334 VXNlcm5hbWU6") == "334 VXNlcm5hbWU6"
    assert with_enhanced_code("not a reply") == "not a reply"
    # A version-like number in the text is not mistaken for a code.
    assert with_enhanced_code("250 2.0") == "250 2.0.0 2.0"


def test_multi_line_replies_each_get_a_code() -> None:
    assert with_enhanced_code("250 OK\r\n451 try later") == "250 2.0.0 OK\r\n451 4.0.0 try later"


def test_one_per_recipient() -> None:
    assert one_per_recipient("552 5.3.4 too big", 3) == "\r\n".join(["552 5.3.4 too big"] * 3)
    joined = "250 2.0.0 ok\r\n550 5.1.1 no"
    assert one_per_recipient(joined, 2) == joined
    assert one_per_recipient("250 ok", 1) == "250 ok"


def test_plugin_decisions_cannot_change_the_reply_class_or_inject_lines() -> None:
    assert decision_reply(Reject("spam")) == Reply(550, "5.7.1", "spam")
    assert decision_reply(Reject("x", code=554)).code == 554
    assert decision_reply(Reject("x", code=250)).code == 550
    assert decision_reply(Defer("later")) == Reply(451, "4.7.1", "later")
    assert decision_reply(Defer("x", code=550)).code == 451
    assert decision_reply(Defer("x", code=452)).code == 452
    text = str(decision_reply(Reject("bad\r\n250 OK")))
    assert "\r" not in text and "\n" not in text


def test_ehlo_response_shape() -> None:
    assert ehlo_response("mx.example.test", ["PIPELINING", "SIZE 10"]) == [
        b"250-mx.example.test", b"250-PIPELINING", b"250 SIZE 10",
    ]
