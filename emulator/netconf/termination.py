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


@dataclass(frozen=True)
class Termination:
    reason: Reason
    detail: str = ""
    killed_by: int | None = None
