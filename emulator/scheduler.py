"""Timers for the sans-IO parts: the device asks for a call later, and the
server's event loop (or a test's hand) keeps the time."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Callable


class LoopScheduler:
    """Timers on the running asyncio event loop."""

    def call_later(self, delay: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
        return asyncio.get_running_loop().call_later(delay, callback)

    def time(self) -> float:
        return time.time()


class _Handle:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualScheduler:
    """Time that moves only when a test says so."""

    def __init__(self, start: float = 1_000_000.0):
        self.now = start
        self._queue: list = []
        self._order = itertools.count()

    def call_later(self, delay: float, callback: Callable[[], None]) -> _Handle:
        handle = _Handle()
        heapq.heappush(self._queue, (self.now + delay, next(self._order), handle, callback))
        return handle

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        until = self.now + seconds
        while self._queue and self._queue[0][0] <= until:
            when, _, handle, callback = heapq.heappop(self._queue)
            self.now = when
            if not handle.cancelled:
                callback()
        self.now = until
