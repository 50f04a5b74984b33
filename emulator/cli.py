"""``netconf-emulator ...``: the only place that reads argv."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import re
import signal
import sys
from collections import Counter
from pathlib import Path

from emulator import __version__
from emulator.device import DEFAULT_JOURNAL_SIZE
from emulator.fleet import load_fleet
from emulator.server import Emulator, Options, StartError
from emulator.yamlfile import FixtureError

PROG = "netconf-emulator"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not a usage dump
        self.exit(2, f"{PROG}: error: {message}\n")


_SIZE = re.compile(r"(\d+)\s*(|k|kb|kib|m|mb|mib|g|gb|gib)", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def size(text: str) -> int:
    """``65536``, ``64KiB``, ``64MiB``, ``1G``: a size in bytes."""
    match = _SIZE.fullmatch(text.strip())
    if not match or int(match.group(1)) == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size such as 1048576 or 64MiB")
    return int(match.group(1)) * _UNITS[match.group(2)[:1].lower()]


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (0 to disable)")
    return value


def port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0 to 65535)")
    return int(text)


def existing_file(text: str) -> Path:
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    return path


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Emulate fleets of NETCONF devices over WebSocket.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)

    serve = commands.add_parser("serve", help="serve a fleet until interrupted")
    serve.add_argument("--fleet", type=Path, help="fleet file (default: the embedded default fleet)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=port, default=8830, help="port (default 8830; 0 picks a free one)")
    serve.add_argument("--data-dir", type=Path, default=Path(".netconf-emulator"),
                       help="where the SQLite files live (default ./.netconf-emulator)")
    serve.add_argument("--fresh", action="store_true",
                       help="forget saved state and start from the fixtures")
    serve.add_argument("--max-message-size", type=size, default=64 * 1024**2, metavar="SIZE",
                       help="largest NETCONF message accepted (default 64MiB)")
    serve.add_argument("--ping-interval", type=seconds, default=30.0, metavar="SECONDS",
                       help="WebSocket ping interval, keeps idle sessions alive (default 30; 0 off)")
    serve.add_argument("--hello-timeout", type=seconds, default=60.0, metavar="SECONDS",
                       help="end sessions that send no <hello> in time (default 60; 0 off)")
    serve.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                       help="let browser pages from ORIGIN (e.g. https://nms.example) connect; "
                            "repeatable; '*' allows any")
    serve.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                       help="accept requests that name this server NAME (IP addresses and "
                            "localhost always are); repeatable")
    serve.add_argument("--username", default="netconf",
                       help="NETCONF username of sessions without a client certificate")
    serve.add_argument("--tls-cert", type=existing_file, metavar="PEM",
                       help="serve wss:// with this certificate")
    serve.add_argument("--tls-key", type=existing_file, metavar="PEM", help="its private key")
    serve.add_argument("--tls-client-ca", type=existing_file, metavar="PEM",
                       help="require client certificates signed by this CA; the username "
                            "comes from the certificate")
    serve.add_argument("--notification-queue", type=int, default=1000, metavar="N",
                       help="unread notifications a session may have before it is closed "
                            "(default 1000)")
    serve.add_argument("--replay-size", type=int, default=1000, metavar="N",
                       help="events kept per device for replay (default 1000)")
    serve.add_argument("--replay-age", type=seconds, default=24 * 3600.0, metavar="SECONDS",
                       help="and for at most this long (default a day)")
    serve.add_argument("--journal-size", type=int, default=DEFAULT_JOURNAL_SIZE, metavar="N",
                       help=f"messages kept per device for the journal API (default {DEFAULT_JOURNAL_SIZE})")
    serve.add_argument("--log-level", default="warning",
                       choices=["debug", "info", "warning", "error"])
    serve.set_defaults(func=cmd_serve)

    check = commands.add_parser("check", help="load a fleet file and report what it holds")
    check.add_argument("--fleet", type=Path, help="fleet file (default: the embedded default fleet)")
    check.set_defaults(func=cmd_check)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.error("choose a command: serve or check (see --help)")
    return args.func(args)


def _fail(message: object, code: int = 2) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return code


def cmd_check(args: argparse.Namespace) -> int:
    try:
        fleet = load_fleet(args.fleet)
    except FixtureError as exc:
        return _fail(exc)
    counts = Counter(d.profile.name for d in fleet)
    per_profile = ", ".join(f"{name}: {n}" for name, n in sorted(counts.items()))
    print(f"{fleet.source}: {len(fleet)} devices ({per_profile})")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for option in ("journal_size", "notification_queue", "replay_size"):
        if getattr(args, option) < 1:
            return _fail(f"--{option.replace('_', '-')} must be at least 1")
    try:
        fleet = load_fleet(args.fleet, journal_size=args.journal_size)
    except FixtureError as exc:
        return _fail(exc)
    options = Options(
        host=args.host, port=args.port, data_dir=args.data_dir, fresh=args.fresh,
        max_message_size=args.max_message_size, ping_interval=args.ping_interval,
        hello_timeout=args.hello_timeout, allow_origins=[o.rstrip("/") for o in args.allow_origin],
        allow_hosts=args.allow_host, notification_queue=args.notification_queue,
        replay_size=args.replay_size, replay_age=args.replay_age,
        username=args.username, tls_cert=args.tls_cert, tls_key=args.tls_key,
        tls_client_ca=args.tls_client_ca)
    return asyncio.run(_serve(Emulator(fleet, options)))


# (Python's defaults are 700, 10, 10: a young-generation pass every 700 allocations.)
GC_THRESHOLDS = (10_000, 50, 100)


async def _serve(emulator: Emulator) -> int:
    try:
        await emulator.start()
    except StartError as exc:
        return _fail(exc, 1)
    # What start-up made (compiled schemas, the fleet) lives as long as the
    # process: the garbage collector need not walk it again. And it runs less
    # often: a full pass over a fleet of 1,000 used devices took 100-250 ms, in
    # the middle of whatever the server was doing (delivering an event to every
    # device, say); most of what the server makes is freed by reference counts.
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    http = "https" if emulator.scheme == "wss" else "http"
    lines = [f"api {http}://{emulator.netloc}/api/"]
    lines += [f"endpoint {emulator.device_url(d)} device={d.name} profile={d.profile.name}"
              for d in emulator.fleet]
    lines.append(f"ready: {len(emulator.fleet)} devices on port {emulator.port}")
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()

    await stop.wait()
    print("shutting down", file=sys.stderr, flush=True)
    await emulator.stop()
    return 0
