"""A minimal asyncio LMTP client (RFC 2033) that pipelines MAIL, RCPT and DATA per message."""

from __future__ import annotations

import asyncio

from bench.net import StreamClient
from mailhost.protocols.pop3.parser import dot_stuff  # the same stuffing DATA needs


class LmtpError(Exception):
    """A reply outside 2xx/3xx where one was expected."""


class LmtpClient(StreamClient):
    @classmethod
    async def connect(cls, port: int, timeout: float = 60.0) -> LmtpClient:
        client = await cls.open(port, timeout)
        await client.reply(b"2")
        client.writer.write(b"LHLO bench.example.test\r\n")
        await client.reply(b"2")
        return client

    async def reply(self, expect: bytes) -> bytes:
        """Read one (possibly multi-line) reply; its code must start with ``expect``."""
        async with asyncio.timeout(self.timeout):
            return await self._reply(expect)

    async def _reply(self, expect: bytes) -> bytes:
        while True:
            line = await self.reader.readuntil(b"\r\n")
            if not line[:1] == expect:
                raise LmtpError(line[:200].decode("latin-1"))
            if line[3:4] != b"-":
                return line

    async def deliver(self, sender: str, recipient: str, raw: bytes) -> None:
        """One message to one recipient, MAIL/RCPT/DATA pipelined (PIPELINING)."""
        self.writer.write(b"MAIL FROM:<" + sender.encode() + b">\r\nRCPT TO:<"
                          + recipient.encode() + b">\r\nDATA\r\n")
        async with asyncio.timeout(self.timeout):  # one for the transaction, no task per line
            await self._reply(b"2")
            await self._reply(b"2")
            await self._reply(b"3")
            self.writer.write(dot_stuff(raw))
            await self._reply(b"2")

    async def quit(self) -> None:
        try:
            self.writer.write(b"QUIT\r\n")
            await self.reply(b"2")
        finally:
            self.writer.close()
