"""Operations on data trees that need the schema: merging and pruning."""

from __future__ import annotations

from contextlib import contextmanager
from copy import deepcopy
from typing import Iterator

from lxml import etree

from emulator.schema.model import SchemaNode


def entry_key(element: etree._Element, node: SchemaNode) -> tuple:
    return tuple((element.findtext(tag) or "").strip() for tag, _ in node.key_nodes)


def merge(target: etree._Element, source: etree._Element, schema_node: SchemaNode) -> None:
    """Merge ``source``'s children into ``target``'s: containers and list
    entries (by key) meet, leaves are replaced, leaf-list values added."""
    indexes: dict[str, dict] = {}
    for child in source:
        if type(child.tag) is not str:
            continue
        node = schema_node.by_tag.get(child.tag)
        if node is None:
            _append_copy(target, child)
            continue
        if node.keyword == "list":
            index = indexes.get(child.tag)
            if index is None:
                index = indexes[child.tag] = {entry_key(e, node): e
                                              for e in target.iterfind(child.tag)}
            existing = index.get(entry_key(child, node))
            if existing is None:
                index[entry_key(child, node)] = _append_copy(target, child)
            else:
                merge(existing, child, node)
        elif node.keyword == "leaf-list":
            values = {(e.text or "").strip() for e in target.iterfind(child.tag)}
            if (child.text or "").strip() not in values:
                _append_copy(target, child)
        else:
            existing = target.find(child.tag)
            if existing is None:
                _append_copy(target, child)
            elif node.keyword == "container":
                merge(existing, child, node)
            else:
                existing.text = child.text


def _append_copy(target: etree._Element, child: etree._Element) -> etree._Element:
    copy = deepcopy(child)
    with moving(copy):       # (a big subtree moved whole costs the square of its declarations)
        target.append(copy)
    return copy


def prune(element: etree._Element, schema_node: SchemaNode) -> None:
    """Remove what the schema does not know (e.g. nodes of a disabled feature)."""
    for child in list(element):
        if type(child.tag) is not str:
            continue
        node = schema_node.by_tag.get(child.tag)
        if node is None:
            element.remove(child)
        elif node.keyword in ("container", "list"):
            prune(child, node)


# An element with more children than this is moved without them, and they after it,
# one by one (see moving).
MOVED_WHOLE_AT_MOST = 64


@contextmanager
def moving(*elements: etree._Element | None) -> Iterator[None]:
    """Around a move of ``elements`` (insert, remove, replace): the big ones
    are moved without their children, which follow one by one. lxml fixes the
    namespace references of a moved subtree with a cache that grows by every
    namespace declaration in it: a replace of a list of 10,000 entries that
    each declare one (``<ipv4 xmlns="...">``) took about 0.35 s moved whole,
    0.07 s so."""
    taken = []
    for element in elements:
        if element is not None and len(element) > MOVED_WHOLE_AT_MOST:
            children = list(element)
            for child in children:
                element.remove(child)
            taken.append((element, children))
    try:
        yield
    finally:
        for element, children in taken:
            element.extend(children)


def instance_steps(path: str) -> list[str]:
    """An instance-identifier's steps ('/' inside a predicate's quotes is not one)."""
    steps, current, quote, depth = [], [], None, 0
    for char in path:
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == "/" and depth == 0:
            if current:
                steps.append("".join(current))
            current = []
            continue
        current.append(char)
    if current:
        steps.append("".join(current))
    return steps
