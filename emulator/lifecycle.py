"""A device's lifecycle: the states it can be in, and what each does to new
connections, to the sessions already open, and to the requests they send.

The device keeps its state; the sessions layer and the transports ask it
(``BEHAVIOUR[device.status]``) and act on the answer, so a new state or a
new transport changes one table, not every handler.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Status(str, enum.Enum):
    UP = "up"
    REBOOTING = "rebooting"
    UNREACHABLE = "unreachable"
    HUNG = "hung"


class Admit(enum.Enum):
    """What a new connection gets."""

    ACCEPT = "accept"      # connected; the server's hello goes out when the device speaks
    REFUSE = "refuse"      # answered, but refused (WebSocket: HTTP 503 with a reason)
    IGNORE = "ignore"      # never answered: the connection is dropped unanswered


class OnEnter(enum.Enum):
    """What entering the state does to the sessions already open."""

    KEEP = "keep"          # they stay open
    END = "end"            # ended with a reason and a closing handshake
    DROP = "drop"          # dropped: no closing handshake, as when a cable is pulled


@dataclass(frozen=True)
class Behaviour:
    new_connections: Admit
    open_sessions: OnEnter
    speaks: bool           # sends anything at all: hellos, replies, notifications
    answers: bool          # handles requests (a hung device reads them and does nothing)


BEHAVIOUR: dict[Status, Behaviour] = {
    #                 new connections, open sessions, speaks, answers
    Status.UP: Behaviour(Admit.ACCEPT, OnEnter.KEEP, True, True),
    # sessions ended with "device reboot"; connections refused until it is up
    Status.REBOOTING: Behaviour(Admit.REFUSE, OnEnter.END, False, False),
    # gone from the network: nothing answers, open sessions just stop
    Status.UNREACHABLE: Behaviour(Admit.IGNORE, OnEnter.DROP, False, False),
    # connections accepted, sessions kept, nothing answered (for NMS timeouts);
    # a hello held meanwhile goes out when the device is up again
    Status.HUNG: Behaviour(Admit.ACCEPT, OnEnter.KEEP, False, False),
}
