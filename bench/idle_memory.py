"""What idle IMAP connections cost the server: RSS (and CPU) of a real ``mailhost serve``
process with N authenticated connections sitting in IDLE on INBOX, against the same process
with none.

    PYTHONPATH=. .venv/bin/python bench/idle_memory.py --connections 1000 --accounts 1

The server runs as its own process (so its RSS is its own), plaintext on 127.0.0.1 (loopback
may log in without TLS). Accounts and mail are written straight into the data directory
first, and each account logs in once before the baseline is taken. Numbers are printed,
never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.servers import cpu_seconds
from mailhost.auth.passwords import hash_password
from mailhost.store.sqlite.pool import IDLE_SECONDS
from mailhost.store.sqlite.store import SqliteStore

PASSWORD = "bench password"
BATCH = 20  # connections opened at a time, as in the benchmark's idle workload


def raise_fd_limit(wanted: int) -> int:
    """Lift the soft open-files limit towards ``wanted`` (the server inherits it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(hard, max(soft, wanted)) if hard != resource.RLIM_INFINITY else max(soft, wanted)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def proc_status(pid: int) -> dict[str, str]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def rss_kib(pid: int) -> int:
    return int(proc_status(pid)["VmRSS"].split()[0])


def pss_kib(pid: int) -> int:
    """Proportional set size (what the benchmark's idle workload compares with Dovecot)."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


async def populate(data_dir: Path, accounts: int, messages: int) -> list[str]:
    store = await SqliteStore.open(data_dir)
    hashed = hash_password(PASSWORD)
    addresses = [f"user{n}@bench.test" for n in range(accounts)]
    try:
        for address in addresses:
            await store.directory.add_user(address, hashed)
            async with store.account(address) as mail:
                for number in range(messages):
                    body = f"Subject: message {number}\r\n\r\n" + "x" * 2000 + "\r\n"
                    await mail.append("INBOX", body.encode())
    finally:
        await store.close()
    return addresses


async def idle_connection(port: int, address: str) -> tuple[asyncio.StreamReader,
                                                            asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await reader.readline()
    for tag, command in ((b"a", b'LOGIN "%s" "%s"' % (address.encode(), PASSWORD.encode())),
                         (b"b", b"SELECT INBOX")):
        writer.write(tag + b" " + command + b"\r\n")
        while not (line := await reader.readline()).startswith(tag + b" "):
            if not line:
                raise ConnectionError("server closed the connection")
        if not line.startswith(tag + b" OK"):
            raise RuntimeError(line.decode())
    writer.write(b"c IDLE\r\n")
    if not (await reader.readline()).startswith(b"+"):
        raise RuntimeError("IDLE refused")
    return reader, writer


async def log_in_once(port: int, address: str) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await reader.readline()
    writer.write(b'a LOGIN "%s" "%s"\r\nb LOGOUT\r\n' % (address.encode(), PASSWORD.encode()))
    while (await reader.readline()).split(b" ")[:1] != [b"b"]:
        pass
    writer.close()


async def measure(port: int, pid: int, addresses: list[str], connections: int) -> None:
    # Every account logs in once before the baseline: the first login of an account runs
    # Argon2 (19 MiB a hash, memory malloc keeps for reuse) and loads lazy imports; that is
    # the cost of a login, not of keeping a connection.
    for first in range(0, len(addresses), BATCH):
        await asyncio.gather(*(log_in_once(port, address)
                               for address in addresses[first:first + BATCH]))
    await asyncio.sleep(2)
    before, pss_before = rss_kib(pid), pss_kib(pid)
    threads_before = proc_status(pid)["Threads"]
    opened: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    start = time.monotonic()
    for first in range(0, connections, BATCH):
        batch = [idle_connection(port, addresses[n % len(addresses)])
                 for n in range(first, min(first + BATCH, connections))]
        opened.extend(await asyncio.gather(*batch))
    took = time.monotonic() - start
    # Let the watchers settle and the store close the quiet account databases.
    await asyncio.sleep(IDLE_SECONDS + 5)
    after, pss_after = rss_kib(pid), pss_kib(pid)
    cpu_start, wall_start = cpu_seconds([pid]), time.monotonic()
    await asyncio.sleep(20)
    cpu = (cpu_seconds([pid]) - cpu_start) / (time.monotonic() - wall_start)
    print(f"accounts: {len(addresses)}, connections in IDLE: {len(opened)} "
          f"(opened, logged in and selected in {took:.1f}s)")
    print(f"server RSS: {before / 1024:.1f} MiB with none, {after / 1024:.1f} MiB with "
          f"{len(opened)}: {(after - before) / len(opened):.1f} KiB per idle connection")
    print(f"server PSS: {pss_before / 1024:.1f} MiB with none, {pss_after / 1024:.1f} MiB "
          f"with {len(opened)}: {(pss_after - pss_before) / len(opened):.1f} KiB per idle "
          "connection")
    print(f"server threads: {threads_before} with none, {proc_status(pid)['Threads']} with "
          f"{len(opened)}")
    print(f"server CPU while they idle: {cpu * 100:.1f}% of one core")
    for _reader, writer in opened:
        writer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--accounts", type=int, default=1)
    parser.add_argument("--messages", type=int, default=100, help="messages in each INBOX")
    parser.add_argument("--event-loop", choices=("uvloop", "asyncio"), default="uvloop",
                        help="the server's [server] event_loop")
    args = parser.parse_args()
    limit = raise_fd_limit(2 * args.connections + 200)
    if limit < args.connections + 100:
        sys.exit(f"open-files limit {limit} is too low for {args.connections} connections")
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        print(f"writing {args.accounts} accounts with {args.messages} messages each...")
        addresses = asyncio.run(populate(data_dir, args.accounts, args.messages))
        port = free_port()
        config = Path(tmp) / "mailhost.toml"
        config.write_text(
            f'[storage]\ndata_dir = "{data_dir}"\n'
            f"[server]\nmax_connections = {args.connections + 100}\n"
            f"max_connections_per_ip = {args.connections + 100}\nlog_level = \"warning\"\n"
            f'event_loop = "{args.event_loop}"\n'
            f'[[listener]]\nprotocol = "imap"\naddress = "127.0.0.1"\nport = {port}\n'
            'tls = "none"\n'
        )
        server = subprocess.Popen([sys.executable, "-m", "mailhost", "serve", "-c", str(config)],
                                  stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            asyncio.run(measure(port, server.pid, addresses, args.connections))
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
