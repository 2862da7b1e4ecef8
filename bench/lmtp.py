"""A minimal asyncio LMTP client (RFC 2033) that pipelines MAIL, RCPT and DATA per message."""

from __future__ import annotations

import asyncio

from bench.net import open_stream


class LmtpError(Exception):
    """A reply outside 2xx/3xx where one was expected."""


def dot_stuffed(raw: bytes) -> bytes:
    """The DATA payload: leading dots doubled, CRLF-terminated, then the lone dot."""
    body = raw.replace(b"\r\n.", b"\r\n..")
    if body.startswith(b"."):
        body = b"." + body
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    return body + b".\r\n"


class LmtpClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 timeout: float) -> None:
        self.reader = reader
        self.writer = writer
        self.timeout = timeout

    @classmethod
    async def connect(cls, port: int, timeout: float = 60.0) -> LmtpClient:
        reader, writer = await open_stream(port, timeout)
        client = cls(reader, writer, timeout)
        await client.reply(b"2")
        client.writer.write(b"LHLO bench.example.test\r\n")
        await client.reply(b"2")
        return client

    async def reply(self, expect: bytes) -> bytes:
        """Read one (possibly multi-line) reply; its code must start with ``expect``."""
        while True:
            line = await asyncio.wait_for(self.reader.readuntil(b"\r\n"), self.timeout)
            if not line[:1] == expect:
                raise LmtpError(line[:200].decode("latin-1"))
            if line[3:4] != b"-":
                return line

    async def deliver(self, sender: str, recipient: str, raw: bytes) -> None:
        """One message to one recipient, MAIL/RCPT/DATA pipelined (PIPELINING)."""
        self.writer.write(b"MAIL FROM:<" + sender.encode() + b">\r\nRCPT TO:<"
                          + recipient.encode() + b">\r\nDATA\r\n")
        await self.reply(b"2")
        await self.reply(b"2")
        await self.reply(b"3")
        self.writer.write(dot_stuffed(raw))
        await self.reply(b"2")

    async def quit(self) -> None:
        try:
            self.writer.write(b"QUIT\r\n")
            await self.reply(b"2")
        finally:
            self.writer.close()
