"""Which devices, interfaces and components a step acts on.

Random choices come from the generator the engine hands in, seeded by the
drill's seed and the step's occurrence, so that the same seed picks the same
devices every time, whatever else happened in the run.
"""

from __future__ import annotations

import fnmatch
import math
import random
from typing import Iterable, Sequence

from emulator.device import Device
from emulator.scenarios.model import Target


def _matches(name: str, patterns: Sequence[str]) -> bool:
    return not patterns or any(fnmatch.fnmatchcase(name, p) for p in patterns)


def _order(device: Device) -> int:
    return device.index


def matched(devices: Iterable[Device], target: Target) -> list[Device]:
    """The devices the target names, in fleet order, before any sampling."""
    return [d for d in devices
            if _matches(d.name, target.devices) and _matches(d.profile.name, target.profiles)]


def devices(chosen: list[Device], target: Target, rng: random.Random,
            occurrence: int = 0) -> list[Device]:
    """The devices one occurrence of a step acts on, in fleet order, from those
    the target matched (``matched``: a run works it out once per target)."""
    if not chosen:
        return []
    if target.one_by_one:
        return [chosen[occurrence % len(chosen)]]
    if target.sample is not None:
        return sorted(rng.sample(chosen, min(target.sample, len(chosen))), key=_order)
    if target.percent is not None:
        n = max(1, math.floor(len(chosen) * target.percent / 100 + 0.5))
        return sorted(rng.sample(chosen, min(n, len(chosen))), key=_order)
    return chosen


def literal(patterns: Sequence[str]) -> bool:
    """Names only, no glob: looked up, not matched against every name."""
    return bool(patterns) and not any(c in p for p in patterns for c in "*?[")


def parts(available: list[str], patterns: Sequence[str]) -> list[str]:
    """The interfaces (or components) of one device that the patterns name."""
    return [name for name in available if _matches(name, patterns)]
