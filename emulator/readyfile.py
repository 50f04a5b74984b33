"""``serve --ready-file PATH``: the moment every device accepts sessions, as
a JSON file a CI job can wait for (instead of a port or a log line)::

    {"pid": 4242, "port": 8830, "api": "http://127.0.0.1:8830/api/",
     "health": "http://127.0.0.1:8830/api/health",
     "devices": {"core-1": {"profile": "router",
                            "urls": {"websocket": "ws://127.0.0.1:8830/netconf/core-1"}}}}

It is written whole or not at all (a temporary file in the same folder,
then renamed over PATH), so a reader never sees half of it; a file left at
PATH by an earlier run is removed before the start, and the file is removed
again on a clean stop.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


class ReadyFileError(Exception):
    """The ready file cannot be written; the message says why."""


def check_writable(path: Path) -> None:
    """Refuse a path the ready file cannot go to, before anything starts."""
    folder = path.parent
    if not folder.is_dir():
        raise ReadyFileError(f"--ready-file {path}: no such folder {folder}")
    if path.is_dir():
        raise ReadyFileError(f"--ready-file {path} is a folder")
    if not os.access(folder, os.W_OK):
        raise ReadyFileError(f"--ready-file {path}: folder {folder} is not writable")


def describe(emulator: Any) -> dict[str, Any]:
    """What a client needs: the port, the API's URL and each device's URLs per
    transport (``websocket``, ``soap``, and ``ssh`` when the server serves SSH)."""
    http = "https" if emulator.scheme == "wss" else "http"
    api = f"{http}://{emulator.netloc}/api/"

    def urls(device: Any) -> dict[str, str]:
        found = {"websocket": emulator.device_url(device), "soap": emulator.soap_url(device)}
        ssh = emulator.ssh_url(device)
        if ssh is not None:
            found["ssh"] = ssh
        return found

    return {
        "pid": os.getpid(),
        "port": emulator.port,
        "api": api,
        "health": api + "health",
        "devices": {device.name: {"profile": device.profile.name, "urls": urls(device)}
                    for device in emulator.fleet},
    }


def write(path: Path, content: dict[str, Any]) -> None:
    """Write ``content`` to ``path`` atomically."""
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp",
                                             dir=path.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(content, out, indent=1)
                out.write("\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError as exc:
        raise ReadyFileError(f"cannot write --ready-file {path}: {exc.strerror}") from None


def remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise ReadyFileError(f"cannot remove the old --ready-file {path}: {exc.strerror}") from None
