"""YAML fixtures that remember where each value came from.

Every mapping and list loaded here knows its own line and the line of each
entry, so a refusal can say ``fleet.yaml:12: unknown profile 'rooter'``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class FixtureError(Exception):
    """A fixture file is wrong: where, and what."""

    def __init__(self, path: Path | str, line: int | None, message: str):
        self.path = Path(path)
        self.line = line
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return f"{where}: {self.message}"


class YDict(dict):
    line: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[Any, int] = {}

    def line_of(self, key: Any) -> int:
        return self.lines.get(key, self.line)


class YList(list):
    line: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[int] = []


class _Loader(yaml.SafeLoader):
    pass


def _mapping(loader: _Loader, node: yaml.MappingNode) -> YDict:
    loader.flatten_mapping(node)
    result = YDict()
    result.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        try:
            duplicate = key in result
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark) from None
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        result[key] = loader.construct_object(value_node, deep=True)
        result.lines[key] = line
    return result


def _sequence(loader: _Loader, node: yaml.SequenceNode) -> YList:
    result = YList()
    result.line = node.start_mark.line + 1
    for item in node.value:
        result.append(loader.construct_object(item, deep=True))
        result.lines.append(item.start_mark.line + 1)
    return result


_Loader.add_constructor("tag:yaml.org,2002:map", _mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _sequence)


def load(path: Path) -> Any:
    """Load one YAML file, turning every problem into a :class:`FixtureError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FixtureError(path, None, "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FixtureError(path, None, f"cannot read: {exc}") from None
    return parse(text, path)


def parse(text: str, path: Path | str) -> Any:
    """Load YAML text that came from ``path`` (a name for messages)."""
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise FixtureError(path, line, f"invalid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise FixtureError(path, None, f"invalid YAML: {exc}") from None
    except RecursionError:
        raise FixtureError(path, None, "invalid YAML: nested too deeply") from None


def expect_mapping(value: Any, path: Path, line: int, what: str) -> YDict:
    if not isinstance(value, YDict):
        raise FixtureError(path, line, f"{what} must be a mapping, not {_kind(value)}")
    return value


def expect_list(value: Any, path: Path, line: int, what: str) -> YList:
    if not isinstance(value, YList):
        raise FixtureError(path, line, f"{what} must be a list, not {_kind(value)}")
    return value


def check_keys(mapping: YDict, allowed: set[str], path: Path, what: str,
               required: set[str] = frozenset()) -> None:
    for key in mapping:
        if key not in allowed:
            raise FixtureError(path, mapping.line_of(key),
                               f"unknown key {key!r} in {what} (expected one of: "
                               f"{', '.join(sorted(allowed))})")
    for key in sorted(required):
        if key not in mapping:
            raise FixtureError(path, mapping.line, f"{what} has no {key!r}")


def _kind(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, YDict):
        return "a mapping"
    if isinstance(value, YList):
        return "a list"
    return f"{type(value).__name__} {value!r}"
