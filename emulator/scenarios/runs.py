"""The drills a server is playing, and the ones it played last."""

from __future__ import annotations

import itertools
from collections import OrderedDict
from typing import IO, Iterable

from emulator.clock import LATEST
from emulator.device import Device
from emulator.runtime import Runtime
from emulator.scenarios.engine import Run, State
from emulator.scenarios.model import Scenario

# Drills that may play at once on one fleet (each holds timers and watches
# every request), and finished ones kept for their reports.
MAX_PLAYING = 8
MAX_KEPT = 16


class TooManyRuns(Exception):
    pass


class CannotPlay(ValueError):
    """The drill cannot be played so (it would end past the clock's last time)."""


class Runs:
    def __init__(self, fleet: Iterable[Device], runtime: Runtime):
        self.fleet = fleet
        self.runtime = runtime
        self._runs: OrderedDict[str, Run] = OrderedDict()
        self._ids = itertools.count(1)

    def __iter__(self):
        return iter(list(self._runs.values()))

    def get(self, run_id: str) -> Run | None:
        return self._runs.get(run_id)

    def playing(self) -> list[Run]:
        return [r for r in self._runs.values() if r.state in (State.WAITING, State.RUNNING)]

    def start(self, scenario: Scenario, *, seed: int | None = None, speed: float = 1.0,
              grace: float = 0.0, wait_for_sessions: int = 0,
              timeline_file: IO[str] | None = None) -> Run:
        if speed <= 0 or self.runtime.clock.now() + scenario.length / speed >= LATEST:
            raise CannotPlay(f"at speed {speed:g} the drill would end past the year 9999")
        if len(self.playing()) >= MAX_PLAYING:
            raise TooManyRuns(f"{MAX_PLAYING} drills are playing already; stop one first")
        run = Run(scenario, self.fleet, self.runtime, run_id=f"run-{next(self._ids)}", seed=seed,
                  speed=speed, grace=grace, wait_for_sessions=wait_for_sessions,
                  timeline_file=timeline_file)
        self._runs[run.id] = run
        finished = [key for key, r in self._runs.items()
                    if r.state in (State.FINISHED, State.STOPPED)]
        for key in finished[:max(len(self._runs) - MAX_KEPT, 0)]:
            del self._runs[key]
        run.start()
        return run

    def stop_all(self) -> None:
        for run in self.playing():
            run.stop()
