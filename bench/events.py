"""What raising one event of the catalogue costs, in process: N devices with a
subscribed session each (on a wire that keeps nothing), every event of the
catalogue raised (and undone) round the fleet, on a virtual clock. Beside it,
in the same run, the floor every event pays: publishing one ready-made
notification to the same subscribers (the event log and the fan-out).

    python -m bench.events [--devices 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from typing import Any

from emulator import events as builders
from emulator.clock import VirtualClock
from emulator.fleet import load_fleet
from emulator.netconf.termination import Termination
from emulator.runtime import Runtime
from emulator.scenarios.catalogue import raise_event
from emulator.sessions import Connection
from emulator.transports.websocket import TRANSPORT

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
NCE = "urn:ietf:params:xml:ns:netconf:notification:1.0"
HELLO = (f'<hello xmlns="{NC}"><capabilities><capability>urn:ietf:params:netconf:base:1.1'
         "</capability></capabilities></hello>")
SUBSCRIBE = f'<rpc message-id="s" xmlns="{NC}"><create-subscription xmlns="{NCE}"/></rpc>'

# (event, parameters, duration): what each round raises on every device
EVENTS: list[tuple[str, dict, Any]] = [
    ("link-down", {"interface": "eth1"}, 1),
    ("hardware-failure", {"component": "fan-1"}, 1),
    ("alarm-raise", {}, 1),
    ("config-drift", {}, 1),
    ("rpc-fault", {"error-tag": "in-use"}, 1),
    ("device-hang", {}, 1),
]


class NullWire:
    """A client that reads everything at once."""

    def __init__(self) -> None:
        self.messages = 0

    def write(self, text: str) -> None:
        self.messages += 1

    def close(self, termination: Termination) -> None:
        pass

    def abort(self) -> None:
        pass


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.events")
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    clock = VirtualClock()
    runtime = Runtime(clock=clock)
    fleet_text = (f"devices:\n  - name: r-{{n:05d}}\n    count: {args.devices}\n"
                  "    profile: router\n")
    import tempfile
    from pathlib import Path
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "fleet.yaml"
        path.write_text(fleet_text)
        fleet = load_fleet(path, runtime)
    devices = list(fleet)
    wires = []
    for device in devices:
        wire = NullWire()
        connection = Connection(runtime, device, wire, username="bench",
                                source_host="127.0.0.1", transport=TRANSPORT)
        connection.open()
        connection.receive(HELLO)
        connection.receive(SUBSCRIBE)
        wires.append(wire)
    rng = random.Random(0)
    figures: dict[str, list[float]] = {"(floor) publish a ready-made link-down": []}
    for name, _, _ in EVENTS:
        figures[name] = []
    for _ in range(args.rounds):
        started = time.perf_counter()
        for device in devices:
            device.publish(builders.link("link-down", "eth1", 2, True, False))
        figures["(floor) publish a ready-made link-down"].append(
            (time.perf_counter() - started) / len(devices))
        for name, params, duration in EVENTS:
            started = time.perf_counter()
            for device in devices:
                raise_event(device, name, params, duration=duration, rng=rng)
            figures[name].append((time.perf_counter() - started) / len(devices))
            clock.advance(duration)          # (undone: ready for the next round)
    floor = statistics.median(figures["(floor) publish a ready-made link-down"])
    print(f"{args.devices} routers, a subscriber each, {args.rounds} rounds "
          "(median microseconds a raise, and its ratio to the floor):")
    for name, values in figures.items():
        median = statistics.median(values)
        print(f"  {name:40} {median * 1e6:8.1f} us   x{median / floor:5.1f}")
    print(f"  notifications delivered: {sum(w.messages for w in wires)}")


if __name__ == "__main__":
    main()
