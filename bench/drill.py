"""How late drill events fire under load, and how fast a drill plays on the
virtual clock.

Real clock: a server of N devices (default 1,000) with a subscriber on every
device plays a drill that raises R events a second (default 200) for S
seconds (default 60): half take the link of the next device down, half
bring one back up 2 s later, so every event changes state and notifies. Reported:
how late the events fired (the engine's own measure, clock time against
drill time), events raised, and notifications received against those sent.
Beside it, in the same run, a bare Tornado process keeping the same
schedule (a timer every 1/R s sending one message to the next of N
WebSocket clients): the lateness of a loop doing nothing else.

Virtual clock: a one-hour drill with 10,000 events (and as many undos) on
1,000 devices, played as fast as the machine can; its wall time.

    python -m bench drill [--devices 1000] [--rate 200] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import websockets

from bench.netconf import HELLO, NC, start
from bench.notify import fleet_file, percentile
from bench.table import print_table
from emulator.clock import VirtualClock
from emulator.fleet import load_fleet
from emulator.runtime import Runtime
from emulator.scenarios import model
from emulator.server import Emulator
from emulator.settings import Options

NCE = "urn:ietf:params:xml:ns:netconf:notification:1.0"
EMEV = "urn:netconf-emulator:yang:events"
SUBSCRIBE = (f'<rpc message-id="s" xmlns="{NC}"><create-subscription xmlns="{NCE}">'
             f'<filter type="subtree"><link-down xmlns="{EMEV}"/><link-up xmlns="{EMEV}"/>'
             "</filter></create-subscription></rpc>")

LOAD_DRILL = """
name: bench-load
seed: 1
steps:
  - name: down
    at: 1s
    every: {every}
    count: {count}
    target: {{one-by-one: true, interfaces: ge-0/0/1}}
    event: link-down
  - name: up
    at: {up}
    every: {every}
    count: {count}
    target: {{one-by-one: true, interfaces: ge-0/0/1}}
    event: link-up
"""

HOUR_DRILL = """
name: bench-hour
seed: 1
steps:
  - name: load
    at: 0s
    every: {every}s
    count: {count}
    target: {{one-by-one: true, interfaces: ge-0/0/1}}
    event: link-down
    duration: 1s
"""

# The same schedule in a bare Tornado process: a timer every 1/rate s sends a
# message to the next client; it reports how late its timers fired.
SCHEDULE_SERVER = """
import asyncio, json, sys, time, tornado.web, tornado.websocket, tornado.netutil, tornado.httpserver
clients = []
late = []
class Socket(tornado.websocket.WebSocketHandler):
    def select_subprotocol(self, subprotocols):
        return "netconf"
    def open(self, *args):
        clients.append(self)
        self.write_message("<hello/>")
    def on_message(self, message):
        if "create-subscription" in message:
            self.write_message("<rpc-reply><ok/></rpc-reply>")
class Start(tornado.web.RequestHandler):
    def post(self):
        rate, count = float(self.get_argument("rate")), int(self.get_argument("count"))
        loop = asyncio.get_running_loop()
        begin = loop.time() + 1.0
        def fire(k, when):
            late.append(loop.time() - when)
            clients[k % len(clients)].write_message("<notification><link-down/></notification>")
        for k in range(count):
            when = begin + k / rate
            loop.call_at(when, fire, k, when)
        self.finish("{}")
class Late(tornado.web.RequestHandler):
    def get(self):
        self.finish(json.dumps(sorted(late)))
async def main():
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    app = tornado.web.Application([(r"/netconf/(.*)", Socket), (r"/start", Start), (r"/late", Late)])
    tornado.httpserver.HTTPServer(app).add_sockets(sockets)
    print("ready: port", sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


def api(port: int, path: str, body: dict | None = None) -> dict | list:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", method="GET" if body is None else "POST",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


async def subscribers(port: int, names: list[str]) -> list:
    async def one(name: str):
        ws = await websockets.connect(f"ws://127.0.0.1:{port}/netconf/{name}",
                                      subprotocols=["netconf"], max_size=None, open_timeout=60)
        await ws.recv()
        await ws.send(HELLO)
        await ws.send(SUBSCRIBE)
        reply = await ws.recv()
        assert "rpc-error" not in reply, reply
        return ws
    connections = []
    for start_at in range(0, len(names), 100):       # (not all 1,000 handshakes at once)
        connections += await asyncio.gather(*(one(n) for n in names[start_at:start_at + 100]))
    return connections


async def count_until_quiet(connections: list, quiet: float = 3.0) -> int:
    received = 0

    async def read(ws) -> None:
        nonlocal received
        while True:
            try:
                message = await asyncio.wait_for(ws.recv(), timeout=quiet)
            except (asyncio.TimeoutError, websockets.ConnectionClosed):
                return
            if message.startswith("<notification"):
                received += 1
    await asyncio.gather(*(read(ws) for ws in connections))
    return received


async def load_run(port: int, names: list[str], rate: float, seconds: float,
                   emulator: bool) -> dict:
    connections = await subscribers(port, names)
    count = int(rate * seconds)
    reader = asyncio.create_task(count_until_quiet(connections, quiet=seconds + 10))
    loop = asyncio.get_running_loop()
    if emulator:
        # half the events take a link down, half bring one up: each device's link
        # goes down, comes back 2 s later, and is not taken again before then
        every = 2 / rate
        drill = LOAD_DRILL.format(every=f"{every:.6f}s", count=count // 2,
                                  up=f"{1 + min(2.0, len(names) * every / 2):.6f}s")
        run = await loop.run_in_executor(None, api, port, "/api/scenarios/runs", {"source": drill})
        while True:
            await asyncio.sleep(1.0)
            status = await loop.run_in_executor(None, api, port, f"/api/scenarios/runs/{run['id']}")
            if status["state"] == "finished":
                break
        lateness = status["lateness_ms"]
        result = {"raised": status["events_raised"], "errors": status["errors"],
                  "p50": lateness["p50"], "p99": lateness["p99"], "max": lateness["max"],
                  "sent": status["events_raised"]}
    else:
        await loop.run_in_executor(
            None, lambda: urllib.request.urlopen(urllib.request.Request(
                f"http://127.0.0.1:{port}/start?rate={rate}&count={count}", method="POST",
                data=b""), timeout=60).read())
        await asyncio.sleep(seconds + 1.5)
        late = await loop.run_in_executor(None, api, port, "/late")
        result = {"raised": len(late), "errors": 0, "p50": percentile(late, 0.5) * 1000,
                  "p99": percentile(late, 0.99) * 1000, "max": max(late) * 1000,
                  "sent": len(late)}
    # (the reader stops when no notification has come for a while)
    for ws in connections:
        asyncio.get_running_loop().call_later(3.0, lambda w=ws: asyncio.ensure_future(w.close()))
    result["received"] = await reader
    return result


async def hour_on_virtual_clock(directory: Path, devices: int,
                                events: int) -> tuple[float, dict]:
    runtime = Runtime(clock=VirtualClock())
    fleet = load_fleet(fleet_file(directory, devices), runtime)
    emulator = Emulator(fleet, Options(port=0, data_dir=directory / "virtual-data", fresh=True))
    await emulator.start()
    try:
        scenario = model.parse(HOUR_DRILL.format(every=3600 / events, count=events),
                               "bench-hour")
        began = time.perf_counter()
        run = emulator.runs.start(scenario, grace=0.0)
        runtime.clock.start_autojump(0)
        await run.finished()
        wall = time.perf_counter() - began
        runtime.clock.stop_autojump()
        return wall, run.status()
    finally:
        await emulator.stop()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench drill")
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=200.0, help="events a second")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--virtual-events", type=int, default=10_000,
                        help="events of the one-hour drill on the virtual clock")
    args = parser.parse_args(argv)
    names = [f"sw-{n:05d}" for n in range(1, args.devices + 1)]
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        fleet = fleet_file(directory, args.devices)
        bare, bare_port = start([sys.executable, "-c", SCHEDULE_SERVER])
        ours, port = start([sys.executable, "-m", "emulator", "serve", "--port", "0", "--fresh",
                            "--quiet", "--fleet", str(fleet),
                            "--data-dir", str(directory / "data")])
        try:
            baseline = asyncio.run(load_run(bare_port, names, args.rate, args.seconds, False))
            result = asyncio.run(load_run(port, names, args.rate, args.seconds, True))
        finally:
            for process in (bare, ours):
                process.terminate()
                process.wait(30)
        wall, status = asyncio.run(hour_on_virtual_clock(directory, args.devices,
                                                         args.virtual_events))

    rows = []
    for label, r in (("bare Tornado, same schedule", baseline), ("netconf-emulator drill", result)):
        rows.append([label, f"{r['raised']:,}", f"{r['received']:,}/{r['sent']:,}",
                     f"{r['p50']:.1f}", f"{r['p99']:.1f}", f"{r['max']:.1f}"])
    rows.append(["aim", f"{int(args.rate * args.seconds):,}", "all", "", "< 50", ""])
    print_table(f"drill on the real clock: {args.rate:g} events/s for {args.seconds:g} s on "
                f"{args.devices:,} devices, a subscriber on each (each event "
                "notifies)", ["", "events", "notifications", "late p50 ms", "p99 ms", "max ms"],
                rows)
    print_table(f"drill on the virtual clock: one hour, {status['events_raised']:,} events and "
                f"as many undos on {args.devices:,} devices",
                ["", "drill time", "events", "wall s", "aim"],
                [["netconf-emulator", f"{status['drill_time']:.0f} s",
                  f"{status['events_raised']:,}", f"{wall:.2f}", "< 10 s"]])
