"""The faults a device carries: injected rpc faults, and the timers of the
events in force on it (a link flapping, a storm, the end of a duration).

The event catalogue (emulator.scenarios.catalogue) puts them here; the
device owns them, so that ``reset()``, ``reboot()`` and ``unload()`` clear
them all at once: a reset device has no faults left. The sessions layer
asks :meth:`Faults.on_message` for latency and drops, and the session core's
dispatch meets an injected error through :meth:`Faults.operations` (the
device hands that out as its operation table while an error fault is in
force); with no fault in force neither costs anything.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from lxml import etree

from emulator.errors import ERROR_TAG_TYPES, RpcError
from emulator.netconf.operations import Handler, OperationRegistry

# The error-info RFC 6241 Appendix A requires of some error-tags.
_INFO_OF_TAG: dict[str, Callable[[str], list[tuple[str, str]]]] = {
    "lock-denied": lambda op: [("session-id", "0")],
    "missing-attribute": lambda op: [("bad-attribute", "message-id"), ("bad-element", "rpc")],
    "bad-attribute": lambda op: [("bad-attribute", "message-id"), ("bad-element", "rpc")],
    "unknown-attribute": lambda op: [("bad-attribute", "message-id"), ("bad-element", "rpc")],
    "missing-element": lambda op: [("bad-element", op)],
    "bad-element": lambda op: [("bad-element", op)],
    "unknown-element": lambda op: [("bad-element", op)],
    "unknown-namespace": lambda op: [("bad-element", op), ("bad-namespace", "")],
}


def error_type_for(tag: str) -> str:
    """The error-type an injected error of ``tag`` carries: application where
    Appendix A allows it, else the one it allows (lock-denied: protocol)."""
    allowed = ERROR_TAG_TYPES[tag]
    return "application" if "application" in allowed else sorted(allowed)[0]


class Effect(Protocol):
    """An event's effect in force on a device (what catalogue.Raised is)."""

    def drop(self) -> None:
        """Forget it without undoing it (the device was reset or rebooted)."""


@dataclass
class RpcFault:
    """One injected rpc fault: which operation it strikes (None: every one),
    and what it does to each rpc it strikes."""

    operation: str | None = None       # the operation's local name
    error_tag: str | None = None
    error_message: str = ""
    latency: float = 0.0               # seconds before the rpc is handled
    jitter: float = 0.0                # plus up to this, from ``rng``
    drop_after: int | None = None      # a session's Nth rpc from now drops it
    remaining: int | None = None       # rpcs it strikes before it is spent (None: no limit)
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    on_spent: Callable[[], None] | None = None
    seen: dict[int, int] = field(default_factory=dict)   # rpcs seen, by session id

    def strikes(self, operation: str | None) -> bool:
        return self.operation is None or self.operation == operation

    def spend(self, faults: "Faults") -> None:
        if self.remaining is None:
            return
        self.remaining -= 1
        if self.remaining <= 0:
            faults.remove(self)
            if self.on_spent is not None:
                self.on_spent()

    def error(self, operation: str) -> RpcError:
        tag = self.error_tag or "operation-failed"
        return RpcError(tag, error_type_for(tag),
                        self.error_message or f"injected fault: <{operation}> fails with {tag}",
                        info=list(_INFO_OF_TAG.get(tag, lambda op: [])(operation)))


@dataclass(frozen=True)
class Verdict:
    """What the sessions layer does with one rpc: wait ``delay`` seconds
    first, or drop the session (without answering it)."""

    delay: float = 0.0
    drop: bool = False


PASS = Verdict()


class Faults:
    """A device's faults and effects in force."""

    __slots__ = ("rpc", "effects", "epoch", "storms", "holds")

    def __init__(self) -> None:
        self.rpc: list[RpcFault] = []
        self.effects: set[Any] = set()
        # Effects that hold a link down, by interface: (its state before the
        # first of them, the effects). The link comes back when the last is undone.
        self.holds: dict[str, tuple[bool, set[Any]]] = {}
        self.epoch = 0        # how many times it was cleared (an effect from before is over)
        self.storms = 0       # storms raised so far (each storm's number)

    def hold(self, interface: str, effect: Any, state: bool) -> None:
        """``effect`` holds the link down; ``state`` is the link's before it."""
        base, holders = self.holds.get(interface, (state, set()))
        holders.add(effect)
        self.holds[interface] = (base, holders)

    def release(self, interface: str, effect: Any) -> bool | None:
        """``effect`` no longer holds the link: the state to put back when it was
        the last holder, else None (another effect still holds it down)."""
        base, holders = self.holds.get(interface, (None, set()))
        holders.discard(effect)
        if holders:
            return None
        self.holds.pop(interface, None)
        return base

    def add(self, fault: RpcFault) -> None:
        self.rpc.append(fault)

    def remove(self, fault: RpcFault) -> None:
        if fault in self.rpc:
            self.rpc.remove(fault)

    def clear(self) -> None:
        """Every fault gone, every effect's timer cancelled (nothing is undone)."""
        self.epoch += 1
        self.rpc.clear()
        self.holds.clear()
        effects, self.effects = self.effects, set()
        for effect in effects:
            effect.drop()

    @property
    def failing(self) -> bool:
        return any(f.error_tag is not None for f in self.rpc)

    # -- the sessions layer: latency and drops ------------------------------------

    def on_message(self, session_id: int, operation: str | None) -> Verdict:
        """One rpc of a session, before it is handled (``operation``: its local
        name, None if it could not be told). A fault that only delays or drops
        is spent here; one that also fails the rpc is spent at dispatch."""
        delay = 0.0
        for fault in list(self.rpc):
            if not fault.strikes(operation):
                continue
            if fault.drop_after is not None:
                seen = fault.seen[session_id] = fault.seen.get(session_id, 0) + 1
                if seen >= fault.drop_after:
                    fault.seen.pop(session_id, None)
                    fault.spend(self)
                    return Verdict(drop=True)
            if fault.latency or fault.jitter:
                delay += fault.latency + (fault.rng.uniform(0, fault.jitter) if fault.jitter else 0)
            if fault.error_tag is None and fault.drop_after is None:
                fault.spend(self)
        return Verdict(delay=delay) if delay else PASS

    # -- the session core's dispatch: injected errors ------------------------------

    def operations(self, table: OperationRegistry) -> "FaultyOperations":
        return FaultyOperations(self, table)

    def failure(self, operation: str) -> RpcError | None:
        for fault in self.rpc:
            if fault.error_tag is not None and fault.strikes(operation):
                fault.spend(self)
                return fault.error(operation)
        return None


class FaultyOperations:
    """The device's operation table while an error fault is in force: an rpc
    the fault strikes gets its error (as an operation that refused it)."""

    __slots__ = ("faults", "table")

    def __init__(self, faults: Faults, table: OperationRegistry):
        self.faults = faults
        self.table = table

    def get(self, tag: str) -> Handler | None:
        error = self.faults.failure(etree.QName(tag).localname)
        if error is None:
            return self.table.get(tag)

        def refuse(rpc: Any) -> None:
            raise error
        return refuse

    def __getattr__(self, name: str) -> Any:
        return getattr(self.table, name)
