"""``netconf-emulator ...``: the only place that reads argv."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import re
import signal
import sys
import time
from collections import Counter
from pathlib import Path

from emulator import __version__, readyfile
from emulator.clock import LATEST, MIN_AUTOJUMP_IDLE, RealClock, VirtualClock
from emulator.fleet import load_fleet
from emulator.runtime import Limits, Runtime
from emulator.scenarios import model, report
from emulator.scenarios.engine import State
from emulator.scenarios.model import Scenario
from emulator.scenarios.progress import Progress
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


def speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value <= 1_000_000:
        raise argparse.ArgumentTypeError(f"{text!r} is not a speed (a number more than 0)")
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
    _server_arguments(serve)
    serve.add_argument("--scenario", metavar="DRILL",
                       help="play this drill (a shipped name or a file) once the fleet is up")
    _drill_arguments(serve)
    serve.set_defaults(func=cmd_serve)

    drill = commands.add_parser(
        "drill", help="play a drill on a fleet (served here, or on --url) and report",
        description="Serve a fleet and play a drill on it with live progress; exit 0 when "
                    "every expectation is met, 1 when one is missed, 2 on a bad drill.")
    drill.add_argument("scenario", metavar="DRILL",
                       help="a shipped drill's name (see GET /api/scenarios) or a drill file")
    drill.add_argument("--url", metavar="URL",
                       help="play it on a server that is already running (its http://host:port)")
    drill.add_argument("--junit", type=Path, metavar="FILE",
                       help="write the report as JUnit XML (a CI job fails on a missed "
                            "expectation)")
    _server_arguments(drill)
    _drill_arguments(drill)
    drill.set_defaults(func=cmd_drill)

    check = commands.add_parser("check", help="load a fleet file and report what it holds")
    check.add_argument("--fleet", type=Path, help="fleet file (default: the embedded default fleet)")
    check.set_defaults(func=cmd_check)
    return parser


def _server_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fleet", type=Path, help="fleet file (default: the embedded default fleet)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=port, default=8830, help="port (default 8830; 0 picks a free one)")
    parser.add_argument("--data-dir", type=Path, default=Path(".netconf-emulator"),
                       help="where the SQLite files live (default ./.netconf-emulator)")
    parser.add_argument("--fresh", action="store_true",
                       help="forget saved state and start from the fixtures")
    parser.add_argument("--max-message-size", type=size, default=64 * 1024**2, metavar="SIZE",
                       help="largest NETCONF message accepted (default 64MiB)")
    parser.add_argument("--ping-interval", type=seconds, default=30.0, metavar="SECONDS",
                       help="WebSocket ping interval, keeps idle sessions alive (default 30; 0 off)")
    parser.add_argument("--hello-timeout", type=seconds, default=60.0, metavar="SECONDS",
                       help="end sessions that send no <hello> in time (default 60; 0 off)")
    parser.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                       help="let browser pages from ORIGIN (e.g. https://nms.example) connect; "
                            "repeatable; '*' allows any")
    parser.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                       help="accept requests that name this server NAME (IP addresses and "
                            "localhost always are); repeatable")
    parser.add_argument("--username", default="netconf",
                       help="NETCONF username of WebSocket sessions without a client "
                            "certificate, and the SSH login with --password (default netconf)")
    parser.add_argument("--ssh-port", type=port, default=None, metavar="BASE",
                       help="serve NETCONF over SSH: device i of the fleet on port BASE+i "
                            "(0: a free port for each); off by default")
    parser.add_argument("--password", default=None,
                       help="the SSH password of --username (default netconf: a lab default); "
                            "when given, SOAP requests need it too (HTTP Basic)")
    parser.add_argument("--authorized-keys", type=existing_file, metavar="FILE",
                       help="OpenSSH authorized_keys: these keys may log in over SSH as any user")
    parser.add_argument("--tls-cert", type=existing_file, metavar="PEM",
                       help="serve wss:// with this certificate")
    parser.add_argument("--tls-key", type=existing_file, metavar="PEM", help="its private key")
    parser.add_argument("--tls-client-ca", type=existing_file, metavar="PEM",
                       help="require client certificates signed by this CA; the username "
                            "comes from the certificate")
    parser.add_argument("--notification-queue", type=int, default=1000, metavar="N",
                       help="unread notifications a session may have before it is closed "
                            "(default 1000)")
    parser.add_argument("--replay-size", type=int, default=1000, metavar="N",
                       help="events kept per device for replay (default 1000)")
    parser.add_argument("--replay-age", type=seconds, default=24 * 3600.0, metavar="SECONDS",
                       help="and for at most this long (default a day)")
    parser.add_argument("--max-datastore-elements", type=int,
                        default=Limits.max_datastore_elements, metavar="N",
                        help="most elements an edit may leave in a datastore (default "
                             f"{Limits.max_datastore_elements:,}; 0: no limit)")
    parser.add_argument("--journal-size", type=int, default=Limits.journal_size, metavar="N",
                       help=f"messages kept per device for the journal API (default {Limits.journal_size})")
    parser.add_argument("--clock", choices=["real", "virtual"], default="real",
                       help="device time: the wall clock, or a virtual clock that moves only "
                            "through POST /api/clock (or --autojump); default real")
    parser.add_argument("--autojump", type=seconds, default=None, metavar="SECONDS",
                       help="with --clock virtual: whenever no client has sent anything for "
                            "SECONDS (real), jump to the next timer")
    parser.add_argument("--ready-file", type=Path, metavar="PATH",
                       help="once every device accepts sessions, write PATH (atomically): "
                            "JSON with the port, the API's URL and every device's URLs")
    parser.add_argument("--quiet", action="store_true",
                       help="print only the api and ready lines, no endpoint lines (fleets of "
                            "more than 1,000 devices get a summary line anyway)")
    parser.add_argument("--log-level", default="warning",
                       choices=["debug", "info", "warning", "error"])


def _drill_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=None,
                        help="the drill's seed (default: the one in the file)")
    parser.add_argument("--speed", type=speed, default=1.0, metavar="N",
                        help="on the real clock, play the drill N times faster (default 1)")
    parser.add_argument("--grace", type=seconds, default=Options.drill_grace, metavar="SECONDS",
                        help="on the virtual clock, real seconds an expectation's window "
                             f"stays open at its end for a client to act (default "
                             f"{Options.drill_grace:g})")
    parser.add_argument("--wait-for-sessions", type=int, default=0, metavar="N",
                        help="start the drill once N NETCONF sessions are open")
    parser.add_argument("--timeline", type=Path, metavar="FILE",
                        help="write the run's timeline as JSON lines")


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


class _Refused(Exception):
    """The command cannot go on; the message says why in one line."""


def _emulator(args: argparse.Namespace) -> Emulator:
    """The server the options describe, not started yet."""
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for option in ("journal_size", "notification_queue", "replay_size"):
        if getattr(args, option) < 1:
            raise _Refused(f"--{option.replace('_', '-')} must be at least 1")
    if args.autojump is not None and args.clock != "virtual":
        raise _Refused("--autojump needs --clock virtual")
    if args.autojump is not None and args.autojump < MIN_AUTOJUMP_IDLE:
        raise _Refused(f"--autojump must be at least {MIN_AUTOJUMP_IDLE} (seconds of idleness)")
    if args.ready_file is not None:
        try:
            readyfile.check_writable(args.ready_file)
            readyfile.remove(args.ready_file)      # never a stale one from an earlier run
        except readyfile.ReadyFileError as exc:
            raise _Refused(exc) from None
    clock = VirtualClock() if args.clock == "virtual" else RealClock()
    limits = Limits(
        replay_size=args.replay_size, replay_age=args.replay_age,
        notification_queue=args.notification_queue, journal_size=args.journal_size,
        hello_timeout=args.hello_timeout, max_message_size=args.max_message_size,
        max_datastore_elements=args.max_datastore_elements)
    try:
        fleet = load_fleet(args.fleet, Runtime(clock=clock, limits=limits))
    except FixtureError as exc:
        raise _Refused(exc) from None
    options = Options(
        host=args.host, port=args.port, data_dir=args.data_dir, fresh=args.fresh,
        ping_interval=args.ping_interval,
        allow_origins=[o.rstrip("/") for o in args.allow_origin],
        allow_hosts=args.allow_host, username=args.username, ssh_port=args.ssh_port,
        password=args.password if args.password is not None else Options.password,
        password_set=args.password is not None, authorized_keys=args.authorized_keys, tls_cert=args.tls_cert,
        tls_key=args.tls_key, tls_client_ca=args.tls_client_ca, drill_grace=args.grace)
    return Emulator(fleet, options)


def _drill_checks(args: argparse.Namespace, scenario: Scenario | None) -> None:
    if scenario is not None and time.time() + scenario.length / args.speed >= LATEST:
        raise _Refused(f"at --speed {args.speed:g} the drill would end past the year 9999")
    if args.wait_for_sessions < 0:
        raise _Refused("--wait-for-sessions must be 0 or more")
    if args.timeline is not None:
        try:
            args.timeline.open("w").close()
        except OSError as exc:
            raise _Refused(f"cannot write --timeline {args.timeline}: {exc.strerror}") from None
    if getattr(args, "junit", None) is not None:
        try:
            args.junit.open("w").close()
        except OSError as exc:
            raise _Refused(f"cannot write --junit {args.junit}: {exc.strerror}") from None


def _load_drill(name: str) -> Scenario:
    try:
        return model.load(model.find(name))
    except model.ScenarioError as exc:
        raise _Refused(exc) from None


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        scenario = _load_drill(args.scenario) if args.scenario else None
        _drill_checks(args, scenario)
        emulator = _emulator(args)
    except _Refused as exc:
        return _fail(exc)
    return asyncio.run(_serve(emulator, args, scenario))


# (Python's defaults are 700, 10, 10: a young-generation pass every 700 allocations.)
GC_THRESHOLDS = (10_000, 50, 100)


# More devices than this get one summary line instead of one line each.
ENDPOINT_LINES = 1000


async def _start(emulator: Emulator, autojump: float | None) -> None:
    """Start the server (StartError says why not) and its clock."""
    await emulator.start()
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


async def _serve(emulator: Emulator, args: argparse.Namespace,
                 scenario: Scenario | None = None) -> int:
    autojump, ready_file, quiet = args.autojump, args.ready_file, args.quiet
    try:
        await _start(emulator, autojump)
    except StartError as exc:
        return _fail(exc, 1)
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
    if scenario is not None:
        timeline = args.timeline.open("w", encoding="utf-8") if args.timeline else None
        run = emulator.runs.start(scenario, seed=args.seed, speed=args.speed, grace=args.grace,
                                  wait_for_sessions=args.wait_for_sessions,
                                  timeline_file=timeline)
        print(f"drill {scenario.name}: {run.id} at {http}://{emulator.netloc}/api/scenarios/runs/{run.id}",
              flush=True)

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


# `drill` exits with: 0 every expectation met, 1 one missed, 2 a bad drill or
# option, 3 the drill could not be played (the server did not start, --url
# did not answer), 130 interrupted.
EXIT_MISSED, EXIT_CANNOT_PLAY, EXIT_INTERRUPTED = 1, 3, 130


def cmd_drill(args: argparse.Namespace) -> int:
    try:
        scenario = _load_drill(args.scenario)
        _drill_checks(args, scenario)
        if args.url:
            return asyncio.run(_drill_remote(args, scenario))
        emulator = _emulator(args)
    except _Refused as exc:
        return _fail(exc)
    return asyncio.run(_drill_here(emulator, args, scenario))


def _verdict_code(status: dict) -> int:
    if status["state"] == State.STOPPED.value:
        return EXIT_INTERRUPTED
    return EXIT_MISSED if status["expectations"]["missed"] else 0


def _finish_report(args: argparse.Namespace, status: dict, progress: Progress) -> int:
    for line in report.lines(status):
        progress.console.print(line, markup=False)
    if args.junit is not None:
        args.junit.write_bytes(report.junit(status))
    return _verdict_code(status)


async def _drill_here(emulator: Emulator, args: argparse.Namespace, scenario: Scenario) -> int:
    virtual = args.clock == "virtual"
    try:
        # (a drill on the virtual clock runs as fast as the machine can: time
        # jumps whenever nothing is ready, and waits at an expectation's end)
        await _start(emulator, args.autojump if args.autojump is not None else
                     (0 if virtual else None))
    except StartError as exc:
        return _fail(exc, EXIT_CANNOT_PLAY)
    http = "https" if emulator.scheme == "wss" else "http"
    print(f"serving {len(emulator.fleet)} devices at "
          f"{emulator.scheme}://{emulator.netloc}/netconf/DEVICE (api {http}://"
          f"{emulator.netloc}/api/)", flush=True)
    if args.ready_file is not None:
        try:
            readyfile.write(args.ready_file, readyfile.describe(emulator))
        except readyfile.ReadyFileError as exc:
            await emulator.stop()
            return _fail(exc, EXIT_CANNOT_PLAY)
    timeline = args.timeline.open("w", encoding="utf-8") if args.timeline else None
    interrupted = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, interrupted.set)
    try:
        with Progress() as progress:
            run = emulator.runs.start(scenario, seed=args.seed, speed=args.speed,
                                      grace=args.grace, wait_for_sessions=args.wait_for_sessions,
                                      timeline_file=timeline)
            run.listeners.append(progress.entry)
            finished = asyncio.ensure_future(run.finished())
            stopper = asyncio.ensure_future(interrupted.wait())
            while not finished.done():
                await asyncio.wait([finished, stopper], timeout=0.25)
                if stopper.done() and not finished.done():
                    run.stop()
                progress.update(run.status(windows=False))
            stopper.cancel()
            progress.update(run.status())
        code = _finish_report(args, run.status(), progress)
    finally:
        if timeline is not None:
            timeline.close()
        await emulator.stop()
        if args.ready_file is not None:
            try:
                readyfile.remove(args.ready_file)
            except readyfile.ReadyFileError:
                pass
    return code


async def _drill_remote(args: argparse.Namespace, scenario: Scenario) -> int:
    """Upload the drill to a running server, follow its stream, report."""
    from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

    base = args.url.rstrip("/")
    client = AsyncHTTPClient()
    body = {"source": scenario.text, "speed": args.speed, "grace": args.grace,
            "wait_for_sessions": args.wait_for_sessions}
    if args.seed is not None:
        body["seed"] = args.seed

    async def call(path: str, payload: dict | None = None, timeout: float = 30.0,
                   **kwargs) -> bytes:
        request = HTTPRequest(
            f"{base}{path}", method="GET" if payload is None else "POST",
            body=None if payload is None else json.dumps(payload),
            headers={"Content-Type": "application/json"}, connect_timeout=10,
            request_timeout=timeout, **kwargs)
        return (await client.fetch(request)).body

    try:
        status = json.loads(await call("/api/scenarios/runs", body))
    except HTTPClientError as exc:
        message = _api_error(exc)
        if exc.code == 599:
            return _fail(f"{base}: {message}", EXIT_CANNOT_PLAY)
        return _fail(f"{base} refused the drill: {message}",
                     2 if exc.code in (400, 404, 413, 415) else EXIT_CANNOT_PLAY)
    except (OSError, ValueError) as exc:
        return _fail(f"{base}: {exc}", EXIT_CANNOT_PLAY)
    run_id = status["id"]
    print(f"drill {scenario.name}: {run_id} at {base}/api/scenarios/runs/{run_id}", flush=True)
    interrupted = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, interrupted.set)
    with Progress() as progress:
        pending = bytearray()

        def received(chunk: bytes) -> None:
            pending.extend(chunk)
            while b"\n\n" in pending:
                block, _, rest = bytes(pending).partition(b"\n\n")
                pending[:] = rest
                for line in block.decode("utf-8", "replace").splitlines():
                    if line.startswith("data: ") and not block.startswith(b"event:"):
                        progress.entry(json.loads(line[6:]))
        # (the stream lasts as long as the drill; it stays open with keep-alives)
        stream = asyncio.ensure_future(call(f"/api/scenarios/runs/{run_id}/stream", timeout=7 * 86400.0,
                                            streaming_callback=received))
        stopper = asyncio.ensure_future(interrupted.wait())
        stopped = False
        try:
            while not stream.done():
                await asyncio.wait([stream, stopper], timeout=0.5)
                if stopper.done() and not stream.done() and not stopped:
                    stopped = True
                    await call(f"/api/scenarios/runs/{run_id}/stop", {})
                try:
                    progress.update(json.loads(await call(f"/api/scenarios/runs/{run_id}")))
                except (HTTPClientError, OSError):
                    pass      # (the stream says whether the server is still there)
            stream.result()
            status = json.loads(await call(f"/api/scenarios/runs/{run_id}"))
            progress.update(status)
            if args.timeline is not None:
                args.timeline.write_bytes(await call(f"/api/scenarios/runs/{run_id}/timeline"))
        except (HTTPClientError, OSError, ValueError) as exc:
            return _fail(f"{base}: lost the drill {run_id}: {_api_error(exc)}", EXIT_CANNOT_PLAY)
        finally:
            stopper.cancel()
    return _finish_report(args, status, progress)


def _api_error(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if response is not None and response.body:
        try:
            return json.loads(response.body)["error"]
        except (ValueError, KeyError, TypeError):
            pass
    return str(exc)
