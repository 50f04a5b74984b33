"""Durations as people write them in drills and events: ``90``, ``90s``,
``1.5m``, ``2h``, ``1d``, ``250ms``, or ``1m30s``."""

from __future__ import annotations

import math
import re

_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h|d)?\s*")
_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
# The longest duration taken: a year (anything longer is a typo), which keeps
# every sum of durations a finite float.
LONGEST = 365 * 24 * 3600.0
PATTERN = r"^\s*((\d+(\.\d*)?|\.\d+)\s*(ms|s|m|h|d)?\s*)+$"


def parse_duration(value: object) -> float:
    """Seconds; raises ValueError with what was expected."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        position, seconds = 0, 0.0
        while position < len(text):
            match = _PART.match(text, position)
            if match is None or match.end() == position:
                break
            if match.group(2) is None and position + len(match.group(0)) < len(text):
                break      # a bare number is only the whole duration
            seconds += float(match.group(1)) * _SECONDS[match.group(2)]
            position = match.end()
        if not text or position != len(text):
            raise ValueError(f"{value!r} is not a duration such as 90, 90s, 2m, 1h, 1d or 250ms")
    else:
        raise ValueError(f"{value!r} is not a duration such as 90, 90s, 2m, 1h, 1d or 250ms")
    if not math.isfinite(seconds) or seconds < 0 or seconds > LONGEST:
        raise ValueError(f"{value!r} is not a duration from 0 to {LONGEST:.0f} seconds")
    return seconds
