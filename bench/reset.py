"""Resets, as a CI job uses them between tests: POST /api/devices/{d}/reset of
one device, and POST /api/reset of the whole fleet, on devices that each have
an open session, a changed running datastore (rows in SQLite) and events in
their replay log. Beside each, in the same run with the same client, an API
call that does no work: GET /api/health for one device's reset, and
GET /api/devices (every device listed) for the fleet's.

    python -m bench reset [--devices 1000] [--samples 100]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import websockets

from bench.netconf import HELLO, NC, SYS, start
from bench.notify import fleet_file
from bench.table import print_table


def edit(n: int) -> str:
    return (f'<rpc message-id="e{n}" xmlns="{NC}"><edit-config><target><running/></target>'
            f'<config><system xmlns="{SYS}"><hostname>changed-{n}</hostname></system></config>'
            "</edit-config></rpc>")


async def prepare(port: int, names: list[str]) -> list[websockets.ClientConnection]:
    """On every device: a session that has changed running, and stays open."""
    sessions = []
    for n, name in enumerate(names):
        ws = await websockets.connect(f"ws://127.0.0.1:{port}/netconf/{name}",
                                      subprotocols=["netconf"], max_size=None, open_timeout=30)
        await ws.recv()
        await ws.send(HELLO)
        await ws.send(edit(n))
        reply = await asyncio.wait_for(ws.recv(), 30)
        assert "<ok/>" in reply, reply[:300]
        sessions.append(ws)
    return sessions


async def close_all(sessions: list[websockets.ClientConnection]) -> None:
    for ws in sessions:   # (the server has closed them; this reads the close frames)
        await ws.close()


def call(port: int, method: str, path: str) -> float:
    """One API call; its round trip in seconds."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                     data=b"" if method == "POST" else None)
    began = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()
        assert response.status == 200
    return time.perf_counter() - began


async def measure(port: int, names: list[str],
                  samples: int) -> tuple[list[float], list[float], float, float]:
    # (the API calls block this client's loop: nothing else of the client's is timed)
    sessions = await prepare(port, names)
    one = [call(port, "POST", f"/api/devices/{name}/reset")
           for name in names[:samples]]                    # each a different device
    health = [call(port, "GET", "/api/health") for _ in range(samples)]
    await close_all(sessions)
    sessions = await prepare(port, names)
    fleet_reset = call(port, "POST", "/api/reset")
    listing = min(call(port, "GET", "/api/devices") for _ in range(3))
    await close_all(sessions)
    return one, health, fleet_reset, listing


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench reset")
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=100)
    args = parser.parse_args(argv)
    names = [f"r-{n:05d}" for n in range(1, args.devices + 1)]
    with tempfile.TemporaryDirectory() as tmp:
        fleet = fleet_file(Path(tmp), args.devices, "router", "r")
        server, port = start([sys.executable, "-m", "emulator", "serve", "--port", "0",
                              "--fleet", str(fleet), "--data-dir", f"{tmp}/data"])
        try:
            one, health, fleet_reset, listing = asyncio.run(measure(port, names, args.samples))
        finally:
            server.terminate()
            server.wait(30)

    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.2f} ms"

    rows = [
        ["reset one device (median)", ms(statistics.median(one)),
         ms(statistics.median(health)), f"{statistics.median(one) / statistics.median(health):.1f}",
         "< 5 ms"],
        ["reset one device (p95)", ms(sorted(one)[int(len(one) * 0.95) - 1]),
         ms(sorted(health)[int(len(health) * 0.95) - 1]), "", ""],
        [f"reset {args.devices} devices", ms(fleet_reset), ms(listing),
         f"{fleet_reset / listing:.1f}", "< 1 s" if args.devices == 1000 else ""],
    ]
    print_table(f"Resets over the API, each device with an open session and a changed running "
                f"datastore ({args.devices} routers)",
                ["what", "time", "baseline", "ratio", "aim"], rows)
    print("  baseline: GET /api/health for one device; GET /api/devices (all listed) for the fleet\n")
