"""One virtual device: its profile, lifecycle, datastores, operational state,
events, sessions and message journal.

The device owns its sessions, its datastores (with their locks) and its
event log (with the subscriptions); a session holds a reference to its
device and asks it. Like the protocol core, the device never touches a
socket; its time, limits and storage come from the fleet's runtime.

Its lifecycle (emulator.lifecycle) is one of up, rebooting, unreachable and
hung; ``reset()`` puts it back to its fixture, ``reboot()`` restarts it.
"""

from __future__ import annotations

import fnmatch
import logging
from collections import Counter, OrderedDict, deque
from typing import Any, Callable, Iterator

from lxml import etree

from emulator import events, monitoring
from emulator.clock import Clock, rfc3339
from emulator.datastore.datastores import NAMES as DATASTORE_NAMES
from emulator.datastore.datastores import Datastores
from emulator.datastore.operations import PROTOCOL_CAPABILITIES
from emulator.faults import Faults, RpcFault
from emulator.lifecycle import BEHAVIOUR, Behaviour, OnEnter, Status
from emulator.namespaces import IF_NS, INTERLEAVE_CAPABILITY, NC_NS, NOTIFICATION_CAPABILITY
from emulator.netconf.operations import OperationRegistry
from emulator.netconf.session import Session
from emulator.netconf.termination import Cause, Reason
from emulator.notifications import EventLog
from emulator.operational import (HARDWARE_ALARM, AlarmType, OperationalState, component_resource,
                                  interface_leaves)
from emulator.profile import Profile
from emulator.runtime import Runtime
from emulator.schema.tree import merge, prune

log = logging.getLogger(__name__)

# A journal keeps this much of each message; the rest is cut and marked.
JOURNAL_TEXT_LIMIT = 256 * 1024
MEMO_SIZE = 16
MEMO_BYTES = 2 * 1024 * 1024     # (characters of request and reply text, per device)

# Templates are written for people; the data keeps no indentation.
_COMPACT = etree.XMLParser(remove_blank_text=True)

# How each lifecycle state that ends sessions ends them: (reason, detail, cause).
_ENDINGS = {
    Status.REBOOTING: (Reason.OTHER, "device reboot", Cause.REBOOT),
    Status.UNREACHABLE: (Reason.DROPPED, "device unreachable", Cause.UNREACHABLE),
}
_INTERFACES = f"{{{IF_NS}}}interfaces"


def _parts(running: etree._Element, operational: OperationalState,
           monitoring_parts: list[etree._Element], whole: Callable[[str], bool],
           schema: Any) -> list[etree._Element | str]:
    """Device.state_parts, of these parts."""
    known = interface_leaves(schema)
    interfaces = None
    if known is not None and whole(_INTERFACES):
        interfaces = operational.interfaces_text(running, known)
    if interfaces is None:
        tree = _compose(running, operational, monitoring_parts, whole, schema)
        return [c for c in tree if whole(c.tag)]
    tree = _compose(running, operational, monitoring_parts,
                    lambda tag: tag != _INTERFACES and whole(tag), schema)
    before = 0   # where the interfaces stand among the configuration's top-level nodes
    for child in running:
        if child.tag == _INTERFACES:
            break
        before += type(child.tag) is str and whole(child.tag)
    parts: list[etree._Element | str] = [c for c in tree if whole(c.tag)]
    parts.insert(before, interfaces)
    return parts


def _compose(running: etree._Element, operational: OperationalState,
             monitoring_parts: list[etree._Element], reaches: Callable[[str], bool] | None,
             schema: Any) -> etree._Element:
    """Configuration and state together (see Device.state), of these parts."""
    known = interface_leaves(schema)
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
    live.extend(monitoring_parts)
    root = schema.root
    prune(live, root)
    merge(data, live, root)
    return data


class DeviceError(Exception):
    """Something asked of a device that it cannot do; the message says why."""


class UnknownEvent(DeviceError):
    pass


class BadEventParameter(DeviceError):
    pass


class NoSuchInterface(DeviceError):
    pass


class NoSuchComponent(DeviceError):
    pass


class NotInProfile(DeviceError):
    """The event needs a module (or feature) the device's profile lacks."""


class JournalEntry(tuple):
    """(seq, time, direction, session, text); ``time`` is the clock's Unix time."""

    __slots__ = ()

    seq = property(lambda self: self[0])
    time = property(lambda self: self[1])
    direction = property(lambda self: self[2])
    session = property(lambda self: self[3])
    text = property(lambda self: self[4])


class Memo(OrderedDict):
    """Replies by request (see Device.remember), oldest first, and ``chars``: the
    characters of request and reply text it holds (kept as it changes: summing
    them on every insert cost a walk of every entry)."""

    def __init__(self) -> None:
        super().__init__()
        self.chars = 0


class Device:
    __slots__ = ("name", "profile", "values", "index", "runtime", "sessions", "status",
                 "started", "_stats", "_datastores", "_operational", "_memo", "_events",
                 "_journal", "_journal_seq", "_status_timer", "_faults", "status_changes",
                 "_went_down")

    def __init__(self, name: str, profile: Profile, values: dict[str, str], runtime: Runtime,
                 *, index: int = 0):
        self.name = name
        self.profile = profile
        self.values = values
        self.index = index            # the device's place in its fleet
        self.runtime = runtime
        self.sessions: dict[int, Session] = {}
        self.status = Status.UP
        self.started = runtime.clock.now()     # boot time, and netconf-start-time
        self._status_timer: Any = None
        self.status_changes = 0        # how many times set_status() ran (an undo checks it)
        self._went_down: float | None = None   # when a reboot began
        self._faults: Faults | None = None
        # Made on first use, so that a device nobody talks to costs little.
        self._stats: Counter | None = None
        self._datastores: Datastores | None = None
        self._memo: Memo | None = None
        self._events: EventLog | None = None
        self._operational: OperationalState | None = None
        self._journal: deque[JournalEntry] | None = None
        self._journal_seq = 0

    def __repr__(self) -> str:
        return f"<Device {self.name} ({self.profile.name})>"

    # -- what the device is ----------------------------------------------

    @property
    def clock(self) -> Clock:
        return self.runtime.clock

    @property
    def operations(self) -> OperationRegistry:
        faults = self._faults
        if faults is not None and faults.failing:
            return faults.operations(self.runtime.operations)   # (an injected error)
        return self.runtime.operations

    @property
    def faults(self) -> Faults:
        """The faults and event effects in force (see emulator.faults)."""
        if self._faults is None:
            self._faults = Faults()
        return self._faults

    @property
    def rpc_faults(self) -> list[RpcFault]:
        """The rpc faults in force (the sessions layer asks on every message)."""
        return self._faults.rpc if self._faults is not None else []

    def clear_faults(self) -> None:
        if self._faults is not None:
            self._faults.clear()

    def capabilities(self) -> list[str]:
        return monitoring.capabilities(self.profile.schema, [
            *PROTOCOL_CAPABILITIES, NOTIFICATION_CAPABILITY, INTERLEAVE_CAPABILITY])

    def initial(self, which: str) -> str:
        """The profile's ``config`` or ``state`` document for this device."""
        return self.profile.render(which, self.values)

    @property
    def memo(self) -> Memo | None:
        """Replies that may be given again to the same request (see Session);
        none while an rpc fault is in force (a fault must strike every request)."""
        if self._faults is not None and self._faults.rpc:
            return None
        return self._memo

    def remember(self, key: str, entry: tuple) -> None:
        """Keep a reply (its text is ``entry[0]``) for the same request again: at
        most MEMO_SIZE of them and MEMO_BYTES of text, the oldest going first."""
        size = len(entry[0]) + len(key)
        if size > MEMO_BYTES:
            return
        memo = self._memo
        if memo is None:
            memo = self._memo = Memo()
        old = memo.pop(key, None)
        if old is not None:
            memo.chars -= len(key) + len(old[0])
        memo[key] = entry
        memo.chars += size
        while len(memo) > MEMO_SIZE or memo.chars > MEMO_BYTES:
            gone, (text, _) = memo.popitem(last=False)
            memo.chars -= len(gone) + len(text)

    def forget_reply(self, key: str) -> None:
        """A reply the memo kept holds no more (see Session)."""
        memo = self._memo
        entry = memo.pop(key, None) if memo is not None else None
        if entry is not None:
            memo.chars -= len(key) + len(entry[0])

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
            self._datastores = Datastores(self.name, self.profile.schema,
                                          lambda: self.initial("config"),
                                          self.runtime.storage, self.clock)
            self._datastores.listeners.append(self._config_changed)
            self._datastores.confirm_listeners.append(self._confirmed_commit)
        return self._datastores

    # -- events (RFC 5277, RFC 6470, and the device model's) -------------------------

    @property
    def events(self) -> EventLog:
        if self._events is None:
            limits = self.runtime.limits
            self._events = EventLog(self.name, self.runtime.storage, self.clock.now,
                                    limits.replay_size, limits.replay_age)
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

    def has_alarms(self) -> bool:
        """Does the profile implement ietf-alarms (an alarm list to raise alarms in)?"""
        alarms = self.profile.schema.modules.get("ietf-alarms")
        return alarms is not None and alarms.implemented

    def has_hardware(self, feature: str | None = None) -> bool:
        """Does the profile implement ietf-hardware (with ``feature``, if given)?"""
        hardware = self.profile.schema.modules.get("ietf-hardware")
        return hardware is not None and hardware.implemented and \
            (feature is None or feature in hardware.features)

    def interfaces(self, pattern: str = "*") -> list[str]:
        """The names of the device's interfaces that match a glob, in order."""
        state = self.operational()
        state.sync(self.running())
        return [name for name in state.links if fnmatch.fnmatchcase(name, pattern)]

    def has_interface(self, name: str) -> bool:
        state = self.operational()
        state.sync(self.running())
        return state.link(name) is not None

    def components(self, pattern: str = "*") -> list[str]:
        """The names of the device's hardware components (ietf-hardware) that
        match a glob, in order; none where the profile has no ietf-hardware."""
        if not self.has_hardware():
            return []
        state = self.operational()
        state.sync(self.running())
        return [name for name in state.component_names() if fnmatch.fnmatchcase(name, pattern)]

    def link(self, interface: str):
        """The interface's live link state, or NoSuchInterface."""
        state = self.operational()
        state.sync(self.running())
        link = state.link(interface)
        if link is None:
            raise NoSuchInterface(f"{self.name} has no interface {interface!r} "
                                  f"(it has {', '.join(state.links) or 'none'})")
        return link

    def raise_event(self, name: str, parameters: dict[str, Any]) -> dict[str, Any]:
        """A link event (link-down, link-up) with its interface: the device
        model's own primitive. Every other event, durations and checks are the
        event catalogue's (emulator.scenarios.catalogue), which sits above."""
        if name not in ("link-down", "link-up"):
            raise UnknownEvent(f"no event {name!r} here (the device raises link-down and "
                               "link-up; the rest is emulator.scenarios.catalogue's)")
        interface = parameters.get("interface")
        if not isinstance(interface, str) or not interface:
            raise BadEventParameter(f"event {name!r} needs 'interface': the name of an interface")
        return self.set_link(interface, name == "link-up")

    def set_link(self, interface: str, up: bool) -> dict[str, Any]:
        """The link of ``interface`` goes up or down: oper-status and last-change,
        link-up/link-down, and the link alarm where the profile has ietf-alarms."""
        link = self.link(interface)
        state = self.operational()
        admin_up = self._admin_up(interface)
        was = link.oper_up and admin_up
        state.set_link(interface, up)
        now_up = up and admin_up
        changed = was != now_up   # what the interface's oper-status shows
        name = "link-up" if up else "link-down"
        if changed:
            self.publish(events.link(name, interface, link.if_index, admin_up, now_up))
            resource = events.interface_resource(interface)
            if self.has_alarms() and (not now_up or state.alarm(resource) is not None):
                self.set_alarm(resource, raised=not now_up, text=f"link of {interface} is down")
        return {"device": self.name, "event": name, "interface": interface,
                "changed": changed, "oper-status": "up" if now_up else "down"}

    def set_alarm(self, resource: str, raised: bool, text: str, *,
                  type_id: AlarmType | None = None, qualifier: str = "",
                  severity: str = "major") -> bool:
        """Raise or clear an alarm in ietf-alarms' list, with its alarm-notification;
        False (and nothing published) when it already was so."""
        state = self.operational()
        key = {"type_id": type_id} if type_id is not None else {}
        alarm = state.alarm(resource, qualifier=qualifier, **key)
        if alarm is None and not raised:
            return False
        if alarm is not None and alarm.cleared != raised and \
                (not raised or (alarm.severity == severity and alarm.text == text)):
            return False
        now = self.clock.now()
        alarm = state.set_alarm(resource, raised=raised, text=text, now=now,
                                qualifier=qualifier, severity=severity, **key)
        self.publish(events.alarm_notification(
            resource, rfc3339(now), alarm.severity if raised else "cleared", alarm.text,
            alarm.type_id, qualifier))
        return True

    def set_component(self, component: str, failed: bool, severity: str = "major",
                      text: str | None = None) -> dict[str, Any]:
        """A hardware component fails or recovers: its ietf-hardware state
        (oper-state, alarm-state) and hardware-state-oper-disabled/-enabled
        where the profile has the hardware-state feature; a hardware alarm where
        it has ietf-alarms; a port's link goes down (or up) with it."""
        if not self.has_hardware():
            raise NotInProfile(f"{self.name} (profile {self.profile.name}) has no ietf-hardware")
        state = self.operational()
        state.sync(self.running())
        names = state.component_names()
        if component not in names:
            raise NoSuchComponent(f"{self.name} has no hardware component {component!r} "
                                  f"(it has {', '.join(names)})")
        now = self.clock.now()
        changed = state.set_component(component, not failed, severity if failed else "", now)
        result: dict[str, Any] = {"device": self.name, "component": component,
                                  "changed": changed,
                                  "oper-state": "disabled" if failed else "enabled"}
        if not changed:
            return result
        if self.has_hardware("hardware-state"):
            self.publish(events.hardware_oper(not failed, component, severity if failed else ""))
        if self.has_alarms():
            self.set_alarm(component_resource(component), raised=failed,
                           text=text or f"{component} failed", type_id=HARDWARE_ALARM,
                           severity=severity)
        if component.startswith("port-") and state.link(component[5:]) is not None:
            link = self.set_link(component[5:], not failed)
            result["interface"] = link["interface"]
            result["oper-status"] = link["oper-status"]
        return result

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
                                                 clock=self.clock.now, boot_time=self.started)
        return self._operational

    def state(self, reaches: Callable[[str], bool] | None = None) -> etree._Element:
        """Configuration and state together, as ``<get>`` sees them; only the
        top-level nodes ``reaches`` accepts (None: all), e.g. those a filter can select."""
        return _compose(self.running(), self.operational(), self._monitoring(reaches), reaches,
                        self.profile.schema)

    def state_apart(self, reaches: Callable[[str], bool] | None,
                    whole: Callable[[str], bool] | None = None) -> Callable[[], Any]:
        """state(reaches), or with ``whole`` state_parts(whole), to be made on the
        worker thread by the function this returns: here the loop writes
        running's and monitoring's text and copies the operational state (about
        2 us an interface); there the rest is made on trees of its own."""
        running, operational = self.running(), self.operational()
        operational.sync(running)
        text = etree.tostring(running)
        snapshot = operational.snapshot(self.clock.now())
        summary = operational.summarised(running)
        parts = [etree.tostring(part) for part in self._monitoring(whole or reaches)]
        schema = self.profile.schema

        def make() -> Any:
            own = etree.fromstring(text)
            snapshot.follow(own, summary)
            monitoring_parts = [etree.fromstring(part) for part in parts]
            if whole is not None:
                return _parts(own, snapshot, monitoring_parts, whole, schema)
            return _compose(own, snapshot, monitoring_parts, reaches, schema)
        return make

    def big(self) -> bool:
        """Does building this device's state cost enough to be done off the loop?
        (Many interfaces, or a configuration of many elements: static routes, say.)"""
        operational, limits = self.operational(), self.runtime.limits
        operational.sync(self.running())
        return len(operational.links) > limits.offload_interfaces or \
            self.datastores.elements_in("running") > 4 * limits.offload_elements

    def _monitoring(self, reaches: Callable[[str], bool] | None) -> list[etree._Element]:
        parts = []
        for tag, build in monitoring.STATE:
            if reaches is None or reaches(tag):
                built = build(self)
                parts.extend(built) if isinstance(built, list) else parts.append(built)
        return parts

    def state_parts(self, whole: Callable[[str], bool]) -> list[etree._Element | str]:
        """The top-level nodes ``whole`` accepts, as ``state()`` has them, in its
        order; the interfaces with their state as text (from text to text, no tree:
        see OperationalState.interfaces_text)."""
        return _parts(self.running(), self.operational(), self._monitoring(whole), whole,
                      self.profile.schema)

    # -- sessions --------------------------------------------------------

    def open_session(self, username: str, source_host: str | None,
                     transport: tuple[str, str]) -> Session:
        """A new session on a connection the lifecycle admitted; ``transport``
        is its identity for monitoring, (namespace, name)."""
        session = Session(self, self.runtime.next_session_id(), username, source_host, transport)
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
        target.end(Reason.KILLED, f"killed by session {killed_by}", killed_by=killed_by)
        return True

    def close_all_sessions(self, reason: Reason, detail: str, cause: Cause = Cause.NONE) -> None:
        for session in list(self.sessions.values()):
            session.end(reason, detail, cause=cause)

    # -- lifecycle (see emulator.lifecycle) ---------------------------------------

    @property
    def behaviour(self) -> Behaviour:
        return BEHAVIOUR[self.status]

    def refusal(self) -> str:
        """Why a new connection is not accepted now."""
        return f"device {self.name} is {self.status.value}"

    def set_status(self, status: Status, duration: float | None = None) -> None:
        """Enter ``status`` (for ``duration`` seconds, then back up); sessions
        open now get what the state's table row says."""
        if self._status_timer is not None:
            self._status_timer.cancel()
            self._status_timer = None
        self.status = status
        self.status_changes += 1
        behaviour = BEHAVIOUR[status]
        if behaviour.open_sessions is not OnEnter.KEEP:
            self.close_all_sessions(*_ENDINGS[status])
        if behaviour.speaks:
            for session in list(self.sessions.values()):
                session.greet()      # a hello held while the device was hung
                session.wake()       # and what its client sent meanwhile
        if duration is not None and status is not Status.UP:
            self._status_timer = self.clock.call_later(duration, lambda: self.set_status(Status.UP))

    def reboot(self, downtime: float = 0.0) -> None:
        """Every session ends ("device reboot"); running is reloaded from
        startup; after ``downtime`` seconds the device is up with a new boot
        time and its counters and operational state from zero."""
        if self._datastores is not None:
            self._datastores.cancel_pending()    # the reload below decides running
        self.clear_faults()                      # (a reboot ends every fault and effect)
        self._went_down = self.clock.now()
        self.set_status(Status.REBOOTING)
        self.datastores.reload_from_startup()
        self._operational = None
        self._stats = None
        self._memo = None
        if downtime > 0:
            self._status_timer = self.clock.call_later(downtime, self._boot)
        else:
            self._boot()

    def boot(self) -> None:
        """Come up now from a reboot (its downtime cut short)."""
        if self.status is Status.REBOOTING:
            if self._status_timer is not None:
                self._status_timer.cancel()
            self._boot()

    def _boot(self) -> None:
        self._status_timer = None
        self.started = self.clock.now()
        self.set_status(Status.UP)
        # (its sessions all ended: a client that connects now, or replays, sees it)
        down = self._went_down if self._went_down is not None else self.started
        self._went_down = None
        self.publish(events.device_restarted(rfc3339(self.started), self.started - down))

    def reset(self) -> None:
        """Back to the fixture: datastores (in SQLite too), operational state,
        event log, journal and counters; open sessions end ("device reset")."""
        self.forget()
        if self.runtime.storage is not None:
            self.runtime.storage.forget([self.name])

    def forget(self) -> None:
        """What reset() does in memory (a fleet resets many, then storage once)."""
        if self._datastores is not None:
            self._datastores.cancel_pending()    # dropped, not rolled back
        self.close_all_sessions(Reason.OTHER, "device reset", Cause.RESET)
        self.unload()
        self.status = Status.UP
        self.started = self.clock.now()
        self._operational = None
        self._stats = self._memo = self._journal = None
        self._journal_seq = 0

    def unload(self) -> None:
        """Drop what storage holds (datastores, the replay log) from memory, and
        the timers that belong to it; read again on next use."""
        if self._status_timer is not None:
            self._status_timer.cancel()
            self._status_timer = None
        self.clear_faults()
        self._went_down = None
        self.status = Status.UP          # (a server that starts again starts its devices up)
        if self._datastores is not None:
            self._datastores.cancel_pending()
        self._datastores = self._events = None

    # -- journal ---------------------------------------------------------

    def record(self, direction: str, session_id: int, message: str | bytes) -> None:
        if isinstance(message, bytes):
            message = message.decode("utf-8", "replace")
        for observe in tuple(self.runtime.journal_observers):   # (one may leave as it runs)
            observe(self, direction, session_id, message)
        if len(message) > JOURNAL_TEXT_LIMIT:
            cut = len(message) - JOURNAL_TEXT_LIMIT
            message = f"{message[:JOURNAL_TEXT_LIMIT]}... [{cut} more characters not kept]"
        if self._journal is None:
            self._journal = deque(maxlen=self.runtime.limits.journal_size)
        self._journal_seq += 1
        self._journal.append(JournalEntry(
            (self._journal_seq, self.clock.now(), direction, session_id, message)))

    def journal(self, limit: int | None = None, session: int | None = None) -> Iterator[JournalEntry]:
        """The last ``limit`` journal entries, oldest first."""
        entries = [e for e in self._journal or () if session is None or e.session == session]
        if limit is not None:
            entries = entries[max(len(entries) - limit, 0):]
        return iter(entries)
