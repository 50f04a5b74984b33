"""Where datastores live between restarts: one SQLite file in --data-dir.

Each (device, datastore) is one row holding the datastore's XML. A device
nobody has changed has no rows and reads its fixture; a commit writes its
rows in one transaction, so a process killed at any moment leaves either
the old or the new configuration, never a mix. WAL with synchronous=NORMAL
makes a committed transaction survive the process (not a power cut) without
a disk flush per commit.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import sqlite_utils

FILE_NAME = "datastores.sqlite"


class Storage:
    def __init__(self, path: Path | None):
        """``path`` None keeps everything in memory (for tests of the core)."""
        connection = sqlite3.connect(str(path) if path else ":memory:", isolation_level=None,
                                     check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        self.db = sqlite_utils.Database(connection)
        self.table = self.db.table("datastores")
        if not self.table.exists():
            self.table.create({"device": str, "name": str, "xml": str, "updated": float},
                              pk=("device", "name"))
        # The replay logs of event notifications (RFC 5277), and when each began.
        if not self.db.table("events").exists():
            self.db.table("events").create({"device": str, "seq": int, "time": float, "xml": str},
                                           pk=("device", "seq"))
        if not self.db.table("logs").exists():
            self.db.table("logs").create({"device": str, "created": float}, pk="device")
        self._pending: list[tuple[str, int, float, str, int, float]] = []
        self._new_logs: list[tuple[str, float]] = []
        # read once: a device's first event then costs no query
        self._logs = dict(self.db.execute("SELECT device, created FROM logs").fetchall())
        self._with_events = {row[0] for row in
                             self.db.execute("SELECT DISTINCT device FROM events").fetchall()}
        self._with_rows = {row[0] for row in
                           self.db.execute("SELECT DISTINCT device FROM datastores").fetchall()}

    @classmethod
    def in_dir(cls, data_dir: Path) -> "Storage":
        return cls(data_dir / FILE_NAME)

    def load(self, device: str, name: str) -> str | None:
        if device not in self._with_rows:
            return None   # never changed: it reads its fixture
        row = self.db.execute("SELECT xml FROM datastores WHERE device = ? AND name = ?",
                              [device, name]).fetchone()
        return row[0] if row else None

    def save(self, device: str, datastores: dict[str, str | None]) -> None:
        """Write (or, with None, forget) several datastores of a device at once."""
        now = time.time()
        self._with_rows.add(device)
        conn = self.db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            for name, xml in datastores.items():
                if xml is None:
                    conn.execute("DELETE FROM datastores WHERE device = ? AND name = ?",
                                 [device, name])
                else:
                    conn.execute("INSERT OR REPLACE INTO datastores (device, name, xml, updated) "
                                 "VALUES (?, ?, ?, ?)", [device, name, xml, now])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # -- event logs (written behind: see flush) ----------------------------------------

    def log_created(self, device: str, now: float) -> float:
        created = self._logs.get(device)
        if created is None:
            created = self._logs[device] = now
            self._new_logs.append((device, now))
        return created

    def load_events(self, device: str) -> list[tuple[int, float, str]]:
        """A device's logged events (from an earlier run: this run's are in memory)."""
        if device not in self._with_events:
            return []
        return self.db.execute("SELECT seq, time, xml FROM events WHERE device = ? ORDER BY seq",
                               [device]).fetchall()

    def add_event(self, device: str, seq: int, moment: float, xml: str, keep: int,
                  since: float) -> None:
        """Queued, and written with the others of the same moment by flush():
        a burst of events on many devices costs one transaction."""
        self._pending.append((device, seq, moment, xml, keep, since))
        if len(self._pending) >= 5000:
            self.flush()

    def flush(self) -> None:
        if not self._pending and not self._new_logs:
            return
        pending, self._pending = self._pending, []
        new_logs, self._new_logs = self._new_logs, []
        conn = self.db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany("INSERT OR IGNORE INTO logs (device, created) VALUES (?, ?)", new_logs)
            conn.executemany("INSERT OR REPLACE INTO events (device, seq, time, xml) "
                             "VALUES (?, ?, ?, ?)", [p[:4] for p in pending])
            bounds = {}
            for device, seq, _moment, _xml, keep, since in pending:
                bounds[device] = (seq - keep, since)
            for device, (oldest_seq, since) in bounds.items():
                conn.execute("DELETE FROM events WHERE device = ? AND (seq <= ? OR time < ?)",
                             [device, oldest_seq, since])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def forget(self, device: str) -> None:
        """Back to the fixtures (a device reset)."""
        self.save(device, {"running": None, "startup": None, "candidate": None, "rollback": None})

    def close(self) -> None:
        self.flush()
        self.db.conn.close()
