"""Time for a running fleet: one clock, real or virtual, and one way to write it.

Every timestamp and timer of a fleet comes from its clock (eventTime,
last-change, counters, boot and login times, journal times, confirm-timeout,
stopTime, replay ages, the hello timeout, storage timestamps), so a virtual
clock moves the whole fleet at once and a test never sleeps for time to pass.

What stays on the event loop's own (real) time: the wire's housekeeping
(WebSocket pings, draining a refused oversized message, the shutdown grace),
which protects sockets rather than modelling a device.

A clock reads Unix time (seconds since 1970, UTC), as ``time.time()`` does.
``call_later`` and ``call_at`` return a handle with ``cancel()``.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import itertools
import logging
import re
import time
from datetime import datetime, timezone
from typing import Callable, Protocol

log = logging.getLogger(__name__)

# A virtual clock starts here unless told otherwise: 2025-01-01T00:00:00Z, a
# round moment that makes test output readable.
VIRTUAL_EPOCH = 1_735_689_600.0

# How long (real seconds) a fleet on an autojumping virtual clock must be idle
# before the clock jumps to its next timer. trio's MockClock defaults to
# "jump at once"; a server has clients in other processes, which need a
# moment between a reply and their next request.
DEFAULT_AUTOJUMP_IDLE = 0.05
# Below this an autojumping clock would keep a core busy doing nothing.
MIN_AUTOJUMP_IDLE = 0.005
# How long (real seconds) autojump waits for a client in the middle of its
# hello; a client that never says it cannot stop the fleet's time for longer.
HOLD_GRACE = 5.0
# The latest time a clock may show: RFC 3339 (and Python) stop at year 9999.
LATEST = 253_402_300_799.0


class Handle(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    virtual: bool

    def now(self) -> float: ...

    def call_at(self, when: float, callback: Callable[[], None]) -> Handle: ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> Handle: ...

    def touch(self) -> None:
        """A client did something (an autojumping virtual clock waits meanwhile)."""

    def hold(self, token: object, grace: float = HOLD_GRACE) -> None:
        """A client is mid-way through something that real time must allow."""

    def release(self, token: object) -> None: ...


class RealClock:
    """Wall time, with timers on the running asyncio event loop."""

    virtual = False

    def now(self) -> float:
        return time.time()

    def call_later(self, delay: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
        return asyncio.get_running_loop().call_later(max(delay, 0.0), callback)

    def call_at(self, when: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
        return self.call_later(when - time.time(), callback)

    def touch(self) -> None:
        pass

    def hold(self, token: object, grace: float = HOLD_GRACE) -> None:
        pass

    def release(self, token: object) -> None:
        pass


class _Timer:
    __slots__ = ("when", "callback", "clock")

    def __init__(self, when: float, callback: Callable[[], None], clock: "VirtualClock"):
        self.when = when
        self.callback: Callable[[], None] | None = callback
        self.clock = clock

    @property
    def cancelled(self) -> bool:
        return self.callback is None

    def cancel(self) -> None:
        if self.callback is not None:
            self.callback = None      # what it would have called is free to go now
            self.clock._cancelled_one()


class VirtualClock:
    """Time that moves only when told: ``advance(seconds)``, ``jump()`` to the
    next timer, or by itself when the fleet is idle (``autojump``).

    Timers run in order of their time and, at one time, in the order they
    were set; while a timer runs, ``now()`` is its time. A timer set for the
    past runs at the next advance. A timer that raises is logged; the others
    run regardless.
    """

    virtual = True

    def __init__(self, start: float = VIRTUAL_EPOCH):
        self._now = float(start)
        self._timers: list[tuple[float, int, _Timer]] = []
        self._cancelled = 0           # cancelled timers still in the heap
        self._order = itertools.count()
        self._activity = 0
        self._holds: dict[object, float] = {}
        self._autojump: asyncio.Task | None = None

    def now(self) -> float:
        return self._now

    def call_at(self, when: float, callback: Callable[[], None]) -> _Timer:
        timer = _Timer(when, callback, self)
        heapq.heappush(self._timers, (when, next(self._order), timer))
        return timer

    def call_later(self, delay: float, callback: Callable[[], None]) -> _Timer:
        return self.call_at(self._now + max(delay, 0.0), callback)

    def _cancelled_one(self) -> None:
        # As asyncio does: when most of the heap is cancelled timers, rebuild it,
        # so that a clock that seldom moves does not keep them (and what they
        # would have called) without bound.
        self._cancelled += 1
        if self._cancelled > 64 and self._cancelled * 2 > len(self._timers):
            self._timers = [entry for entry in self._timers if not entry[2].cancelled]
            heapq.heapify(self._timers)
            self._cancelled = 0

    def _pop(self) -> _Timer:
        timer = heapq.heappop(self._timers)[2]
        if timer.cancelled:
            self._cancelled = max(self._cancelled - 1, 0)
        return timer

    def next_timer(self) -> float | None:
        """When the next live timer is due (None: no timer is set)."""
        while self._timers and self._timers[0][2].cancelled:
            self._pop()
        return self._timers[0][0] if self._timers else None

    def advance(self, seconds: float) -> int:
        """Move time on by ``seconds``, running every timer due meanwhile;
        returns how many ran."""
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        return self.advance_to(self._now + seconds)

    def advance_to(self, until: float) -> int:
        ran = 0
        while self._timers and self._timers[0][0] <= until:
            when = self._timers[0][0]
            timer = self._pop()
            callback = timer.callback
            if callback is None:
                continue
            timer.callback = None         # a handle cancelled after it ran is harmless
            self._now = max(self._now, when)
            try:
                callback()
            except Exception:   # one broken timer must not stop the fleet's time
                log.exception("a timer due at %s failed", rfc3339(when))
            ran += 1
        self._now = max(self._now, until)
        return ran

    def jump(self) -> int:
        """Move to the next timer and run what is due then; how many ran (0:
        no timer is set, and time stands still)."""
        when = self.next_timer()
        if when is None:
            return 0
        return self.advance_to(when)

    # -- autojump: time passes whenever the fleet has nothing to do --------------

    def touch(self) -> None:
        """Something happened (a request arrived): the fleet is not idle."""
        self._activity += 1

    def hold(self, token: object, grace: float = HOLD_GRACE) -> None:
        """A client is in the middle of something (its hello), or a drill waits
        for one to act: autojump waits, for at most ``grace`` real seconds."""
        self._holds[token] = time.monotonic() + grace

    def release(self, token: object) -> None:
        self._holds.pop(token, None)

    def start_autojump(self, idle: float = DEFAULT_AUTOJUMP_IDLE) -> None:
        """On the running loop: whenever no request has arrived for ``idle``
        real seconds, and no client is in the middle of its hello, jump to the
        next timer. ``idle`` 0 jumps whenever the loop has nothing else ready
        (a drill played as fast as the machine can)."""
        if idle != 0 and idle < MIN_AUTOJUMP_IDLE:
            raise ValueError(f"autojump needs an idle time of at least {MIN_AUTOJUMP_IDLE} s")
        if self._autojump is None:
            self._autojump = asyncio.get_running_loop().create_task(self._jumper(idle))

    def stop_autojump(self) -> None:
        if self._autojump is not None:
            self._autojump.cancel()
            self._autojump = None

    def _held(self) -> bool:
        latest = max(self._holds.values(), default=None)
        return latest is not None and time.monotonic() < latest

    async def _jumper(self, idle: float) -> None:
        seen = self._activity
        while True:
            if idle == 0:
                # (one turn of the loop lets whatever is ready run first; with
                # nothing to jump to, it waits as an idle clock would)
                await asyncio.sleep(0 if self.next_timer() is not None else MIN_AUTOJUMP_IDLE)
                if not self._held():
                    self.jump()
                elif self._holds:
                    await asyncio.sleep(MIN_AUTOJUMP_IDLE)
                continue
            await asyncio.sleep(idle)
            if self._activity == seen and not self._held():
                self.jump()
            seen = self._activity


# -- writing and reading times (RFC 3339, YANG's date-and-time) -------------------

@functools.lru_cache(maxsize=4096)
def rfc3339(moment: float) -> str:
    """``2025-01-01T00:00:00.000000Z``: UTC, to the microsecond, so that the
    eventTimes of events a microsecond apart stay apart and in order. (Cached:
    a <get> of 10,000 interfaces writes the same few moments 20,000 times.)"""
    return datetime.fromtimestamp(moment, timezone.utc).isoformat(timespec="microseconds") \
        .replace("+00:00", "Z")


_RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)\Z")


def parse_rfc3339(text: str) -> float | None:
    """A date-and-time with its time zone, as Unix time; None if it is not one."""
    text = text.strip()
    if not _RFC3339.match(text):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
