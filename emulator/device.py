"""One virtual device: its profile, its sessions and its message journal.

The device owns its sessions (and, as they arrive, its datastores, locks
and subscriptions); a session holds a reference to its device and asks it.
Like the protocol core, the device never touches a socket or a clock of
its own, so it is tested without a server.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from typing import Iterator

from emulator.netconf.operations import BASE_OPERATIONS, OperationRegistry
from emulator.netconf.session import Session, Transport
from emulator.netconf.termination import Reason
from emulator.netconf.xml import BASE_1_0, BASE_1_1
from emulator.profile import Profile

# Session ids are unique in the whole process, hence across every device.
_session_ids = itertools.count(1)

# A journal keeps this much of each message; the rest is cut and marked.
JOURNAL_TEXT_LIMIT = 256 * 1024
DEFAULT_JOURNAL_SIZE = 500


class JournalEntry(tuple):
    """(seq, time, direction, session, text); ``time`` is a Unix timestamp."""

    __slots__ = ()

    seq = property(lambda self: self[0])
    time = property(lambda self: self[1])
    direction = property(lambda self: self[2])
    session = property(lambda self: self[3])
    text = property(lambda self: self[4])


class Device:
    __slots__ = ("name", "profile", "values", "operations", "sessions", "status",
                 "_journal", "_journal_size", "_journal_seq")

    def __init__(self, name: str, profile: Profile, values: dict[str, str], *,
                 operations: OperationRegistry = BASE_OPERATIONS,
                 journal_size: int = DEFAULT_JOURNAL_SIZE):
        self.name = name
        self.profile = profile
        self.values = values
        self.operations = operations
        self.sessions: dict[int, Session] = {}
        self.status = "up"
        self._journal: deque[JournalEntry] | None = None  # made on first use
        self._journal_size = journal_size
        self._journal_seq = 0

    def __repr__(self) -> str:
        return f"<Device {self.name} ({self.profile.name})>"

    # -- what the device is ----------------------------------------------

    def capabilities(self) -> list[str]:
        return [BASE_1_0, BASE_1_1]

    def initial(self, which: str) -> str:
        """The profile's ``config`` or ``state`` document for this device."""
        return self.profile.render(which, self.values)

    # -- sessions --------------------------------------------------------

    def open_session(self, transport: Transport, username: str,
                     source_host: str | None = None) -> Session:
        session = Session(self, next(_session_ids), transport, username, source_host)
        self.sessions[session.id] = session
        return session

    def session_ended(self, session: Session) -> None:
        """Called by a session as it ends, however it ends."""
        self.sessions.pop(session.id, None)

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
