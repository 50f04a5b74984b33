"""Operations on data trees that need the schema: merging and pruning."""

from __future__ import annotations

from copy import deepcopy

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
            target.append(deepcopy(child))
            continue
        if node.keyword == "list":
            index = indexes.get(child.tag)
            if index is None:
                index = indexes[child.tag] = {entry_key(e, node): e
                                              for e in target.iterfind(child.tag)}
            existing = index.get(entry_key(child, node))
            if existing is None:
                copy = deepcopy(child)
                target.append(copy)
                index[entry_key(copy, node)] = copy
            else:
                merge(existing, child, node)
        elif node.keyword == "leaf-list":
            values = {(e.text or "").strip() for e in target.iterfind(child.tag)}
            if (child.text or "").strip() not in values:
                target.append(deepcopy(child))
        else:
            existing = target.find(child.tag)
            if existing is None:
                target.append(deepcopy(child))
            elif node.keyword == "container":
                merge(existing, child, node)
            else:
                existing.text = child.text


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
