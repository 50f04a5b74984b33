"""Where datastores live between restarts: one SQLite file in --data-dir.

Each (device, datastore) is one row holding the datastore's XML, and after
it, one row per change made since, holding the change's steps (see
datastore/journal.py: no schema is needed to make them again). A device
nobody has changed has no rows and reads its fixture; a change writes its
rows in one transaction, so a process killed at any moment leaves either
the old or the new configuration, never a mix. WAL with synchronous=NORMAL
makes a committed transaction survive the process (not a power cut) without
a disk flush per commit.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Callable, Iterable

import sqlite_utils
from lxml import etree

from emulator.datastore.journal import Op, apply_ops

FILE_NAME = "datastores.sqlite"

# Our tables and their columns: a file with anything else is not ours.
TABLES: dict[str, dict[str, type]] = {
    # each (device, datastore): running, startup, and a pending confirmed commit's rollback
    "datastores": {"device": str, "name": str, "xml": str, "updated": float},
    # the changes made to a datastore since its row's XML, in order, as JSON steps
    "changes": {"device": str, "name": str, "seq": int, "steps": str, "updated": float},
    # the replay logs of event notifications (RFC 5277), and when each began
    "events": {"device": str, "seq": int, "time": float, "xml": str},
    "logs": {"device": str, "created": float},
    # the profile a device's rows were written under ("name:content-id")
    "profiles": {"device": str, "profile": str},
    # rows a changed profile refused at start, kept for the user to recover
    "set_aside": {"device": str, "name": str, "xml": str, "updated": float, "reason": str},
}
_KEYS = {"datastores": ("device", "name"), "changes": ("device", "name", "seq"), "events": ("device", "seq"), "logs": "device",
         "profiles": "device", "set_aside": ("device", "name", "updated")}


_COMPACT = etree.XMLParser(remove_blank_text=True)


class StorageError(Exception):
    """The file cannot be used; the message says why in one line."""


def _refusal(where: str, exc: sqlite3.Error) -> StorageError:
    if "locked" in str(exc):
        return StorageError(f"{where} is locked by another program ({exc}); stop it, or choose "
                            "another --data-dir")
    return StorageError(f"{where} is not a usable SQLite database ({exc}); start with --fresh "
                        "to replace it")


def _check_ours(path: Path) -> None:
    """Refuse a file that SQLite cannot read, that fails its quick check, or that
    has tables (or columns) of someone else's; opened read-only."""
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise _refusal(str(path), exc) from None
    try:
        problem = connection.execute("PRAGMA quick_check").fetchone()[0]
        if problem != "ok":
            raise StorageError(f"{path} is damaged ({problem}); start with --fresh to replace it")
        tables = [row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        for table in tables:
            columns = {row[1] for row in connection.execute(f"PRAGMA table_info('{table}')")}
            if table not in TABLES or columns != set(TABLES[table]):
                raise StorageError(f"{path} is not a netconf-emulator file (it has a table "
                                   f"{table!r} that is not ours); start with --fresh to replace "
                                   "it, or choose another --data-dir")
    except sqlite3.Error as exc:
        raise _refusal(str(path), exc) from None
    finally:
        connection.close()


class Storage:
    def __init__(self, path: Path | None, clock: Callable[[], float]):
        """``path`` None keeps everything in memory; ``clock`` (the fleet's)
        stamps the rows."""
        self.clock = clock
        where = str(path) if path else ":memory:"
        if path is not None and Path(path).exists():
            _check_ours(Path(path))     # read-only: a file that is not ours is left as it was
        try:
            connection = sqlite3.connect(where, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open {where}: {exc}") from None
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            self.db = sqlite_utils.Database(connection)
            for name, columns in TABLES.items():
                if not self.db.table(name).exists():
                    self.db.table(name).create(columns, pk=_KEYS[name])
            self._open()
        except sqlite3.Error as exc:
            connection.close()
            raise _refusal(where, exc) from None

    def _open(self) -> None:
        self._pending: list[tuple[str, int, float, str, int, float]] = []
        self._new_logs: list[tuple[str, float]] = []
        # the profile key each device writes under (set by the server) and the stored ones
        self.profile_keys: dict[str, str] = {}
        self._profiles = dict(self.db.execute("SELECT device, profile FROM profiles").fetchall())
        # read once: a device's first event then costs no query
        self._logs = dict(self.db.execute("SELECT device, created FROM logs").fetchall())
        self._with_events = {row[0] for row in
                             self.db.execute("SELECT DISTINCT device FROM events").fetchall()}
        self._with_rows = {row[0] for row in
                           self.db.execute("SELECT DISTINCT device FROM datastores").fetchall()}
        # (device, name): (rows, characters, last seq) of the changes since its XML
        self._changes = {(device, name): (count, size, last) for device, name, count, size, last
                         in self.db.execute("SELECT device, name, count(*), sum(length(steps)), "
                                            "max(seq) FROM changes GROUP BY device, name")}

    def latest_time(self) -> float | None:
        """The latest time stamped on anything stored (events, logs, rows)."""
        return self.db.execute(
            "SELECT max(t) FROM (SELECT max(time) AS t FROM events UNION ALL "
            "SELECT max(created) FROM logs UNION ALL SELECT max(updated) FROM datastores "
            "UNION ALL SELECT max(updated) FROM changes)"
        ).fetchone()[0]

    @classmethod
    def in_dir(cls, data_dir: Path, clock: Callable[[], float]) -> "Storage":
        return cls(data_dir / FILE_NAME, clock)

    def load(self, device: str, name: str) -> str | None:
        """A datastore's XML as stored, its changes made (None: nothing stored)."""
        if (device, name) not in self._changes:
            if device not in self._with_rows:
                return None   # never changed: it reads its fixture
            row = self.db.execute("SELECT xml FROM datastores WHERE device = ? AND name = ?",
                                  [device, name]).fetchone()
            return row[0] if row else None
        tree = self.load_tree(device, name)
        return None if tree is None else etree.tostring(tree, encoding="unicode")

    def load_tree(self, device: str, name: str) -> etree._Element | None:
        """A datastore as stored, parsed, its changes made (None: nothing stored)."""
        if device not in self._with_rows:
            return None
        row = self.db.execute("SELECT xml FROM datastores WHERE device = ? AND name = ?",
                              [device, name]).fetchone()
        if row is None:
            return None
        tree = etree.fromstring(row[0].encode(), _COMPACT)
        if (device, name) in self._changes:
            try:
                for (steps,) in self.db.execute(
                        "SELECT steps FROM changes WHERE device = ? AND name = ? ORDER BY seq",
                        [device, name]).fetchall():
                    apply_ops(tree, [tuple(op) for op in json.loads(steps)])
            except (ValueError, IndexError, TypeError, etree.XMLSyntaxError) as exc:
                raise StorageError(f"the stored changes of {device}'s {name} datastore do not "
                                   f"apply ({exc}); start with --fresh to replace them") from None
        return tree

    def may_append(self, device: str, name: str, rows: int, characters: int) -> bool:
        """Has the datastore a stored XML, and fewer than ``rows`` changes and
        ``characters`` of them after it? (If not: store it whole again.)"""
        if device not in self._with_rows:
            return False
        count, size, _ = self._changes.get((device, name), (0, 0, 0))
        if count == 0:
            return self.db.execute("SELECT 1 FROM datastores WHERE device = ? AND name = ?",
                                   [device, name]).fetchone() is not None
        return count < rows and size < characters

    def append(self, device: str, name: str, ops: list[Op]) -> None:
        """One change of a stored datastore, as the steps that make it."""
        count, size, last = self._changes.get((device, name), (0, 0, 0))
        steps = json.dumps(ops, separators=(",", ":"))
        now = self.clock()
        conn = self.db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            # (the datastore's own row is left alone: updating it rewrites its XML)
            conn.execute("INSERT INTO changes (device, name, seq, steps, updated) "
                         "VALUES (?, ?, ?, ?, ?)", [device, name, last + 1, steps, now])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._changes[(device, name)] = (count + 1, size + len(steps), last + 1)

    def save(self, device: str, datastores: dict[str, str | None]) -> None:
        """Write (or, with None, forget) several datastores of a device at once."""
        now = self.clock()
        self._with_rows.add(device)
        conn = self.db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            profile = self.profile_keys.get(device)
            if profile is not None and self._profiles.get(device) != profile:
                conn.execute("INSERT OR REPLACE INTO profiles (device, profile) VALUES (?, ?)",
                             [device, profile])
                self._profiles[device] = profile
            for name, xml in datastores.items():
                if (device, name) in self._changes:
                    conn.execute("DELETE FROM changes WHERE device = ? AND name = ?",
                                 [device, name])
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
        for name in datastores:
            self._changes.pop((device, name), None)

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

    def forget(self, devices: Iterable[str]) -> None:
        """Back to the fixtures (a reset): every row of these devices, in one
        transaction, and the events not yet written."""
        names = set(devices)
        self._pending = [p for p in self._pending if p[0] not in names]
        self._new_logs = [n for n in self._new_logs if n[0] not in names]
        known = [n for n in names if n in self._with_rows or n in self._with_events
                 or n in self._logs]
        if not known:
            return
        conn = self.db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            for table in ("datastores", "changes", "events", "logs", "profiles"):
                conn.executemany(f"DELETE FROM {table} WHERE device = ?", [(n,) for n in known])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        for name in known:
            self._with_rows.discard(name)
            self._with_events.discard(name)
            self._logs.pop(name, None)
            self._profiles.pop(name, None)
        self._changes = {key: value for key, value in self._changes.items()
                         if key[0] not in names}

    # -- which profile wrote a device's rows --------------------------------------------

    def written_under_another(self, keys: dict[str, str]) -> list[str]:
        """Devices of ``keys`` (name: profile key) whose rows were written under
        another profile key, or under none known (an earlier version)."""
        return sorted(d for d in self._with_rows if d in keys and self._profiles.get(d) != keys[d])

    def profile_written(self, device: str) -> str | None:
        return self._profiles.get(device)

    def rows(self, device: str) -> dict[str, str]:
        """A device's stored datastores, {name: xml} (their changes made)."""
        names = [row[0] for row in self.db.execute(
            "SELECT name FROM datastores WHERE device = ?", [device]).fetchall()]
        return {name: self.load(device, name) for name in names}

    def set_aside(self, device: str, reason: str) -> None:
        """Move a device's rows to set_aside (their changes made): it starts
        from its fixture."""
        rows = self.rows(device)
        updated = dict(self.db.execute("SELECT name, updated FROM datastores WHERE device = ?",
                                       [device]).fetchall())
        conn = self.db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany("INSERT OR REPLACE INTO set_aside (device, name, xml, updated, "
                             "reason) VALUES (?, ?, ?, ?, ?)",
                             [(device, name, xml, updated[name], reason)
                              for name, xml in rows.items()])
            conn.execute("DELETE FROM datastores WHERE device = ?", [device])
            conn.execute("DELETE FROM changes WHERE device = ?", [device])
            conn.execute("DELETE FROM profiles WHERE device = ?", [device])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._with_rows.discard(device)
        self._profiles.pop(device, None)
        self._changes = {key: value for key, value in self._changes.items() if key[0] != device}

    def record_profile(self, device: str, profile: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO profiles (device, profile) VALUES (?, ?)",
                        [device, profile])
        self._profiles[device] = profile

    def close(self) -> None:
        self.flush()
        self.db.conn.close()
