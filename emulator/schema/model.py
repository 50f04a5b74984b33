"""A compiled schema: the data nodes of a profile's modules, ready to validate.

pyang parses and checks the modules; :mod:`emulator.schema.compiler` turns
its statement tree into these small objects, once per profile, shared by
every device of that profile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

from lxml import etree

from emulator.schema.types import Identities, YangType
from emulator.schema.xpath import YangXPath


@dataclass(eq=False)
class Must:
    xpath: YangXPath
    message: str | None
    app_tag: str | None


@dataclass(eq=False)
class Choice:
    name: str
    mandatory: bool
    default_case: str | None
    parent_case: tuple["Choice", str] | None   # for a choice inside a case
    cases: list[str] = field(default_factory=list)
    whens: list[YangXPath] = field(default_factory=list)


@dataclass(eq=False)
class When:
    xpath: YangXPath
    on_parent: bool   # from uses, augment, choice or case: the context is the parent


@dataclass(eq=False)
class SchemaNode:
    keyword: str                  # container, list, leaf, leaf-list, anydata, anyxml (root: the top)
    name: str
    ns: str
    module: str
    prefix: str
    parent: "SchemaNode | None"
    config: bool = True
    path: str = ""
    children: dict[tuple[str, str], "SchemaNode"] = field(default_factory=dict)
    choices: list[Choice] = field(default_factory=list)
    cases: tuple[tuple[Choice, str], ...] = ()   # the (choice, case)s it sits in, outermost first
    presence: bool = False
    mandatory: bool = False
    keys: tuple[tuple[str, str], ...] = ()
    uniques: list[list[tuple[tuple[str, str], ...]]] = field(default_factory=list)
    min_elements: int = 0
    max_elements: int | None = None
    user_ordered: bool = False
    type: YangType | None = None
    default: list[str] = field(default_factory=list)
    default_nsmap: dict[str | None, str] = field(default_factory=dict)
    musts: list[Must] = field(default_factory=list)
    whens: list[When] = field(default_factory=list)
    stmt: Any = field(default=None, repr=False)
    # Derived once the tree is complete (see finish()), for the validator's speed:
    by_tag: dict[str, "SchemaNode"] = field(default_factory=dict, repr=False)
    absent_checks: tuple["SchemaNode", ...] = ()   # children to look at when missing
    constrained: bool = False                      # has when, must, or a reference type
    tag: str = ""
    key_nodes: tuple[tuple[str, "SchemaNode"], ...] = ()   # (tag, node) of each key
    identity_tags: frozenset[str] = frozenset()   # tags of keys and unique leaves (and their way)

    def finish(self) -> None:
        self.tag = f"{{{self.ns}}}{self.name}" if self.ns else ""
        for child in self.children.values():
            child.finish()
        self.by_tag = {child.tag: child for child in self.children.values()}
        self.key_nodes = tuple((self.children[key].tag, self.children[key]) for key in self.keys)
        self.identity_tags = frozenset(
            [tag for tag, _ in self.key_nodes]
            + [f"{{{ns}}}{name}" for unique in self.uniques for steps in unique for ns, name in steps])
        self.absent_checks = tuple(
            child for child in self.children.values()
            if child.mandatory or child.min_elements
            or (child.keyword == "container" and not child.presence
                and (child.absent_checks or any(c.mandatory for c in child.choices))))
        self.constrained = bool(self.whens or self.musts) or _references(self.type)

    def walk(self) -> Iterator["SchemaNode"]:
        yield self
        for child in self.children.values():
            yield from child.walk()

    def __repr__(self) -> str:
        return f"<{self.keyword} {self.path}>"


def _references(yang_type: Any) -> bool:
    """Does a value of this type point at other data (so needs checking later)?"""
    name = getattr(yang_type, "name", None)
    if name == "union":
        return any(_references(member) for member in yang_type.members)
    return name in ("leafref", "instance-identifier")


@dataclass(eq=False)
class ModuleInfo:
    name: str
    revision: str | None
    namespace: str
    prefix: str
    features: list[str]
    deviations: list[str]        # modules that deviate this one
    implemented: bool            # False for import-only modules
    path: str                    # the .yang file
    submodules: list[tuple[str, str | None, str]] = field(default_factory=list)


class Schema:
    """Every data node of a profile, under a root node whose children are the
    top-level nodes."""

    def __init__(self, name: str):
        self.name = name
        self.root = SchemaNode("root", "", "", "", "", None)
        self.identities = Identities()
        self.modules: dict[str, ModuleInfo] = {}
        self.prefixes: dict[str, str] = {}   # namespace -> a prefix unique in this schema
        self.pyang: Any = None                # pyang's context, for YIN and module texts
        self._dependents: tuple[dict[str, list[SchemaNode]], list[SchemaNode]] | None = None

    @property
    def top(self) -> dict[tuple[str, str], SchemaNode]:
        return self.root.children

    def node_for(self, element: etree._Element) -> SchemaNode | None:
        """The schema node of an element of a data tree held under a wrapper."""
        chain = []
        node = element
        while node is not None and node.getparent() is not None:
            chain.append(node.tag)
            node = node.getparent()
        schema_node = self.root
        for tag in reversed(chain):
            schema_node = schema_node.by_tag.get(tag) if isinstance(tag, str) else None
            if schema_node is None:
                return None
        return schema_node

    def walk(self) -> Iterator[SchemaNode]:
        for node in self.top.values():
            yield from node.walk()

    def dependents(self, names: set[str]) -> list[SchemaNode]:
        """Nodes with a must, when or reference whose expression names one of
        ``names`` (local names), or cannot be analysed and so depends on all."""
        if self._dependents is None:
            index: dict[str, list[SchemaNode]] = {}
            always: list[SchemaNode] = []
            for node in self.walk():
                if not node.constrained:
                    continue
                expressions = [w.xpath for w in node.whens] + [m.xpath for m in node.musts]
                if getattr(node.type, "xpath", None) is not None:
                    expressions.append(node.type.xpath)
                if node.type is not None and node.type.name == "instance-identifier":
                    always.append(node)
                    continue
                for expression in expressions:
                    if expression.opaque:
                        always.append(node)
                        break
                    for name in expression.names:
                        index.setdefault(name, []).append(node)
            self._dependents = (index, always)
        index, always = self._dependents
        found = list(always)
        for name in names:
            found.extend(index.get(name, ()))
        return list(dict.fromkeys(found))
