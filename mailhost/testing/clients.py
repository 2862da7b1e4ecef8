"""Run Debian's real mail clients against a test server (for mailhost's and plugins' tests).

Each helper writes the client's config into a work directory, runs it once with a bounded
timeout against 127.0.0.1, and returns what it delivered, so a test can assert on it.
:class:`ImapWire` is the byte-level counterpart for what no real client shows: the order of
untagged responses, and IDLE pushes read with deadlines.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

from mailhost.testing.server import MailhostTestServer


class ClientMissing(AssertionError):
    """A client the test needs is not installed (``.ci/run`` installs it with apt-get)."""


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise ClientMissing(f"{tool} is not installed; .ci/run installs it with apt-get")
    return path


def run(args: list[str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run a client with HOME set to ``cwd``, so it reads no personal configuration."""
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "HOME": str(cwd)}, check=False)


def fetchmail(
    server: MailhostTestServer, workdir: Path, user: str, password: str, keep: bool
) -> tuple[int, list[Path]]:
    """fetchmail once over STLS with certificate checks; (exit code, delivered files).

    Exit code 0 means mail was fetched, 1 that there was none; anything else fails.
    """
    need("fetchmail")
    outdir = workdir / "delivered"
    outdir.mkdir(parents=True, exist_ok=True)
    rc = workdir / "fetchmailrc"
    rc.write_text(
        f'poll 127.0.0.1 service {server.port("pop3", "starttls")} protocol pop3 uidl\n'
        f'  user "{user}" there with password "{password}" is "root" here\n'
        f'  {"keep" if keep else "nokeep"} sslproto tls1.2+ sslcertck\n'
        f'  sslcertfile "{server.ca.ca_file}" sslcommonname "localhost"\n'
        f"  mda \"sh -c 'cat > {outdir}/$(date +%s%N)'\"\n"
    )
    rc.chmod(0o600)
    result = run(["fetchmail", "-f", str(rc), "--idfile", str(workdir / "fetchids"),
                  "--nosyslog", "--nodetach", "-v"], workdir)
    if result.returncode not in (0, 1):
        raise AssertionError(f"fetchmail failed ({result.returncode}):\n"
                             f"{result.stdout}{result.stderr}")
    return result.returncode, sorted(outdir.iterdir())


_LITERAL_END = re.compile(rb"\{([0-9]+)\+?\}$")


class ImapWire:
    """An IMAP connection that speaks bytes, for multi-session and IDLE tests.

    Reads go through one buffer with explicit deadlines (``select``), so waiting for a push
    that does not come never leaves the socket unusable, unlike a timed-out ``makefile``.
    Lines come back without CRLF; a literal a line announces is joined into it.
    """

    def __init__(self, port: int, context: ssl.SSLContext | None = None,
                 timeout: float = 10.0) -> None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock = context.wrap_socket(sock, server_hostname="localhost") if context else sock
        self.timeout = timeout
        self.buffer = b""
        self.counter = 0
        self.greeting = self.line()

    def _fill(self, deadline: float) -> bool:
        """Read more bytes before ``deadline``; False on timeout. EOF raises."""
        pending = isinstance(self.sock, ssl.SSLSocket) and self.sock.pending()
        remaining = deadline - time.monotonic()
        if not pending and (remaining <= 0 or not select.select([self.sock], [], [], remaining)[0]):
            return False
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError(f"server closed the connection; unread: {self.buffer!r}")
        self.buffer += data
        return True

    def line(self, timeout: float | None = None) -> bytes | None:
        """The next response line (literals joined in), or None if none arrives in time."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        out = b""
        while True:
            while b"\r\n" not in self.buffer:
                if not self._fill(deadline):
                    return None
            text, _, self.buffer = self.buffer.partition(b"\r\n")
            out += text
            literal = _LITERAL_END.search(text)
            if literal is None:
                return out
            size = int(literal.group(1))
            while len(self.buffer) < size:
                if not self._fill(deadline):
                    return None
            out += b"\r\n" + self.buffer[:size]
            self.buffer = self.buffer[size:]

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def command(self, text: bytes) -> list[bytes]:
        """Send one tagged command; every line up to and including its tagged answer."""
        self.counter += 1
        tag = b"w%d" % self.counter
        self.send(tag + b" " + text + b"\r\n")
        lines: list[bytes] = []
        while True:
            line = self.line()
            if line is None:
                raise AssertionError(f"no answer to {text!r}; got {lines!r}")
            lines.append(line)
            if line.startswith(tag + b" "):
                return lines

    def ok(self, text: bytes) -> list[bytes]:
        """Run a command that must succeed; its untagged lines."""
        lines = self.command(text)
        assert lines[-1].split(b" ")[1] == b"OK", lines
        return lines[:-1]

    def append(self, mailbox: bytes, raw: bytes, flags: bytes = b"") -> list[bytes]:
        """APPEND with a non-synchronizing literal (LITERAL+); every line of the answer."""
        options = b"(" + flags + b") " if flags else b""
        return self.command(b"APPEND %s %s{%d+}\r\n%s" % (mailbox, options, len(raw), raw))

    def expunge(self, sequence: bytes) -> list[bytes]:
        """Mark ``sequence`` \\Deleted and EXPUNGE; the EXPUNGE's untagged lines."""
        self.ok(b"STORE " + sequence + b" +FLAGS.SILENT (\\Deleted)")
        return self.ok(b"EXPUNGE")

    def login(self, user: str, password: str) -> None:
        self.ok(b'LOGIN "%s" "%s"' % (user.encode(), password.encode()))

    def idle(self) -> None:
        """Start IDLE and wait for the continuation."""
        self.counter += 1
        self.idle_tag = b"w%d" % self.counter
        self.send(self.idle_tag + b" IDLE\r\n")
        first = self.line()
        assert first is not None and first.startswith(b"+"), first

    def done(self) -> list[bytes]:
        """End IDLE; the lines up to and including its tagged OK."""
        self.send(b"DONE\r\n")
        lines: list[bytes] = []
        while (line := self.line()) is not None:
            lines.append(line)
            if line.startswith(self.idle_tag + b" "):
                return lines
        raise AssertionError(f"IDLE did not end; got {lines!r}")

    def wait_for(self, pattern: bytes, timeout: float = 10.0) -> list[bytes]:
        """Lines until one matches the regex ``pattern`` (included); fails after ``timeout``."""
        deadline = time.monotonic() + timeout
        lines: list[bytes] = []
        while (line := self.line(max(0.0, deadline - time.monotonic()))) is not None:
            lines.append(line)
            if re.fullmatch(pattern, line):
                return lines
        raise AssertionError(f"nothing matched {pattern!r} in {timeout}s; got {lines!r}")

    def quiet_for(self, seconds: float) -> list[bytes]:
        """Whatever arrives within ``seconds`` (to show that nothing does)."""
        deadline = time.monotonic() + seconds
        lines: list[bytes] = []
        while (line := self.line(max(0.0, deadline - time.monotonic()))) is not None:
            lines.append(line)
        return lines

    def close(self) -> None:
        self.sock.close()


def _sync_client(command: list[str], workdir: Path, config_name: str, config: str) -> str:
    """Write a sync client's config once (mode 0600, next to its Maildir ``workdir/mail``),
    run ``command`` with the config's path after ``-c``; its output. Failure raises."""
    need(command[0])
    path = workdir / config_name
    if not path.exists():
        (workdir / "mail").mkdir(parents=True, exist_ok=True)
        path.write_text(config)
        path.chmod(0o600)
    result = run([command[0], "-c", str(path), *command[1:]], workdir)
    output = result.stdout + result.stderr
    if result.returncode != 0 or "ERROR" in output:
        raise AssertionError(f"{command[0]} failed ({result.returncode}):\n{output}")
    return output


def mbsync(server: MailhostTestServer, workdir: Path, user: str, password: str) -> str:
    """mbsync (isync) once, two-way: every folder, new mail, flags and deletions both ways,
    folders created and expunges done on both sides. Its Maildir is ``workdir/mail`` (INBOX
    in ``mail/INBOX``, other folders by their IMAP names). Returns its output.

    IMAPS to 127.0.0.1; the certificate is pinned with ``CertificateFile`` (isync trusts an
    exact match and checks host names only against DNS names, not the IP address).
    """
    return _sync_client(["mbsync", "-V", "-a"], workdir, "mbsyncrc", (
        f"IMAPAccount server\nHost 127.0.0.1\nPort {server.port('imap', 'implicit')}\n"
        f'User "{user}"\nPass "{password}"\nSSLType IMAPS\n'
        f"CertificateFile {server.ca.cert_file}\nTimeout 30\n\n"
        "IMAPStore remote\nAccount server\n\n"
        f"MaildirStore local\nPath {workdir}/mail/\nInbox {workdir}/mail/INBOX\n"
        "SubFolders Verbatim\n\n"
        "Channel sync\nFar :remote:\nNear :local:\nPatterns *\nCreate Both\n"
        "Remove Both\nExpunge Both\nSync All\nSyncState *\n"
    ))


def offlineimap(server: MailhostTestServer, workdir: Path, user: str, password: str) -> str:
    """offlineimap once (two-way) into the Maildir ``workdir/mail``; returns its output.

    IMAPS checked against the test CA. offlineimap matches the host name against the
    certificate's DNS names only, so it connects to ``localhost`` over IPv4 alone
    (``ipv6 = no``), which is 127.0.0.1.
    """
    return _sync_client(["offlineimap", "-o", "-u", "basic"], workdir, "offlineimaprc", (
        f"[general]\naccounts = test\nmetadata = {workdir}/metadata\n\n"
        "[Account test]\nlocalrepository = local\nremoterepository = remote\n\n"
        f"[Repository local]\ntype = Maildir\nlocalfolders = {workdir}/mail\n\n"
        "[Repository remote]\ntype = IMAP\nremotehost = localhost\nipv6 = no\n"
        f"remoteport = {server.port('imap', 'implicit')}\nremoteuser = {user}\n"
        f"remotepass = {password}\nssl = yes\nsslcacertfile = {server.ca.ca_file}\n"
    ))
