"""The emulator as a real process, for the tests that start, signal and kill it."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

COMMAND = [sys.executable, "-m", "emulator"]


def run(*args: str) -> subprocess.CompletedProcess:
    """``netconf-emulator ARGS`` to its end."""
    return subprocess.run([*COMMAND, *args], capture_output=True, text=True, timeout=60)


class Served:
    def __init__(self, *args: str, data_dir: Path):
        self.process = subprocess.Popen(
            [*COMMAND, "serve", "--port", "0", "--data-dir", str(data_dir), *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [lines.put(l) for l in self.process.stdout],
                         daemon=True).start()
        while not self.lines or "ready" not in self.lines[-1]:
            try:
                self.lines.append(lines.get(timeout=30).rstrip("\n"))
            except queue.Empty:
                self.process.kill()
                raise AssertionError(f"no 'ready': {self.lines} {self.process.stderr.read()}")
        self.port = int(re.search(r"port (\d+)", self.lines[-1]).group(1))

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.process.send_signal(sig)
        try:
            return self.process.wait(15)
        finally:
            self.process.kill()

    def __enter__(self) -> "Served":
        return self

    def __exit__(self, *exc: object) -> None:
        """Stopped with SIGTERM, it must exit 0 (unless a test already killed it)."""
        if self.process.poll() is None:
            assert self.stop() == 0

    def stderr_lines(self) -> list[str]:
        """What it wrote to stderr, once it has stopped."""
        assert self.process.poll() is not None, "read stderr after the server has stopped"
        return self.process.stderr.read().splitlines()



    def url(self, device: str) -> str:
        return f"ws://127.0.0.1:{self.port}/netconf/{device}"
