"""What one client's big work costs everyone else: a bystander's small requests
while another client loads a device with N interfaces, commits, and reads it
all back.

    python -m bench fairness [--interfaces 10000,12000] [--serve-args "..."] [--baseline 2]

The emulator runs in a process of its own; the bystander (a small
``<get-config>`` on another device, one after another) in another, so that
neither the attacker's work nor its reading of replies of tens of megabytes
shares an interpreter with it. Rows: each step the attacker takes, how long
it took, and the bystander's answers while it lasted (count, median, worst);
the first row is the bystander alone, before anything else (the baseline).
The README's promise: the worst stays under 250 ms at the default limits.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.netconf import IF, NC, start
from bench.scale import IANAIFT, connect, entries
from bench.table import print_table

BYSTANDER = """
import sys, time, websockets.sync.client as c
port, out = int(sys.argv[1]), open(sys.argv[2], "w", buffering=1)
hello = ('<hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><capabilities><capability>'
         'urn:ietf:params:netconf:base:1.0</capability></capabilities></hello>')
ask = ('<rpc message-id="b" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><get-config>'
       '<source><running/></source><filter><system xmlns="urn:ietf:params:xml:ns:yang:'
       'ietf-system"><hostname/></system></filter></get-config></rpc>')
with c.connect(f"ws://127.0.0.1:{port}/netconf/edge-01", subprotocols=["netconf"],
               open_timeout=30, max_size=None) as ws:
    ws.recv(30)
    ws.send(hello)
    print("ready", flush=True)
    while True:
        sent = time.time()
        ws.send(ask)
        ws.recv(60)
        out.write(f"{sent} {time.time() - sent}\\n")
"""


def steps(count: int) -> list[tuple[str, str]]:
    load = (f'<rpc message-id="l" xmlns="{NC}"><edit-config><target><candidate/></target>'
            f'<config><interfaces xmlns="{IF}" xmlns:ianaift="{IANAIFT}">{entries(count)}'
            "</interfaces></config></edit-config></rpc>")
    again = load.replace("<interfaces ", f'<interfaces xmlns:nc="{NC}" nc:operation="replace" ')\
        .replace("<mtu>1500</mtu>", "<mtu>1400</mtu>")
    commit = f'<rpc message-id="c" xmlns="{NC}"><commit/></rpc>'
    return [
        ("load every interface (one <edit-config>)", load),
        ("<commit>", commit),
        ("<get> of everything", f'<rpc message-id="g" xmlns="{NC}"><get/></rpc>'),
        ("<get> of the interfaces", f'<rpc message-id="i" xmlns="{NC}"><get><filter>'
                                    f'<interfaces xmlns="{IF}"/></filter></get></rpc>'),
        ("<get-config> of running", f'<rpc message-id="r" xmlns="{NC}"><get-config><source>'
                                    "<running/></source></get-config></rpc>"),
        ("replace them all (one <edit-config>)", again),
        ("<commit>", commit),
    ]


async def attack(port: int, count: int) -> list[tuple[str, float, float]]:
    """Each step: (what, began, ended), wall clock (as the bystander's lines)."""
    ws = await connect(f"ws://127.0.0.1:{port}/netconf/core-1")
    done = []
    try:
        for label, text in steps(count):
            began = time.time()
            await ws.send(text)
            reply = await asyncio.wait_for(ws.recv(), 600)
            assert "<rpc-error>" not in reply, reply[:1000]
            done.append((label, began, time.time()))
    finally:
        await ws.close()
    return done


def run(count: int, serve_args: list[str], baseline: float) -> list[list[str]]:
    with tempfile.TemporaryDirectory() as directory:
        server, port = start([sys.executable, "-m", "emulator", "serve", "--port", "0",
                              "--quiet", "--data-dir", directory, *serve_args])
        log = Path(directory) / "bystander.txt"
        bystander = subprocess.Popen([sys.executable, "-c", BYSTANDER, str(port), str(log)],
                                     stdout=subprocess.PIPE, text=True)
        try:
            assert bystander.stdout.readline().startswith("ready")
            time.sleep(baseline)    # (the bystander alone: real time, it measures the wire)
            baseline_end = time.time()
            done = asyncio.run(attack(port, count))
            time.sleep(0.2)         # (its last answers)
        finally:
            bystander.kill()
            server.terminate()
            server.wait(30)
        rounds = [tuple(map(float, line.split())) for line in log.read_text().splitlines()
                  if len(line.split()) == 2]

    def row(label: str, began: float, ended: float) -> list[str]:
        seen = [latency for sent, latency in rounds if sent < ended and sent + latency > began]
        if not seen:
            return [label, f"{count:,}", f"{ended - began:.2f} s", "0", "", ""]
        return [label, f"{count:,}", f"{ended - began:.2f} s", f"{len(seen):,}",
                f"{statistics.median(seen) * 1000:.1f} ms", f"{max(seen) * 1000:.0f} ms"]

    first = rounds[0][0] if rounds else baseline_end
    rows = [row("the bystander alone (baseline)", first, baseline_end)]
    rows += [row(label, began, ended) for label, began, ended in done]
    return rows


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench fairness")
    parser.add_argument("--interfaces", default="10000,12000")
    parser.add_argument("--serve-args", default="", help="more options for the server")
    parser.add_argument("--baseline", type=float, default=2.0,
                        help="seconds of the bystander alone first (default 2)")
    args = parser.parse_args(argv)
    rows = []
    for count in (int(n) for n in args.interfaces.split(",")):
        rows += run(count, shlex.split(args.serve_args), args.baseline)
    print_table("fairness: a bystander's small <get-config>s (another device, another "
                "process) while one client loads, commits and reads a device of N interfaces",
                ["", "interfaces", "took", "answers", "median", "worst"], rows)
