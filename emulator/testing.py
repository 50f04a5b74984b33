"""A fleet in the test process, for the tests of code that talks NETCONF.

:class:`NetconfFleet` serves a fleet on a free port of 127.0.0.1 from its own
event loop in a background thread, so a test (pytest's or any other) can
point its NETCONF code at ``fleet.url("core-1")`` and then check what that
code sent::

    fleet = NetconfFleet.start(data_dir=tmp)
    ...                                  # the code under test talks to fleet.url("core-1")
    fleet.assert_rpc("core-1", "commit", count=1)
    fleet.reset()                        # every device back to its fixture, in milliseconds
    fleet.stop()

The pytest plugin (``emulator.pytest_plugin``) wraps it in fixtures.

Everything that touches a device runs on the fleet's loop (``call``), so the
test's thread never races the server's.
"""

from __future__ import annotations

import asyncio
import re
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, TypeVar

from lxml import etree

from emulator.clock import Clock, RealClock, VirtualClock, rfc3339
from emulator.device import Device, JournalEntry
from emulator.fleet import Fleet, load_fleet
from emulator.namespaces import NC_NS
from emulator.runtime import Limits, Runtime
from emulator.scenarios import catalogue, model
from emulator.server import Emulator
from emulator.settings import Options

T = TypeVar("T")

# Real seconds that a call onto the fleet's loop, a start and a stop may take
# before the test is told so (rather than hanging CI).
CALL_TIMEOUT = 30.0
# Tests close their sessions at once: no grace for clients to answer a close.
SHUTDOWN_GRACE = 0.5
# How much of each request a failure message shows.
SHOWN = 500

_XML_DECLARATION = re.compile(r"\s*<\?xml[^>]*\?>")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


class FleetError(Exception):
    """The fleet cannot do what the test asked; the message says why."""


@dataclass(frozen=True, eq=False, repr=False)
class Rpc:
    """One request a client sent to a device, from the journal, parsed.

    ``operation`` is the operation's local name (``"edit-config"``), ``element``
    the operation's element (``<edit-config>``, to ``find`` in), ``root`` the
    whole ``<rpc>``; ``reply`` is the device's answer (None: none yet)."""

    device: str
    session: int
    time: float
    message_id: str | None
    operation: str
    root: etree._Element
    text: str
    reply: etree._Element | None

    def _key(self) -> tuple:
        return (self.device, self.session, self.time, self.message_id, self.text)

    def __eq__(self, other: object) -> bool:   # the same request, parsed twice, is equal
        return isinstance(other, Rpc) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (f"<Rpc <{self.operation}> message-id={self.message_id!r} to {self.device}, "
                f"session {self.session}>")

    @property
    def element(self) -> etree._Element:
        return self.root[0]

    @property
    def ok(self) -> bool:
        """The reply is ``<ok/>`` or data, with no ``<rpc-error>``."""
        return self.reply is not None and self.reply.find(f"{{{NC_NS}}}rpc-error") is None

    def find(self, path: str, namespaces: dict[str, str] | None = None) -> etree._Element | None:
        """``element.find(path)``, with the prefix ``nc`` for NETCONF's namespace."""
        return self.element.find(path, {"nc": NC_NS, **(namespaces or {})})

    def xpath(self, expression: str, **namespaces: str) -> Any:
        return self.element.xpath(expression, namespaces={"nc": NC_NS, **namespaces})

    def summary(self) -> str:
        text = " ".join(_XML_DECLARATION.sub("", self.text, 1).split())
        cut = f"... ({len(text) - SHOWN} more)" if len(text) > SHOWN else ""
        return f"session {self.session} at {rfc3339(self.time)}: {text[:SHOWN]}{cut}"


def parse_rpcs(device: str, entries: list[JournalEntry]) -> list[Rpc]:
    """The journal's ``<rpc>``s in order, each with its reply if it has one."""
    replies: dict[tuple[int, str], etree._Element] = {}
    for entry in entries:
        if entry.direction == "out" and "rpc-reply" in entry.text[:200]:
            root = _parse(entry.text)
            if root is not None and root.get("message-id") is not None:
                replies.setdefault((entry.session, root.get("message-id")), root)
    found = []
    for entry in entries:
        if entry.direction != "in":
            continue
        root = _parse(entry.text)
        if root is None or root.tag != f"{{{NC_NS}}}rpc" or len(root) == 0:
            continue
        message_id = root.get("message-id")
        found.append(Rpc(device, entry.session, entry.time, message_id,
                         etree.QName(root[0]).localname, root, entry.text,
                         replies.get((entry.session, message_id or ""))))
    return found


def _parse(text: str) -> etree._Element | None:
    try:
        return etree.fromstring(text.encode("utf-8"), _PARSER)
    except etree.XMLSyntaxError:
        return None


class NetconfFleet:
    """A fleet served in this process: an Emulator on its own loop in a thread."""

    def __init__(self, fleet: Fleet, options: Options):
        self.fleet = fleet
        self.runtime = fleet.runtime
        self.emulator = Emulator(fleet, options)
        self.loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._clients: list[Any] = []

    @classmethod
    def start(cls, fleet_file: Path | str | None = None, *, data_dir: Path | str,
              clock: Clock | str = "virtual", limits: Limits | None = None,
              **options: Any) -> "NetconfFleet":
        """Load ``fleet_file`` (None: the default fleet) and serve it on a free
        port of 127.0.0.1, its SQLite files in ``data_dir`` (emptied first).

        ``clock``: ``"virtual"`` (time moves only by ``advance``), ``"real"``,
        or a clock. ``options``: fields of :class:`emulator.settings.Options`."""
        if isinstance(clock, str):
            if clock not in ("virtual", "real"):
                raise FleetError(f"clock must be 'virtual' or 'real', not {clock!r}")
            clock = VirtualClock() if clock == "virtual" else RealClock()
        runtime = Runtime(clock=clock, limits=limits or Limits())
        fleet = load_fleet(Path(fleet_file) if fleet_file is not None else None, runtime)
        settings = replace(Options(port=0, data_dir=Path(data_dir), fresh=True,
                                   shutdown_grace=SHUTDOWN_GRACE), **options)
        served = cls(fleet, settings)
        served._serve()
        return served

    def _serve(self) -> None:
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            try:
                self.loop.run_until_complete(self.emulator.start())
            except BaseException as exc:   # told to the starting thread
                failure.append(exc)
                started.set()
                return
            started.set()
            self.loop.run_forever()

        self._thread = threading.Thread(target=run, name="netconf-fleet", daemon=True)
        self._thread.start()
        if not started.wait(CALL_TIMEOUT):
            raise FleetError(f"the fleet did not start within {CALL_TIMEOUT:.0f} s")
        if failure:
            self.loop.close()
            raise failure[0]

    def stop(self) -> None:
        """Close every client made here, end every session, stop serving."""
        if self.loop.is_closed():
            return
        self.close_clients()
        asyncio.run_coroutine_threadsafe(self.emulator.stop(), self.loop).result(CALL_TIMEOUT)
        self.loop.call_soon_threadsafe(self.loop.stop)
        if self._thread is not None:
            self._thread.join(CALL_TIMEOUT)
        self.loop.close()

    def __repr__(self) -> str:
        clock = "virtual" if self.virtual else "real"
        where = f"port {self.emulator.port}" if self.emulator.port else "not started"
        return f"<NetconfFleet {len(self.fleet)} devices on {where}, {clock} clock>"

    def __enter__(self) -> "NetconfFleet":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- where it is -------------------------------------------------------------

    @property
    def port(self) -> int:
        assert self.emulator.port is not None
        return self.emulator.port

    @property
    def devices(self) -> list[str]:
        """Every device's name, in the fleet file's order."""
        return list(self.fleet.devices)

    def url(self, device: str) -> str:
        """The device's NETCONF-over-WebSocket URL."""
        return self.emulator.device_url(self.device(device))

    @property
    def api_url(self) -> str:
        return f"{'https' if self.emulator.scheme == 'wss' else 'http'}://{self.emulator.netloc}/api/"

    def device(self, name: str) -> Device:
        """The device itself (touch it only through ``call``)."""
        device = self.fleet.get(name)
        if device is None:
            raise FleetError(f"no device named {name!r} in this fleet "
                             f"(devices: {_listing(self.devices)})")
        return device

    # -- doing things on the fleet's loop ----------------------------------------

    def call(self, func: Callable[..., T], *args: Any) -> T:
        """Run ``func(*args)`` on the fleet's loop; its result, or its exception."""
        async def run() -> T:
            return func(*args)
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(CALL_TIMEOUT)

    def reset(self, *devices: str) -> int:
        """These devices (all, by default) back to their fixtures: datastores,
        state, replay log, journal, counters; their sessions end (close 1012).
        A reset of the whole fleet also stops every drill still playing.
        Returns how many."""
        chosen = [self.device(name) for name in devices] if devices else None
        if chosen is None:
            self.call(self.emulator.runs.stop_all)
        return self.call(self.fleet.reset, chosen)

    # -- drills --------------------------------------------------------------------

    def play(self, drill: str | Path, *, seed: int | None = None, speed: float = 1.0) -> str:
        """Start a drill on the fleet: a shipped drill's name, a drill file, or
        a drill's YAML text. Returns the run's id; on the virtual clock, move
        time with ``advance`` and read the outcome with ``drill_status``."""
        text = str(drill)
        if "\n" in text:
            scenario = model.parse(text, "test drill")
        else:
            scenario = model.load(model.find(text))
        run = self.call(lambda: self.emulator.runs.start(scenario, seed=seed, speed=speed))
        return run.id

    def drill_status(self, run_id: str) -> dict[str, Any]:
        """What ``GET /api/scenarios/runs/{id}`` says: state, verdict, windows..."""
        run = self.emulator.runs.get(run_id)
        if run is None:
            raise FleetError(f"no drill run {run_id!r}")
        return self.call(run.status)

    def inject(self, device: str, event: str, *, duration: float | str | None = None,
               **parameters: Any) -> dict[str, Any]:
        """Raise an event of the catalogue now, as ``POST /api/devices/{device}/events``
        does: ``inject("core-1", "link-down", interface="eth0")``,
        ``inject("edge-01", "rpc-fault", latency="2s", duration=60)``; what it
        reported. A bad event or parameter raises emulator.device.DeviceError."""
        target = self.device(device)
        return self.call(lambda: catalogue.raise_event(target, event, parameters,
                                                       duration=duration).result)

    # -- time ----------------------------------------------------------------------

    @property
    def virtual(self) -> bool:
        return self.runtime.clock.virtual

    def now(self) -> float:
        """The fleet's time (Unix seconds)."""
        return self.runtime.clock.now()

    def advance(self, seconds: float) -> int:
        """Move the virtual clock on, running every timer that falls due
        (confirm-timeouts, timed states, stopTimes); how many ran."""
        clock = self._virtual_clock()
        return self.call(clock.advance, seconds)

    def jump(self) -> int:
        """Move the virtual clock to its next timer and run what is due then."""
        return self.call(self._virtual_clock().jump)

    def _virtual_clock(self) -> VirtualClock:
        clock = self.runtime.clock
        if not isinstance(clock, VirtualClock):
            raise FleetError("this fleet runs on the real clock; start it with the virtual "
                             "one (clock='virtual', the plugin's default) to move time")
        return clock

    # -- clients ----------------------------------------------------------------

    def client(self, device: str, **kwargs: Any) -> Any:
        """A connected ncclient Manager (``emulator.client.connect``); closed by
        ``close_clients`` (the plugin: when the test ends)."""
        from emulator.client import connect  # ncclient is an extra: only when asked

        manager = connect(self.url(device), **{"timeout": 10.0, **kwargs})
        self._clients.append(manager)
        return manager

    def close_clients(self) -> None:
        clients, self._clients = self._clients, []
        for manager in clients:
            try:
                manager._session.close()     # no <close-session>: the device may be hung
            except Exception:   # noqa: BLE001 (a client that is gone already is fine)
                pass

    # -- what clients sent --------------------------------------------------------

    def journal(self, device: str) -> list[JournalEntry]:
        """The device's journal: (seq, time, direction, session, text), oldest first."""
        target = self.device(device)
        return self.call(lambda: list(target.journal()))

    def rpcs(self, device: str, operation: str | None = None) -> list[Rpc]:
        """The ``<rpc>``s clients sent to ``device`` (of ``operation`` only, if
        given), parsed, oldest first. The journal keeps the last
        ``journal_size`` messages of each device (500 by default)."""
        found = parse_rpcs(device, self.journal(device))
        return [r for r in found if operation is None or r.operation == operation]

    def assert_rpc(self, device: str, operation: str, count: int | None = None,
                   where: Callable[[Rpc], bool] | None = None) -> list[Rpc]:
        """Assert that clients sent ``device`` the ``operation`` (exactly
        ``count`` times, if given; at least once otherwise), of those that
        ``where`` accepts if given; returns them. The failure message lists
        everything that was sent."""
        __tracebackhide__ = True    # pytest shows the test's line, not this one
        sent = self.rpcs(device)
        matching = [r for r in sent if r.operation == operation and (where is None or where(r))]
        if (count is None and matching) or (count is not None and len(matching) == count):
            return matching
        wanted = "at least one" if count is None else f"exactly {count}"
        which = f"<{operation}>" + (" matching the condition" if where is not None else "")
        lines = [f"{device}: expected {wanted} {which}, got {len(matching)}."]
        if sent:
            lines.append(f"What clients sent to {device} ({len(sent)} rpc(s)):")
            lines += [f"  {n}. <{r.operation}> {r.summary()}" for n, r in enumerate(sent, 1)]
        else:
            lines.append(f"No client sent {device} any <rpc> (since its last reset).")
        raise AssertionError("\n".join(lines))

    def assert_no_rpc(self, device: str, operation: str) -> None:
        __tracebackhide__ = True
        self.assert_rpc(device, operation, count=0)


def _listing(names: list[str], most: int = 10) -> str:
    shown = ", ".join(names[:most])
    return shown + (f", ... ({len(names)} in all)" if len(names) > most else "")
