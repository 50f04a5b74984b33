"""The data dir: one server at a time, and never a folder that is not ours.

A marker file says the folder is netconf-emulator's, so ``--fresh`` may
empty it. The running server holds an exclusive lock on that marker (flock:
the OS releases it when the process dies, however it dies) and writes its
PID in it, so a second server on the same folder is refused with a line that
names the first. ``--fresh`` takes the lock before it deletes anything.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path
from typing import Callable

from emulator.datastore.storage import FILE_NAME

MARKER = ".netconf-emulator-data"
# The SSH host key, made once and kept so that clients' known_hosts stay valid.
HOST_KEY = "ssh_host_ed25519_key"
# What a data dir of ours may hold besides the marker (SQLite's WAL files too).
OUR_FILES = {FILE_NAME, f"{FILE_NAME}-wal", f"{FILE_NAME}-shm", f"{FILE_NAME}-journal", HOST_KEY}


class DataDirError(Exception):
    """The data dir cannot be used; the message says why in one line."""


class DataDir:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock: int | None = None

    def acquire(self, fresh: bool = False) -> None:
        """Take the folder for this server (creating it, and emptying it with
        ``fresh``); raises DataDirError."""
        path = self.path
        marker = path / MARKER
        if path.exists() and not path.is_dir():
            raise DataDirError(f"data dir {path} is not a directory")
        try:
            entries = [p for p in path.iterdir() if p.name != MARKER] if path.is_dir() else []
            if entries and not marker.exists() and not all(p.name in OUR_FILES for p in entries):
                raise DataDirError(
                    f"{path} holds files that are not netconf-emulator's (it has no {MARKER}); "
                    "choose an empty or new --data-dir")
            path.mkdir(parents=True, exist_ok=True)
            fd = os.open(marker, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise DataDirError(f"cannot use data directory {path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise DataDirError(f"data dir {path} is in use by another netconf-emulator "
                               f"(PID {holder}); stop it or choose another --data-dir") from None
        self._lock = fd
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        if fresh:
            try:
                for entry in entries:
                    if entry.is_dir() and not entry.is_symlink():
                        shutil.rmtree(entry)
                    else:
                        entry.unlink()
            except OSError as exc:
                self.release()
                raise DataDirError(f"cannot empty data directory {path}: "
                                   f"{exc.strerror or exc}") from None

    def host_key(self, generate: Callable[[], bytes]) -> bytes:
        """The SSH host key kept in the data dir; made with ``generate`` the
        first time (readable by its owner only)."""
        path = self.path / HOST_KEY
        try:
            if path.exists():
                return path.read_bytes()
            data = generate()
            partial = path.with_name(HOST_KEY + ".new")
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(partial, path)
            return data
        except OSError as exc:
            raise DataDirError(f"cannot keep the SSH host key in {path}: "
                               f"{exc.strerror or exc}") from None

    def release(self) -> None:
        if self._lock is not None:
            os.ftruncate(self._lock, 0)
            os.close(self._lock)     # (closing the descriptor releases the lock)
            self._lock = None
