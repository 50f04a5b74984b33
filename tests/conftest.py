"""Fixtures: a real emulator on 127.0.0.1 in a background thread, and a client."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from emulator.clock import Clock, RealClock
from emulator.fleet import load_fleet
from emulator.runtime import Limits, Runtime
from emulator.server import Emulator
from emulator.settings import Options
from tests.client import NetconfClient

LIMITS = {f.name for f in fields(Limits)}


class RunningServer:
    """An :class:`Emulator` serving on its own event loop in a thread."""

    def __init__(self, fleet_path: Path | None, options: Options, limits: Limits = Limits(),
                 clock: Clock | None = None):
        self.runtime = Runtime(clock=clock or RealClock(), limits=limits)
        self.fleet = load_fleet(fleet_path, self.runtime)
        self.emulator = Emulator(self.fleet, options)
        self.loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._started.wait(10)
        if self._error:
            raise self._error

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self.emulator.start())
        except BaseException as exc:  # surfaced to the test
            self._error = exc
            self._started.set()
            return
        self._started.set()
        self.loop.run_forever()

    def call(self, func: Callable[[], Any]) -> Any:
        """Run ``func`` on the server's loop and return its result."""
        async def run() -> Any:
            return func()
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def advance(self, seconds: float) -> int:
        """Move the server's virtual clock on (running what falls due)."""
        return self.call(lambda: self.runtime.clock.advance(seconds))

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        asyncio.run_coroutine_threadsafe(self.emulator.stop(), self.loop).result(15)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    @property
    def port(self) -> int:
        assert self.emulator.port is not None
        return self.emulator.port

    def url(self, device: str, scheme: str | None = None) -> str:
        return f"{scheme or self.emulator.scheme}://127.0.0.1:{self.port}/netconf/{device}"

    def connect(self, device: str = "core-1", **kwargs: Any) -> NetconfClient:
        return NetconfClient.connect(self.url(device), **kwargs)

    def api(self, path: str, method: str = "GET", body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """One API call: its status and its JSON (bodies are JSON unless ``headers`` say not)."""
        scheme = "https" if self.emulator.scheme == "wss" else "http"
        request = urllib.request.Request(f"{scheme}://127.0.0.1:{self.port}{path}",
                                         method=method, data=body,
                                         headers={"Content-Type": "application/json",
                                                  **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """The default fleet, shared by the tests that do not change the server."""
    options = Options(port=0, data_dir=tmp_path_factory.mktemp("data"))
    running = RunningServer(None, options)
    yield running
    running.stop()


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[..., RunningServer]]:
    """A server of one's own: ``make_server(fleet=..., **option_overrides)``."""
    started: list[RunningServer] = []

    def make(fleet: Path | None = None, clock: Clock | None = None,
             **overrides: Any) -> RunningServer:
        """``overrides``: fields of Options or of Limits."""
        limits = replace(Limits(), **{k: v for k, v in overrides.items() if k in LIMITS})
        options = replace(Options(port=0, data_dir=tmp_path / "data"),
                          **{k: v for k, v in overrides.items() if k not in LIMITS})
        running = RunningServer(fleet, options, limits, clock)
        started.append(running)
        return running

    yield make
    for running in started:
        running.stop()
