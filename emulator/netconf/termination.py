"""How a session ends: the termination-reason values of RFC 6470."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Reason(enum.Enum):
    CLOSED = "closed"          # <close-session>
    KILLED = "killed"          # <kill-session> from another session
    DROPPED = "dropped"        # the transport went away
    TIMEOUT = "timeout"        # no hello in time
    BAD_HELLO = "bad-hello"    # the client's hello was unacceptable
    OTHER = "other"            # server shutdown, device reset, message too big...


class Cause(enum.Enum):
    """Why the server itself ended a session, beyond RFC 6470's reason: a
    transport chooses its way of closing by it (a WebSocket close code, say)."""

    NONE = "none"
    SHUTDOWN = "shutdown"          # the server stops
    RESET = "reset"                # the device was reset to its fixture
    REBOOT = "reboot"              # the device reboots
    UNREACHABLE = "unreachable"    # the device vanished: hang up without a goodbye
    TOO_BIG = "too-big"            # a message over --max-message-size
    OVERFLOW = "overflow"          # the client did not read its notifications


@dataclass(frozen=True)
class Termination:
    reason: Reason
    detail: str = ""
    killed_by: int | None = None
    cause: Cause = Cause.NONE

    @property
    def abrupt(self) -> bool:
        """Hang up at once, with no closing handshake."""
        return self.cause is Cause.UNREACHABLE
