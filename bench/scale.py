"""Speed at realistic sizes: what reads and edits cost on devices with 10, 1,000
and 10,000 interfaces, and a fleet poll, each beside a raw Tornado WebSocket
echo measured in the same run with the same client.

    python -m bench scale [--sizes 10,1000,10000] [--seconds 2] [--runs 15] [--devices 1000]

Rows, at each size (one session; interfaces of type ethernetCsmacd with an
IPv4 address, as ``bench.netconf`` makes them):

- one-entry filtered ``<get-config>``, every request different: a subtree
  filter naming one interface by its key, the next interface each time, and a
  namespace declaration of its own on the filter so that no two requests are
  the same text (nothing the server memoises can answer). Round trips per
  second; the echo's are those of the same messages.
- the same request repeated (the memoised answer).
- ``<get>`` of every interface with its state (``<interfaces/>`` filter); the
  echo sends back a message as long as the reply.
- ``<get>`` of one interface by name with its state (a subtree filter naming
  the middle interface); the echo: a message as long as the reply.
- one-leaf ``<edit-config>`` (an interface's MTU, on the candidate) + ``<commit>``;
  the echo does the same two round trips with the same messages.
- bulk load + ``<commit>``: every interface in one ``<edit-config>`` that replaces
  the interfaces of a device that had none (then, run after run, replaces them
  again with new values); the echo: the same two messages.

The fleet poll: N devices (the switch profile), one session each, one
``<get>`` of interface state sent on every session at once; the time until
the last reply. The echo: N sessions, one message each, at once.
Times are medians of ``--runs`` (fewer for the big <get>s and loads). The
ratio: for a rate, netconf-emulator's as a share of the echo's (the aim for
the headline row is >= 0.5); for a time, netconf-emulator's as a multiple of
the echo's. "its CPU": the emulator process's CPU time per request (per run,
for times), read from /proc/PID/schedstat: on a shared machine, less disturbed
by the load than the wall clock.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import websockets

from bench.netconf import ECHO_SERVER, HELLO, IF, IP, NC, SYS, start
from bench.table import print_table
from emulator.paths import BUILTIN_PROFILES

IANAIFT = "urn:ietf:params:xml:ns:yang:iana-if-type"


def entries(count: int, mtu: int = 1500) -> str:
    return "".join(
        f"<interface><name>eth{i}</name><type>ianaift:ethernetCsmacd</type>"
        f'<ipv4 xmlns="{IP}"><mtu>{mtu}</mtu><address><ip>10.{i // 250}.{i % 250}.1</ip>'
        "<prefix-length>24</prefix-length></address></ipv4></interface>" for i in range(count))


def profile(directory: Path, name: str, interfaces: int) -> Path:
    """The router profile with ``interfaces`` Ethernet interfaces (and no seed state)."""
    folder = directory / name
    folder.mkdir()
    router = BUILTIN_PROFILES / "router"
    (folder / "profile.yaml").write_text((router / "profile.yaml").read_text()
                                         .replace("state: state.xml\n", ""))
    (folder / "config.xml").write_text(
        f'<data xmlns="{NC}"><system xmlns="{SYS}"><hostname>${{hostname}}</hostname></system>'
        f'<interfaces xmlns="{IF}" xmlns:ianaift="{IANAIFT}">{entries(interfaces)}</interfaces>'
        "</data>")
    return folder


def fleet(directory: Path, sizes: list[int], devices: int) -> Path:
    empty = profile(directory, "empty", 0)
    lines = ["profiles:", f"  empty: {empty}"]
    for size in sizes:
        lines.append(f"  big-{size}: {profile(directory, f'big-{size}', size)}")
    lines.append("devices:")
    for size in sizes:
        lines += [f"  - name: big-{size}", f"    profile: big-{size}",
                  f"  - name: load-{size}", "    profile: empty"]
    lines += ["  - name: sw-{n:05d}", f"    count: {devices}", "    profile: switch"]
    path = directory / "fleet.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


async def connect(url: str) -> websockets.ClientConnection:
    ws = await websockets.connect(url, subprotocols=["netconf"], max_size=None,
                                  open_timeout=30, close_timeout=10)
    await asyncio.wait_for(ws.recv(), 30)   # the server's hello
    await ws.send(HELLO)
    return ws


async def ask(ws, text: str) -> str:
    await ws.send(text)
    reply = await asyncio.wait_for(ws.recv(), 60)
    assert "rpc-error" not in reply, reply[:2000]
    return reply


def filtered(n: int, size: int, distinct: bool = True) -> str:
    """One interface by its key; ``distinct``: a text of its own (a namespace
    declaration nobody uses), so that nothing memoised can answer it."""
    own = f' xmlns:u{n}="urn:unused"' if distinct else ""
    return (f'<rpc message-id="{n}" xmlns="{NC}"><get-config><source><running/></source>'
            f'<filter type="subtree"{own}><interfaces xmlns="{IF}"><interface>'
            f"<name>eth{n % size if distinct else size // 2}</name></interface></interfaces>"
            "</filter></get-config></rpc>")


GET_INTERFACES = (f'<rpc message-id="g" xmlns="{NC}"><get><filter type="subtree">'
                  f'<interfaces xmlns="{IF}"/></filter></get></rpc>')


def get_one(size: int) -> str:
    return (f'<rpc message-id="o" xmlns="{NC}"><get><filter type="subtree">'
            f'<interfaces xmlns="{IF}"><interface><name>eth{size // 2}</name></interface>'
            "</interfaces></filter></get></rpc>")


def edit(size: int, n: int) -> str:
    return (f'<rpc message-id="e{n}" xmlns="{NC}"><edit-config><target><candidate/></target>'
            f'<config><interfaces xmlns="{IF}"><interface><name>eth{size // 2}</name>'
            f'<ipv4 xmlns="{IP}"><mtu>{1500 + n % 2}</mtu></ipv4></interface></interfaces>'
            "</config></edit-config></rpc>")


def load(size: int, n: int) -> str:
    return (f'<rpc message-id="l{n}" xmlns="{NC}" xmlns:nc="{NC}"><edit-config><target><candidate/>'
            f'</target><config><interfaces xmlns="{IF}" xmlns:ianaift="{IANAIFT}" '
            f'nc:operation="replace">{entries(size, 1400 + n)}</interfaces></config>'
            "</edit-config></rpc>")


COMMIT = f'<rpc message-id="c" xmlns="{NC}"><commit/></rpc>'


def cpu_seconds(pid: int) -> float:
    """CPU time a process's threads have used so far (the scheduler's count, in
    nanoseconds: /proc/PID/stat counts in 10 ms ticks); the event loop's, and
    the worker thread's where big edits are made."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue   # (a thread that ended meanwhile)
    return total / 1e9


class Cpu:
    """The emulator's CPU time spent on what is measured, by contender: a figure
    the shared machine's load disturbs less than the clock on the wall."""

    def __init__(self, pid: int):
        self.pid = pid
        self.spent: dict[int, float] = {}

    def __call__(self, key: int):
        cpu = self

        class Span:
            def __enter__(self):
                self.start = cpu_seconds(cpu.pid)

            def __exit__(self, *exc):
                cpu.spent[key] = cpu.spent.get(key, 0.0) + cpu_seconds(cpu.pid) - self.start
        return Span()


async def rates(contenders: list, seconds: float, cpu: Cpu, slices: int = 10) -> list[float]:
    """Round trips per second of each (session, request(n)) in ``contenders``,
    measured in turns of seconds/slices each, so that a change in the machine's
    load (it is shared) falls on all of them alike."""
    counts = [0] * len(contenders)
    spent = [0.0] * len(contenders)
    for _ in range(slices):
        for i, (ws, request) in enumerate(contenders):
            started = time.perf_counter()
            deadline = started + seconds / slices
            with cpu(i):
                while time.perf_counter() < deadline:
                    await ask(ws, request(counts[i]))
                    counts[i] += 1
            spent[i] += time.perf_counter() - started
    for i, count in enumerate(counts):
        cpu.spent[i] = cpu.spent.get(i, 0.0) / max(count, 1)
    return [count / elapsed for count, elapsed in zip(counts, spent)]


async def median_ms(pairs: list, runs: int, cpu: Cpu) -> list[float]:
    """Median time (ms) of each (session, messages(n)) in ``pairs``: the messages
    sent one after the other, each awaited; run by run in turns (see rates).
    ``cpu`` gets the emulator's CPU time per run of the first pair."""
    samples: list[list[float]] = [[] for _ in pairs]
    cpu.spent.clear()
    for n in range(runs):
        for i, (ws, messages) in enumerate(pairs):
            batch = messages(n)
            started = time.perf_counter()
            with cpu(i):
                for text in batch:
                    await ask(ws, text)
            samples[i].append(time.perf_counter() - started)
    cpu.spent[0] = cpu.spent.get(0, 0.0) / runs
    return [statistics.median(s) * 1000 for s in samples]


async def sizes_rows(port: int, echo_port: int, size: int, args, pid: int) -> list[list[str]]:
    ours = await connect(f"ws://127.0.0.1:{port}/netconf/big-{size}")
    loader = await connect(f"ws://127.0.0.1:{port}/netconf/load-{size}")
    echo = await connect(f"ws://127.0.0.1:{echo_port}/netconf/x")
    cpu = Cpu(pid)

    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.1f} ms"

    try:
        await ask(ours, filtered(0, size))   # the device's first use, outside the figures
        rows = []
        ours_rate, echo_rate, memo_rate = await rates(
            [(ours, lambda n: filtered(n, size)), (echo, lambda n: filtered(n, size)),
             (ours, lambda n: filtered(n, size, distinct=False))], args.seconds, cpu)
        rows.append(["one-entry filtered <get-config>, each request different", f"{size:,}",
                     f"{ours_rate:,.0f}/s", f"{echo_rate:,.0f}/s", f"{ours_rate / echo_rate:.2f}",
                     f"{cpu.spent[0] * 1e6:.0f} us"])
        rows.append(["  the same request repeated (memoised)", f"{size:,}",
                     f"{memo_rate:,.0f}/s", f"{echo_rate:,.0f}/s", f"{memo_rate / echo_rate:.2f}",
                     f"{cpu.spent[2] * 1e6:.0f} us"])
        reply = await ask(ours, GET_INTERFACES)
        assert reply.count("<oper-status>") == size, "every interface with its state"
        get_runs = max(3, args.runs // (1 + size // 2000))
        ours_ms, echo_ms = await median_ms([(ours, lambda n: [GET_INTERFACES]),
                                            (echo, lambda n: [reply])], get_runs, cpu)
        rows.append(["<get> of every interface with state", f"{size:,}", f"{ours_ms:.1f} ms",
                     f"{echo_ms:.1f} ms", f"{ours_ms / echo_ms:.1f}x", ms(cpu.spent[0])])
        one = await ask(ours, get_one(size))
        assert one.count("<oper-status>") == 1, "one interface with its state"
        ours_ms, echo_ms = await median_ms([(ours, lambda n: [get_one(size)]),
                                            (echo, lambda n: [one])], args.runs, cpu)
        rows.append(["<get> of one interface by name, with state", f"{size:,}",
                     f"{ours_ms:.2f} ms", f"{echo_ms:.2f} ms", f"{ours_ms / echo_ms:.1f}x",
                     ms(cpu.spent[0])])
        pair = lambda n: [edit(size, n), COMMIT]   # noqa: E731
        ours_ms, echo_ms = await median_ms([(ours, pair), (echo, pair)], args.runs, cpu)
        rows.append(["one-leaf <edit-config> + <commit>", f"{size:,}", f"{ours_ms:.1f} ms",
                     f"{echo_ms:.2f} ms", f"{ours_ms / echo_ms:.1f}x", ms(cpu.spent[0])])
        load_runs = max(3, args.runs // (1 + size // 2000))
        pair = lambda n: [load(size, n), COMMIT]   # noqa: E731
        ours_ms, echo_ms = await median_ms([(loader, pair), (echo, pair)], load_runs, cpu)
        rows.append(["bulk load + <commit>", f"{size:,}", f"{ours_ms:.1f} ms",
                     f"{echo_ms:.1f} ms", f"{ours_ms / echo_ms:.1f}x", ms(cpu.spent[0])])
        return rows
    finally:
        for ws in (ours, loader, echo):
            await ws.close()


async def poll(port: int, names: list[str], message: str, runs: int,
               cpu: Cpu | None = None) -> list[float]:
    """One message on every session at once, ``runs`` times; seconds until the
    last reply, each time (the first includes each device's first use);
    ``cpu`` gets the server's CPU time of each, by run."""
    sessions = []
    for start_at in range(0, len(names), 100):
        sessions += await asyncio.gather(*(connect(f"ws://127.0.0.1:{port}/netconf/{name}")
                                           for name in names[start_at:start_at + 100]))
    try:
        times = []
        for run in range(runs):
            started = time.perf_counter()
            if cpu is not None:
                with cpu(run):
                    replies = await asyncio.gather(*(ask(ws, message) for ws in sessions))
            else:
                replies = await asyncio.gather(*(ask(ws, message) for ws in sessions))
            times.append(time.perf_counter() - started)
            assert all("</rpc-reply>" in r or message in r for r in replies)
        return times
    finally:
        await asyncio.gather(*(ws.close() for ws in sessions))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench scale")
    parser.add_argument("--sizes", default="10,1000,10000")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--devices", type=int, default=1000)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    names = [f"sw-{n:05d}" for n in range(1, args.devices + 1)]

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        path = fleet(directory, sizes, args.devices)
        echo, echo_port = start([sys.executable, "-c", ECHO_SERVER])
        ours, port = start([sys.executable, "-m", "emulator", "serve", "--port", "0", "--fresh",
                            "--fleet", str(path), "--data-dir", str(directory / "data")])
        try:
            rows = []
            for size in sizes:
                rows += asyncio.run(sizes_rows(port, echo_port, size, args, ours.pid))
            cpu = Cpu(ours.pid)
            echo_polls = asyncio.run(poll(echo_port, names, GET_INTERFACES, 3))
            ours_polls = asyncio.run(poll(port, names, GET_INTERFACES, 3, cpu))
            label = f"fleet poll: <get> of interface state on {args.devices:,} devices at once"
            for what, ours_s, echo_s, cpu_s in (
                    (f"{label}, first (each device's first use)", ours_polls[0], echo_polls[0],
                     cpu.spent[0]),
                    ("  then (median of the next two)", statistics.median(ours_polls[1:]),
                     statistics.median(echo_polls[1:]), (cpu.spent[1] + cpu.spent[2]) / 2)):
                rows.append([what, "9 each", f"{ours_s * 1000:.0f} ms", f"{echo_s * 1000:.0f} ms",
                             f"{ours_s / echo_s:.1f}x", f"{cpu_s * 1000:.0f} ms"])
        finally:
            for process in (echo, ours):
                process.terminate()
                process.wait(30)
    print_table("scale: reads and edits by the size of the device, beside a raw Tornado "
                "WebSocket echo (same client, same run)",
                ["", "entries", "netconf-emulator", "echo", "ratio", "its CPU"], rows)
