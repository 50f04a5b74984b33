"""NETCONF round trips beside a raw Tornado WebSocket echo, with the same client
in the same run: small <get-config>s per second with 1 and with 10 sessions,
and a one-leaf <edit-config> plus <commit> on a device with 1,000 interfaces.

    python -m bench netconf [--seconds 3] [--interfaces 1000] [--commits 50]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import websockets

from bench.table import print_table
from emulator.paths import BUILTIN_PROFILES

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
SYS = "urn:ietf:params:xml:ns:yang:ietf-system"
IF = "urn:ietf:params:xml:ns:yang:ietf-interfaces"
IP = "urn:ietf:params:xml:ns:yang:ietf-ip"
HELLO = (f'<hello xmlns="{NC}"><capabilities><capability>urn:ietf:params:netconf:base:1.1'
         "</capability></capabilities></hello>")
GET_CONFIG = (f'<rpc message-id="1" xmlns="{NC}"><get-config><source><running/></source>'
              f'<filter type="subtree"><system xmlns="{SYS}"><hostname/></system></filter>'
              "</get-config></rpc>")

ECHO_SERVER = """
import asyncio, tornado.web, tornado.websocket, tornado.netutil, tornado.httpserver
class Echo(tornado.websocket.WebSocketHandler):
    # Like a NETCONF server, it answers every message but the client's hello
    # (an echoed hello would leave a reply in hand and pipeline the loop).
    def select_subprotocol(self, subprotocols):
        return "netconf"
    def open(self, *args):
        self.hello = True
        self.write_message("<hello/>")
    def on_message(self, message):
        if self.hello:
            self.hello = False
            return
        self.write_message(message)
async def main():
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    tornado.httpserver.HTTPServer(tornado.web.Application([(r"/netconf/(.*)", Echo)])).add_sockets(sockets)
    print("ready: port", sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


def start(command: list[str]) -> tuple[subprocess.Popen, int]:
    errors = tempfile.TemporaryFile(mode="w+")    # (a pipe nobody reads could fill up)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True)
    for line in process.stdout:
        if "ready" in line:
            return process, int(line.split()[-1])
    process.wait(10)
    errors.seek(0)
    raise RuntimeError(f"{command[:4]} did not start (exit {process.returncode}): "
                       f"{errors.read()[-2000:]}")


async def session(url: str) -> websockets.ClientConnection:
    ws = await websockets.connect(url, subprotocols=["netconf"], max_size=None)
    await ws.recv()   # the server's hello
    await ws.send(HELLO)
    return ws


def distinct_get_config(n: int) -> str:
    """A small <get-config> unlike any before it (so nothing can be reused)."""
    return (f'<rpc message-id="{n}" xmlns="{NC}"><get-config><source><running/></source>'
            f'<filter type="subtree"><interfaces xmlns="{IF}"><interface><name>x{n}</name>'
            "</interface></interfaces></filter></get-config></rpc>")


async def rate(url: str, sessions: int, seconds: float, distinct: bool = False) -> float:
    """Request/response round trips per second over ``sessions`` connections."""
    connections = [await session(url) for _ in range(sessions)]
    count = 0
    deadline = time.perf_counter() + seconds

    async def loop(ws) -> None:
        nonlocal count
        while time.perf_counter() < deadline:
            await ws.send(distinct_get_config(count) if distinct else GET_CONFIG)
            reply = await ws.recv()
            assert "rpc-error" not in reply, reply
            count += 1

    started = time.perf_counter()
    await asyncio.gather(*(loop(ws) for ws in connections))
    elapsed = time.perf_counter() - started
    for ws in connections:
        await ws.close()
    return count / elapsed


def big_profile(directory: Path, interfaces: int) -> Path:
    """The router profile with ``interfaces`` Ethernet interfaces."""
    folder = directory / "big-router"
    folder.mkdir()
    router = BUILTIN_PROFILES / "router"
    (folder / "profile.yaml").write_text((router / "profile.yaml").read_text()
                                         .replace("state: state.xml\n", ""))
    entries = "".join(
        f"<interface><name>eth{i}</name><type>ianaift:ethernetCsmacd</type>"
        f'<ipv4 xmlns="{IP}"><mtu>1500</mtu><address><ip>10.{i // 250}.{i % 250}.1</ip>'
        "<prefix-length>24</prefix-length></address></ipv4></interface>" for i in range(interfaces))
    (folder / "config.xml").write_text(
        f'<data xmlns="{NC}"><system xmlns="{SYS}"><hostname>${{hostname}}</hostname></system>'
        f'<interfaces xmlns="{IF}" xmlns:ianaift="urn:ietf:params:xml:ns:yang:iana-if-type">'
        f"{entries}</interfaces></data>")
    fleet = directory / "big-fleet.yaml"
    fleet.write_text(f"profiles:\n  big: {folder}\ndevices:\n  - name: big-1\n    profile: big\n")
    return fleet


async def edit_commit(url: str, interfaces: int, commits: int) -> float:
    ws = await session(url)
    samples = []
    for n in range(commits):
        mtu = 1500 + n % 2
        edit = (f'<rpc message-id="e{n}" xmlns="{NC}"><edit-config><target><candidate/></target>'
                f'<config><interfaces xmlns="{IF}"><interface><name>eth{interfaces // 2}</name>'
                f'<ipv4 xmlns="{IP}"><mtu>{mtu}</mtu></ipv4></interface></interfaces></config>'
                "</edit-config></rpc>")
        started = time.perf_counter()
        await ws.send(edit)
        reply = await ws.recv()
        await ws.send(f'<rpc message-id="c{n}" xmlns="{NC}"><commit/></rpc>')
        committed = await ws.recv()
        samples.append(time.perf_counter() - started)
        assert "<ok/>" in reply and "<ok/>" in committed, (reply, committed)
    await ws.close()
    return statistics.median(samples) * 1000


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench netconf")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--interfaces", type=int, default=1000)
    parser.add_argument("--commits", type=int, default=50)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        fleet = big_profile(directory, args.interfaces)
        echo, echo_port = start([sys.executable, "-c", ECHO_SERVER])
        ours, port = start([sys.executable, "-m", "emulator", "serve", "--port", "0", "--fresh",
                            "--data-dir", str(directory / "data")])
        big, big_port = start([sys.executable, "-m", "emulator", "serve", "--port", "0", "--fresh",
                               "--fleet", str(fleet), "--data-dir", str(directory / "big-data")])
        try:
            results = {}
            for sessions in (1, 10):
                results[("echo", sessions)] = asyncio.run(
                    rate(f"ws://127.0.0.1:{echo_port}/netconf/x", sessions, args.seconds))
                results[("ours", sessions)] = asyncio.run(
                    rate(f"ws://127.0.0.1:{port}/netconf/core-1", sessions, args.seconds))
                results[("distinct", sessions)] = asyncio.run(
                    rate(f"ws://127.0.0.1:{port}/netconf/core-1", sessions, args.seconds, True))
            commit_ms = asyncio.run(edit_commit(f"ws://127.0.0.1:{big_port}/netconf/big-1",
                                                args.interfaces, args.commits))
        finally:
            for process in (echo, ours, big):
                process.terminate()
                process.wait(30)
    rows = []
    for sessions in (1, 10):
        echo_rate, our_rate = results[("echo", sessions)], results[("ours", sessions)]
        plural = "s" if sessions > 1 else ""
        rows.append([f"small <get-config>, {sessions} session{plural}",
                     f"{our_rate:,.0f}/s", f"{echo_rate:,.0f}/s", f"{our_rate / echo_rate:.2f}",
                     ">= 0.5 of echo"])
        distinct = results[("distinct", sessions)]
        rows.append([f"  each request different, {sessions} session{plural}",
                     f"{distinct:,.0f}/s", f"{echo_rate:,.0f}/s", f"{distinct / echo_rate:.2f}", ""])
    rows.append([f"<edit-config> one leaf + <commit>, {args.interfaces:,} interfaces",
                 f"{commit_ms:.1f} ms", "", "", "< 20 ms"])
    print_table("netconf: round trips beside a raw Tornado WebSocket echo (same client, same run)",
                ["", "netconf-emulator", "echo", "ratio", "aim"], rows)
