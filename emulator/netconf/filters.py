"""The ``<filter>`` of ``<get>``, ``<get-config>`` and subscriptions.

Subtree filtering exactly as RFC 6241 section 6 defines it (namespace
selection and the empty-namespace wildcard, attribute match, containment,
selection and content-match nodes, several subtrees), and XPath filtering
(``:xpath``, section 8.9) with the namespaces in scope on the filter.

Both work in two steps: first mark what the filter selects (a node whole,
or as the way to something selected below it), then copy the marked nodes
in document order. Two filter subtrees that select the same node merge
naturally. With the schema, a list entry copied as the way to something
selected below it carries its keys too (RFC 6241 6.2.5 allows it; without
them the data cannot be tied to its entry, and Netopeer2 and ConfD send them).

Filters cost what they select, not what the device holds: a containment
node with a content-match child (a list entry named by its key, usually)
finds its candidates through a :class:`KeyIndex` instead of trying every
sibling, and the common XPath form ``/a:x/a:y[a:k='v']/...`` is walked the
same way. A candidate is then checked exactly as the scan would check it,
so the index only ever skips entries that could not match.
"""

from __future__ import annotations

import re

from lxml import etree
from pyang import xpath_lexer

from emulator.errors import RpcError
from emulator.namespaces import NC_NS
from emulator.schema.compiled import PerThreadXPath
from emulator.schema.model import Schema, SchemaNode
from emulator.schema.tree import moving
from emulator.schema.xpath import XPathSyntaxError, rewrite

# Below this many children, trying each one is as quick as any lookup.
INDEX_MIN_CHILDREN = 32
# A selection of more than 1/SPARSE of a parent's children is copied by walking them all.
SPARSE = 8
SORT_AT_MOST = 16


class KeyIndex:
    """Candidate children by the text of one of their children, e.g. the
    ``interface`` entries whose ``name`` is ``eth0``.

    ``persistent``: a lookup table is built once per (parent, child tag, key
    tag) and kept, for a datastore's tree: the datastore tells the index
    (:meth:`forget`) which parents an edit changed. Otherwise (a tree built
    for one ``<get>``) each lookup is one C-level XPath scan.
    """

    def __init__(self, persistent: bool = False):
        self.persistent = persistent
        self._tables: dict[tuple, tuple[dict[str, list], list]] = {}

    def candidates(self, parent: etree._Element, tag: str, key_tag: str,
                   value: str) -> list[etree._Element]:
        """Children of ``parent`` tagged ``tag`` that may have a ``key_tag`` child
        whose text, stripped, is ``value`` stripped (a superset: callers check),
        in document order. Those whose ``key_tag`` child holds more than text
        (a comment, an element) are always candidates."""
        if not self.persistent:
            return _compiled("scan", tag, key_tag)(parent, v=" ".join(value.split()),
                                                   ws=_OTHER_SPACE, spaces=_SPACES)
        table = self._tables.get((parent, tag, key_tag))
        if table is None:
            if parent.find(tag) is None:
                return []        # (no table for a list that is not there: a client's
                                 # invented names must not grow the index)
            table = self._tables[(parent, tag, key_tag)] = _table(parent, tag, key_tag)
        by_text, irregular = table
        found = by_text.get(value.strip(), ())
        if not irregular:
            return list(found)
        chosen = set(found) | set(irregular)
        return [child for child in parent.iterchildren(tag) if child in chosen]

    def forget(self, parents: list[etree._Element], root: etree._Element | None = None) -> bool:
        """The tree was changed by steps under each of ``parents`` (children
        inserted, removed or replaced): forget the tables those steps can have
        made wrong, those of the parents themselves (entries added or taken
        away) and of their parents (an entry's key leaf replaced), and those of
        lists no longer in the tree (``root``'s; by default the first parent's).
        False: nothing kept is worth keeping."""
        if not self._tables:
            return False
        changed = set()
        for parent in parents:
            changed.add(parent)
            above = parent.getparent()
            if above is not None:
                changed.add(above)
        if root is None and parents:
            root = _top(parents[0])
        for key in list(self._tables):
            parent = key[0]
            if parent in changed or (root is not None and _top(parent) is not root):
                del self._tables[key]
        return bool(self._tables)


def _top(element: etree._Element) -> etree._Element:
    """The root of the tree ``element`` is in (itself, when it was taken out)."""
    while True:
        parent = element.getparent()
        if parent is None:
            return element
        element = parent


def _table(parent: etree._Element, tag: str, key_tag: str) -> tuple[dict[str, list], list]:
    by_text: dict[str, list] = {}
    irregular = []
    for key in _keys_of(tag, key_tag)(parent):
        entry = key.getparent()
        if len(key):
            irregular.append(entry)
        else:
            by_text.setdefault((key.text or "").strip(), []).append(entry)
    return by_text, irregular


_COMPILED: dict[tuple, PerThreadXPath] = {}
_COMPILED_MAX = 512


def _compiled(kind: str, tag: str, key_tag: str) -> PerThreadXPath:
    found = _COMPILED.get((kind, tag, key_tag))
    if found is None:
        namespaces = {"a": _namespace(tag), "b": _namespace(key_tag)}
        name, key = _prefixed("a", tag), _prefixed("b", key_tag)
        if kind == "keys":
            text = f"{name}/{key}"
        elif kind == "exact":
            text = f"{name}[{key} = $v]"
        else:
            # every entry whose key's text, its white space (Python's: str.strip)
            # collapsed, is $v, and every entry whose key holds more than text: a
            # superset of the entries whose key's text, stripped, is the value
            text = (f"{name}[{key}[normalize-space(translate(., $ws, $spaces)) = $v "
                    "or node()[not(self::text())]]]")
        found = PerThreadXPath(text, namespaces={k: v for k, v in namespaces.items() if v})
        if len(_COMPILED) >= _COMPILED_MAX:
            _COMPILED.clear()
        _COMPILED[(kind, tag, key_tag)] = found
    return found


def exact(parent: etree._Element, tag: str, key_tag: str, value: str) -> list[etree._Element]:
    """Children of ``parent`` tagged ``tag`` with a ``key_tag`` child whose string
    value is exactly ``value`` (one C-level scan, string equality)."""
    return _compiled("exact", tag, key_tag)(parent, v=value)


def _keys_of(tag: str, key_tag: str) -> PerThreadXPath:
    return _compiled("keys", tag, key_tag)


# White space Python's str.strip() removes that XPath's normalize-space() keeps
# (of the characters XML allows), and as many spaces.
_OTHER_SPACE = "\x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + \
    "\u2028\u2029\u202f\u205f\u3000"
_SPACES = " " * len(_OTHER_SPACE)


def _namespace(tag: str) -> str | None:
    return tag[1:].split("}", 1)[0] if tag[0] == "{" else None


def _prefixed(prefix: str, tag: str) -> str:
    return f"{prefix}:{tag.rpartition('}')[2]}" if tag[0] == "{" else tag


class OverBudget(Exception):
    """A filter costs more than the budget it was given (see apply)."""


class Selection:
    """What a filter selects: elements whole, and the ways to them. ``budget``:
    how many nodes it may look at and take (None: any number)."""

    def __init__(self, schema: Schema | None = None, budget: int | None = None) -> None:
        self.schema = schema
        self.budget = budget
        self.whole: set[etree._Element] = set()
        self.partial: set[etree._Element] = set()
        # the selected children (whole or partial) of each partial element, and of the root
        self.below: dict[etree._Element, set[etree._Element]] = {}

    def spend(self, steps: int) -> None:
        if self.budget is not None:
            self.budget -= steps
            if self.budget < 0:
                raise OverBudget

    def take(self, element: etree._Element, root: etree._Element) -> None:
        if self.budget is not None:
            self.spend(1)
        self.whole.add(element)
        child, parent = element, element.getparent()
        while parent is not None:
            below = self.below.get(parent)
            if below is None:
                below = self.below[parent] = set()
            below.add(child)
            if parent is root or parent in self.partial:
                break
            self.partial.add(parent)
            child, parent = parent, parent.getparent()

    def copy(self, root: etree._Element) -> etree._Element:
        out = etree.Element(root.tag, nsmap=root.nsmap)
        self._copy_children(root, out, self.schema.root if self.schema is not None else None)
        return out

    def _copy_children(self, source: etree._Element, target: etree._Element,
                       node: SchemaNode | None) -> None:
        chosen = self.below.get(source)
        if not chosen:
            return
        by_tag = node.by_tag if node is not None else None
        for child in _in_document_order(source, chosen):
            if child in self.whole:
                copy = child.__copy__()   # (a deep copy, without copy.deepcopy's)
                with moving(copy):        # (moved whole: the square of its declarations)
                    target.append(copy)
                continue
            shallow = etree.SubElement(target, child.tag, attrib=child.attrib, nsmap=child.nsmap)
            child_node = by_tag.get(child.tag) if by_tag is not None else None
            if child_node is not None and child_node.key_nodes:
                # a list entry on the way to what is selected: its keys come with it
                below = self.below[child]
                for key_tag, _ in child_node.key_nodes:
                    for key in child.iterchildren(key_tag):
                        if key not in below:
                            below.add(key)
                            self.whole.add(key)
            self._copy_children(child, shallow, child_node)


def at_least(parent: etree._Element, count: int) -> bool:
    """len(parent) >= count, without counting them all (lxml's len() walks every child)."""
    try:
        parent[count - 1]
    except IndexError:
        return False
    return True


def _in_document_order(parent: etree._Element, chosen: set) -> list[etree._Element]:
    if len(chosen) == 1:
        return list(chosen)
    # (parent.index costs the parent's size: sorting by it pays off only for a few)
    if len(chosen) > SORT_AT_MOST or not at_least(parent, len(chosen) * SPARSE + 1):
        return [child for child in parent if child in chosen]
    return sorted(chosen, key=parent.index)


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


def _lookup_key(filter_node: etree._Element) -> etree._Element | None:
    """A content-match child of a containment node that can find its entries
    by key: in a namespace, matching no attribute."""
    if filter_node.tag[0] != "{":
        return None   # the empty-namespace wildcard matches tags of every namespace
    for child in filter_node:
        if type(child.tag) is str and child.tag[0] == "{" and not child.attrib \
                and not len(child) and (child.text or "").strip():
            return child
    return None


class _Node:
    """A subtree filter's node, read once (lxml makes a new string or proxy on
    every read of a tag, attributes or children): its tag, its attribute match
    expressions, its kind (as _kind), a content match's text, and a containment
    node's element children and key (as _lookup_key)."""

    __slots__ = ("tag", "attributes", "content", "text", "children", "key")

    def __init__(self, element: etree._Element):
        self.tag = tag = element.tag
        self.attributes = tuple(element.items())
        self.children: list[_Node] | None = None     # None: not a containment node
        self.key: _Node | None = None
        self.text = text = element.text
        self.content = False
        if len(element):
            children = self.children = [_Node(c) for c in _elements(element)]
            if tag[0] == "{":    # (the empty-namespace wildcard matches every namespace)
                for child in children:
                    if child.content and child.tag[0] == "{" and not child.attributes:
                        self.key = child
                        break
        elif text is not None and text.strip():
            self.content = True
            self.text = text.strip()

    def matches(self, data: etree._Element) -> bool:
        """As _matches."""
        tag = data.tag
        if type(tag) is not str:
            return False
        wanted = self.tag
        if wanted != tag and (wanted[0] == "{" or tag.rpartition("}")[2] != wanted):
            return False
        for name, value in self.attributes:  # attribute match expressions
            if data.get(name) != value:
                return False
        return True


def _select_level(filters: list[_Node], data: etree._Element,
                  selection: Selection, root: etree._Element, index: KeyIndex | None) -> bool:
    """Apply one sibling set of filter nodes to the children of ``data``.

    Returns False when a content-match node fails, which deselects ``data``.
    With ``index`` (and enough children to be worth it), a containment node
    with a content-match child tries only the children the index offers.
    """
    contents = [f for f in filters if f.content]
    others = [f for f in filters if not f.content] if contents else filters
    if contents:
        matched_content: list[etree._Element] = []
        for content in contents:
            wanted = content.text
            if selection.budget is not None:
                selection.spend(len(data))
            hits = [d for d in data if content.matches(d) and (d.text or "").strip() == wanted]
            if not hits:
                return False
            matched_content.extend(hits)
        if not others:
            # Only content matches here: the whole of the parent is selected.
            if data is root:
                for child in data:
                    selection.take(child, root)
            else:
                selection.take(data, root)
            return True
        for hit in matched_content:
            selection.take(hit, root)
    scanned = others
    if index is not None and at_least(data, INDEX_MIN_CHILDREN):
        scanned = []
        for f in others:
            key = f.key
            if key is None or f.attributes:
                scanned.append(f)
                continue
            for child in index.candidates(data, f.tag, key.tag, key.text):
                _select_level(f.children, child, selection, root, index)
    if scanned:
        if selection.budget is not None:
            selection.spend(len(data) * len(scanned))
        for child in data:
            for f in scanned:
                if not f.matches(child):
                    continue
                if f.children is None:
                    selection.take(child, root)
                else:
                    _select_level(f.children, child, selection, root, index)
    return True


def _elements(node: etree._Element) -> list[etree._Element]:
    """The element children of ``node`` (no comments, instructions or entities)."""
    children = node[:]
    for child in children:
        if type(child.tag) is not str:
            return [c for c in children if type(c.tag) is str]
    return children


def subtree(data: etree._Element, filter_element: etree._Element,
            schema: Schema | None = None, index: KeyIndex | None = None) -> etree._Element:
    """What a subtree filter selects from ``data`` (a wrapper of top-level nodes).

    ``index`` None tries every node (the plain scan, the reference the fast
    path is tested against)."""
    return _subtree(data, filter_element, schema, index).copy(data)


def _subtree(data: etree._Element, filter_element: etree._Element,
             schema: Schema | None, index: KeyIndex | None,
             budget: int | None = None) -> Selection:
    selection = Selection(schema, budget)
    top = [_Node(f) for f in _elements(filter_element)]
    if top:
        _select_level(top, data, selection, data, index)
    return selection


# -- XPath --------------------------------------------------------------------------

_NAME = r"[A-Za-z_][\w.-]*"
_QNAME = rf"({_NAME}):({_NAME})"
_LITERAL = r"""(?:'([^']*)'|"([^"]*)")"""
_PREDICATE = re.compile(rf"\[\s*{_QNAME}\s*=\s*{_LITERAL}\s*\]")
_STEP = re.compile(rf"/\s*{_QNAME}((?:\s*\[\s*{_NAME}:{_NAME}\s*=\s*{_LITERAL}\s*\])*)\s*")
_SIMPLE_PATH = re.compile(rf"\s*(?:/\s*{_NAME}:{_NAME}(?:\s*\[\s*{_NAME}:{_NAME}\s*=\s*"
                          rf"{_LITERAL}\s*\])*\s*)+")


def _simple_steps(expression: str, namespaces: dict[str | None, str]) \
        -> list[tuple[str, list[tuple[str, str]]]] | None:
    """``/a:x/a:y[a:k='v']/a:z`` as [(tag, [(key tag, value)])], or None when
    the expression is anything else (it then goes to lxml as it is)."""
    if not _SIMPLE_PATH.fullmatch(expression):
        return None
    steps = []
    for step in _STEP.finditer(expression):
        prefix, name, predicates = step.group(1), step.group(2), step.group(3)
        if not prefix or prefix not in namespaces:
            return None
        keys = []
        for predicate in _PREDICATE.finditer(predicates):
            key_prefix, key_name, single, double = predicate.groups()
            if key_prefix not in namespaces:
                return None
            keys.append((f"{{{namespaces[key_prefix]}}}{key_name}",
                         single if single is not None else double))
        steps.append((f"{{{namespaces[prefix]}}}{name}", keys))
    return steps


_EQUALS: dict[int, PerThreadXPath] = {}


def _equals(count: int) -> PerThreadXPath:
    """self::*[b0 = $v0][b1 = $v1]..., XPath's own equality (string values, no trimming)."""
    found = _EQUALS.get(count)
    if found is None:
        found = _EQUALS[count] = PerThreadXPath(
            "self::*" + "".join(f"[*[local-name() = $l{i} and namespace-uri() = $n{i}] = $v{i}]"
                                for i in range(count)))
    return found


def _walk(data: etree._Element, steps: list[tuple[str, list[tuple[str, str]]]],
          index: KeyIndex) -> list[etree._Element]:
    """The nodes a simple absolute path selects, as lxml would find them."""
    contexts = [data]
    for tag, keys in steps:
        found = []
        for context in contexts:
            if keys and at_least(context, INDEX_MIN_CHILDREN):
                candidates = index.candidates(context, tag, keys[0][0], keys[0][1])
            else:
                candidates = list(context.iterchildren(tag))
            if keys:
                equals = _equals(len(keys))
                variables = {}
                for i, (key_tag, value) in enumerate(keys):
                    namespace, _, local = key_tag[1:].partition("}")
                    variables.update({f"l{i}": local, f"n{i}": namespace, f"v{i}": value})
                candidates = [c for c in candidates if equals(c, **variables)]
            found.extend(candidates)
        contexts = found
    return contexts


def xpath(data: etree._Element, expression: str, namespaces: dict[str | None, str],
          error_path: str, schema: Schema | None = None,
          index: KeyIndex | None = None) -> etree._Element:
    """What an XPath filter selects. With ``index``, a simple absolute path
    (steps of prefixed names, ``[prefix:key = 'literal']`` predicates) is
    walked by key; anything else is lxml's."""
    return _xpath(data, expression, namespaces, error_path, schema, index).copy(data)


# What an XPath filter may cost (lxml cannot stop an evaluation once it runs,
# and it runs on the loop every device shares): a scan (``//`` or an axis that
# walks many nodes) inside a predicate or a function's argument, with another
# scan around it, costs the product of the two (``//*[count(//*)]`` is N x N,
# one level more N x N x N). Such filters are refused before they run, as are
# very long or very deeply nested ones. No filter an NMS sends needs them.
MAX_SUBTREE_NODES = 10_000
MAX_XPATH_LENGTH = 4096
MAX_XPATH_NESTING = 8
_SCANNING_AXES = {"descendant", "descendant-or-self", "ancestor", "ancestor-or-self",
                  "following", "preceding", "following-sibling", "preceding-sibling"}


def _too_costly(expression: str) -> str | None:
    """Why an XPath filter would cost more than the server allows, or None."""
    if len(expression) > MAX_XPATH_LENGTH:
        return f"it is longer than {MAX_XPATH_LENGTH} characters"
    try:
        tokens = [t for t in xpath_lexer.scan(expression) if t.type != "_whitespace"]
    except Exception:  # (pyang's lexer raises plain exceptions: the compile says why)
        return None
    depth = deepest = scans = nested_scans = 0
    for token in tokens:
        if token.type in ("LBRACKET", "LPAREN"):
            depth += 1
            deepest = max(deepest, depth)
        elif token.type in ("RBRACKET", "RPAREN"):
            depth -= 1
        elif token.type == "DOUBLESLASH" or (token.type == "axis"
                                             and token.value in _SCANNING_AXES):
            scans += 1
            nested_scans += depth > 0
    if deepest > MAX_XPATH_NESTING:
        return f"it nests predicates and arguments more than {MAX_XPATH_NESTING} deep"
    if nested_scans and scans > 1:
        return ("it scans the data (// or a descendant, ancestor, following or preceding "
                "axis) inside a predicate or an argument of another scan, which costs the "
                "product of both")
    return None


def _xpath(data: etree._Element, expression: str, namespaces: dict[str | None, str],
           error_path: str, schema: Schema | None, index: KeyIndex | None,
           budget: int | None = None) -> Selection:
    problem = _too_costly(expression)
    if problem is not None:
        raise RpcError("resource-denied", "protocol",
                       f"XPath filter {expression[:200]!r} is refused: {problem}",
                       path=error_path, path_ns={"nc": NC_NS})
    steps = _simple_steps(expression, namespaces) if index is not None else None
    try:
        text, _ = rewrite(expression, None)   # (refuses what lxml would take but YANG not)
        if steps is not None:
            result = _walk(data, steps, index)
        else:
            compiled = etree.XPath(text, namespaces={k: v for k, v in namespaces.items() if k})
            result = compiled(data)
    except (XPathSyntaxError, etree.XPathError) as exc:
        raise RpcError("invalid-value", "protocol", f"bad XPath filter {expression!r}: {exc}",
                       path=error_path, path_ns={"nc": NC_NS}) from None
    if not isinstance(result, list):
        raise RpcError("invalid-value", "protocol",
                       f"XPath filter {expression!r} selects a {type(result).__name__}, "
                       "not nodes", path=error_path, path_ns={"nc": NC_NS})
    selection = Selection(schema, budget)
    for node in result:
        if isinstance(node, etree._Element):
            if node is data:
                for child in data:
                    selection.take(child, data)
            else:
                selection.take(node, data)
        elif hasattr(node, "getparent") and node.getparent() is not None:
            selection.take(node.getparent(), data)  # text or attribute: its element
    return selection


def reaches(filter_element: etree._Element | None):
    """Which top-level nodes a ``<filter>`` can select from: a predicate over
    their tags, or None when it may be any (no filter, an XPath beyond the
    simple form, a content match at the top). Lets ``<get>`` build only those."""
    return _top_level(filter_element, whole=False)


def _top_level(filter_element: etree._Element | None, whole: bool):
    """A predicate over the top-level tags a filter names (see reaches and
    whole_top_level); ``whole``: only when it names nothing below them."""
    if filter_element is None:
        return None
    kind = filter_element.get("type", "subtree")
    if kind == "subtree":
        tops = _elements(filter_element)
        if whole and (not tops or any(len(f) or f.attrib or (f.text or "").strip()
                                      for f in tops)):
            return None
        if any(_kind(f) == "content" for f in tops):
            return None   # a content match at the top selects every top-level node
        tags = {f.tag for f in tops if f.tag[0] == "{"}
        local = {f.tag for f in tops if f.tag[0] != "{"}   # the empty-namespace wildcard
        return lambda tag: tag in tags or tag.rpartition("}")[2] in local
    if kind == "xpath":
        tags = set()
        for part in (filter_element.get("select") or "").split("|"):
            steps = _simple_steps(part, filter_element.nsmap)
            if not steps:
                return None
            if whole:
                if len(steps) != 1 or steps[0][1]:
                    return None
                try:
                    rewrite(part, None)   # (what the plain path refuses, it refuses)
                except XPathSyntaxError:
                    return None
            tags.add(steps[0][0])
        return tags.__contains__
    return None


def keyed_entries(filter_element: etree._Element | None) \
        -> tuple[str, str, list[tuple[str, str]]] | None:
    """When a subtree filter selects nothing but entries of one list under one
    top-level node, each entry by a content match (``<interfaces><interface>
    <name>eth1</name>...</interface></interfaces>``): (the top-level tag, the
    entries' tag, [(the first content match's tag, its value), ...], one per
    entry node). Only entries whose child matches one of those can then be
    in the answer. Otherwise None."""
    if filter_element is None or filter_element.get("type", "subtree") != "subtree":
        return None
    tops = _elements(filter_element)
    if len(tops) != 1 or tops[0].tag[0] != "{" or tops[0].attrib \
            or _kind(tops[0]) != "containment":
        return None
    entries = _elements(tops[0])
    keys = []
    for entry in entries:
        if entry.tag != entries[0].tag or entry.attrib or _kind(entry) != "containment":
            return None
        key = _lookup_key(entry)
        if key is None:
            return None
        keys.append((key.tag, (key.text or "").strip()))
    return tops[0].tag, entries[0].tag, keys


def whole_top_level(filter_element: etree._Element | None):
    """When a ``<filter>`` selects nothing but whole top-level nodes (``<interfaces
    xmlns=".."/>``, ``/if:interfaces``), a predicate over their tags: the answer
    is then those nodes as they are, and can be written without copying them.
    Otherwise None."""
    return _top_level(filter_element, whole=True)


def apply(data: etree._Element, filter_element: etree._Element, error_path: str,
          xpath_enabled: bool = True, schema: Schema | None = None,
          index: KeyIndex | None = None, budget: int | None = None) -> etree._Element:
    """A new tree: what the ``<filter>`` parameter selects of ``data``.

    ``schema`` (of ``data``): list entries on the way to a selected node keep
    their keys. ``index``: find list entries by key (see :class:`KeyIndex`).
    ``budget``: raise OverBudget rather than look at or take more nodes than
    this (the caller does the work elsewhere).
    """
    return _selection(data, filter_element, error_path, xpath_enabled, schema, index,
                      budget).copy(data)


def selects(data: etree._Element, filter_element: etree._Element, error_path: str,
            xpath_enabled: bool = True) -> bool:
    """Does the filter select anything of ``data``? (``len(apply(...)) > 0``,
    without copying what it selects: a subscription's filter, for each event.)"""
    selection = _selection(data, filter_element, error_path, xpath_enabled, None, None)
    return bool(selection.below.get(data))   # (what copy() would write at the top)


def _selection(data: etree._Element, filter_element: etree._Element, error_path: str,
               xpath_enabled: bool, schema: Schema | None, index: KeyIndex | None,
               budget: int | None = None) -> Selection:
    kind = filter_element.get("type", "subtree")
    if kind == "subtree":
        for count, _ in enumerate(filter_element.iter(), start=0):   # (stops at the limit)
            if count > MAX_SUBTREE_NODES:
                raise RpcError("resource-denied", "protocol", "a subtree filter of more than "
                               f"{MAX_SUBTREE_NODES:,} nodes is refused (its cost grows "
                               "faster than its size)", path=error_path, path_ns={"nc": NC_NS})
        return _subtree(data, filter_element, schema, index, budget)
    if kind == "xpath" and xpath_enabled:
        select = filter_element.get("select")
        if select is None:
            raise RpcError("missing-attribute", "protocol",
                           "an XPath filter needs a select attribute", path=error_path,
                           path_ns={"nc": NC_NS},
                           info=[("bad-attribute", "select"), ("bad-element", "filter")])
        return _xpath(data, select, filter_element.nsmap, error_path, schema, index, budget)
    raise RpcError("bad-attribute", "protocol", f"filter type {kind!r} is not supported "
                   "(use subtree or xpath)", path=error_path, path_ns={"nc": NC_NS},
                   info=[("bad-attribute", "type"), ("bad-element", "filter")])
