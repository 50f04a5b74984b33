"""The JSON Schema of drill files, made from the event catalogue.

The loader validates every drill against it, and the same schema is shipped
beside the drills (``scenarios/drill.schema.json``) so that an editor checks a
drill as it is typed. ``python -m emulator.scenarios.schema`` writes it; a test
checks the shipped file is what this makes.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from emulator.scenarios import catalogue
from emulator.scenarios.units import PATTERN

SCHEMA_ID = "https://netconf-emulator.invalid/drill.schema.json"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"

DURATION = {
    "description": "seconds, or a number with a unit: 90s, 2m, 1h, 250ms, 1m30s",
    "anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": PATTERN}],
}
_NAMES = {"anyOf": [{"type": "string", "minLength": 1},
                    {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1}]}
_KINDS = {"string": {"type": "string"}, "integer": {"type": "integer"},
          "number": {"type": "number"}, "boolean": {"type": "boolean"}, "duration": DURATION}

_SELECTOR = {
    "devices": dict(_NAMES, description="device names or globs (edge-*); default: every device"),
    "profiles": dict(_NAMES, description="only devices of these profiles"),
}
_TARGET = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        **_SELECTOR,
        "sample": {"type": "integer", "minimum": 1,
                   "description": "a seeded random sample of this many of the matched devices"},
        "percent": {"type": "number", "exclusiveMinimum": 0, "maximum": 100,
                    "description": "a seeded random percentage of the matched devices"},
        "one-by-one": {"type": "boolean",
                       "description": "each occurrence of the step takes the next matched "
                                      "device (a rolling change)"},
        "interfaces": dict(_NAMES, description="for interface events: names or globs "
                                               "(default: every interface)"),
        "components": dict(_NAMES, description="for hardware events: ietf-hardware component "
                                               "names or globs (default: every component)"),
    },
    "not": {"required": ["sample", "percent"]},
}
_EXPECT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["rpc"],
    "properties": {
        "rpc": dict(_NAMES, description="the operation a client must send (edit-config, get, "
                                        "commit...; * for any)"),
        **_SELECTOR,
        "of": {"type": "string", "pattern": NAME_PATTERN,
               "description": "the event step whose devices are watched (default: the "
                              "previous event step)"},
        "within": dict(DURATION, description="how long the window stays open"),
        "during": {"type": "boolean", "const": True,
                   "description": "the window is the watched event's duration"},
        "match": {"type": "string", "minLength": 1,
                  "description": "an XPath the <rpc> element must match"},
        "namespaces": {"type": "object", "additionalProperties": {"type": "string"},
                       "description": "prefixes the XPath uses"},
        "none": {"type": "boolean",
                 "description": "true: no client may send it in the window (must not)"},
    },
    "oneOf": [{"required": ["within"]}, {"required": ["during"]}],
}


def _params(kind: catalogue.EventKind) -> dict[str, Any]:
    properties, required = {}, []
    for param in kind.params:
        if param.name == kind.target:       # (the target names it)
            continue
        schema: dict[str, Any] = dict(_KINDS.get(param.kind, {}))
        if param.choices:
            schema = {"enum": list(param.choices)}
        if param.kind in ("integer", "number"):
            if param.minimum is not None:
                schema["minimum"] = param.minimum
            if param.maximum is not None:
                schema["maximum"] = param.maximum
        if param.doc:
            schema["description"] = param.doc
        properties[param.name] = schema
        if param.required:
            required.append(param.name)
    params: dict[str, Any] = {"type": "object", "additionalProperties": False,
                              "properties": properties}
    if required:
        params["required"] = required
    return params


def drill_schema() -> dict[str, Any]:
    events = catalogue.EVENTS
    step = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "pattern": NAME_PATTERN,
                     "description": "a name other steps (and the report) use"},
            "at": dict(DURATION, description="drill time of the step"),
            "after": dict(DURATION, description="time after the previous step"),
            "every": dict(DURATION, description="repeat the step this often"),
            "count": {"type": "integer", "minimum": 1,
                      "description": "with every: how many times in all"},
            "until": dict(DURATION, description="with every: the drill time it stops"),
            "target": _TARGET,
            "event": {"enum": sorted(events), "description": "what happens (the catalogue)"},
            "params": {"type": "object"},
            "duration": dict(DURATION, description="the event is undone when it ends"),
            "jitter": dict(DURATION, description="each device's event moves later by a "
                                                  "seeded random time up to this"),
            "expect": _EXPECT,
        },
        "oneOf": [{"required": ["event"]}, {"required": ["expect"]}],
        "not": {"anyOf": [{"required": ["at", "after"]}, {"required": ["count", "until"]}]},
        "dependentRequired": {"count": ["every"], "until": ["every"], "params": ["event"],
                              "duration": ["event"], "jitter": ["event"],
                              "target": ["event"]},
        "allOf": [{"if": {"properties": {"event": {"const": name}}, "required": ["event"]},
                   "then": {"properties": {"params": _params(kind)}}}
                  for name, kind in sorted(events.items())],
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "netconf-emulator drill",
        "description": "A scripted failure drill: a timeline of events on a fleet, and what "
                       "the NMS is expected to do (see the README, Drills).",
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "steps"],
        "properties": {
            "name": {"type": "string", "pattern": NAME_PATTERN},
            "description": {"type": "string"},
            "seed": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1,
                     "description": "the same seed plays the same timeline"},
            "steps": {"type": "array", "minItems": 1, "items": step},
        },
    }


def text() -> str:
    return json.dumps(drill_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(text())
