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

from emulator import __version__, readyfile
from emulator.clock import MIN_AUTOJUMP_IDLE, RealClock, VirtualClock
from emulator.fleet import load_fleet
from emulator.runtime import Limits, Runtime
from emulator.server import Emulator, StartError
from emulator.settings import Options
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
    parser = _Parser(prog=PROG,
                     description="Emulate fleets of NETCONF devices over WebSocket and SSH.")
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
                       help="NETCONF username of WebSocket sessions without a client "
                            "certificate, and the SSH login with --password (default netconf)")
    serve.add_argument("--ssh-port", type=port, default=None, metavar="BASE",
                       help="serve NETCONF over SSH: device i of the fleet on port BASE+i "
                            "(0: a free port for each); off by default")
    serve.add_argument("--password", default="netconf",
                       help="the SSH password of --username (default netconf: a lab default)")
    serve.add_argument("--authorized-keys", type=existing_file, metavar="FILE",
                       help="OpenSSH authorized_keys: these keys may log in over SSH as any user")
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
    serve.add_argument("--journal-size", type=int, default=Limits.journal_size, metavar="N",
                       help=f"messages kept per device for the journal API (default {Limits.journal_size})")
    serve.add_argument("--clock", choices=["real", "virtual"], default="real",
                       help="device time: the wall clock, or a virtual clock that moves only "
                            "through POST /api/clock (or --autojump); default real")
    serve.add_argument("--autojump", type=seconds, default=None, metavar="SECONDS",
                       help="with --clock virtual: whenever no client has sent anything for "
                            "SECONDS (real), jump to the next timer")
    serve.add_argument("--ready-file", type=Path, metavar="PATH",
                       help="once every device accepts sessions, write PATH (atomically): "
                            "JSON with the port, the API's URL and every device's URLs")
    serve.add_argument("--quiet", action="store_true",
                       help="print only the api and ready lines, no endpoint lines (fleets of "
                            "more than 1,000 devices get a summary line anyway)")
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
    if args.autojump is not None and args.clock != "virtual":
        return _fail("--autojump needs --clock virtual")
    if args.autojump is not None and args.autojump < MIN_AUTOJUMP_IDLE:
        return _fail(f"--autojump must be at least {MIN_AUTOJUMP_IDLE} (seconds of idleness)")
    if args.ready_file is not None:
        try:
            readyfile.check_writable(args.ready_file)
            readyfile.remove(args.ready_file)      # never a stale one from an earlier run
        except readyfile.ReadyFileError as exc:
            return _fail(exc)
    clock = VirtualClock() if args.clock == "virtual" else RealClock()
    limits = Limits(
        replay_size=args.replay_size, replay_age=args.replay_age,
        notification_queue=args.notification_queue, journal_size=args.journal_size,
        hello_timeout=args.hello_timeout, max_message_size=args.max_message_size)
    try:
        fleet = load_fleet(args.fleet, Runtime(clock=clock, limits=limits))
    except FixtureError as exc:
        return _fail(exc)
    options = Options(
        host=args.host, port=args.port, data_dir=args.data_dir, fresh=args.fresh,
        ping_interval=args.ping_interval,
        allow_origins=[o.rstrip("/") for o in args.allow_origin],
        allow_hosts=args.allow_host, username=args.username, ssh_port=args.ssh_port,
        password=args.password, authorized_keys=args.authorized_keys, tls_cert=args.tls_cert,
        tls_key=args.tls_key, tls_client_ca=args.tls_client_ca)
    return asyncio.run(_serve(Emulator(fleet, options), args.autojump, args.ready_file,
                              args.quiet))


# (Python's defaults are 700, 10, 10: a young-generation pass every 700 allocations.)
GC_THRESHOLDS = (10_000, 50, 100)


# More devices than this get one summary line instead of one line each.
ENDPOINT_LINES = 1000


async def _serve(emulator: Emulator, autojump: float | None = None,
                 ready_file: Path | None = None, quiet: bool = False) -> int:
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
    if autojump is not None:
        emulator.runtime.clock.start_autojump(autojump)
    for notice in emulator.notices:
        print(f"{PROG}: note: {notice}", file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    http = "https" if emulator.scheme == "wss" else "http"
    lines = [f"api {http}://{emulator.netloc}/api/"]
    if not quiet and len(emulator.fleet) <= ENDPOINT_LINES:
        for d in emulator.fleet:
            lines.append(f"endpoint {emulator.device_url(d)} device={d.name} "
                         f"profile={d.profile.name}")
            if emulator.ssh is not None:
                lines.append(f"endpoint {emulator.ssh_url(d)} device={d.name} "
                             f"profile={d.profile.name}")
    elif not quiet:
        ssh = ", and over SSH" if emulator.ssh is not None else ""
        lines.append(f"endpoints: {len(emulator.fleet)} devices at "
                     f"{emulator.scheme}://{emulator.netloc}/netconf/DEVICE{ssh} "
                     "(GET /api/devices lists each one's URLs)")
    lines.append(f"ready: {len(emulator.fleet)} devices on port {emulator.port}")
    if ready_file is not None:
        try:
            readyfile.write(ready_file, readyfile.describe(emulator))
        except readyfile.ReadyFileError as exc:
            await emulator.stop()
            return _fail(exc, 1)
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()

    await stop.wait()
    print("shutting down", file=sys.stderr, flush=True)
    if autojump is not None:
        emulator.runtime.clock.stop_autojump()
    await emulator.stop()
    if ready_file is not None:
        try:
            readyfile.remove(ready_file)
        except readyfile.ReadyFileError:
            pass     # (the server stopped; a file left behind is the next start's to remove)
    return 0
