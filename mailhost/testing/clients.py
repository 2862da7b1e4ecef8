"""Run Debian's real mail clients against a test server (for mailhost's and plugins' tests).

Each helper writes the client's config into a work directory, runs it once with a bounded
timeout against 127.0.0.1, and returns what it delivered, so a test can assert on it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
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
