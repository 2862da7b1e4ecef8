"""A minimal asyncio POP3 client: one command at a time, as mail clients download."""

from __future__ import annotations

import asyncio

from bench.net import StreamClient


class Pop3Error(Exception):
    """A -ERR reply or a malformed one."""


class Pop3Client(StreamClient):
    @classmethod
    async def connect(cls, port: int, timeout: float = 60.0) -> Pop3Client:
        client = await cls.open(port, timeout)
        await client._status()
        return client

    async def _status(self) -> bytes:
        async with asyncio.timeout(self.timeout):
            line = await self.reader.readuntil(b"\r\n")
        if not line.startswith(b"+OK"):
            raise Pop3Error(line[:200].decode("latin-1"))
        return line

    async def command(self, line: bytes) -> bytes:
        self.writer.write(line + b"\r\n")
        return await self._status()

    async def multiline(self, line: bytes) -> bytes:
        """A command with a multi-line answer; returns the body, dot-stuffing left as sent.

        POP3 here is lockstep, so the terminator is the last thing received. The CRLF that
        ended the status line is put in front so an empty body is found as well. One timeout
        for the whole reply (as in bench/imap.py: no task per read).
        """
        await self.command(line)
        async with asyncio.timeout(self.timeout):
            return await self._body()

    async def _body(self) -> bytes:
        buf = bytearray(b"\r\n")
        start = 0
        while True:
            end = buf.find(b"\r\n.\r\n", start)
            if end >= 0:
                if end + 5 != len(buf):
                    raise Pop3Error("data after the end of a multi-line reply")
                return bytes(buf[2:end + 2])
            start = max(len(buf) - 4, 0)
            chunk = await self.reader.read(1 << 18)
            if not chunk:
                raise Pop3Error("connection closed in a multi-line reply")
            buf += chunk

    async def login(self, user: str, password: str) -> None:
        await self.command(b"USER " + user.encode())
        await self.command(b"PASS " + password.encode())

    async def stat(self) -> tuple[int, int]:
        parts = (await self.command(b"STAT")).split()
        return int(parts[1]), int(parts[2])

    async def quit(self) -> None:
        try:
            await self.command(b"QUIT")
        finally:
            self.writer.close()
