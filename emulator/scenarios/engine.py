"""Playing a drill on a fleet: its timeline on the fleet's clock, the events
it raises, the expectations it checks, and what it reports.

A run maps drill time onto the runtime's clock (``speed`` times faster on
the real clock; on a virtual clock a drill runs as fast as time is moved).
Every timer it sets is on that clock, so a drill and the devices it acts on
never disagree about the time. Each step's random choices come from a
generator seeded by the drill's seed, the step and the occurrence, so the
same seed gives the same timeline, whatever else happens in the run.
"""

from __future__ import annotations

import asyncio
import enum
import heapq
import itertools
import json
import logging
import random
from array import array
from collections import Counter, deque
from typing import IO, Any, Callable, Iterable

from lxml import etree

from emulator.device import Device, DeviceError
from emulator.netconf.xml import XMLRejected, localname, parse_message
from emulator.runtime import Runtime
from emulator.scenarios import catalogue, selectors
from emulator.scenarios.model import Scenario, Step, Target

log = logging.getLogger(__name__)

# Timeline entries a run keeps in memory for the API (a file given with
# --timeline gets every one): enough for any drill a person reads, bounded
# for the drill that raises an event every millisecond for a day.
TIMELINE_KEPT = 100_000
# Expectation windows one run may open (an expectation on each of 10,000
# devices every second of an hour would be 36 million); past it, a window is
# refused with an error entry. A status lists at most STATUS_WINDOWS of them
# (the counts cover all).
MAX_WINDOWS = 100_000
STATUS_WINDOWS = 1_000
# Effects in force a run keeps, to undo them on a stop with restore (a step
# every millisecond on 10,000 interfaces would keep millions); past it, the
# rest are not restored (an error entry says so, once).
MAX_ACTIVE = 100_000
# Lateness samples kept; past it every other one is dropped and only every
# second one kept from then on (the percentiles stay fair).
LATENESS_KEPT = 1_000_000
# Result fields that are not the drill's own (absolute clock times, a
# device's running counters): left out of the timeline, so that the same seed
# gives the same lines.
UNSTABLE = frozenset({"ends-at", "storm"})
LATENESS_SAMPLE = 100_000
# How often a run waiting for sessions looks again (real seconds).
WAIT_POLL = 0.05
_MISSING = object()


class State(str, enum.Enum):
    WAITING = "waiting"      # for --wait-for-sessions
    RUNNING = "running"
    FINISHED = "finished"
    STOPPED = "stopped"


def _round(t: float) -> float:
    return round(t, 6)


class Window:
    """One expectation on one device: from ``opens`` to ``closes`` (drill
    time), a client must (or must not, ``none``) send one of ``rpcs``."""

    __slots__ = ("step", "occurrence", "device", "opens", "closes", "state", "evidence", "seen",
                 "held")

    def __init__(self, step: Step, occurrence: int, device: str, opens: float, closes: float):
        self.step = step
        self.occurrence = occurrence
        self.device = device
        self.opens = opens
        self.closes = closes
        self.state = "open"
        self.evidence: dict[str, Any] | None = None
        self.seen: Counter = Counter()       # what the device was sent meanwhile
        self.held = False                    # at its end, waiting the grace for a client

    @property
    def expect(self):
        return self.step.expect

    def summary(self) -> dict[str, Any]:
        expect = self.expect
        result = {"step": self.step.index, "name": self.step.name, "occurrence": self.occurrence,
                  "device": self.device, "rpc": list(expect.rpcs), "none": expect.none,
                  "opens": _round(self.opens), "closes": _round(self.closes),
                  "state": self.state, "expectation": expect.describe()}
        if expect.match:
            result["match"] = expect.match
        if self.evidence is not None:
            result["evidence"] = self.evidence
        return result


class Run:
    """One play of a drill on a fleet."""

    def __init__(self, scenario: Scenario, fleet: Iterable[Device], runtime: Runtime, *,
                 run_id: str = "run-1", seed: int | None = None, speed: float = 1.0,
                 grace: float = 0.0, wait_for_sessions: int = 0,
                 timeline_file: IO[str] | None = None):
        if speed <= 0:
            raise ValueError("speed must be more than 0")
        self.id = run_id
        self.scenario = scenario
        self.devices = list(fleet)
        self.runtime = runtime
        self.clock = runtime.clock
        self.seed = scenario.seed if seed is None else seed
        self.speed = speed
        self.grace = grace
        self.wait_for_sessions = wait_for_sessions
        self.state = State.WAITING
        self.verdict: str | None = None
        self.started: float | None = None       # clock time of drill time 0
        self.ended: float | None = None          # drill time it finished or stopped
        self.timeline: deque[dict[str, Any]] = deque(maxlen=TIMELINE_KEPT)
        self.entries = 0                          # every entry, kept or not
        self.events_raised = 0
        self.errors = 0
        self.devices_affected: set[str] = set()
        self.sessions_affected = 0
        self.lateness = array("d")               # seconds, for each event raised
        self._late_stride = 1
        self._lateness: tuple[int, dict[str, float]] = (0, {})
        self.fired: Counter = Counter()           # occurrences fired, by step index
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        self._timeline_file = timeline_file
        # What is due, in drill time: (t, order, callback), run in that order by
        # one clock timer at a time (two steps at one drill time keep their order,
        # which separate timers on the loop's clock would not promise).
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._timer: Any = None
        self._timer_at: float | None = None
        self._active: dict[int, tuple[Step, Device, str | None, catalogue.Raised]] = {}
        self._active_ids = itertools.count()
        self._active_full = False
        self._targets: dict[Target, list[Device]] = {}
        self._hit: dict[int, list[str]] = {}      # devices each event step hit last
        self._windows: list[Window] = []
        self._states: Counter = Counter()        # windows by state
        self._watching: dict[str, list[Window]] = {}
        self._waiter: asyncio.TimerHandle | None = None
        self._loop_timers: set[asyncio.TimerHandle] = set()
        self._done = asyncio.Event() if _has_loop() else None

    # -- time --------------------------------------------------------------

    def drill_time(self) -> float:
        if self.started is None:
            return 0.0
        if self.ended is not None:
            return self.ended
        return max((self.clock.now() - self.started) * self.speed, 0.0)

    def _at(self, t: float) -> float:
        return self.started + t / self.speed

    def _later(self, t: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` at drill time ``t``; the run finishes when nothing is due."""
        heapq.heappush(self._queue, (t, next(self._order), callback))
        self._arm()

    def _arm(self) -> None:
        if not self._queue:
            return
        t = self._queue[0][0]
        if self._timer is not None:
            if self._timer_at <= t:
                return
            self._timer.cancel()
        self._timer_at = t
        self._timer = self.clock.call_at(self._at(t), self._due)

    def _due(self) -> None:
        self._timer = None
        now = self._timer_at
        while self._queue and self._queue[0][0] <= now and self.state is State.RUNNING:
            callback = heapq.heappop(self._queue)[2]
            try:
                callback()
            except Exception:      # (one broken step must not stop the drill)
                log.exception("drill %s: a step failed", self.scenario.name)
        if self.state is not State.RUNNING:
            return
        if self._queue:
            self._arm()
        else:
            self._finish()

    # -- starting and stopping -----------------------------------------------

    def start(self) -> None:
        self._record({"t": 0.0, "kind": "run", "state": "created", "scenario": self.scenario.name,
                      "seed": self.seed, "speed": self.speed,
                      "clock": "virtual" if getattr(self.clock, "virtual", False) else "real"})
        if self.wait_for_sessions > 0 and self._open_sessions() < self.wait_for_sessions:
            self._waiter = asyncio.get_running_loop().call_later(WAIT_POLL, self._wait)
            return
        self._begin()

    def _open_sessions(self) -> int:
        return sum(1 for d in self.devices for s in d.sessions.values()
                   if s.base_version is not None)

    def _wait(self) -> None:
        self._waiter = None
        if self.state is not State.WAITING:
            return
        if self._open_sessions() >= self.wait_for_sessions:
            self._begin()
        else:
            self._waiter = asyncio.get_running_loop().call_later(WAIT_POLL, self._wait)

    def _begin(self) -> None:
        self.state = State.RUNNING
        self.started = self.clock.now()
        self.runtime.journal_observers.append(self._observe)
        self._record({"t": 0.0, "kind": "run", "state": "running"})
        for step in self.scenario.steps:
            self._later(step.time, lambda s=step: self._fire(s, 0, s.time))
        if not self._queue:
            self._finish()

    def stop(self, restore: bool = False) -> None:
        """No further steps; with ``restore``, every effect still in force is
        undone (links up, alarms cleared, faults removed, devices back up)."""
        if self.state in (State.FINISHED, State.STOPPED):
            if restore:
                self._restore()
            return
        self.ended = self.drill_time()
        self._cancel_timers()
        for window in self._windows:
            if window.state == "open":
                self._set_state(window, "not-checked")
        if restore:
            self._restore()
        self._end(State.STOPPED)

    def _restore(self) -> None:
        t = self.drill_time()
        for key in sorted(self._active, reverse=True):
            step, device, part, raised = self._active.pop(key)
            self._undo(step, device, part, raised, t)

    def _cancel_timers(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._queue.clear()
        for handle in self._loop_timers:
            handle.cancel()
        self._loop_timers.clear()
        if self._waiter is not None:
            self._waiter.cancel()
            self._waiter = None
        for window in self._windows:
            self.clock.release(window)

    def _finish(self) -> None:
        if self._states["open"]:
            return          # (a window held for the grace; its verdict finishes the run)
        self.ended = self.drill_time()
        self._end(State.FINISHED)

    def _end(self, state: State) -> None:
        self.state = state
        if self._observe in self.runtime.journal_observers:
            self.runtime.journal_observers.remove(self._observe)
        missed = self._states["missed"]
        self.verdict = None if state is State.STOPPED and not missed else \
            ("fail" if missed else "pass")
        self._record({"t": _round(self.ended or 0.0), "kind": "run", "state": state.value,
                      "verdict": self.verdict, **self.counts()})
        if self._timeline_file is not None:
            self._timeline_file.flush()
        if self._done is not None:
            self._done.set()

    async def finished(self) -> None:
        """Wait until the run has finished or been stopped."""
        if self._done is None:
            self._done = asyncio.Event()
            if self.state in (State.FINISHED, State.STOPPED):
                self._done.set()
        await self._done.wait()

    # -- the timeline ------------------------------------------------------------

    def _record(self, entry: dict[str, Any]) -> None:
        self.timeline.append(entry)
        self.entries += 1
        if self._timeline_file is not None:
            self._timeline_file.write(json.dumps(entry, separators=(",", ":")) + "\n")
        for listener in list(self.listeners):
            listener(entry)

    def _fire(self, step: Step, occurrence: int, t: float) -> None:
        try:
            self._occur(step, occurrence, t)
        finally:
            if occurrence + 1 < step.count:      # (the next one is set after this one's
                following = step.time + (occurrence + 1) * step.every   # undos: they go first)
                self._later(following, lambda: self._fire(step, occurrence + 1, following))

    def _occur(self, step: Step, occurrence: int, t: float) -> None:
        self.fired[step.index] += 1
        rng = random.Random(f"{self.seed}/{step.index}/{occurrence}")
        chosen = selectors.devices(self._matched(step.target), step.target, rng, occurrence)
        if step.expect is not None:
            self._open_windows(step, occurrence, t)
            return
        self._hit[step.index] = [d.name for d in chosen]
        if not chosen:
            self._record({"t": _round(t), "kind": "event", "step": step.index, "name": step.name,
                          "event": step.event, "devices": 0,
                          "note": "the target matches no device"})
        for device in chosen:
            offset = rng.uniform(0.0, step.jitter) if step.jitter else 0.0
            if offset > 0:
                self._later(t + offset, lambda d=device, when=t + offset:
                            self._raise_on(step, occurrence, d, when))
            else:
                self._raise_on(step, occurrence, device, t)

    def _raise_on(self, step: Step, occurrence: int, device: Device, t: float) -> None:
        kind = catalogue.EVENTS[step.event]
        names = step.target.interfaces
        if kind.target == "interface" and selectors.literal(names):
            # (a device of 10,000 interfaces: named ones are looked up, not matched)
            parts: list[str | None] = [n for n in dict.fromkeys(names)
                                       if device.has_interface(n)]
        elif kind.target == "interface":
            parts = list(selectors.parts(device.interfaces(), names))
        elif kind.target == "component":
            parts = list(selectors.parts(device.components(), step.target.components))
        else:
            parts = [None]
        if not parts:
            self._record({"t": _round(t), "kind": "event", "step": step.index, "name": step.name,
                          "event": step.event, "device": device.name,
                          "note": f"{device.name} has no {kind.target} the target names"})
        for part in parts:
            self._raise(step, occurrence, device, part, t)

    def _raise(self, step: Step, occurrence: int, device: Device, part: str | None,
               t: float) -> None:
        kind = catalogue.EVENTS[step.event]
        params = dict(step.params)
        if part is not None:
            params[kind.target] = part
        rng = random.Random(f"{self.seed}/{step.index}/{occurrence}/{device.name}/{part}")
        if self.speed != 1:
            # (drill time runs `speed` times faster: so do the event's own durations)
            for param in kind.params:
                if param.kind == "duration" and param.name in params:
                    params[param.name] = catalogue.parse_duration(params[param.name]) / self.speed
        undone_by_time = kind.undoable and step.duration is not None
        late = self.clock.now() - self._at(t)
        sessions = len(device.sessions)       # (open when the event hit: they saw it)
        try:
            raised = catalogue.raise_event(device, step.event, params, rng=rng)
        except DeviceError as exc:
            self.errors += 1
            self._record({"t": _round(t), "kind": "error", "step": step.index, "name": step.name,
                          "event": step.event, "device": device.name, "message": str(exc)})
            return
        self.events_raised += 1
        if self.events_raised % self._late_stride == 0:
            self.lateness.append(max(late, 0.0))
            if len(self.lateness) >= LATENESS_KEPT:
                self.lateness = self.lateness[::2]
                self._late_stride *= 2
        self.devices_affected.add(device.name)
        self.sessions_affected += sessions
        result = raised.result
        entry = {"t": _round(t), "kind": "event", "step": step.index, "name": step.name,
                 "event": step.event, "device": device.name}
        if part is not None:
            entry[kind.target] = part
        entry.update({k: v for k, v in result.items()
                      if k not in entry and k != "event" and k not in UNSTABLE})
        self._record(entry)
        if raised.active and len(self._active) >= MAX_ACTIVE and not self._active_full:
            # (first forget what ended by itself: a flap's last cycle, a spent fault)
            self._active = {k: v for k, v in self._active.items() if v[3].active}
        if raised.active and len(self._active) >= MAX_ACTIVE:
            if not self._active_full:
                self._active_full = True
                self.errors += 1
                self._record({"t": _round(t), "kind": "error", "step": step.index,
                              "name": step.name, "message": f"more than {MAX_ACTIVE} effects "
                              "in force: the later ones are not undone by a stop with restore"})
            if not undone_by_time:
                return
        if raised.active:
            key = next(self._active_ids)
            self._active[key] = (step, device, part, raised)
            if undone_by_time:
                self._later(t + step.duration, lambda: self._undo_at(key, t + step.duration))

    def _undo_at(self, key: int, t: float) -> None:
        active = self._active.pop(key, None)
        if active is not None:
            self._undo(*active, t)

    def _undo(self, step: Step, device: Device, part: str | None, raised: catalogue.Raised,
              t: float) -> None:
        if not raised.active:
            return
        try:
            raised.undo()
        except DeviceError as exc:
            self._record({"t": _round(t), "kind": "error", "step": step.index,
                          "name": step.name, "event": step.event, "device": device.name,
                          "message": f"could not undo: {exc}"})
            return
        entry = {"t": _round(t), "kind": "undo", "step": step.index, "name": step.name,
                 "event": step.event, "device": device.name}
        if part is not None:
            entry[catalogue.EVENTS[step.event].target] = part
        self._record(entry)

    def _matched(self, target: Target) -> list[Device]:
        """The devices a target names (a fleet's devices do not change while it runs)."""
        found = self._targets.get(target)
        if found is None:
            found = self._targets[target] = selectors.matched(self.devices, target)
        return found

    # -- expectations ------------------------------------------------------------

    def _open_windows(self, step: Step, occurrence: int, t: float) -> None:
        expect = step.expect
        if expect.target is not None:
            names = [d.name for d in self._matched(expect.target)]
        else:
            names = list(self._hit.get(expect.of, ()))
        if not names:
            self._record({"t": _round(t), "kind": "expect", "step": step.index,
                          "name": step.name, "state": "skipped",
                          "note": "no device to watch (the watched step hit none)"})
        for name in names:
            if len(self._windows) >= MAX_WINDOWS:
                self.errors += 1
                self._record({"t": _round(t), "kind": "error", "step": step.index,
                              "name": step.name, "device": name,
                              "message": f"more than {MAX_WINDOWS} expectation windows in "
                                         "one run: this one is not checked"})
                continue
            window = Window(step, occurrence, name, t, t + expect.within)
            self._windows.append(window)
            self._states["open"] += 1
            self._watching.setdefault(name, []).append(window)
            self._record({"t": _round(t), "kind": "expect", "step": step.index,
                          "name": step.name, "device": name, "state": "open",
                          "until": _round(window.closes), "expectation": expect.describe()})
            self._later(window.closes, lambda w=window: self._close(w))

    def _observe(self, device: Device, direction: str, session_id: int, message: str) -> None:
        if direction != "in":
            return
        windows = self._watching.get(device.name)
        if not windows:
            return
        t = self.drill_time()
        rpc = _MISSING
        for window in list(windows):
            # (drill time is clock time made relative: at a window's end it may be a
            # hair past it; a window held for the grace is open until it is decided)
            if window.state != "open" or (t > window.closes + 1e-6 and not window.held):
                continue
            if rpc is _MISSING:
                rpc = _rpc(message)
                if rpc is None:
                    return
            operation = localname(rpc[0]) if len(rpc) else ""
            window.seen[operation] += 1
            expect = window.expect
            if "*" not in expect.rpcs and operation not in expect.rpcs:
                continue
            if expect.xpath is not None and not _matches(expect.xpath, rpc):
                continue
            window.evidence = {"t": _round(min(t, window.closes)), "session": session_id, "operation": operation,
                               "message-id": rpc.get("message-id")}
            self._verdict(window, "missed" if expect.none else "met")

    def _close(self, window: Window) -> None:
        if window.state != "open":
            return
        if self.grace > 0 and getattr(self.clock, "virtual", False):
            # On a virtual clock a client in another process needs real time to
            # act (or to misbehave, for a "must not"): time stands at the window's
            # end for the grace, or until it does.
            window.held = True
            self.clock.hold(window, self.grace)
            handle = asyncio.get_running_loop().call_later(
                self.grace, lambda: self._closed(window))
            self._loop_timers.add(handle)
            return
        self._closed(window)

    def _closed(self, window: Window) -> None:
        if window.state != "open":
            return
        if not window.expect.none:
            seen = ", ".join(f"{op} x{n}" for op, n in sorted(window.seen.items())) or "nothing"
            window.evidence = {"seen": seen}
        self._verdict(window, "met" if window.expect.none else "missed")

    def _set_state(self, window: Window, state: str) -> None:
        self._states[window.state] -= 1
        self._states[state] += 1
        window.state = state

    def _verdict(self, window: Window, state: str) -> None:
        self._set_state(window, state)
        self.clock.release(window)
        watching = self._watching.get(window.device)
        if watching is not None and window in watching:
            watching.remove(window)
            if not watching:
                del self._watching[window.device]
        when = (window.evidence or {}).get("t", window.closes)
        entry = {"t": _round(when), "kind": "expect", "step": window.step.index,
                 "name": window.step.name, "device": window.device, "state": state,
                 "expectation": window.expect.describe()}
        if window.evidence is not None:
            entry["evidence"] = window.evidence
        self._record(entry)
        if self.state is State.RUNNING and not self._queue and self._timer is None:
            self._finish()

    # -- what it reports -----------------------------------------------------------

    def counts(self) -> dict[str, Any]:
        states = self._states
        return {"events_raised": self.events_raised, "errors": self.errors,
                "devices_affected": len(self.devices_affected),
                "sessions_affected": self.sessions_affected,
                "expectations": {"met": states["met"], "missed": states["missed"],
                                 "open": states["open"],
                                 "not_checked": states["not-checked"]}}

    def lateness_ms(self) -> dict[str, float]:
        """How late events fired, p50, p99 and max (from at most LATENESS_SAMPLE
        of them, evenly spread, so a status stays cheap in a long drill)."""
        n = len(self.lateness)
        if self._lateness[0] == n:
            return self._lateness[1]
        step = max(1, n // LATENESS_SAMPLE)
        values = sorted(self.lateness[::step])
        result = {}
        if values:
            def pick(q: float) -> float:
                return round(values[min(int(q * len(values)), len(values) - 1)] * 1000, 3)
            result = {"p50": pick(0.50), "p99": pick(0.99),
                      "max": round(max(self.lateness) * 1000, 3)}
        self._lateness = (n, result)
        return result

    def status(self, windows: bool = True) -> dict[str, Any]:
        """What the run is and did; ``windows``: with its expectation windows
        (decided ones first, at most STATUS_WINDOWS; the counts cover all)."""
        scenario = self.scenario
        steps = []
        for step in scenario.steps:
            steps.append({"index": step.index, "name": step.name, "line": step.line,
                          "at": step.time, "every": step.every, "count": step.count,
                          "event": step.event, "expect": step.expect.describe()
                          if step.expect else None, "fired": self.fired[step.index]})
        status = {"id": self.id, "scenario": scenario.name, "description": scenario.description,
                  "source": scenario.source, "seed": self.seed, "speed": self.speed,
                  "state": self.state.value, "verdict": self.verdict,
                  "drill_time": _round(self.drill_time()), "length": scenario.length,
                  **self.counts(), "lateness_ms": self.lateness_ms(),
                  "timeline_entries": self.entries, "steps": steps}
        if windows:
            decided = [w for w in self._windows if w.state != "open"]
            shown = (decided + [w for w in self._windows if w.state == "open"])[:STATUS_WINDOWS]
            status["windows"] = [w.summary() for w in shown]
            status["windows_total"] = len(self._windows)
        return status


def _has_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _rpc(message: str) -> etree._Element | None:
    try:
        root = parse_message(message)
    except XMLRejected:
        return None
    return root if localname(root) == "rpc" else None


def _matches(xpath: etree.XPath, rpc: etree._Element) -> bool:
    try:
        return bool(xpath(rpc))
    except etree.XPathError:
        return False
