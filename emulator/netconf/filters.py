"""The ``<filter>`` of ``<get>``, ``<get-config>`` and subscriptions.

Subtree filtering exactly as RFC 6241 section 6 defines it (namespace
selection and the empty-namespace wildcard, attribute match, containment,
selection and content-match nodes, several subtrees), and XPath filtering
(``:xpath``, section 8.9) with the namespaces in scope on the filter.

Both work in two steps: first mark what the filter selects (a node whole,
or as the way to something selected below it), then copy the marked nodes
in document order. Two filter subtrees that select the same node merge
naturally.
"""

from __future__ import annotations

from copy import deepcopy

from lxml import etree

from emulator.errors import RpcError
from emulator.namespaces import NC_NS
from emulator.schema.xpath import XPathSyntaxError, rewrite


class Selection:
    def __init__(self) -> None:
        self.whole: set[etree._Element] = set()
        self.partial: set[etree._Element] = set()

    def take(self, element: etree._Element, root: etree._Element) -> None:
        self.whole.add(element)
        parent = element.getparent()
        while parent is not None and parent is not root and parent not in self.partial:
            self.partial.add(parent)
            parent = parent.getparent()

    def copy(self, root: etree._Element) -> etree._Element:
        out = etree.Element(root.tag, nsmap=root.nsmap)
        self._copy_children(root, out)
        return out

    def _copy_children(self, source: etree._Element, target: etree._Element) -> None:
        for child in source:
            if child in self.whole:
                target.append(_deep(child))
            elif child in self.partial:
                shallow = etree.SubElement(target, child.tag, attrib=child.attrib, nsmap=child.nsmap)
                self._copy_children(child, shallow)


def _deep(element: etree._Element) -> etree._Element:
    return deepcopy(element)


# -- subtree ----------------------------------------------------------------------

def _matches(filter_node: etree._Element, data: etree._Element) -> bool:
    tag = data.tag
    if type(tag) is not str:
        return False
    wanted = filter_node.tag
    if wanted != tag:
        # RFC 6241 6.2.1: an element in no namespace (xmlns="") matches every namespace.
        if wanted[0] == "{" or tag.rpartition("}")[2] != wanted:
            return False
    if filter_node.attrib:
        for name, value in filter_node.attrib.items():  # attribute match expressions
            if data.get(name) != value:
                return False
    return True


def _kind(filter_node: etree._Element) -> str:
    if len(filter_node):
        return "containment"
    if (filter_node.text or "").strip():
        return "content"
    return "selection"


def _select_level(filters: list[etree._Element], data: etree._Element,
                  selection: Selection, root: etree._Element) -> bool:
    """Apply one sibling set of filter nodes to the children of ``data``.

    Returns False when a content-match node fails, which deselects ``data``.
    """
    contents = [f for f in filters if _kind(f) == "content"]
    others = [f for f in filters if _kind(f) != "content"]
    matched_content: list[etree._Element] = []
    for content in contents:
        wanted = (content.text or "").strip()
        hits = [d for d in data if _matches(content, d) and (d.text or "").strip() == wanted]
        if not hits:
            return False
        matched_content.extend(hits)
    if contents and not others:
        # Only content matches here: the whole of the parent is selected.
        if data is root:
            for child in data:
                selection.take(child, root)
        else:
            selection.take(data, root)
        return True
    for hit in matched_content:
        selection.take(hit, root)
    for child in data:
        for f in others:
            if not _matches(f, child):
                continue
            if _kind(f) == "selection":
                selection.take(child, root)
            else:
                _select_level(list(_elements(f)), child, selection, root)
    return True


def _elements(node: etree._Element):
    return (c for c in node if isinstance(c.tag, str))


def subtree(data: etree._Element, filter_element: etree._Element) -> etree._Element:
    """What a subtree filter selects from ``data`` (a wrapper of top-level nodes)."""
    selection = Selection()
    top = list(_elements(filter_element))
    if top:
        _select_level(top, data, selection, data)
    return selection.copy(data)


# -- XPath --------------------------------------------------------------------------

def xpath(data: etree._Element, expression: str, namespaces: dict[str | None, str],
          error_path: str) -> etree._Element:
    try:
        text, _ = rewrite(expression, None)
        compiled = etree.XPath(text, namespaces={k: v for k, v in namespaces.items() if k})
        result = compiled(data)
    except (XPathSyntaxError, etree.XPathError) as exc:
        raise RpcError("invalid-value", "protocol", f"bad XPath filter {expression!r}: {exc}",
                       path=error_path, path_ns={"nc": NC_NS}) from None
    if not isinstance(result, list):
        raise RpcError("invalid-value", "protocol",
                       f"XPath filter {expression!r} selects a {type(result).__name__}, "
                       "not nodes", path=error_path, path_ns={"nc": NC_NS})
    selection = Selection()
    for node in result:
        if isinstance(node, etree._Element):
            if node is data:
                for child in data:
                    selection.take(child, data)
            else:
                selection.take(node, data)
        elif hasattr(node, "getparent") and node.getparent() is not None:
            selection.take(node.getparent(), data)  # text or attribute: its element
    return selection.copy(data)


def apply(data: etree._Element, filter_element: etree._Element, error_path: str,
          xpath_enabled: bool = True) -> etree._Element:
    """A new tree: what the ``<filter>`` parameter selects of ``data``."""
    kind = filter_element.get("type", "subtree")
    if kind == "subtree":
        return subtree(data, filter_element)
    if kind == "xpath" and xpath_enabled:
        select = filter_element.get("select")
        if select is None:
            raise RpcError("missing-attribute", "protocol",
                           "an XPath filter needs a select attribute", path=error_path,
                           path_ns={"nc": NC_NS},
                           info=[("bad-attribute", "select"), ("bad-element", "filter")])
        return xpath(data, select, filter_element.nsmap, error_path)
    raise RpcError("bad-attribute", "protocol", f"filter type {kind!r} is not supported "
                   "(use subtree or xpath)", path=error_path, path_ns={"nc": NC_NS},
                   info=[("bad-attribute", "type"), ("bad-element", "filter")])

