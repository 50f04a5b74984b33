"""Notification fan-out at fleet scale: N devices with one subscriber each, one
event raised on every device at once (POST /api/events); the time from the
raise to each subscriber's receipt, and that none is lost. Beside it, in the
same run with the same client, a bare Tornado server broadcasting one
message to N WebSocket clients on an HTTP POST.

    python -m bench notify [--devices 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import websockets

from bench.netconf import HELLO, NC, start
from bench.table import print_table

NCE = "urn:ietf:params:xml:ns:netconf:notification:1.0"
EMEV = "urn:netconf-emulator:yang:events"
SUBSCRIBE = (f'<rpc message-id="s" xmlns="{NC}"><create-subscription xmlns="{NCE}">'
             f'<filter type="subtree"><link-down xmlns="{EMEV}"/></filter>'
             "</create-subscription></rpc>")

BROADCAST_SERVER = """
import asyncio, tornado.web, tornado.websocket, tornado.netutil, tornado.httpserver
clients = set()
class Socket(tornado.websocket.WebSocketHandler):
    def select_subprotocol(self, subprotocols):
        return "netconf"
    def open(self, *args):
        clients.add(self)
        self.hello = True
        self.write_message("<hello/>")
    def on_message(self, message):   # every message but the hello is answered
        if self.hello:
            self.hello = False
            return
        self.write_message("<rpc-reply><ok/></rpc-reply>")
    def on_close(self):
        clients.discard(self)
class Fire(tornado.web.RequestHandler):
    def post(self):
        for client in list(clients):
            client.write_message("<notification>event</notification>")
        self.finish("{}")
async def main():
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    app = tornado.web.Application([(r"/netconf/(.*)", Socket), (r"/api/events", Fire)])
    tornado.httpserver.HTTPServer(app).add_sockets(sockets)
    print("ready: port", sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


def fleet_file(directory: Path, devices: int, profile: str = "switch", prefix: str = "sw") -> Path:
    """``devices`` devices of one profile, named PREFIX-00001, PREFIX-00002, ..."""
    path = directory / "fleet.yaml"
    path.write_text(f"devices:\n  - name: {prefix}-{{n:05d}}\n    count: {devices}\n"
                    f"    profile: {profile}\n")
    return path


async def fan_out(port: int, names: list[str], body: dict) -> list[float]:
    """Subscribe one session per device, raise, and time every receipt."""
    connections = []
    for name in names:
        ws = await websockets.connect(f"ws://127.0.0.1:{port}/netconf/{name}",
                                      subprotocols=["netconf"], max_size=None, open_timeout=30)
        await ws.recv()
        await ws.send(HELLO)
        await ws.send(SUBSCRIBE)
        reply = await ws.recv()
        assert "rpc-error" not in reply, reply
        connections.append(ws)
    received: list[float] = []

    async def wait(ws) -> None:
        while True:
            message = await asyncio.wait_for(ws.recv(), timeout=30)
            if "notification" in message and "replayComplete" not in message:
                received.append(time.perf_counter())
                return

    waiters = [asyncio.create_task(wait(ws)) for ws in connections]
    await asyncio.sleep(0.2)
    loop = asyncio.get_running_loop()
    raised = time.perf_counter()
    await loop.run_in_executor(None, post, port, body)
    await asyncio.gather(*waiters, return_exceptions=True)
    for ws in connections:
        await ws.close()
    return sorted(t - raised for t in received)


def post(port: int, body: dict) -> None:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/events",
                                     data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()


def percentile(values: list[float], share: float) -> float:
    return values[min(len(values) - 1, int(len(values) * share))] if values else float("nan")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench notify")
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    names = [f"sw-{n:05d}" for n in range(1, args.devices + 1)]
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        fleet = fleet_file(directory, args.devices)
        bare, bare_port = start([sys.executable, "-c", BROADCAST_SERVER])
        ours, port = start([sys.executable, "-m", "emulator", "serve", "--port", "0", "--fresh",
                            "--fleet", str(fleet), "--data-dir", str(directory / "data")])
        baselines, ours_runs = [], []
        try:
            # in turns, so that the shared machine's load falls on both alike; each
            # round a link of its own goes down (a link already down sends nothing)
            for round_ in range(args.rounds):
                baselines.append(asyncio.run(fan_out(bare_port, names, {})))
                ours_runs.append(asyncio.run(fan_out(port, names, {
                    "event": "link-down", "interface": f"ge-0/0/{round_ % 8 + 1}"})))
        finally:
            for process in (bare, ours):
                process.terminate()
                process.wait(30)

    def figures(runs: list[list[float]]) -> list[float]:
        """p50, p99 and max, each the median over the rounds."""
        return [statistics.median(statistics.median(r) if r else float("nan") for r in runs),
                statistics.median(percentile(r, 0.99) for r in runs),
                statistics.median(max(r) if r else float("nan") for r in runs)]

    baseline, latencies = figures(baselines), figures(ours_runs)
    rows = []
    for label, runs, values in (("bare Tornado broadcast", baselines, baseline),
                                ("netconf-emulator", ours_runs, latencies)):
        received = min(len(r) for r in runs)
        rows.append([label, f"{received}/{args.devices}", *(f"{v * 1000:.0f}" for v in values)])
    rows.append(["ratio", "", *(f"{o / b:.1f}x" for o, b in zip(latencies, baseline))])
    rows.append(["aim", "all", "", "< 150", "< 1000"])
    print_table(f"notify: one event on each of {args.devices:,} devices, one subscriber each; "
                f"raise to receipt (median of {args.rounds} rounds, in turns)",
                ["", "received", "p50 ms", "p99 ms", "max ms"], rows)
