"""Validation of a 1,000-interface configuration: whole, and after a
one-leaf edit (which validates only what the edit can affect); beside
lxml serialising the same tree, measured in the same run.

    python -m bench validation [--interfaces 1000] [--runs 30]
"""

from __future__ import annotations

import argparse
import statistics
import time

from lxml import etree

from bench.table import print_table
from emulator.fleet import load_fleet
from emulator.schema.validate import validate, validate_change

IF = "urn:ietf:params:xml:ns:yang:ietf-interfaces"
IP = "urn:ietf:params:xml:ns:yang:ietf-ip"


def configuration(count: int) -> etree._Element:
    interfaces = "".join(
        f"<interface><name>eth{i}</name><description>port {i}</description>"
        f"<type>ianaift:ethernetCsmacd</type><enabled>true</enabled>"
        f'<ipv4 xmlns="{IP}"><mtu>1500</mtu><address><ip>10.{i // 250}.{i % 250}.1</ip>'
        f"<prefix-length>24</prefix-length></address></ipv4></interface>"
        for i in range(count))
    return etree.fromstring(
        f'<data xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><interfaces xmlns="{IF}" '
        f'xmlns:ianaift="urn:ietf:params:xml:ns:yang:iana-if-type">{interfaces}</interfaces></data>')


def timed(func, runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        func()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench validation")
    parser.add_argument("--interfaces", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args(argv)

    schema = load_fleet().profiles["router"].schema
    root = configuration(args.interfaces)
    assert validate(schema, root) == [], "the benchmark's configuration must be valid"
    target = root.find(f"{{{IF}}}interfaces/{{{IF}}}interface[{{{IF}}}name='eth{args.interfaces // 2}']"
                       f"/{{{IP}}}ipv4/{{{IP}}}mtu")

    def edit_and_validate() -> None:
        target.text = "9000" if target.text == "1500" else "1500"
        assert validate_change(schema, root, [target]) == []

    baseline = timed(lambda: etree.tostring(root), args.runs)
    full = timed(lambda: validate(schema, root), args.runs)
    edit = timed(edit_and_validate, args.runs * 10)
    print_table(
        f"validation: {args.interfaces:,} interfaces (router profile), median of {args.runs} runs",
        ["", "ms", "ratio to baseline", "aim"],
        [["baseline: lxml serialises the tree", f"{baseline:.2f}", "1.0x", ""],
         ["full validation", f"{full:.1f}", f"{full / baseline:.0f}x", "< 50 ms"],
         ["one-leaf edit, then validate_change", f"{edit:.3f}", f"{edit / baseline:.2f}x", "< 5 ms"]])
