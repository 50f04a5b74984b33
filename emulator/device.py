"""One virtual device: its profile, datastores, operational state, events,
sessions and message journal.

The device owns its sessions, its datastores (with their locks) and its
event log (with the subscriptions); a session holds a reference to its
device and asks it. Like the protocol core, the device never touches a
socket, and its time comes from a scheduler, so it is tested without a server.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import Counter, OrderedDict, deque
from typing import Any, Callable, Iterator

from lxml import etree

from emulator import events, monitoring
from emulator.datastore import operations as _operations  # noqa: F401  (registers them)
from emulator.datastore.datastores import NAMES as DATASTORE_NAMES
from emulator.datastore.datastores import Datastores
from emulator.datastore.operations import PROTOCOL_CAPABILITIES
from emulator.datastore.storage import Storage
from emulator.netconf.operations import BASE_OPERATIONS, OperationRegistry
from emulator.netconf.session import Session, Transport
from emulator.netconf.termination import Reason
from emulator.notifications import (DEFAULT_REPLAY_AGE, DEFAULT_REPLAY_SIZE,
                                    INTERLEAVE_CAPABILITY, NOTIFICATION_CAPABILITY, EventLog)
from emulator.netconf.xml import NC_NS
from emulator.operational import IF_NS, OperationalState, interface_leaves
from emulator.operational import rfc3339 as operational_time
from emulator.profile import Profile
from emulator.scheduler import LoopScheduler
from emulator.schema.tree import merge, prune

log = logging.getLogger(__name__)

# Session ids are unique in the whole process, hence across every device.
_session_ids = itertools.count(1)

# A journal keeps this much of each message; the rest is cut and marked.
JOURNAL_TEXT_LIMIT = 256 * 1024
DEFAULT_JOURNAL_SIZE = 500
MEMO_SIZE = 16

# Templates are written for people; the data keeps no indentation.
_COMPACT = etree.XMLParser(remove_blank_text=True)
DEFAULT_SCHEDULER = LoopScheduler()
_INTERFACES = f"{{{IF_NS}}}interfaces"


class EventError(Exception):
    """An event the device cannot raise: an HTTP status and why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class JournalEntry(tuple):
    """(seq, time, direction, session, text); ``time`` is a Unix timestamp."""

    __slots__ = ()

    seq = property(lambda self: self[0])
    time = property(lambda self: self[1])
    direction = property(lambda self: self[2])
    session = property(lambda self: self[3])
    text = property(lambda self: self[4])


class Device:
    __slots__ = ("name", "profile", "values", "index", "operations", "sessions", "status",
                 "started", "storage", "scheduler", "_stats", "_datastores", "_operational",
                 "_memo", "_events",
                 "_journal", "_journal_size", "_journal_seq")

    def __init__(self, name: str, profile: Profile, values: dict[str, str], *,
                 index: int = 0, operations: OperationRegistry = BASE_OPERATIONS,
                 journal_size: int = DEFAULT_JOURNAL_SIZE):
        self.name = name
        self.profile = profile
        self.values = values
        self.index = index            # the device's place in its fleet
        self.operations = operations
        self.sessions: dict[int, Session] = {}
        self.status = "up"
        self.started = time.time()
        self.storage: Storage | None = None     # set by the server: where datastores persist
        self.scheduler: Any = DEFAULT_SCHEDULER
        # Made on first use, so that a device nobody talks to costs little.
        self._stats: Counter | None = None
        self._datastores: Datastores | None = None
        self._memo: OrderedDict | None = None
        self._events: EventLog | None = None
        self._operational: OperationalState | None = None
        self._journal: deque[JournalEntry] | None = None
        self._journal_size = journal_size
        self._journal_seq = 0

    def __repr__(self) -> str:
        return f"<Device {self.name} ({self.profile.name})>"

    # -- what the device is ----------------------------------------------

    def capabilities(self) -> list[str]:
        return monitoring.capabilities(self.profile.schema, [
            *PROTOCOL_CAPABILITIES, NOTIFICATION_CAPABILITY, INTERLEAVE_CAPABILITY])

    def initial(self, which: str) -> str:
        """The profile's ``config`` or ``state`` document for this device."""
        return self.profile.render(which, self.values)

    @property
    def memo(self) -> OrderedDict | None:
        """Replies that may be given again to the same request (see Session)."""
        return self._memo

    def remember(self, key: str, entry: tuple) -> None:
        if self._memo is None:
            self._memo = OrderedDict()
        self._memo[key] = entry
        while len(self._memo) > MEMO_SIZE:
            self._memo.popitem(last=False)

    @property
    def stats(self) -> Counter:
        """Device-wide counters of ietf-netconf-monitoring's statistics."""
        if self._stats is None:
            self._stats = Counter()
        return self._stats

    # -- data --------------------------------------------------------------

    def datastore_names(self) -> tuple[str, ...]:
        return DATASTORE_NAMES

    @property
    def datastores(self) -> Datastores:
        if self._datastores is None:
            self._datastores = Datastores(self, self.storage, self.scheduler)
            self._datastores.listeners.append(self._config_changed)
            self._datastores.confirm_listeners.append(self._confirmed_commit)
        return self._datastores

    # -- events (RFC 5277, RFC 6470, and the device model's) -------------------------

    # The replay log's bounds, for every device (the server sets them from its options).
    replay_size = DEFAULT_REPLAY_SIZE
    replay_age = DEFAULT_REPLAY_AGE

    @property
    def events(self) -> EventLog:
        if self._events is None:
            self._events = EventLog(self.name, self.storage, self.scheduler.time,
                                    Device.replay_size, Device.replay_age)
        return self._events

    def publish(self, element: etree._Element) -> None:
        self.events.publish(element)

    def session_started(self, session: Session) -> None:
        self.publish(events.session_start(session))
        # A client that connects will ask: the device's data is made now, not in
        # the middle of its first request or of an event (a fan-out to a fleet).
        try:
            self.operational().sync(self.running())
        except Exception:   # (its first request will say what is wrong; the hello stands)
            log.exception("%s: could not prepare its data", self.name)

    def _config_changed(self, datastore: str, edits: list, session_id: int | None) -> None:
        self.publish(events.config_change(datastore, edits, self.sessions.get(session_id)))
        if self._operational is not None:
            self._operational.sync(self.running(), edits)

    def _confirmed_commit(self, confirm_event: str, pending: Any, timeout: int | None) -> None:
        session_id = 0 if confirm_event == "timeout" else pending.session_id
        self.publish(events.confirmed_commit(confirm_event, pending.username or "unknown",
                                             session_id, pending.source_host, timeout))

    def check_event(self, name: str, parameters: dict[str, Any]) -> None:
        """Refuse (EventError) an event this device cannot raise; changes nothing."""
        if name not in events.CATALOGUE:
            raise EventError(400, f"no event {name!r} (events: {', '.join(events.CATALOGUE)})")
        for parameter in events.CATALOGUE[name]:
            if not isinstance(parameters.get(parameter), str) or not parameters[parameter]:
                raise EventError(400, f"event {name!r} needs {parameter!r}: "
                                      f"{events.CATALOGUE[name][parameter]}")
        state = self.operational()
        state.sync(self.running())
        if state.link(parameters["interface"]) is None:
            raise EventError(404, f"{self.name} has no interface {parameters['interface']!r} "
                                  f"(it has {', '.join(state.links)})")

    def raise_event(self, name: str, parameters: dict[str, Any]) -> dict[str, Any]:
        """An event of the device model (see events.CATALOGUE); raises EventError."""
        self.check_event(name, parameters)
        interface = parameters["interface"]
        state = self.operational()
        link = state.link(interface)
        admin_up = self._admin_up(interface)
        up = name == "link-up"
        was = link.oper_up and admin_up
        state.set_link(interface, up)
        now_up = up and admin_up
        changed = was != now_up   # what the interface's oper-status shows
        if changed:
            now = self.scheduler.time()
            self.publish(events.link(name, interface, link.if_index, admin_up, now_up))
            alarms = self.profile.schema.modules.get("ietf-alarms")
            resource = events.interface_resource(interface)
            if alarms is not None and alarms.implemented and \
                    (not now_up or resource in state.alarms):
                alarm = state.set_alarm(resource, raised=not now_up,
                                        text=f"link of {interface} is down", now=now)
                self.publish(events.alarm_notification(
                    resource, operational_time(now), "cleared" if now_up else alarm.severity,
                    alarm.text))
        return {"device": self.name, "event": name, "interface": interface,
                "changed": changed, "oper-status": "up" if now_up else "down"}

    def _admin_up(self, interface: str) -> bool:
        return self.operational().admin_up(self.running(), interface)

    def lock_info(self, datastore: str) -> tuple[int, float] | None:
        """(session-id, locked-at) of a datastore's global lock, if any."""
        return self._datastores.locks.get(datastore) if self._datastores else None

    def running(self) -> etree._Element:
        """The running configuration, under a ``<data>`` wrapper."""
        return self.datastores.tree("running")

    def operational(self) -> OperationalState:
        if self._operational is None:
            seed = etree.fromstring(self.initial("state").encode(), _COMPACT)
            self._operational = OperationalState(self.name, self.index, seed,
                                                 clock=self.scheduler.time)
        return self._operational

    def state(self, reaches: Callable[[str], bool] | None = None) -> etree._Element:
        """Configuration and state together, as ``<get>`` sees them; only the
        top-level nodes ``reaches`` accepts (None: all), e.g. those a filter can select."""
        running = self.running()
        operational = self.operational()
        known = interface_leaves(self.profile.schema)
        # (one parse of the whole: appending a big subtree from another document
        # costs more than parsing it)
        pieces = []
        merged = False
        for child in running:
            if type(child.tag) is not str or (reaches is not None and not reaches(child.tag)):
                continue
            if child.tag == _INTERFACES and known is not None and not merged:
                text = operational.interfaces_text(running, known)
                if text is not None:
                    pieces.append(text)
                    merged = True
                    continue
            pieces.append(etree.tostring(child, encoding="unicode"))
        data = etree.fromstring(f'<data xmlns="{NC_NS}">{"".join(pieces)}</data>')
        live = operational.build(running, reaches, interfaces=not merged)
        for tag, build in monitoring.STATE:
            if reaches is None or reaches(tag):
                built = build(self)
                live.extend(built) if isinstance(built, list) else live.append(built)
        root = self.profile.schema.root
        prune(live, root)
        merge(data, live, root)
        return data

    def state_parts(self, whole: Callable[[str], bool]) -> list[etree._Element | str]:
        """The top-level nodes ``whole`` accepts, as ``state()`` has them, in its
        order; the interfaces with their state as text (from text to text, no tree:
        see OperationalState.interfaces_text)."""
        running = self.running()
        known = interface_leaves(self.profile.schema)
        interfaces = None
        if known is not None and whole(_INTERFACES):
            interfaces = self.operational().interfaces_text(running, known)
        if interfaces is None:
            return [c for c in self.state(whole) if whole(c.tag)]
        tree = self.state(lambda tag: tag != _INTERFACES and whole(tag))
        before = 0   # where the interfaces stand among the configuration's top-level nodes
        for child in running:
            if child.tag == _INTERFACES:
                break
            before += type(child.tag) is str and whole(child.tag)
        parts: list[etree._Element | str] = [c for c in tree if whole(c.tag)]
        parts.insert(before, interfaces)
        return parts

    # -- sessions --------------------------------------------------------

    def open_session(self, transport: Transport, username: str,
                     source_host: str | None = None) -> Session:
        session = Session(self, next(_session_ids), transport, username, source_host)
        self.sessions[session.id] = session
        return session

    def session_ended(self, session: Session) -> None:
        """Called by a session as it ends, however it ends."""
        self.sessions.pop(session.id, None)
        if self._datastores is not None:
            self._datastores.session_ended(session.id)
        if session.base_version is not None:   # it had begun (its hello was accepted)
            self.publish(events.session_end(session))
        termination = session.termination
        if termination is not None and termination.reason is Reason.BAD_HELLO:
            self.stats["in-bad-hellos"] += 1
        elif session.base_version is not None and termination is not None \
                and termination.reason is not Reason.CLOSED:
            self.stats["dropped-sessions"] += 1

    def kill_session(self, session_id: int, killed_by: int) -> bool:
        target = self.sessions.get(session_id)
        if target is None:
            return False
        target.terminate(Reason.KILLED, f"killed by session {killed_by}", killed_by=killed_by)
        return True

    def close_all_sessions(self, reason: Reason, detail: str) -> None:
        for session in list(self.sessions.values()):
            session.terminate(reason, detail)

    # -- journal ---------------------------------------------------------

    def record(self, direction: str, session_id: int, message: str | bytes) -> None:
        if isinstance(message, bytes):
            message = message.decode("utf-8", "replace")
        if len(message) > JOURNAL_TEXT_LIMIT:
            cut = len(message) - JOURNAL_TEXT_LIMIT
            message = f"{message[:JOURNAL_TEXT_LIMIT]}... [{cut} more characters not kept]"
        if self._journal is None:
            self._journal = deque(maxlen=self._journal_size)
        self._journal_seq += 1
        self._journal.append(JournalEntry(
            (self._journal_seq, time.time(), direction, session_id, message)))

    def journal(self, limit: int | None = None, session: int | None = None) -> Iterator[JournalEntry]:
        """The last ``limit`` journal entries, oldest first."""
        entries = [e for e in self._journal or () if session is None or e.session == session]
        if limit is not None:
            entries = entries[max(len(entries) - limit, 0):]
        return iter(entries)
