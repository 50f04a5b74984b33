"""(A stand-in for the event catalogue, with the interface the engine uses;
the catalogue proper replaces it.)"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from emulator.device import BadEventParameter, Device, NoSuchInterface, UnknownEvent
from emulator.lifecycle import Status
from emulator.scenarios.units import parse_duration


@dataclass(frozen=True)
class Param:
    name: str
    kind: str
    required: bool = False
    default: Any = None
    choices: tuple = ()
    doc: str = ""


@dataclass(frozen=True)
class EventKind:
    name: str
    doc: str
    params: tuple[Param, ...]
    target: str
    undoable: bool


_INTERFACE = Param("interface", "string", True, doc="the interface's name")
EVENTS = {kind.name: kind for kind in (
    EventKind("link-down", "an interface's link goes down", (_INTERFACE,), "interface", True),
    EventKind("link-up", "an interface's link comes back", (_INTERFACE,), "interface", False),
    EventKind("device-reboot", "the device restarts", (), "device", False),
    EventKind("device-unreachable", "the device is gone from the network", (), "device", True),
    EventKind("device-hang", "the device answers nothing", (), "device", True),
)}


def describe() -> dict:
    return {name: {"doc": kind.doc, "target": kind.target, "undoable": kind.undoable,
                   "params": {p.name: {"kind": p.kind, "required": p.required,
                                       "default": p.default, "choices": list(p.choices),
                                       "doc": p.doc} for p in kind.params}}
            for name, kind in EVENTS.items()}


def check(device: Device, name: str, params: dict) -> dict:
    kind = EVENTS.get(name)
    if kind is None:
        raise UnknownEvent(f"no event {name!r} (events: {', '.join(EVENTS)})")
    result = {}
    for param in kind.params:
        if param.name not in params:
            if param.required:
                raise BadEventParameter(f"event {name!r} needs {param.name!r}: {param.doc}")
            continue
        result[param.name] = params[param.name]
    if kind.target == "interface" and params["interface"] not in device.interfaces():
        raise NoSuchInterface(f"{device.name} has no interface {params['interface']!r}")
    return result


class Raised:
    def __init__(self, result: dict, undo: Any = None):
        self.result = result
        self.active = undo is not None
        self.ends_at = None
        self._undo = undo
        self._timer = None

    def undo(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self.active:
            self.active = False
            self._undo()


def raise_event(device: Device, name: str, params: dict, *, duration: float | None = None,
                rng: random.Random | None = None) -> Raised:
    params = check(device, name, params)
    result = {"device": device.name, "event": name}
    undo = None
    if name in ("link-down", "link-up"):
        result = device.raise_event(name, params)
        if name == "link-down":
            undo = lambda: device.raise_event("link-up", params)  # noqa: E731
    elif name == "device-reboot":
        device.reboot(duration or 0.0)
        duration = None
    else:
        status = Status.UNREACHABLE if name == "device-unreachable" else Status.HUNG
        device.set_status(status)
        undo = lambda: device.set_status(Status.UP)  # noqa: E731
    raised = Raised(result, undo)
    if duration is not None and undo is not None:
        raised.ends_at = device.clock.now() + duration
        raised._timer = device.clock.call_later(duration, raised.undo)
    return raised


__all__ = ["EVENTS", "Param", "EventKind", "Raised", "check", "describe", "raise_event",
           "parse_duration"]
