"""What one running fleet shares: its clock, its limits, its session ids, its
storage, its operation table and the registry of its open connections.

A runtime is made first and handed to everything that needs it as it is
built (devices, the sessions layer, the server); nothing of it lives in a
class attribute or a module global, so two fleets with different settings
can run in one process, and a fleet can stop and start again.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from emulator import monitoring as _monitoring  # noqa: F401  (registers <get-schema>)
from emulator import notifications as _notifications  # noqa: F401  (<create-subscription>)
from emulator.clock import Clock, RealClock
from emulator.datastore import operations as _datastore_operations  # noqa: F401  (registers them)
from emulator.datastore.storage import Storage
from emulator.netconf.operations import BASE_OPERATIONS, OperationRegistry

MiB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """What a fleet allows each device and session; the CLI sets them."""

    # Events kept per device for replay (RFC 5277 section 3.2), by count and age.
    replay_size: int = 1000
    replay_age: float = 24 * 3600.0
    # Notifications a session may have written but not yet read before it is
    # let go (a subscriber that does not read must not hold the server's memory).
    notification_queue: int = 1000
    # Messages kept per device for the journal API.
    journal_size: int = 500
    # A session that sends no <hello> within this long is ended (0: never).
    hello_timeout: float = 60.0
    # The largest NETCONF message accepted, on every transport.
    max_message_size: int = 64 * MiB
    # An <edit-config> of more elements than this, or a <commit> that checks a
    # configuration of more, does its work on a worker thread (on copies), not
    # on the event loop every device shares.
    offload_elements: int = 5_000
    # A message longer than this (bytes) is parsed on that thread too, and the
    # state of a device of more interfaces than this is built there for <get>.
    offload_bytes: int = MiB
    offload_interfaces: int = 1_000
    # The most elements an edit may leave in a datastore (0: no limit): what
    # bounds a device's memory, and what a <get> or <commit> of it costs.
    max_datastore_elements: int = 100_000


@dataclass
class Runtime:
    clock: Clock = field(default_factory=RealClock)
    limits: Limits = field(default_factory=Limits)
    # Where datastores and replay logs persist while the fleet runs (None: in
    # memory only); the server opens it at start and closes it at stop.
    storage: Storage | None = None
    # The fleet's operations: the base protocol's and any a fleet adds.
    operations: OperationRegistry = field(
        default_factory=lambda: OperationRegistry(parent=BASE_OPERATIONS))
    # The open connections of every transport (sessions.Connection), for shutdown.
    connections: set[Any] = field(default_factory=set)
    # Called with (device, direction, session id, message) for every message a
    # device's journal records, before it is cut (the drill engine watches them).
    journal_observers: list[Any] = field(default_factory=list)
    # Session ids are unique across the whole fleet (RFC 6241 section 8.1 asks
    # only per server; one fleet is one server).
    _session_ids: Any = field(default_factory=lambda: itertools.count(1), repr=False)

    def next_session_id(self) -> int:
        return next(self._session_ids)
