"""The event catalogue: every event a drill (or ``POST /api/devices/{d}/events``)
can raise on a device, its parameters, and how it is applied and undone.

``check()`` validates and normalises an event's parameters and changes
nothing; ``raise_event()`` applies it and returns a :class:`Raised`, which
can be undone (by the caller, or by a timer on the fleet's clock when the
event has a ``duration``). What an event leaves in force on the device (an
rpc fault, a storm's or a flap's timers, the end of a duration) is
registered with the device's faults (emulator.faults), so that a reset or a
reboot clears it: a reset device has no faults left.

Raising an event costs what it touches: one link, one component, one alarm,
one leaf of running; never a walk of the device's whole data.
"""

from __future__ import annotations

import functools
import math
import random
import re
from dataclasses import dataclass
from typing import Any, Callable

from lxml import etree

from emulator.datastore.edit import apply_edit
from emulator.device import (BadEventParameter, Device, NoSuchComponent, NoSuchInterface,
                             NotInProfile, UnknownEvent)
from emulator.errors import ERROR_TAG_TYPES, RpcError, RpcErrors
from emulator.events import storm_event
from emulator.faults import RpcFault
from emulator.lifecycle import Status
from emulator.namespaces import AL_NS, NC_NS, qn
from emulator.scenarios import units
from emulator.schema.validate import instance_path, validate_change

__all__ = ["Param", "EventKind", "EVENTS", "Raised", "describe", "check", "raise_event",
           "parse_duration"]


@dataclass(frozen=True)
class Param:
    name: str
    kind: str          # "string" | "integer" | "number" | "duration" | "boolean" | "enum"
    required: bool = False
    default: Any = None
    choices: tuple = ()
    doc: str = ""
    minimum: float | None = None     # (integer, number, duration)
    maximum: float | None = None


@dataclass(frozen=True)
class EventKind:
    name: str
    doc: str
    params: tuple[Param, ...]
    target: str        # "device" | "interface" | "component": what one raise acts on
    undoable: bool     # whether a ``duration`` undoes it


# -- the catalogue ----------------------------------------------------------------------------

# A storm publishes on ticks of at least this (so a fast storm costs 100 timers a
# second, not one per notification), each tick what fell due since the last.
STORM_TICK = 0.01
MAX_STORM_RATE = 10_000

_SEVERITIES = ("critical", "major", "minor", "warning")
_ALARM_SEVERITIES = ("indeterminate", *_SEVERITIES)

_INTERFACE = Param("interface", "string", required=True,
                   doc="the name of one interface (a drill's selector expands globs)")
_COMPONENT = Param("component", "string", required=True,
                   doc="the name of one ietf-hardware component: chassis, psu-1, psu-2, fan-1, "
                       "fan-2, or port-<interface>")
_ALARM_KEY = (
    Param("resource", "string", doc="the alarmed resource (ietf-alarms' resource: an "
                                    "instance-identifier or any string); default: the device's "
                                    "name"),
    Param("alarm-type-id", "string", default="emev:drill-alarm",
          doc="an identity derived from ietf-alarms' alarm-type-id, as prefix:name (the "
              "module's prefix or name), e.g. emev:link-alarm, emev:hardware-alarm"),
    Param("alarm-type-qualifier", "string", default="", doc="the alarm type's qualifier"),
)

EVENTS: dict[str, EventKind] = {kind.name: kind for kind in (
    EventKind("link-down", "The interface's link goes down: oper-status down, last-change, "
              "emev:link-down, and a link alarm (emev:link-alarm) where the profile has "
              "ietf-alarms. A duration brings it back up.", (_INTERFACE,), "interface", True),
    EventKind("link-up", "The interface's link comes back: oper-status up (unless the interface "
              "is disabled), emev:link-up, the link alarm cleared.",
              (_INTERFACE,), "interface", False),
    EventKind("link-flap", "The link goes down and up `count` times, one cycle every `period` "
              "(down at its start, up half-way), then stays as it was.",
              (_INTERFACE,
               Param("count", "integer", default=3, minimum=1, maximum=10_000,
                     doc="how many down-up cycles"),
               Param("period", "duration", default="10s", minimum=0.002,
                     doc="the length of one cycle")), "interface", False),
    EventKind("device-reboot", "Every session ends (close 1012, `device reboot`); the device "
              "refuses connections (WebSocket handshake answered 503) for `downtime`, then comes "
              "back with running loaded from startup, a fresh boot time and emev:device-restarted "
              "(seen by a client that connects after, or replays). Its faults end with it.",
              (Param("downtime", "duration", default="30s",
                     doc="how long it refuses connections"),), "device", False),
    EventKind("device-unreachable", "The device vanishes from the network: open sessions are "
              "dropped without a close handshake, new connections are not answered. A duration "
              "brings it back.", (), "device", True),
    EventKind("device-hang", "The device hangs: connections are accepted and requests read, but "
              "nothing is answered (for NMS timeouts); what was sent meanwhile is answered when "
              "it is back. A duration brings it back.", (), "device", True),
    EventKind("hardware-failure", "A fan, power supply or port fails: ietf-hardware oper-state "
              "disabled with an alarm-state, hardware-state-oper-disabled, a hardware alarm "
              "(emev:hardware-alarm) where the profile has ietf-alarms; a port's link goes down "
              "with it. A duration recovers it.",
              (_COMPONENT,
               Param("severity", "enum", default="major", choices=_SEVERITIES,
                     doc="the alarm's severity (and the component's alarm-state)"),
               Param("text", "string", doc="the alarm's text; default: '<component> failed'")),
              "component", True),
    EventKind("hardware-recovery", "The component works again: oper-state enabled, "
              "hardware-state-oper-enabled, its alarm cleared, a port's link up.",
              (_COMPONENT,), "component", False),
    EventKind("alarm-raise", "An alarm of any type is raised in ietf-alarms' alarm list, with "
              "its alarm-notification (refused where the profile has no ietf-alarms). A duration "
              "clears it.",
              (*_ALARM_KEY,
               Param("severity", "enum", default="major", choices=_ALARM_SEVERITIES,
                     doc="perceived-severity"),
               Param("text", "string", default="raised by a drill", doc="alarm-text")),
              "device", True),
    EventKind("alarm-clear", "The alarm of that resource, type and qualifier is cleared "
              "(is-cleared true, an alarm-notification with severity cleared).",
              _ALARM_KEY, "device", False),
    EventKind("config-drift", "An out-of-band change to running, as if made at the device's "
              "console: one leaf set, validated as an edit-config would be, and a "
              "netconf-config-change with changed-by server. NETCONF locks do not stop it. A "
              "duration puts the old value back (another change by the server).",
              (Param("path", "string", default="/ietf-system:system/contact",
                     doc="an instance-identifier of a leaf of running, with module names or "
                         "prefixes: /ietf-system:system/contact, "
                         "/if:interfaces/if:interface[if:name='eth0']/if:description"),
               Param("value", "string", default="changed at the console",
                     doc="its new value")), "device", True),
    EventKind("rpc-fault", "Faults in answering rpcs (of one operation, or every one): an "
              "<rpc-error> with `error-tag` instead of the answer, `latency` (plus up to `jitter`) "
              "before each is handled (replies stay in order), or the session dropped without a "
              "close handshake at its `drop-after`th rpc. For the next `count` rpcs, or until "
              "its duration ends (or both).",
              (Param("operation", "string", default="",
                     doc="the operation's name (get-config, edit-config...); empty: every one"),
               Param("error-tag", "enum", choices=tuple(ERROR_TAG_TYPES),
                     doc="answer with an <rpc-error> of this tag (RFC 6241 Appendix A)"),
               Param("error-message", "string", default="", doc="its error-message"),
               Param("latency", "duration", default=0.0, doc="added before each rpc is handled"),
               Param("jitter", "duration", default=0.0,
                     doc="plus a random share of this (from the drill's seeded random source)"),
               Param("drop-after", "integer", minimum=1,
                     doc="drop a session at its Nth rpc from now (unanswered, no close "
                         "handshake)"),
               Param("count", "integer", minimum=1,
                     doc="strike this many rpcs (sessions, with drop-after), then end")),
              "device", True),
    EventKind("notification-storm", "`rate` notifications a second (emev:storm-event) for its "
              "duration, or `count` of them, or until undone, reset or rebooted. A subscriber "
              "that cannot keep up is let go at --notification-queue (it may replay).",
              (Param("rate", "integer", default=100, minimum=1, maximum=MAX_STORM_RATE,
                     doc="notifications a second"),
               Param("count", "integer", minimum=1, doc="stop after this many")),
              "device", True),
)}


def describe() -> dict[str, Any]:
    """The catalogue as JSON (for GET /api/ and the drills' JSON Schema)."""
    return {name: {
        "doc": kind.doc,
        "target": kind.target,
        "undoable": kind.undoable,
        "params": [{key: value for key, value in (
            ("name", p.name), ("kind", p.kind), ("required", p.required),
            ("default", p.default), ("choices", list(p.choices) or None), ("doc", p.doc),
            ("minimum", p.minimum), ("maximum", p.maximum)) if value is not None}
            for p in kind.params],
    } for name, kind in EVENTS.items()}


# -- checking parameters -------------------------------------------------------------------------

def parse_duration(value: Any, what: str = "a duration") -> float:
    """Seconds, from a number or text such as ``90s``, ``2m``, ``1m30s``, ``500ms``,
    ``1.5h`` (emulator.scenarios.units, as drills write them); raises BadEventParameter."""
    try:
        return units.parse_duration(value)
    except ValueError as exc:
        raise BadEventParameter(f"{what}: {exc}") from None


def _value(event: str, param: Param, value: Any) -> Any:
    what = f"event {event!r}: {param.name!r}"
    if param.kind == "string":
        if not isinstance(value, str):
            raise BadEventParameter(f"{what} must be a string ({param.doc}); not {value!r}")
        return value
    if param.kind == "boolean":
        if not isinstance(value, bool):
            raise BadEventParameter(f"{what} must be true or false; not {value!r}")
        return value
    if param.kind == "enum":
        if value not in param.choices:
            raise BadEventParameter(f"{what} must be one of {', '.join(param.choices)}; "
                                    f"not {value!r}")
        return value
    if param.kind == "duration":
        number = parse_duration(value, what)
    elif param.kind == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            raise BadEventParameter(f"{what} must be a whole number ({param.doc}); "
                                    f"not {value!r}")
        number = value
    else:   # number
        if not isinstance(value, (int, float)) or isinstance(value, bool) or \
                not math.isfinite(value):
            raise BadEventParameter(f"{what} must be a number; not {value!r}")
        number = value
    if param.minimum is not None and number < param.minimum:
        raise BadEventParameter(f"{what} must be at least {param.minimum:g}; not {value!r}")
    if param.maximum is not None and number > param.maximum:
        raise BadEventParameter(f"{what} must be at most {param.maximum:g}; not {value!r}")
    return number


def check(device: Device, name: str, params: dict) -> dict:
    """The event's parameters, validated and normalised (defaults filled,
    durations in seconds); a DeviceError says what is wrong. Changes nothing."""
    kind = EVENTS.get(name) if isinstance(name, str) else None
    if kind is None:
        raise UnknownEvent(f"no event {name!r} (events: {', '.join(EVENTS)})")
    if not isinstance(params, dict):
        raise BadEventParameter(f"event {name!r} takes its parameters as an object")
    known = {p.name for p in kind.params}
    unknown = sorted(set(params) - known - {"event"})
    if unknown:
        takes = ", ".join(["event", *known, "duration"]) if known else "event, duration"
        raise BadEventParameter(f"unknown key {unknown[0]!r} for event {name!r} "
                                f"(it takes {takes})")
    checked: dict[str, Any] = {}
    for param in kind.params:
        value = params.get(param.name)
        if value is None:
            if param.required:
                raise BadEventParameter(f"event {name!r} needs {param.name!r}: {param.doc}")
            checked[param.name] = None if param.default is None \
                else _value(name, param, param.default)
        else:
            checked[param.name] = _value(name, param, value)
    _CHECKS.get(name, lambda device, params: None)(device, checked)
    return checked


def _check_interface(device: Device, params: dict) -> None:
    device.link(params["interface"])          # (NoSuchInterface)


def _check_component(device: Device, params: dict) -> None:
    if not device.has_hardware():
        raise NotInProfile(f"{device.name} (profile {device.profile.name}) has no ietf-hardware "
                           "components")
    if params["component"] not in device.components():
        raise NoSuchComponent(f"{device.name} has no hardware component {params['component']!r} "
                              f"(it has {', '.join(device.components())})")


def _check_up(device: Device, params: dict) -> None:
    if device.status is Status.REBOOTING:
        raise BadEventParameter(f"{device.name} is rebooting: wait until it is up")


def _check_alarm(device: Device, params: dict) -> None:
    if not device.has_alarms():
        raise NotInProfile(f"{device.name} (profile {device.profile.name}) has no ietf-alarms: "
                           "there is no alarm list to raise an alarm in")
    if params["resource"] is None:
        params["resource"] = device.name
    prefix, _, name = _alarm_type(device, params["alarm-type-id"])
    params["alarm-type-id"] = f"{prefix}:{name}"     # (the module's own prefix)


def _alarm_type(device: Device, text: str) -> tuple[str, str, str]:
    """(prefix, namespace, name) of an identity derived from al:alarm-type-id."""
    found = _alarm_types(device.profile.schema, text)
    if isinstance(found, str):
        raise BadEventParameter(f"event 'alarm-raise'/'alarm-clear': 'alarm-type-id' {found}")
    return found


@functools.lru_cache(maxsize=256)
def _alarm_types(schema: Any, text: str) -> tuple[str, str, str] | str:
    """What _alarm_type finds, or why not (kept per schema: a profile's types are
    fixed once it is compiled)."""
    prefix, _, name = text.partition(":")
    modules = [m for m in schema.modules.values() if prefix in (m.prefix, m.name)]
    if not name or not modules:
        return (f"must be prefix:identity with the prefix or name of one of the profile's "
                f"modules; not {text!r}")
    module = modules[0]
    identity = (module.namespace, name)
    if identity not in schema.identities.bases or \
            not schema.identities.derived_from(identity, (AL_NS, "alarm-type-id")):
        return f"{text!r} is not an identity derived from ietf-alarms' alarm-type-id"
    return (module.prefix, module.namespace, name)


def _check_rpc_fault(device: Device, params: dict) -> None:
    acts = params["error-tag"] is not None or params["latency"] or params["jitter"] or \
        params["drop-after"] is not None
    if not acts:
        raise BadEventParameter("event 'rpc-fault' needs what to do: 'error-tag', 'latency' "
                                "(and 'jitter') or 'drop-after'")
    if params["error-tag"] is not None and params["drop-after"] is not None:
        raise BadEventParameter("event 'rpc-fault': 'error-tag' and 'drop-after' do not go "
                                "together (a dropped session gets no answer)")


_CHECKS: dict[str, Callable[[Device, dict], None]] = {
    "link-down": _check_interface, "link-up": _check_interface, "link-flap": _check_interface,
    "device-unreachable": _check_up, "device-hang": _check_up,
    "hardware-failure": _check_component, "hardware-recovery": _check_component,
    "alarm-raise": _check_alarm, "alarm-clear": _check_alarm,
    "config-drift": lambda device, params: _drift_edit(device, params),
    "rpc-fault": _check_rpc_fault,
}


# -- what a raise leaves --------------------------------------------------------------------------

class Raised:
    """One raised event: its result, and its effect while it is in force."""

    def __init__(self, device: Device, name: str, params: dict):
        self.device = device
        self.name = name
        self.params = params
        self.result: dict[str, Any] = {"device": device.name, "event": name, "changed": False}
        self.ends_at: float | None = None
        self._undo: Callable[[], None] | None = None
        self._alive: Callable[[], bool] | None = None
        self._timers: dict[str, Any] = {}      # by slot: "next" (a chain), "end"
        self._active = False
        self._faults = device.faults
        self._epoch = -1

    @property
    def active(self) -> bool:
        """Still in effect: not undone, not ended, and the device not reset or
        rebooted since (which clears every effect)."""
        return self._active and self._faults.epoch == self._epoch and \
            (self._alive is None or self._alive())

    def undo(self) -> None:
        """Undo now if still in effect (idempotent; cancels its timers)."""
        was = self.active
        self._end()
        if was and self._undo is not None:
            self._undo()

    def drop(self) -> None:
        """Forget the effect without undoing it (the device's faults were cleared)."""
        self._end()

    def finish(self) -> None:
        """It ended by itself (a flap's last cycle, a fault's last rpc)."""
        self._end()

    def _end(self) -> None:
        self._active = False
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._faults.effects.discard(self)

    def later(self, delay: float, callback: Callable[[], None], slot: str = "next") -> None:
        """A timer of this effect's, in ``slot`` (the slot's last one has run or
        is replaced); all are cancelled when it ends."""
        old = self._timers.get(slot)
        if old is not None:
            old.cancel()
        self._timers[slot] = self.device.clock.call_later(delay, callback)

    def _start(self) -> None:
        self._faults = self.device.faults       # (a reboot in apply cleared the old ones)
        self._epoch = self._faults.epoch
        self._active = True

    def __repr__(self) -> str:
        return f"<Raised {self.name} on {self.device.name}{' (active)' if self.active else ''}>"


def raise_event(device: Device, name: str, params: dict, *, duration: float | str | None = None,
                rng: random.Random | None = None) -> Raised:
    """check() then apply; with ``duration``, a timer on the device's clock
    undoes it when it ends. ``rng`` is the only source of randomness (default
    random.Random(0)), so a drill is repeatable."""
    checked = check(device, name, params)
    kind = EVENTS[name]
    if duration is not None:
        duration = parse_duration(duration, f"event {name!r}: 'duration'")
        if not kind.undoable:
            raise BadEventParameter(f"event {name!r} takes no duration (it is not undone)"
                                    + (": its downtime is 'downtime'" if name == "device-reboot"
                                       else ""))
    raised = Raised(device, name, checked)
    _APPLY[name](device, checked, raised, rng or random.Random(0))
    if duration is not None and raised.active:
        end = device.clock.now() + duration
        raised.ends_at = end if raised.ends_at is None else min(raised.ends_at, end)
        raised.later(duration, raised.undo, slot="end")
    if raised._timers and raised.active:
        device.faults.effects.add(raised)     # (a reset or reboot drops it)
    if raised.ends_at is not None:
        raised.result["ends-at"] = raised.ends_at
    return raised


# -- applying each event ------------------------------------------------------------------------

def _link(up: bool) -> Callable[[Device, dict, Raised, random.Random], None]:
    def apply(device: Device, params: dict, raised: Raised, rng: random.Random) -> None:
        interface = params["interface"]
        before = device.link(interface).oper_up
        raised.result.update(device.set_link(interface, up))
        raised._start()
        if up:
            device.faults.holds.pop(interface, None)    # (what held it down is overridden)
        else:
            device.faults.hold(interface, raised, before)
            raised._undo = lambda: _release_link(device, interface, raised)
    return apply


def _release_link(device: Device, interface: str, effect: Any) -> None:
    """An effect that held a link down ends: the link goes back to what it was
    before the first such effect, unless another still holds it down."""
    state = device.faults.release(interface, effect)
    if state is not None:
        _restore_link(device, interface, state)


def _restore_link(device: Device, interface: str, up: bool) -> None:
    try:
        device.set_link(interface, up)
    except NoSuchInterface:
        pass     # (removed from the configuration meanwhile: nothing to restore)


def _link_flap(device: Device, params: dict, raised: Raised, rng: random.Random) -> None:
    interface, count, period = params["interface"], params["count"], params["period"]
    before = device.link(interface).oper_up
    if interface in device.faults.holds:       # (held down by another effect: stays so)
        before = False
    raised.result.update(device.set_link(interface, False), event="link-flap", flaps=count)
    raised._start()
    raised.ends_at = device.clock.now() + (count - 1) * period + period / 2
    done = [0]       # cycles whose "up" has happened

    def up() -> None:
        _restore_link(device, interface, True)
        done[0] += 1
        if done[0] >= count:
            _restore_link(device, interface, before)
            raised.finish()
        else:
            raised.later(period / 2, down)

    def down() -> None:
        _restore_link(device, interface, False)
        raised.later(period / 2, up)

    raised.later(period / 2, up)
    raised._undo = lambda: _restore_link(device, interface, before)


def _reboot(device: Device, params: dict, raised: Raised, rng: random.Random) -> None:
    sessions = len(device.sessions)
    device.reboot(params["downtime"])
    raised.result.update(changed=True, sessions=sessions, status=device.status.value)
    raised._start()
    if device.status is Status.REBOOTING:
        mark = device.status_changes
        raised.ends_at = device.clock.now() + params["downtime"]
        raised._alive = lambda: device.status_changes == mark

        def undo() -> None:       # (a drill stopped with restore: up now)
            if device.status_changes == mark:
                device.boot()
        raised._undo = undo
    else:
        raised.finish()       # (no downtime: it is up again already)


def _status(status: Status) -> Callable[[Device, dict, Raised, random.Random], None]:
    def apply(device: Device, params: dict, raised: Raised, rng: random.Random) -> None:
        sessions = len(device.sessions)
        changed = device.status is not status
        device.set_status(status)
        mark = device.status_changes
        raised.result.update(changed=changed, sessions=sessions, status=status.value)
        raised._start()
        raised._alive = lambda: device.status_changes == mark

        def undo() -> None:
            if device.status_changes == mark:
                device.set_status(Status.UP)
        raised._undo = undo
    return apply


def _hardware(failed: bool) -> Callable[[Device, dict, Raised, random.Random], None]:
    def apply(device: Device, params: dict, raised: Raised, rng: random.Random) -> None:
        component = params["component"]
        if failed:
            result = device.set_component(component, True, params["severity"], params["text"])
        else:
            result = device.set_component(component, False)
        raised.result.update(result, event=raised.name)
        raised._start()
        if failed and result["changed"]:
            raised._undo = lambda: device.set_component(component, False)
    return apply


def _alarm(raise_it: bool) -> Callable[[Device, dict, Raised, random.Random], None]:
    def apply(device: Device, params: dict, raised: Raised, rng: random.Random) -> None:
        key = (params["resource"], _alarm_type(device, params["alarm-type-id"]),
               params["alarm-type-qualifier"])
        changed = device.set_alarm(
            key[0], raised=raise_it, text=params.get("text") or "", type_id=key[1],
            qualifier=key[2], severity=params.get("severity") or "major")
        raised.result.update(changed=changed, resource=key[0],
                             **{"alarm-type-id": params["alarm-type-id"],
                                "alarm-type-qualifier": key[2]})
        raised._start()
        if raise_it:
            raised._undo = lambda: device.set_alarm(key[0], raised=False, text="",
                                                    type_id=key[1], qualifier=key[2])
    return apply


# -- config-drift -----------------------------------------------------------------------------

_STEP = re.compile(r"(?:([\w.-]+):)?([\w.-]+)((?:\[[^\]]*\])*)\Z")
_PREDICATE = re.compile(r"\[\s*(?:([\w.-]+):)?([\w.-]+)\s*=\s*(?:'([^']*)'|\"([^\"]*)\")\s*\]")


def _split(path: str) -> list[str]:
    """A path's steps ('/' inside a predicate's quotes is not one)."""
    steps, current, quote = [], [], None
    for char in path:
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "/":
            steps.append("".join(current))
            current = []
            continue
        current.append(char)
    steps.append("".join(current))
    return steps


def _drift_edit(device: Device, params: dict) -> tuple[etree._Element, list, str | None]:
    """The drift as an edit: the ``<config>`` that sets the leaf, the steps to the
    leaf ((tag, keys) each), and its value now (None: not set). Refuses (a
    BadEventParameter) a path that is not a config leaf of running, or whose
    list entries do not exist."""
    path, value = params["path"], params["value"]
    schema = device.profile.schema
    namespaces = {}
    for module in schema.modules.values():
        if module.implemented:
            namespaces.setdefault(module.name, module.namespace)
            namespaces.setdefault(module.prefix, module.namespace)

    def bad(why: str) -> BadEventParameter:
        return BadEventParameter(f"event 'config-drift': 'path' {path!r} {why}")

    steps = _split(path.strip())
    if len(steps) < 2 or steps[0] != "":
        raise bad("must be an absolute path to a leaf, such as /ietf-system:system/contact")
    node = schema.root
    ns = None
    chain: list[tuple[str, list[tuple[str, str]]]] = []
    for step in steps[1:]:
        match = _STEP.match(step.strip())
        if match is None:
            raise bad(f"has a step {step!r} that is not prefix:name[key='value']")
        prefix, name, predicates = match.groups()
        if prefix is not None:
            ns = namespaces.get(prefix)
            if ns is None:
                raise bad(f"names a module {prefix!r} that {device.name} does not implement")
        elif ns is None:
            raise bad("must name its first node's module (prefix:name)")
        child = node.by_tag.get(f"{{{ns}}}{name}")
        if child is None or not child.config:
            raise bad(f"has no configuration node {name!r} there")
        keys = []
        for found in _PREDICATE.finditer(predicates):
            key_prefix, key, quoted, double = found.groups()
            key_ns = namespaces.get(key_prefix, ns) if key_prefix else ns
            keys.append((f"{{{key_ns}}}{key}", quoted if quoted is not None else double))
        if child.keyword == "list":
            wanted = {tag for tag, _ in child.key_nodes}
            if {tag for tag, _ in keys} != wanted:
                raise bad(f"must give every key of list {name!r} "
                          f"({', '.join(etree.QName(t).localname for t in wanted)})")
        elif keys or predicates.strip():
            raise bad(f"has a predicate on {name!r}, which is not a list")
        chain.append((child.tag, keys))
        node = child
    if node.keyword != "leaf":
        raise bad(f"must end at a leaf, not a {node.keyword}")
    # where it stands in running now (every list entry on the way must exist)
    current: etree._Element | None = device.running()
    for depth, (tag, keys) in enumerate(chain):
        found_child = None
        for candidate in current.iterchildren(tag):
            if all(candidate.findtext(key_tag) == key_value for key_tag, key_value in keys):
                found_child = candidate
                break
        if found_child is None:
            if keys:
                raise bad(f"names a list entry that running does not have "
                          f"({etree.QName(tag).localname} {', '.join(v for _, v in keys)})")
            old = None
            break
        current = found_child
    else:
        old = current.text or ""
    config = etree.Element(qn("config"), nsmap={None: NC_NS})
    parent = config
    for tag, keys in chain:
        parent = etree.SubElement(parent, tag)
        for key_tag, key_value in keys:
            etree.SubElement(parent, key_tag).text = key_value
    parent.text = value
    return config, chain, old


def _change_running(device: Device, config: etree._Element) -> list:
    """Apply an edit to running as the server (changed-by server); its edits."""
    stores = device.datastores
    schema = device.profile.schema
    work = stores.copy("running")
    result = apply_edit(schema, work, config, "merge")
    problems = result.errors + validate_change(schema, work, result.touched,
                                               removed=result.removed, structural=False)
    if problems:
        raise BadEventParameter(f"event 'config-drift' would make running invalid: "
                                f"{problems[0].message or problems[0].tag}")
    edits = [(operation, *instance_path(schema, element, config))
             for operation, element in result.changes]
    if edits:
        stores.replace_running(work, edits, None)
    return edits


def _config_drift(device: Device, params: dict, raised: Raised, rng: random.Random) -> None:
    config, chain, old = _drift_edit(device, params)
    try:
        edits = _change_running(device, config)
    except (RpcError, RpcErrors) as exc:
        raise BadEventParameter(f"event 'config-drift' was refused: {exc}") from None
    raised.result.update(changed=bool(edits), path=params["path"], value=params["value"],
                         was=old)
    raised._start()
    if not edits:
        return

    def undo() -> None:
        back = etree.Element(qn("config"), nsmap={None: NC_NS})
        parent = back
        for tag, keys in chain:
            parent = etree.SubElement(parent, tag)
            for key_tag, key_value in keys:
                etree.SubElement(parent, key_tag).text = key_value
        if old is None:
            parent.set(qn("operation"), "remove")
        else:
            parent.text = old
        try:
            _change_running(device, back)
        except (BadEventParameter, RpcError, RpcErrors):
            pass      # (running moved on meanwhile so that the old value no longer fits)
    raised._undo = undo


# -- rpc-fault and notification-storm ----------------------------------------------------------

def _rpc_fault(device: Device, params: dict, raised: Raised, rng: random.Random) -> None:
    fault = RpcFault(operation=params["operation"] or None, error_tag=params["error-tag"],
                     error_message=params["error-message"], latency=params["latency"],
                     jitter=params["jitter"], drop_after=params["drop-after"],
                     remaining=params["count"], rng=rng, on_spent=raised.finish)
    device.faults.add(fault)
    raised.result.update(changed=True, operation=params["operation"] or "*",
                         sessions=len(device.sessions))
    raised._start()
    raised._undo = lambda: device.faults.remove(fault)
    raised._alive = lambda: fault in device.rpc_faults
    device.faults.effects.add(raised)      # (a reset removes the fault: the raise is over)


def _storm(device: Device, params: dict, raised: Raised, rng: random.Random) -> None:
    rate, count = params["rate"], params["count"]
    faults = device.faults
    faults.storms += 1
    storm = faults.storms
    clock = device.clock
    start = clock.now()
    tick = max(1.0 / rate, STORM_TICK)
    sent = [0]
    raised.result.update(changed=True, storm=storm, rate=rate)
    raised._start()
    if count is not None:
        raised.ends_at = start + (count - 1) / rate

    def due(now: float) -> int:
        """How many should be out by ``now`` (one at the start, then ``rate`` a
        second; none at or after the end of its duration)."""
        wanted = math.floor((now - start) * rate + 1e-9) + 1
        if raised.ends_at is not None and count is None:
            wanted = min(wanted, math.ceil((raised.ends_at - start) * rate - 1e-9))
        return min(wanted, count) if count is not None else wanted

    def flush(now: float) -> None:
        for _ in range(due(now) - sent[0]):
            sent[0] += 1
            device.publish(storm_event(storm, sent[0]))
        raised.result["sent"] = sent[0]

    def publish(ticks: int) -> None:
        if not raised.active:
            return
        flush(clock.now())
        if count is not None and sent[0] >= count:
            raised.finish()
            return
        # (each tick's time from the start, not from the last: no drift)
        raised.later(start + (ticks + 1) * tick - clock.now(), lambda: publish(ticks + 1))

    def undo() -> None:
        # at the end of its duration: what fell due since the last tick goes too
        if raised.ends_at is not None and count is None and clock.now() >= raised.ends_at:
            flush(clock.now())
    raised._undo = undo
    publish(0)


_APPLY: dict[str, Callable[[Device, dict, Raised, random.Random], None]] = {
    "link-down": _link(False), "link-up": _link(True), "link-flap": _link_flap,
    "device-reboot": _reboot,
    "device-unreachable": _status(Status.UNREACHABLE), "device-hang": _status(Status.HUNG),
    "hardware-failure": _hardware(True), "hardware-recovery": _hardware(False),
    "alarm-raise": _alarm(True), "alarm-clear": _alarm(False),
    "config-drift": _config_drift,
    "rpc-fault": _rpc_fault,
    "notification-storm": _storm,
}
assert _APPLY.keys() == EVENTS.keys()
