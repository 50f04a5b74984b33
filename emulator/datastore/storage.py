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

    @classmethod
    def in_dir(cls, data_dir: Path) -> "Storage":
        return cls(data_dir / FILE_NAME)

    def load(self, device: str, name: str) -> str | None:
        row = self.db.execute("SELECT xml FROM datastores WHERE device = ? AND name = ?",
                              [device, name]).fetchone()
        return row[0] if row else None

    def save(self, device: str, datastores: dict[str, str | None]) -> None:
        """Write (or, with None, forget) several datastores of a device at once."""
        now = time.time()
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

    def forget(self, device: str) -> None:
        """Back to the fixtures (a device reset)."""
        self.save(device, {"running": None, "startup": None, "candidate": None})

    def close(self) -> None:
        self.db.conn.close()
