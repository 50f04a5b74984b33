"""What the test fixture costs a test suite, each figure beside a baseline
measured in the same run:

- the default fleet started in the test process (``NetconfFleet.start``, as
  the pytest plugin's session fixture does), in a new process so the YANG
  profiles are compiled from scratch; beside a bare Tornado server started
  on a thread the same way;
- the reset before each test (``NetconfFleet.reset()``, every device, one of
  them with an open session, a changed running datastore and an event
  raised, as a test leaves it); beside the least a fixture can do on the
  fleet's loop (a call that does nothing);
- small ``<get-config>`` round trips through ``emulator.client`` (ncclient's
  Manager), one session, beside the raw ``websockets`` client sending the
  same request to the same server (a separate process); rounds alternate and
  each side's best round counts. A third client, the raw one kept busy
  before each request for as long as ncclient's own work takes (building
  the request and parsing the reply, measured without I/O), shows what any
  client built on ncclient's Manager can reach: the transport's own cost is
  the gap between that and ``emulator.client``.

    python -m bench fixture [--runs 5] [--resets 200] [--seconds 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time

from websockets.sync.client import connect as ws_connect

from bench.netconf import GET_CONFIG, HELLO, SYS, start
from bench.table import print_table

# Run in a new process: the start of a fleet (cold, then warm) and of a bare
# Tornado server on a thread, after the imports (timed apart).
START = """
import json, sys, tempfile, time
began = time.perf_counter()
import asyncio, threading
import tornado.httpserver, tornado.netutil, tornado.web
from emulator.testing import NetconfFleet
imported = time.perf_counter() - began

def bare():
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    def run():
        asyncio.set_event_loop(loop)
        async def serve():
            sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
            tornado.httpserver.HTTPServer(tornado.web.Application([])).add_sockets(sockets)
        loop.run_until_complete(serve())
        ready.set()
        loop.run_forever()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(30)
    return loop, thread

began = time.perf_counter()
loop, thread = bare()
bare_start = time.perf_counter() - began
loop.call_soon_threadsafe(loop.stop)
thread.join(30)

times = []
for _ in range(2):
    with tempfile.TemporaryDirectory() as data:
        began = time.perf_counter()
        fleet = NetconfFleet.start(data_dir=data)
        times.append(time.perf_counter() - began)
        fleet.stop()
print(json.dumps({"import": imported, "cold": times[0], "warm": times[1], "bare": bare_start}))
"""

EDIT = ('<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
        f'<system xmlns="{SYS}"><hostname>changed</hostname></system></config>')
FILTER = ("subtree", f'<system xmlns="{SYS}"><hostname/></system>')


def starts(runs: int) -> list[dict[str, float]]:
    results = []
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-c", START], capture_output=True, text=True,
                              timeout=120)
        if done.returncode != 0:
            raise RuntimeError(done.stderr)
        results.append(json.loads(done.stdout.splitlines()[-1]))
    return results


def resets(samples: int) -> tuple[list[float], list[float]]:
    """(reset of a used fleet, a call that does nothing), in seconds."""
    from emulator.testing import NetconfFleet

    with tempfile.TemporaryDirectory() as data, NetconfFleet.start(data_dir=data) as fleet:
        used, nothing = [], []
        for _ in range(samples):
            manager = fleet.client("core-1")
            manager.edit_config(target="running", config=EDIT)
            fleet.inject("core-1", "link-down", interface="eth0")
            began = time.perf_counter()
            fleet.reset()
            used.append(time.perf_counter() - began)
            fleet.close_clients()
            began = time.perf_counter()
            fleet.call(lambda: None)
            nothing.append(time.perf_counter() - began)
    return used, nothing


def ncclient_rate(url: str, seconds: float) -> float:
    from emulator.client import connect

    with connect(url, timeout=10) as manager:
        for _ in range(50):                      # warm up
            manager.get_config("running", filter=FILTER)
        count, began = 0, time.perf_counter()
        while time.perf_counter() - began < seconds:
            manager.get_config("running", filter=FILTER)
            count += 1
        return count / (time.perf_counter() - began)


def ncclient_work(url: str, samples: int = 2000) -> float:
    """Seconds of ncclient's own work per <get-config>, no I/O: building the
    request (the Manager in async mode, nothing sent) and parsing a reply."""
    from ncclient.operations.retrieve import GetReply

    from emulator.client import connect

    with connect(url, timeout=10) as manager:
        raw = manager.get_config("running", filter=FILTER).xml
        session = manager._session
        real_send, session.send = session.send, lambda message: None
        manager.async_mode = True
        try:
            began = time.perf_counter()
            for _ in range(samples):
                manager.get_config("running", filter=FILTER)
            build = (time.perf_counter() - began) / samples
        finally:
            manager.async_mode = False
            session.send = real_send
        began = time.perf_counter()
        for _ in range(samples):
            reply = GetReply(raw)
            reply.parse()
        parse = (time.perf_counter() - began) / samples
    return build + parse


def spin(seconds: float) -> None:
    """Keep the CPU busy in Python for ``seconds`` (stands in for a client's own work)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def websockets_rate(url: str, seconds: float, work: float = 0.0) -> float:
    with ws_connect(url, subprotocols=["netconf"], open_timeout=10, max_size=None) as ws:
        ws.recv(timeout=10)
        ws.send(HELLO)
        for _ in range(50):
            ws.send(GET_CONFIG)
            ws.recv(timeout=10)
        count, began = 0, time.perf_counter()
        while time.perf_counter() - began < seconds:
            if work:
                spin(work)
            ws.send(GET_CONFIG)
            reply = ws.recv(timeout=10)
            assert "rpc-error" not in reply, reply
            count += 1
        return count / (time.perf_counter() - began)


def round_trips(seconds: float, rounds: int) -> tuple[float, float, float, float]:
    """(ours, raw, raw doing ncclient's work too, ncclient's work in seconds)."""
    with tempfile.TemporaryDirectory() as data:
        server, port = start([sys.executable, "-m", "emulator", "serve", "--port", "0",
                              "--fresh", "--data-dir", data])
        try:
            url = f"ws://127.0.0.1:{port}/netconf/core-1"
            work = ncclient_work(url)
            ours, raw, burdened = [], [], []
            for _ in range(rounds):
                ours.append(ncclient_rate(url, seconds))
                raw.append(websockets_rate(url, seconds))
                burdened.append(websockets_rate(url, seconds, work))
        finally:
            server.terminate()
            server.wait(30)
    return max(ours), max(raw), max(burdened), work


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench fixture")
    parser.add_argument("--runs", type=int, default=5, help="fleet starts (new processes)")
    parser.add_argument("--resets", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=2.0, help="each round trip round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    started = starts(args.runs)
    # The best of the runs: on a shared machine, other work only ever adds time.
    cold = min(s["cold"] for s in started)
    warm = min(s["warm"] for s in started)
    bare = min(s["bare"] for s in started)
    imported = min(s["import"] for s in started)
    used, nothing = resets(args.resets)
    ours, raw, burdened, work = round_trips(args.seconds, args.rounds)

    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.2f} ms" if seconds < 0.1 else f"{seconds:.2f} s"

    reset_median, call_median = statistics.median(used), statistics.median(nothing)
    reset_p95 = sorted(used)[max(int(len(used) * 0.95) - 1, 0)]
    rows = [
        [f"default fleet started, new process, best of {args.runs} (profiles compiled)",
         ms(cold), ms(bare),
         f"{cold / bare:.0f}", "< 1 s"],
        ["  again in the same process", ms(warm), ms(bare), f"{warm / bare:.1f}", ""],
        ["  (importing emulator.testing first)", ms(imported), "", "", ""],
        ["reset of the fleet between tests (median)", ms(reset_median), ms(call_median),
         f"{reset_median / call_median:.1f}", "< 10 ms"],
        ["  p95", ms(reset_p95), ms(sorted(nothing)[max(int(len(nothing) * 0.95) - 1, 0)]),
         "", ""],
        ["<get-config> round trips, emulator.client (ncclient)", f"{ours:,.0f}/s",
         f"{raw:,.0f}/s", f"{ours / raw:.2f}", ">= 0.5"],
        [f"  raw client doing ncclient's own work too ({work * 1e6:.0f} us/request)",
         f"{burdened:,.0f}/s", f"{raw:,.0f}/s", f"{burdened / raw:.2f}", ""],
        ["  emulator.client beside that", f"{ours:,.0f}/s", f"{burdened:,.0f}/s",
         f"{ours / burdened:.2f}", ""],
    ]
    print_table("fixture: what the test fixture costs (each beside its baseline, same run)",
                ["", "value", "baseline", "ratio", "aim"], rows)
    print("  baselines: a bare Tornado server started on a thread; a call onto the fleet's loop "
          "that does nothing;\n  the raw websockets client, same request, same server\n")
