"""Drill files: load, check against the schema, and turn into steps with
their times.

A mistake names the file, the line and what was expected:
``flap.yaml:12: steps[2].event: 'lnk-down' is not one of [...]``.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import jsonschema
from lxml import etree

from emulator import yamlfile
from emulator.namespaces import NC_NS
from emulator.paths import data_dir
from emulator.scenarios import catalogue
from emulator.scenarios.schema import DURATION as DURATION_SCHEMA
from emulator.scenarios.schema import drill_schema
from emulator.scenarios.units import PATTERN as DURATION_PATTERN
from emulator.scenarios.units import parse_duration
from emulator.yamlfile import FixtureError, YDict, YList

SCENARIOS = data_dir("scenarios")
# One drill may fire at most this many times in all (every step's occurrences):
# a timeline is kept, and each occurrence costs a timer.
MAX_OCCURRENCES = 1_000_000
# The largest drill file accepted (an upload through the API included).
MAX_SOURCE = 256 * 1024
MAX_VALUES = 100_000
MAX_DEPTH = 64
_SAMPLE_RPC = etree.fromstring(f'<rpc xmlns="{NC_NS}" message-id="1"><get/></rpc>')
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")


class ScenarioError(FixtureError):
    """A drill file is wrong: where, and what."""


@dataclass(frozen=True)
class Target:
    devices: tuple[str, ...] = ()          # names or globs; () is every device
    profiles: tuple[str, ...] = ()
    sample: int | None = None
    percent: float | None = None
    one_by_one: bool = False
    interfaces: tuple[str, ...] = ()       # () is every interface
    components: tuple[str, ...] = ()


@dataclass(frozen=True)
class Expect:
    rpcs: tuple[str, ...]                  # operation names; ("*",) is any
    target: Target | None                  # None: the devices the watched step hit
    of: int | None                         # the watched event step (an index)
    within: float                          # the window's length (drill seconds)
    match: str | None = None
    namespaces: tuple[tuple[str, str], ...] = ()
    none: bool = False                     # "must not"

    @functools.cached_property
    def xpath(self) -> etree.XPath | None:
        return None if self.match is None else \
            etree.XPath(self.match, namespaces=dict(self.namespaces))

    def describe(self) -> str:
        what = "no client sends" if self.none else "a client sends"
        return f"{what} {' or '.join(self.rpcs)} within {self.within:g} s"


@dataclass(frozen=True)
class Step:
    index: int
    name: str
    line: int
    time: float                            # drill time of its first occurrence
    every: float | None = None
    count: int = 1
    target: Target = Target()
    event: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    duration: float | None = None
    jitter: float = 0.0
    expect: Expect | None = None

    def times(self) -> Iterator[float]:
        for k in range(self.count):
            yield self.time + k * (self.every or 0.0)

    @property
    def last(self) -> float:
        return self.time + (self.count - 1) * (self.every or 0.0)

    @property
    def end(self) -> float:
        """When the step's last effect ends (its event undone, its window closed)."""
        tail = (self.duration or 0.0) + self.jitter
        if self.expect is not None:
            tail = self.expect.within
        return self.last + tail

    def label(self) -> str:
        return f"{self.name} ({self.event})" if self.event else f"{self.name} (expect)"


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    seed: int
    steps: tuple[Step, ...]
    source: str                            # where it came from, for messages
    text: str                              # the file as written

    @property
    def length(self) -> float:
        return max((step.end for step in self.steps), default=0.0)

    @property
    def occurrences(self) -> int:
        return sum(step.count for step in self.steps)

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "seed": self.seed,
                "steps": len(self.steps), "duration": self.length,
                "events": sum(s.count for s in self.steps if s.event),
                "expectations": sum(s.count for s in self.steps if s.expect)}


# -- loading ------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(drill_schema())


def shipped() -> dict[str, Path]:
    """The drills that come with the emulator, by name (the file's stem;
    ``runs`` is the API's, not a drill's)."""
    if not SCENARIOS.is_dir():
        return {}
    return {path.stem: path for path in sorted(SCENARIOS.glob("*.yaml")) if path.stem != "runs"}


def find(name_or_path: str) -> Path:
    """A shipped drill's name, or the path of a drill file."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path
    drills = shipped()
    if name_or_path not in drills:
        raise ScenarioError(name_or_path, None,
                            f"no such drill (shipped: {', '.join(drills) or 'none'}; "
                            "or give a file's path)")
    return drills[name_or_path]


def load(path: Path) -> Scenario:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ScenarioError(path, None, "no such file" if isinstance(exc, FileNotFoundError)
                            else f"cannot read: {exc}") from None
    if size > MAX_SOURCE:
        raise ScenarioError(path, None, f"a drill file may have at most {MAX_SOURCE} bytes")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(path, None, f"cannot read: {exc}") from None
    return parse(text, str(path))


def parse(text: str, source: str) -> Scenario:
    """A drill from its YAML text; ``source`` names it in messages."""
    if len(text.encode("utf-8", "replace")) > MAX_SOURCE:
        raise ScenarioError(source, None, f"a drill file may have at most {MAX_SOURCE} bytes")
    if _flow_depth(text) > MAX_DEPTH:
        raise ScenarioError(source, None, f"a drill's values are nested more than {MAX_DEPTH} "
                                          "deep")
    try:
        document = yamlfile.parse(text, source)
    except FixtureError as exc:
        raise ScenarioError(exc.path, exc.line, exc.message) from None
    _check_schema(document, source)
    return _build(document, source, text)


def _flow_depth(text: str) -> int:
    """How deep the text's flow brackets nest, at most (brackets in quoted text
    count too: an over-estimate), before YAML's recursive parser sees them."""
    depth = deepest = 0
    for c in _NOT_BRACKETS.sub("", text):
        depth += 1 if c in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _check_schema(document: Any, source: str) -> None:
    if not isinstance(document, YDict):
        raise ScenarioError(source, getattr(document, "line", None) or 1,
                            "a drill is a mapping with name, description, seed and steps")
    try:
        plain = _plain(document)
    except _TooBig:
        raise ScenarioError(source, None, f"a drill may hold at most {MAX_VALUES} values "
                                          "(YAML aliases count each time they are used)") \
            from None
    except RecursionError:
        raise ScenarioError(source, None, "a drill's values are nested too deeply") from None
    error = jsonschema.exceptions.best_match(_validator().iter_errors(plain))
    if error is None:
        return
    where, line, node = _locate(document, list(error.absolute_path))
    if error.validator == "additionalProperties" and isinstance(node, YDict):
        extra = [key for key in node if key not in error.schema.get("properties", {})]
        line = node.line_of(extra[0]) if extra else line
    said = _say(error)
    if len(said) > 300:      # (jsonschema quotes the whole value it refuses)
        said = said[:300] + "..."
    raise ScenarioError(source, line, f"{where}: {said}" if where else said)


def _plain(value: Any, budget: list[int] | None = None) -> Any:
    """The document as JSON types for jsonschema, at most MAX_VALUES values in
    all (YAML's aliases can make a short file stand for a billion of them)."""
    if budget is None:
        budget = [MAX_VALUES]
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooBig
    if isinstance(value, dict):
        return {str(k): _plain(v, budget) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, budget) for v in value]
    return value


class _TooBig(Exception):
    pass


def _locate(document: Any, path: list) -> tuple[str, int | None, Any]:
    where, line, node = "", getattr(document, "line", None), document
    for part in path:
        if isinstance(node, YDict) and part in node:
            line = node.line_of(part)
            where += f".{part}" if where else str(part)
            node = node[part]
        elif isinstance(node, YList) and isinstance(part, int) and part < len(node):
            line = node.lines[part]
            where += f"[{part}]"
            node = node[part]
        else:
            break
    return where, line, node


def _say(error: jsonschema.ValidationError) -> str:
    keyword, instance = error.validator, error.instance
    if keyword == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(instance) - set(allowed)) if isinstance(instance, dict) else []
        return f"unknown key {', '.join(map(repr, extra))} (expected one of: {', '.join(allowed)})"
    if keyword == "oneOf" and isinstance(instance, dict):
        options = [s.get("required", ["?"])[0] for s in error.validator_value]
        given = [o for o in options if o in instance]
        if not given:
            return f"needs one of: {', '.join(options)}"
        return f"has both {' and '.join(given)}: a step is one or the other"
    if keyword == "not" and isinstance(instance, dict):
        return "has keys that exclude each other (at/after, count/until, sample/percent)"
    if keyword == "dependentRequired":
        return error.message.replace("is a dependency of", "is needed with")
    if error.schema.get("pattern") == DURATION_PATTERN or \
            (keyword == "anyOf" and error.schema.get("anyOf") == DURATION_SCHEMA["anyOf"]):
        return f"{instance!r} is not a duration such as 90, 90s, 2m, 1h or 250ms"
    if keyword == "pattern" or (keyword == "anyOf" and isinstance(instance, str)):
        return f"{instance!r} is not valid here ({error.schema.get('description', keyword)})"
    return error.message


def _names(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _target(spec: YDict | None) -> Target:
    if spec is None:
        return Target()
    return Target(devices=_names(spec.get("devices")), profiles=_names(spec.get("profiles")),
                  sample=spec.get("sample"), percent=spec.get("percent"),
                  one_by_one=bool(spec.get("one-by-one", False)),
                  interfaces=_names(spec.get("interfaces")),
                  components=_names(spec.get("components")))


def _build(document: YDict, source: str, text: str) -> Scenario:
    steps: list[Step] = []
    by_name: dict[str, int] = {}
    previous = 0.0
    last_event: int | None = None
    occurrences = 0
    for index, spec in enumerate(document["steps"]):
        line = document["steps"].lines[index]

        def duration(key: str, default: float | None = None) -> float | None:
            if key not in spec:
                return default
            try:
                return parse_duration(spec[key])
            except ValueError as exc:
                raise ScenarioError(source, spec.line_of(key), f"steps[{index}].{key}: {exc}") \
                    from None

        name = spec.get("name", f"step-{index + 1}")
        if name in by_name:
            raise ScenarioError(source, spec.line_of("name"),
                                f"steps[{index}].name: {name!r} names an earlier step too")
        at = duration("at")
        time = at if at is not None else previous + (duration("after") or 0.0)
        every = duration("every")
        count = 1
        if every is not None:
            if every <= 0:
                raise ScenarioError(source, spec.line_of("every"),
                                    f"steps[{index}].every: must be more than 0")
            if "count" in spec:
                count = spec["count"]
            elif "until" in spec:
                until = duration("until")
                if until < time:
                    raise ScenarioError(source, spec.line_of("until"),
                                        f"steps[{index}].until: before the step's first time "
                                        f"({time:g} s)")
                count = int(math.floor((until - time) / every + 1e-9)) + 1
            else:
                raise ScenarioError(source, spec.line_of("every"),
                                    f"steps[{index}].every: needs count or until")
        occurrences += count
        if occurrences > MAX_OCCURRENCES:
            raise ScenarioError(source, line, f"steps[{index}]: the drill fires more than "
                                              f"{MAX_OCCURRENCES} times in all")
        expect = None
        if "expect" in spec:
            expect = _expect(spec["expect"], index, by_name, last_event, steps, source)
        else:
            _check_params(spec, index, source)
        step = Step(index=index, name=name, line=line, time=time, every=every, count=count,
                    target=_target(spec.get("target")), event=spec.get("event"),
                    params=dict(spec.get("params") or {}), duration=duration("duration"),
                    jitter=duration("jitter", 0.0) or 0.0, expect=expect)
        steps.append(step)
        by_name[name] = index
        if step.event is not None:
            last_event = index
        previous = time
    return Scenario(name=document["name"], description=str(document.get("description", "")),
                    seed=document.get("seed", 0), steps=tuple(steps), source=source, text=text)


def _check_params(spec: YDict, index: int, source: str) -> None:
    kind = catalogue.EVENTS[spec["event"]]
    params = spec.get("params") or {}
    for param in kind.params:
        if param.kind == "duration" and param.name in params:
            try:
                parse_duration(params[param.name])
            except ValueError as exc:
                raise ScenarioError(source, params.line_of(param.name),
                                    f"steps[{index}].params.{param.name}: {exc}") from None
    if "duration" in spec and not kind.undoable:
        raise ScenarioError(source, spec.line_of("duration"),
                            f"steps[{index}].duration: {kind.name} is not undone by time "
                            f"(events with a duration: "
                            f"{', '.join(n for n, k in catalogue.EVENTS.items() if k.undoable)})")


def _expect(spec: YDict, index: int, by_name: dict[str, int], last_event: int | None,
            steps: list[Step], source: str) -> Expect:
    if "of" in spec:
        if spec["of"] not in by_name or steps[by_name[spec["of"]]].event is None:
            raise ScenarioError(source, spec.line_of("of"),
                                f"steps[{index}].expect.of: no earlier event step named "
                                f"{spec['of']!r}")
        of = by_name[spec["of"]]
    else:
        of = last_event
    target = _target(spec) if ("devices" in spec or "profiles" in spec) else None
    if target is None and of is None:
        raise ScenarioError(source, spec.line, f"steps[{index}].expect: watches no devices "
                                               "(name them with devices or profiles, or put "
                                               "an event step before it)")
    if "during" in spec:
        watched = steps[of] if of is not None else None
        if watched is None or watched.duration is None:
            raise ScenarioError(source, spec.line_of("during"),
                                f"steps[{index}].expect.during: the watched step has no "
                                "duration")
        within = watched.duration + watched.jitter
    else:
        try:
            within = parse_duration(spec["within"])
        except ValueError as exc:
            raise ScenarioError(source, spec.line_of("within"),
                                f"steps[{index}].expect.within: {exc}") from None
    match = spec.get("match")
    namespaces = tuple(sorted((spec.get("namespaces") or {}).items()))
    if match is not None:
        try:
            # (compiled, then tried once: an undeclared prefix or an unknown
            # function is only found when the expression runs)
            etree.XPath(match, namespaces=dict(namespaces))(_SAMPLE_RPC)
        except etree.XPathError as exc:
            raise ScenarioError(source, spec.line_of("match"),
                                f"steps[{index}].expect.match: not an XPath: {exc}") from None
    return Expect(rpcs=_names(spec["rpc"]), target=target, of=of, within=within,
                  match=match, namespaces=namespaces, none=bool(spec.get("none", False)))
