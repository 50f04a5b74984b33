"""NETCONF over SSH beside a plain asyncssh echo of the same framing, with the
same client (asyncssh) in the same run: connect + hello, small <get-config>
round trips per second with 1 and 10 sessions; and a 10,000-device fleet with
SSH ports from process start to ``ready``, beside the same fleet without SSH.

    python -m bench ssh [--connects 50] [--seconds 3] [--devices 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncssh

from bench.startup import fleet_file
from bench.table import print_table
from emulator.transports.framing import Framer, Framing, frame

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
SYS = "urn:ietf:params:xml:ns:yang:ietf-system"
HELLO = (f'<hello xmlns="{NC}"><capabilities><capability>urn:ietf:params:netconf:base:1.1'
         "</capability></capabilities></hello>").encode()
GET_CONFIG = (f'<rpc message-id="1" xmlns="{NC}"><get-config><source><running/></source>'
              f'<filter type="subtree"><system xmlns="{SYS}"><hostname/></system></filter>'
              "</get-config></rpc>").encode()
USER = PASSWORD = "netconf"

# The ceiling: asyncssh serving the netconf subsystem with the same framing
# code, an ed25519 host key and password login, answering every message but
# the client's hello with itself.
ECHO_SERVER = """
import asyncio, socket, asyncssh
from emulator.transports.framing import Framer, Framing, frame

class Echo(asyncssh.SSHServerSession):
    def connection_made(self, chan):
        self.chan = chan
        self.framer = Framer(1 << 26)
    def subsystem_requested(self, subsystem):
        return subsystem == "netconf"
    def session_started(self):
        self.chan.write(frame(b"<hello/>", Framing.END_OF_MESSAGE))
    def data_received(self, data, datatype):
        self.framer.feed(data)
        while (message := self.framer.next_message()) is not None:
            if self.framer.framing is Framing.END_OF_MESSAGE:
                self.framer.use_chunks()     # the client's hello: base:1.1 from here
                continue
            self.chan.write(frame(message, Framing.CHUNKED))

class Server(asyncssh.SSHServer):
    def begin_auth(self, username):
        return True
    def password_auth_supported(self):
        return True
    def validate_password(self, username, password):
        return username == password == "netconf"
    def session_requested(self):
        return self.conn.create_server_channel(encoding=None), Echo()
    def connection_made(self, conn):
        self.conn = conn

async def main():
    key = asyncssh.generate_private_key("ssh-ed25519")
    server = await asyncssh.create_server(Server, "127.0.0.1", 0, server_host_keys=[key],
                                          encoding=None)
    print("ready: port", server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


class Client(asyncssh.SSHClientSession):
    """A NETCONF client's channel: framed messages in, one awaited at a time."""

    def __init__(self) -> None:
        self.framer = Framer(1 << 30)
        self.messages: asyncio.Queue[bytes] = asyncio.Queue()

    def data_received(self, data: bytes, datatype: object) -> None:
        self.framer.feed(data)
        while (message := self.framer.next_message()) is not None:
            self.messages.put_nowait(message)


async def open_session(port: int) -> tuple[asyncssh.SSHClientConnection, object, Client]:
    """Connect, open the netconf subsystem, read the server's hello, send ours."""
    conn = await asyncssh.connect("127.0.0.1", port, username=USER, password=PASSWORD,
                                  known_hosts=None, client_keys=None, agent_path=None,
                                  config=None, preferred_auth="password")
    chan, client = await conn.create_session(Client, subsystem="netconf", encoding=None)
    hello = await client.messages.get()
    assert b"<hello" in hello, hello
    chan.write(frame(HELLO, Framing.END_OF_MESSAGE))
    client.framer.use_chunks()
    return conn, chan, client


async def connect_ms(ports: list[int], connects: int) -> list[float]:
    """Median milliseconds from connect() to our hello sent (the server's read),
    for each port; the ports take turns, so a busy moment of a shared machine
    falls on both."""
    samples: list[list[float]] = [[] for _ in ports]
    for _ in range(connects):
        for port, kept in zip(ports, samples):
            started = time.perf_counter()
            conn, chan, client = await open_session(port)
            kept.append(time.perf_counter() - started)
            conn.close()
            await conn.wait_closed()
    return [statistics.median(kept) * 1000 for kept in samples]


async def rate(port: int, sessions: int, seconds: float) -> float:
    opened = [await open_session(port) for _ in range(sessions)]
    count = 0
    deadline = time.perf_counter() + seconds
    request = frame(GET_CONFIG, Framing.CHUNKED)

    async def loop(chan, client: Client) -> None:
        nonlocal count
        while time.perf_counter() < deadline:
            chan.write(request)
            reply = await client.messages.get()
            assert b"rpc-error" not in reply, reply
            count += 1

    started = time.perf_counter()
    await asyncio.gather(*(loop(chan, client) for _, chan, client in opened))
    elapsed = time.perf_counter() - started
    for conn, _, _ in opened:
        conn.close()
    return count / elapsed


def start(command: list[str]) -> tuple[subprocess.Popen, list[str]]:
    """Start a server; its stdout lines up to 'ready'."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True)
    lines = []
    for line in process.stdout:
        lines.append(line)
        if "ready" in line:
            return process, lines
    raise RuntimeError(f"{command[:4]} did not start")


def ssh_port_of(lines: list[str], device: str) -> int:
    for line in lines:
        if line.startswith("endpoint ssh://") and f" device={device} " in line:
            return int(line.split()[1].rsplit(":", 1)[1])
    raise RuntimeError(f"no ssh endpoint for {device}")


def free_run(count: int, first: int = 20000) -> int:
    """A base port with ``count`` free ports from it, below the kernel's
    ephemeral range where other programs' outgoing connections live (checked
    now: another program could still take one before the server starts)."""
    for base in range(first, 65536 - count, 1000):
        sockets = []
        try:
            for port in range(base, base + count):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError(f"no run of {count} free ports")


def time_to_ready(command: list[str], probe: str | None) -> float:
    """Seconds from spawn to 'ready'; with ``probe``, that device's SSH port
    answers with a hello at once."""
    started = time.perf_counter()
    process, lines = start(command)
    try:
        elapsed = time.perf_counter() - started
        if probe:
            async def check() -> None:
                conn, _, _ = await open_session(ssh_port_of(lines, probe))
                conn.close()
            asyncio.run(check())
        return elapsed
    finally:
        process.terminate()
        process.wait(30)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench ssh")
    parser.add_argument("--connects", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--devices", type=int, default=10_000)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        echo, echo_lines = start([sys.executable, "-c", ECHO_SERVER])
        echo_port = int(echo_lines[-1].split()[-1])
        ours, our_lines = start([sys.executable, "-m", "emulator", "serve", "--port", "0",
                                 "--ssh-port", "0", "--fresh",
                                 "--data-dir", str(directory / "data")])
        port = ssh_port_of(our_lines, "core-1")
        try:
            results = dict(zip(("connect echo", "connect ours"),
                               asyncio.run(connect_ms([echo_port, port], args.connects))))
            for sessions in (1, 10):
                # in turns too: three rounds each, the rates of the rounds averaged
                rounds = {"echo": [], "ours": []}
                for _ in range(3):
                    rounds["echo"].append(asyncio.run(rate(echo_port, sessions, args.seconds / 3)))
                    rounds["ours"].append(asyncio.run(rate(port, sessions, args.seconds / 3)))
                for name, rates in rounds.items():
                    results[f"{name} {sessions}"] = statistics.mean(rates)
        finally:
            for process in (echo, ours):
                process.terminate()
                process.wait(30)

        fleet = fleet_file(directory, args.devices)
        serve = [sys.executable, "-m", "emulator", "serve", "--fleet", str(fleet), "--port", "0",
                 "--data-dir", str(directory / "fleet-data"), "--fresh"]
        last = f"access-{args.devices - args.devices // 2:05d}"
        without_ssh = time_to_ready(serve, None)
        base = free_run(args.devices)
        with_ssh = time_to_ready([*serve, "--ssh-port", str(base)], last)
        any_ports = time_to_ready([*serve, "--ssh-port", "0"], last)

    connect_echo, connect_ours = results["connect echo"], results["connect ours"]
    rows = [["connect + hello (median)", f"{connect_ours:.1f} ms", f"{connect_echo:.1f} ms",
             f"{connect_ours / connect_echo:.2f}x", "< 30 ms"]]
    for sessions in (1, 10):
        echo_rate, our_rate = results[f"echo {sessions}"], results[f"ours {sessions}"]
        plural = "s" if sessions > 1 else ""
        rows.append([f"small <get-config>, {sessions} session{plural}", f"{our_rate:,.0f}/s",
                     f"{echo_rate:,.0f}/s", f"{our_rate / echo_rate:.2f}", ">= 0.5 of echo"])
    rows.append([f"{args.devices:,} devices, --ssh-port {base}, start to ready", f"{with_ssh:.2f} s",
                 f"{without_ssh:.2f} s (no SSH)", f"{with_ssh / without_ssh:.2f}x", "< 10 s"])
    rows.append(["  the same with --ssh-port 0 (the kernel picks each port)", f"{any_ports:.2f} s",
                 f"{without_ssh:.2f} s (no SSH)", f"{any_ports / without_ssh:.2f}x", ""])
    print_table("ssh: NETCONF over SSH beside a plain asyncssh echo of the same framing "
                "(asyncssh client for both, same run)",
                ["", "netconf-emulator", "baseline", "ratio", "aim"], rows)
