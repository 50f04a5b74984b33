"""How long a 10,000-device fleet takes from process start to ``ready``, and
the process's resident memory then; beside a bare Tornado server started
the same way in the same run.

    python -m bench startup [--devices 10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from websockets.sync.client import connect

from bench.table import print_table

BARE_TORNADO = """
import asyncio, tornado.web, tornado.netutil, tornado.httpserver
async def main():
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server = tornado.httpserver.HTTPServer(tornado.web.Application([]))
    server.add_sockets(sockets)
    print("ready: port", sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


def fleet_file(directory: Path, devices: int) -> Path:
    half = devices // 2
    path = directory / "fleet.yaml"
    path.write_text(
        "devices:\n"
        f"  - name: edge-{{n:05d}}\n    count: {half}\n    profile: router\n"
        f"  - name: access-{{n:05d}}\n    count: {devices - half}\n    profile: switch\n")
    return path


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def time_to_ready(command: list[str], probe: str | None = None) -> tuple[float, float, int]:
    """Seconds from spawn to the 'ready' line, RSS then, and the devices it says
    are ready (0 for the bare server).

    With ``probe`` (a device name), also check that the device answers at once.
    """
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True)
    try:
        for line in process.stdout:
            if "ready" in line:
                elapsed = time.perf_counter() - started
                rss = rss_mib(process.pid)
                if probe:
                    port = line.split()[-1]
                    with connect(f"ws://127.0.0.1:{port}/netconf/{probe}",
                                 subprotocols=["netconf"], open_timeout=10) as ws:
                        assert "<session-id>" in ws.recv(10)
                count = line.split()[1]   # ready: N devices on port P
                return elapsed, rss, int(count) if count.isdigit() else 0
        raise RuntimeError(f"{command[:4]} exited without 'ready' ({process.wait()})")
    finally:
        process.terminate()
        process.wait(30)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench startup")
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        fleet = fleet_file(directory, args.devices)
        ours_cmd = [sys.executable, "-m", "emulator", "serve", "--fleet", str(fleet), "--port", "0",
                    "--data-dir", str(directory / "data"), "--fresh"]
        bare_cmd = [sys.executable, "-c", BARE_TORNADO]
        bare, ours = [], []
        for _ in range(args.runs):
            bare.append(time_to_ready(bare_cmd))
            ours.append(time_to_ready(ours_cmd, probe=f"access-{args.devices - args.devices // 2:05d}"))
    # (a fleet of more than 1,000 gets one summary line, not a line per endpoint)
    ready = ours[0][2]
    assert ready == args.devices, f"{ready} devices ready, not {args.devices}"

    def median(runs: list[tuple[float, float, int]], i: int) -> float:
        return statistics.median(r[i] for r in runs)

    print_table(
        f"startup: {args.devices:,} devices, process start to 'ready' (median of {args.runs})",
        ["", "ready (s)", "RSS (MiB)"],
        [["bare Tornado server", f"{median(bare, 0):.2f}", f"{median(bare, 1):.0f}"],
         ["netconf-emulator", f"{median(ours, 0):.2f}", f"{median(ours, 1):.0f}"],
         ["ratio", f"{median(ours, 0) / median(bare, 0):.1f}x",
          f"{median(ours, 1) / median(bare, 1):.1f}x"],
         ["aim", "< 10", "< 1024"]])
