"""The tutorial's test, as shown in docs/writing-plugins.md."""

from __future__ import annotations

import imaplib

import sender_folder

from mailhost.decisions import Deliver
from mailhost.testing import ServerFactory

NEWSLETTER = b"From: News <news@shop.example>\r\nSubject: Sale!\r\n\r\nBuy now.\r\n"
PERSONAL = b"From: Mum <mum@family.example>\r\nSubject: Sunday\r\n\r\nLunch?\r\n"


def test_newsletters_are_filed(mailhost_server_factory: ServerFactory) -> None:
    server = mailhost_server_factory(
        plugins=[("sender_folder", sender_folder)],
        plugin_settings={"sender_folder": {"senders": ["news@shop.example"]}},
    )
    app = server.app
    assert app is not None

    def decide(message: bytes) -> object:
        return server.run(app.plugins.decide(
            "mailhost_delivery_decide", app=app, recipient="kim@example.test",
            address="kim@example.test", sender="", message=message, protocol="test"))

    assert decide(NEWSLETTER) == Deliver(folder="Newsletters")
    assert decide(PERSONAL) == Deliver(folder="INBOX")  # the built-in default

    server.add_user("kim@example.test", "secret")
    server.append("kim@example.test", NEWSLETTER, mailbox="Newsletters")
    imap = imaplib.IMAP4_SSL("127.0.0.1", server.port("imap", "implicit"),
                             ssl_context=server.client_ssl_context())
    imap.login("kim@example.test", "secret")
    assert imap.select("Newsletters")[1] == [b"1"]
    imap.logout()
