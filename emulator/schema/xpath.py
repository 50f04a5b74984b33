"""YANG XPath (RFC 7950 section 6.4) on lxml's XPath engine.

A YANG expression differs from plain XPath 1.0 in three ways, each handled
when it is compiled: unprefixed names belong to the module that defines the
expression (we add its prefix), absolute paths start at the datastore's
top-level nodes (we hold them under one wrapper element, so ``/x`` becomes
``/*/x``), and YANG adds functions (``current()``, ``deref()``,
``derived-from()``, ``derived-from-or-self()``, ``re-match()``,
``enum-value()``, ``bit-is-set()``), registered here as extensions.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from lxml import etree
from pyang import xpath_lexer
from pyang.types import XSDPattern

from emulator.schema.compiled import PerThreadXPath
from emulator.schema.types import BadValue, EnumerationType, LeafrefType, UnionType


class XPathSyntaxError(ValueError):
    pass


# Tokens after which a '/' starts a new (absolute) location path.
# (pyang's lexer names: BAR is '|', LTE '<=', GTE '>=', STAR the multiplication.)
_PATH_STARTS = {None, "LPAREN", "LBRACKET", "COMMA", "EQ", "NEQ", "LT", "GT", "LTE", "GTE",
                "AND", "OR", "PLUS", "MINUS", "STAR", "DIV", "MOD", "BAR"}
_STEP_TOKENS = {"name", "wildcard", "prefix-match", "DOT", "DOTDOT", "axis", "node_type", "AT"}


def rewrite(expression: str, default_prefix: str | None) -> tuple[str, list[list[str]]]:
    """The expression as lxml should see it, and the name steps it uses.

    With ``default_prefix`` None (a NETCONF XPath filter), names are kept as
    written; only absolute paths are moved under the wrapper.
    """
    try:
        tokens = [t for t in xpath_lexer.scan(expression)]
    except Exception as exc:  # pyang's lexer raises plain exceptions
        raise XPathSyntaxError(f"cannot parse XPath {expression!r}: {exc}") from None
    out: list[str] = []
    steps: list[list[str]] = []
    current: list[str] = []
    previous: str | None = None
    significant = [t for t in tokens if t.type != "_whitespace"]
    following = {id(t): (significant[i + 1].type if i + 1 < len(significant) else None)
                 for i, t in enumerate(significant)}
    for token in tokens:
        kind, value = token.type, token.value
        if kind == "_whitespace":
            out.append(value)
            continue
        if kind == "name":
            if ":" not in value and default_prefix is not None:
                value = f"{default_prefix}:{value}"
            current.append(value)
        elif kind in ("SLASH", "DOUBLESLASH") and previous in _PATH_STARTS:
            if current:
                steps.append(current)
            current = ["/"]
            if kind == "SLASH":
                value = "/*/" if following[id(token)] in _STEP_TOKENS else "/*"
        elif kind == "DOTDOT":
            current.append("..")
        elif kind not in ("SLASH", "DOUBLESLASH", "DOT", "wildcard"):
            if current:
                steps.append(current)
            current = []
        out.append(value)
        previous = kind
    if current:
        steps.append(current)
    return "".join(out), steps


class _Evaluation(threading.local):
    """What the YANG functions need to know about the evaluation under way (on
    each thread its own: the event loop's and the worker's run at once)."""

    node: Any = None
    expression: "YangXPath | None" = None
    schema: Any = None      # the model.Schema the expression belongs to


_NOW = _Evaluation()


def _first(nodes: Any) -> Any:
    if isinstance(nodes, list):
        return nodes[0] if nodes else None
    return None


def _text(node: Any) -> str:
    if isinstance(node, str):
        return node
    return (node.text or "") if node is not None else ""


def _current(context: Any) -> list:
    return [_NOW.node]


def _leaf_type(node: Any) -> Any:
    schema_node = _NOW.schema.node_for(node) if _NOW.schema is not None else None
    return schema_node.type if schema_node is not None else None


def _deref(context: Any, nodes: Any) -> list:
    node = _first(nodes)
    if node is None:
        return []
    schema_node = _NOW.schema.node_for(node) if _NOW.schema is not None else None
    if schema_node is None:
        return []
    yang_type = schema_node.type
    if isinstance(yang_type, LeafrefType) and yang_type.xpath is not None:
        value = _text(node).strip()
        saved = _NOW.node, _NOW.expression
        try:
            targets = yang_type.xpath.nodes(node)
        finally:
            _NOW.node, _NOW.expression = saved
        return [t for t in targets if _text(t).strip() == value]
    if yang_type is not None and yang_type.name == "instance-identifier":
        return instance(node, _text(node).strip())
    return []


def instance(context_node: etree._Element, path: str) -> list:
    """The nodes an instance-identifier value names (absolute, from the wrapper)."""
    root = context_node.getroottree().getroot()
    nsmap = {k: v for k, v in context_node.nsmap.items() if k}
    try:
        return root.xpath("/*" + path, namespaces=nsmap)
    except etree.XPathError:
        return []


def _identity_of(node: Any) -> tuple[str, str] | None:
    if _NOW.schema is None or not isinstance(node, etree._Element):
        return None
    try:
        return _NOW.schema.identities.resolve(_text(node).strip(), node.nsmap)
    except BadValue:
        return None


def _named_identity(text: str) -> tuple[str, str] | None:
    expression = _NOW.expression
    if expression is None or _NOW.schema is None:
        return None
    try:
        return _NOW.schema.identities.resolve(text, {None: expression.default_ns,
                                                     **expression.namespaces})
    except BadValue:
        return None


def _derived(nodes: Any, name: Any, or_self: bool) -> bool:
    base = _named_identity(_text(_first(name)) if isinstance(name, list) else str(name))
    if base is None or not isinstance(nodes, list):
        return False
    for node in nodes:
        identity = _identity_of(node)
        if identity is None:
            continue
        if (or_self and identity == base) or _NOW.schema.identities.derived_from(identity, base):
            return True
    return False


def _derived_from(context: Any, nodes: Any, name: Any) -> bool:
    return _derived(nodes, name, or_self=False)


def _derived_from_or_self(context: Any, nodes: Any, name: Any) -> bool:
    return _derived(nodes, name, or_self=True)


@functools.lru_cache(maxsize=256)
def _pattern(regex: str) -> Any:
    return XSDPattern(regex, None, False)


def _re_match(context: Any, subject: Any, regex: Any) -> bool:
    subject = _text(_first(subject)) if isinstance(subject, list) else str(subject)
    regex = _text(_first(regex)) if isinstance(regex, list) else str(regex)
    pattern = _pattern(regex)
    return bool(pattern) and bool(pattern(subject))


def _enum_value(context: Any, nodes: Any) -> float:
    node = _first(nodes)
    yang_type = _leaf_type(node) if node is not None else None
    if isinstance(yang_type, UnionType):
        try:
            yang_type = yang_type.member_for(_text(node), node.nsmap)
        except BadValue:
            yang_type = None
    if isinstance(yang_type, EnumerationType):
        value = yang_type.enums.get(_text(node).strip())
        if value is not None:
            return float(value)
    return float("nan")


def _bit_is_set(context: Any, nodes: Any, bit: Any) -> bool:
    node = _first(nodes)
    name = _text(_first(bit)) if isinstance(bit, list) else str(bit)
    return node is not None and name in _text(node).split()


EXTENSIONS = {
    (None, "current"): _current,
    (None, "deref"): _deref,
    (None, "derived-from"): _derived_from,
    (None, "derived-from-or-self"): _derived_from_or_self,
    (None, "re-match"): _re_match,
    (None, "enum-value"): _enum_value,
    (None, "bit-is-set"): _bit_is_set,
}


class YangXPath:
    """One compiled YANG XPath expression, in the context of its module and of
    its schema (a model.Schema: the model holds expressions, so it is typed
    loosely here, below it)."""

    def __init__(self, expression: str, default_prefix: str, namespaces: dict[str, str],
                 schema: Any):
        self.source = expression
        self.default_ns = namespaces[default_prefix]
        self.namespaces = namespaces
        self.schema = schema
        text, self.steps = rewrite(expression, default_prefix)
        try:
            self._xpath = PerThreadXPath(text, namespaces=namespaces, extensions=EXTENSIONS,
                                         smart_strings=False)
        except etree.XPathSyntaxError as exc:
            raise XPathSyntaxError(f"cannot compile XPath {expression!r}: {exc}") from None
        self.rewritten = text
        # The local names the expression mentions, for incremental validation;
        # an expression that can reach anything (//, *, deref) is opaque.
        self.names = {step.rpartition(":")[2] for path in self.steps for step in path
                      if step not in ("/", "..")}
        self.opaque = any(token in expression for token in ("//", "*", "deref(", "ancestor",
                                                            "descendant", "following",
                                                            "preceding"))

    def evaluate(self, node: etree._Element) -> Any:
        saved = _NOW.node, _NOW.expression, _NOW.schema
        _NOW.node, _NOW.expression, _NOW.schema = node, self, self.schema
        try:
            return self._xpath(node)
        finally:
            _NOW.node, _NOW.expression, _NOW.schema = saved

    def nodes(self, node: etree._Element) -> list:
        result = self.evaluate(node)
        return result if isinstance(result, list) else []

    def true(self, node: etree._Element) -> bool:
        """The expression's value converted as XPath's boolean() does."""
        result = self.evaluate(node)
        if isinstance(result, list):
            return bool(result)
        if isinstance(result, float):
            return result == result and result != 0
        return bool(result)

    def __repr__(self) -> str:
        return f"<YangXPath {self.source!r}>"

