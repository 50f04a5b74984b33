"""Instance validation: a data tree against a compiled schema (RFC 7950).

A data tree is an lxml element (any wrapper, such as ``<data>`` or
``<config>``) whose children are the top-level data nodes. :func:`validate`
checks it whole; :func:`validate_change` checks what an edit can have
affected. Both return :class:`~emulator.errors.RpcError`s with the
error-tag, error-app-tag and error-path that RFC 6241 Appendix A and
RFC 7950 sections 8.3 and 15 call for.

Defaults (RFC 7950 section 7.6.1) are part of the tree that ``must`` and
``when`` see: they are put in while the tree is checked and taken out again.
"""

from __future__ import annotations

from typing import Iterable

from lxml import etree

from emulator.errors import RpcError
from emulator.namespaces import YANG_NS
from emulator.schema.compiled import PerThreadXPath
from emulator.schema.model import Choice, Schema, SchemaNode
from emulator.schema.types import BadValue, InstanceIdentifierType, LeafrefType, UnionType
from emulator.schema.xpath import instance

MAX_ERRORS = 50


class _TooMany(Exception):
    pass


class Validation:
    """One run over one tree; collects errors until :data:`MAX_ERRORS`."""

    def __init__(self, schema: Schema, root: etree._Element, config: bool,
                 structural: bool = False, checked: bool = False):
        self.schema = schema
        self.root = root
        self.config = config
        # structural: types, unknown nodes, keys and repeats only; what may be
        # incomplete between edits (mandatory nodes, must, when, references)
        # waits for <commit> or <validate>.
        self.structural = structural
        # checked: the structural part was checked already (each edit of the
        # candidate did it): only the rest is left, e.g. for <commit>
        self.checked = checked
        self.errors: list[RpcError] = []
        self.constrained: list[tuple[etree._Element, SchemaNode]] = []
        self.defaults: list[etree._Element] = []
        self._targets: dict[tuple[int, etree._Element], set] = {}

    # -- reporting ----------------------------------------------------------

    def fail(self, error: RpcError) -> None:
        self.errors.append(error)
        if len(self.errors) >= MAX_ERRORS:
            raise _TooMany

    def path_of(self, element: etree._Element) -> tuple[str, dict[str, str]]:
        return instance_path(self.schema, element, self.root)

    def error(self, tag: str, type_: str, message: str, element: etree._Element,
              app_tag: str | None = None, info: list | None = None) -> RpcError:
        path, used = self.path_of(element)
        return RpcError(tag, type_, message, app_tag=app_tag, path=path, path_ns=used,
                        info=info or [])

    # -- structure and types -----------------------------------------------

    def check_children(self, parent: etree._Element, schema_node: SchemaNode) -> None:
        by_tag = schema_node.by_tag
        config = self.config
        seen: dict[SchemaNode, list[etree._Element]] = {}
        for child in parent:
            tag = child.tag
            if type(tag) is not str:
                continue  # a comment or processing instruction
            node = by_tag.get(tag)
            if node is None:
                self.unknown(child, schema_node)
                continue
            if config and not node.config:
                name = node.name
                self.fail(self.error(
                    "invalid-value", "application",
                    f"{name} is state data (config false) and cannot be configured",
                    child, info=[("bad-element", name)]))
                continue
            same = seen.get(node)
            if same is None:
                seen[node] = [child]
            else:
                same.append(child)
            self.check_node(child, node)
        self.check_siblings(parent, schema_node, seen)

    def unknown(self, child: etree._Element, schema_node: SchemaNode) -> None:
        qname = etree.QName(child)
        where = f"in {schema_node.name}" if schema_node.name else "at the top level"
        if qname.namespace in self.schema.prefixes:
            self.fail(self.error("unknown-element", "application",
                                 f"{qname.localname} is not a data node {where}", child,
                                 info=[("bad-element", qname.localname)]))
        else:
            self.fail(self.error("unknown-namespace", "application",
                                 f"namespace {qname.namespace or '(none)'} of {qname.localname} "
                                 "belongs to no module of this device", child,
                                 info=[("bad-element", qname.localname),
                                       ("bad-namespace", qname.namespace or "")]))

    def check_node(self, element: etree._Element, node: SchemaNode) -> None:
        if node.constrained:
            self.constrained.append((element, node))
        keyword = node.keyword
        if node.type is not None:
            if self.checked:
                return
            if len(element):
                self.fail(self.error("invalid-value", "application",
                                     f"{node.name} holds a value, not elements", element))
                return
            try:
                node.type.parse(element.text or "", element.nsmap)
            except BadValue as exc:
                self.fail(self.error("invalid-value", "application",
                                     f"{node.name}: {exc}", element, app_tag=exc.app_tag))
        elif keyword == "list":
            self.check_children(element, node)
        elif keyword == "container":
            self.check_children(element, node)
        # anydata and anyxml hold anything

    def check_siblings(self, parent: etree._Element, schema_node: SchemaNode,
                       seen: dict[SchemaNode, list[etree._Element]]) -> None:
        for node, elements in seen.items():
            keyword = node.keyword
            if keyword == "list":
                self.check_list(node, elements)
            elif keyword == "leaf-list":
                self.check_leaf_list(node, elements)
            elif len(elements) > 1:
                self.fail(self.error("bad-element", "application",
                                     f"{node.name} appears {len(elements)} times; it may appear once",
                                     elements[1], info=[("bad-element", node.name)]))
        for choice in schema_node.choices:
            self.check_choice(parent, choice, seen)
        if self.structural:
            return
        for node in schema_node.absent_checks:
            if node in seen or (self.config and not node.config):
                continue
            if node.cases and not self.case_active(node, seen):
                continue
            if node.keyword in ("list", "leaf-list") and node.min_elements:
                if not self.excluded_by_when(parent, node):
                    self.fail(self.error("operation-failed", "application",
                                         f"{node.name} needs at least {node.min_elements} "
                                         f"entries, not 0", parent, app_tag="too-few-elements"))
            elif node.mandatory:
                if not self.excluded_by_when(parent, node):
                    self.fail(self.error("missing-element", "application",
                                         f"mandatory {node.keyword} {node.name} is missing", parent,
                                         info=[("bad-element", node.name)]))
            elif node.config and self.when_holds_absent(parent, node):
                # (state containers a server does not fill, such as the
                # deprecated *-state trees, are not held to their mandates)
                self.check_absent_container(parent, node)

    def check_absent_container(self, parent: etree._Element, node: SchemaNode) -> None:
        """A non-presence container exists implicitly: its mandatory nodes must be there."""
        for choice in node.choices:
            if choice.mandatory and choice.parent_case is None and not choice.whens:
                missing = etree.Element(f"{{{YANG_NS}}}missing-choice", nsmap={"yang": YANG_NS})
                missing.text = choice.name
                self.fail(self.error("data-missing", "application",
                                     f"{node.name} needs one case of choice {choice.name}",
                                     parent, app_tag="missing-choice", info=[missing]))
        for child in node.absent_checks:
            if (self.config and not child.config) or child.cases or child.whens:
                continue
            if child.mandatory or child.min_elements:
                what = "entries" if child.keyword in ("list", "leaf-list") else child.keyword
                self.fail(self.error("missing-element", "application",
                                     f"{node.name} needs {child.name} ({what})", parent,
                                     info=[("bad-element", child.name)]))
            else:
                self.check_absent_container(parent, child)

    def when_holds_absent(self, parent: etree._Element, node: SchemaNode) -> bool:
        """For an absent node: do its whens (those the parent can answer) hold?"""
        return all(when.on_parent and when.xpath.true(parent) for when in node.whens)

    def excluded_by_when(self, parent: etree._Element, node: SchemaNode) -> bool:
        """Is a missing node excused by a false 'when'? One on the node itself is
        evaluated with a stand-in for the node, as libyang does."""
        for when in node.whens:
            if when.on_parent:
                if not when.xpath.true(parent):
                    return True
                continue
            stand_in = etree.SubElement(parent, node.tag)
            try:
                if not when.xpath.true(stand_in):
                    return True
            finally:
                parent.remove(stand_in)
        return False

    def case_active(self, node: SchemaNode, seen: dict) -> bool:
        """Mandatory nodes inside a case matter only when that case is chosen."""
        return all(self.chosen_case(choice, seen) == case for choice, case in node.cases)

    @staticmethod
    def chosen_case(choice: Choice, seen: dict) -> str | None:
        for node in seen:
            for node_choice, case in node.cases:
                if node_choice is choice:
                    return case
        return None

    def check_choice(self, parent: etree._Element, choice: Choice, seen: dict) -> None:
        present: dict[str, etree._Element] = {}
        for node, elements in seen.items():
            for node_choice, case in node.cases:
                if node_choice is choice:
                    present.setdefault(case, elements[0])
        if len(present) > 1:
            cases = sorted(present)
            self.fail(self.error("bad-element", "application",
                                 f"choice {choice.name} takes one case, but data of cases "
                                 f"{' and '.join(cases)} is present", present[cases[1]],
                                 info=[("bad-element", etree.QName(present[cases[1]]).localname)]))
        elif not present and choice.mandatory and not self.structural:
            if choice.parent_case is not None:
                outer, case = choice.parent_case
                if self.chosen_case(outer, seen) != case:
                    return
            if any(not when.true(parent) for when in choice.whens):
                return
            missing = etree.Element(f"{{{YANG_NS}}}missing-choice", nsmap={"yang": YANG_NS})
            missing.text = choice.name
            self.fail(self.error("data-missing", "application",
                                 f"one case of choice {choice.name} must be present", parent,
                                 app_tag="missing-choice", info=[missing]))

    def check_list(self, node: SchemaNode, elements: list[etree._Element]) -> None:
        self.check_count(node, elements)
        if self.checked:
            return   # keys and unique are structural
        if node.keys:
            first: dict[tuple, etree._Element] = {}
            for element in elements:
                key = self.key_of(element, node)
                if key is None:
                    continue
                if key in first:
                    self.fail(self.error(
                        "operation-failed", "application",
                        f"two entries of list {node.name} have the key "
                        f"{', '.join(str(v) for v in key)}", element, app_tag="data-not-unique"))
                else:
                    first[key] = element
        for unique in node.uniques:
            self.check_unique(node, unique, elements)

    def key_of(self, element: etree._Element, node: SchemaNode) -> tuple | None:
        """The entry's key values (reporting missing keys), compared as values."""
        values = []
        for key_tag, key_node in node.key_nodes:
            key = element.find(key_tag)
            if key is None:
                self.fail(self.error("missing-element", "application",
                                     f"an entry of list {node.name} has no key {key_node.name}",
                                     element, info=[("bad-element", key_node.name)]))
                return None
            values.append(value_of(key, key_node))
        return tuple(values)

    def check_unique(self, node: SchemaNode, unique: list[tuple], elements: list) -> None:
        seen: dict[tuple, etree._Element] = {}
        for element in elements:
            values = []
            leaves = []
            for steps in unique:
                target = element
                leaf_node = node
                for ns, name in steps:
                    target = target.find(f"{{{ns}}}{name}") if target is not None else None
                    leaf_node = leaf_node.children[(ns, name)]
                if target is not None:
                    values.append(value_of(target, leaf_node))
                    leaves.append(target)
                elif leaf_node.default:   # a default takes part (RFC 7950 7.8.3)
                    values.append(leaf_node.default[0])
                else:
                    break   # entries missing a leaf of the unique set are not compared
            else:
                key = tuple(values)
                if key in seen:
                    info = []
                    for leaf in leaves:
                        path, used = self.path_of(leaf)
                        item = etree.Element(f"{{{YANG_NS}}}non-unique",
                                             nsmap={"yang": YANG_NS, **used})
                        item.text = path
                        info.append(item)
                    names = ", ".join("/".join(n for _, n in s) for s in unique)
                    self.fail(self.error("operation-failed", "application",
                                         f"entries of {node.name} must differ in ({names})",
                                         element, app_tag="data-not-unique", info=info))
                else:
                    seen[key] = element

    def check_leaf_list(self, node: SchemaNode, elements: list[etree._Element]) -> None:
        self.check_count(node, elements)
        if node.config:
            values: set = set()
            for element in elements:
                try:
                    value = node.type.parse(element.text or "", element.nsmap)
                except BadValue:
                    continue
                if value in values:
                    self.fail(self.error("operation-failed", "application",
                                         f"{node.name} holds {element.text!r} twice",
                                         element, app_tag="data-not-unique"))
                values.add(value)

    def check_count(self, node: SchemaNode, elements: list[etree._Element]) -> None:
        count = len(elements)
        if self.structural:
            return
        if node.max_elements is not None and count > node.max_elements:
            self.fail(self.error("operation-failed", "application",
                                 f"{node.name} may have at most {node.max_elements} entries, "
                                 f"not {count}", elements[node.max_elements],
                                 app_tag="too-many-elements"))
        if count < node.min_elements:
            self.fail(self.error("operation-failed", "application",
                                 f"{node.name} needs at least {node.min_elements} entries, "
                                 f"not {count}", elements[-1], app_tag="too-few-elements"))

    # -- defaults -----------------------------------------------------------

    def add_defaults(self, parent: etree._Element, schema_node: SchemaNode) -> None:
        """Put in the defaults in use (RFC 7950 7.6.1), so XPath sees them."""
        seen: dict[SchemaNode, list[etree._Element]] = {}
        for child in parent:
            node = schema_node.by_tag.get(child.tag) if type(child.tag) is str else None
            if node is None:
                continue
            seen.setdefault(node, []).append(child)
            if node.keyword in ("container", "list"):
                self.add_defaults(child, node)
        self.add_missing_defaults(parent, schema_node, seen)

    def add_missing_defaults(self, parent: etree._Element, schema_node: SchemaNode,
                             seen: dict[SchemaNode, list]) -> None:
        for node in schema_node.children.values():
            if node in seen or (self.config and not node.config):
                continue
            if node.cases and not self.default_case_applies(node, seen):
                continue
            if any(when.on_parent and not when.xpath.true(parent) for when in node.whens):
                continue
            if node.default and node.keyword in ("leaf", "leaf-list"):
                for value in node.default:
                    element = make_default(parent, node, value)
                    if any(not when.on_parent and not when.xpath.true(element)
                           for when in node.whens):
                        parent.remove(element)   # its own 'when' is false
                    else:
                        self.defaults.append(element)
            elif node.keyword == "container" and not node.presence and has_defaults(node):
                container = etree.SubElement(parent, node.tag)
                self.defaults.append(container)
                self.add_missing_defaults(container, node, {})

    def default_case_applies(self, node: SchemaNode, seen: dict) -> bool:
        for choice, case in node.cases:
            chosen = self.chosen_case(choice, seen)
            if chosen is None:
                if choice.default_case != case:
                    return False
            elif chosen != case:
                return False
        return True

    def remove_defaults(self) -> None:
        for element in reversed(self.defaults):
            parent = element.getparent()
            if parent is not None:
                parent.remove(element)
        self.defaults.clear()

    # -- constraints ----------------------------------------------------------

    def check_constraints(self, items: Iterable[tuple[etree._Element, SchemaNode]]) -> None:
        for element, node in items:
            if element.getparent() is None:
                continue  # removed meanwhile
            if not self.when_holds(element, node):
                self.fail(self.error(
                    "unknown-element", "application",
                    f"{node.name} may exist only when "
                    f"{' and '.join(w.xpath.source for w in node.whens)}",
                    element, info=[("bad-element", node.name)]))
                continue
            for must in node.musts:
                if not must.xpath.true(element):
                    self.fail(self.error(
                        "operation-failed", "application",
                        must.message or f"{node.name} breaks the condition {must.xpath.source!r}",
                        element, app_tag=must.app_tag or "must-violation"))
            yang_type = node.type
            if isinstance(yang_type, UnionType):
                try:
                    yang_type = yang_type.member_for(element.text or "", element.nsmap)
                except BadValue:
                    continue
            if isinstance(yang_type, LeafrefType) and yang_type.require_instance:
                self.check_leafref(element, node, yang_type)
            elif isinstance(yang_type, InstanceIdentifierType) and yang_type.require_instance:
                if not instance(element, (element.text or "").strip()):
                    self.fail(self.error("data-missing", "application",
                                         f"{node.name} names {element.text!r}, which does not exist",
                                         element, app_tag="instance-required"))

    def when_holds(self, element: etree._Element, node: SchemaNode) -> bool:
        for when in node.whens:
            context = element.getparent() if when.on_parent else element
            if not when.xpath.true(context):
                return False
        return True

    def check_leafref(self, element: etree._Element, node: SchemaNode, leafref: LeafrefType) -> None:
        value = element.text or ""
        try:
            wanted = leafref.parse(value, element.nsmap)
        except BadValue:
            return  # already reported as invalid-value
        if wanted in self.leafref_targets(element, leafref):
            return
        self.fail(self.error("data-missing", "application",
                             f"{node.name} refers to {value.strip()!r}, which does not exist at "
                             f"{leafref.path}", element, app_tag="instance-required"))


    def leafref_targets(self, element: etree._Element, leafref: LeafrefType) -> set:
        """The values a leafref may take from ``element``; a path without
        predicates gives the same set to every leaf that reaches the same
        anchor, so it is computed once per run (else N references cost N^2)."""
        anchor = None
        path = leafref.path.strip()
        if "[" not in path:
            if path.startswith("/"):
                anchor = self.root
            else:
                anchor = element
                while path.startswith("../") and anchor is not None:
                    anchor = anchor.getparent()
                    path = path[3:]
        # (the anchor itself, not its id: the key keeps it alive, so that no
        # other element can come to have its id while the run lasts)
        key = (id(leafref), anchor) if anchor is not None else None
        cached = self._targets.get(key) if key else None
        if cached is not None:
            return cached
        values = set()
        for target in leafref.xpath.nodes(element):
            if isinstance(target, etree._Element):
                try:
                    values.add(leafref.parse(target.text or "", target.nsmap))
                except (BadValue, TypeError):
                    continue
        if key:
            self._targets[key] = values
        return values


def instance_path(schema: Schema, element: etree._Element,
                  root: etree._Element) -> tuple[str, dict[str, str]]:
    """An instance-identifier for ``element`` under ``root`` (list entries with
    their keys, leaf-list entries with their value), and the prefixes it uses."""
    chain = []
    node = element
    while node is not None and node is not root:
        chain.append(node)
        node = node.getparent()
    used: dict[str, str] = {}
    unknown: dict[str, str] = {}  # namespaces no module has: ns0, ns1, ...

    def prefix(ns: str | None) -> str:
        if ns is None:
            return ""
        name = schema.prefixes.get(ns) or unknown.setdefault(ns, f"ns{len(unknown)}")
        used[name] = ns
        return name + ":"

    steps = []
    schema_node: SchemaNode | None = schema.root
    for item in reversed(chain):
        qname = etree.QName(item)
        step = prefix(qname.namespace) + qname.localname
        schema_node = schema_node.by_tag.get(item.tag) if schema_node is not None else None
        if schema_node is not None and schema_node.keyword == "list":
            for key_ns, key_name in schema_node.keys:
                value = item.findtext(f"{{{key_ns}}}{key_name}")
                if value is not None:
                    step += f"[{prefix(key_ns)}{key_name}={_quote(value)}]"
        elif schema_node is not None and schema_node.keyword == "leaf-list":
            step += f"[.={_quote(item.text or '')}]"
        steps.append(step)
    return "/" + "/".join(steps), used


def _quote(value: str) -> str:
    return f"'{value}'" if "'" not in value else f'"{value}"'


def value_of(element: etree._Element, node: SchemaNode):
    """A leaf's value as its type compares it ('01' equals '1' as an integer)."""
    text = element.text or ""
    if node.type is None or node.type.name == "string":
        return text
    try:
        return node.type.parse(text, element.nsmap)
    except BadValue:
        return text


def has_defaults(node: SchemaNode) -> bool:
    for child in node.children.values():
        if any(choice.default_case != case for choice, case in child.cases):
            continue
        if child.default and child.keyword in ("leaf", "leaf-list"):
            return True
        if child.keyword == "container" and not child.presence and has_defaults(child):
            return True
    return False


def make_default(parent: etree._Element, node: SchemaNode, value: str) -> etree._Element:
    element = etree.SubElement(parent, node.tag, nsmap={k: v for k, v in node.default_nsmap.items()
                                                         if k is not None})
    element.text = value
    return element


def validate(schema: Schema, root: etree._Element, *, config: bool = True,
             structural: bool = False, checked: bool = False) -> list[RpcError]:
    """Every error of the tree under ``root`` (configuration only, by default).

    ``root`` is the document element of its own tree, since absolute paths in
    ``must``, ``when`` and ``path`` start from it. ``checked``: its structural
    part (``structural=True``) was checked already; only the rest is.
    """
    if root.getparent() is not None:
        raise ValueError("validate() needs the root of a tree of its own")
    run = Validation(schema, root, config, structural, checked)
    try:
        run.check_children(root, schema.root)
        if run.constrained and not structural:
            run.add_defaults(root, schema.root)
            run.check_constraints(run.constrained)
    except _TooMany:
        pass
    finally:
        run.remove_defaults()
    return run.errors



def validate_change(schema: Schema, root: etree._Element, touched: Iterable[etree._Element] = (),
                    *, removed: Iterable[tuple[etree._Element, str]] = (),
                    config: bool = True, structural: bool = False,
                    checked: bool = False) -> list[RpcError]:
    """Validate what an edit can have affected, assuming the tree was valid before.

    ``touched`` are the elements the edit created, replaced or changed;
    ``removed`` holds (parent, tag) for each element it deleted. Checked again:
    each touched subtree, the siblings of each touched or deleted element
    (keys, unique, counts, choices, mandatory nodes), and every must, when
    and reference anywhere whose expression names a node the edit touched.
    ``checked``: the structural part (``structural=True``) was checked for
    each of these changes already; only the rest is (at <commit>).
    """
    if root.getparent() is not None:
        raise ValueError("validate_change() needs the root of a tree of its own")
    run = Validation(schema, root, config, structural, checked)
    try:
        names: set[str] = set()
        parents: dict[int, etree._Element] = {}
        # (elements a later edit removed again are no longer in the tree)
        live = [t for t in touched if t is not None and _in_tree(t, root)]
        for element in _outermost(live):
            if element is root:
                return validate(schema, root, config=config)
            node = schema.node_for(element)
            if node is None:
                parent_node = schema.node_for(element.getparent()) \
                    if element.getparent() is not root else schema.root
                if parent_node is not None:
                    run.unknown(element, parent_node)
                continue
            if config and not node.config:
                run.check_children(element.getparent(), node.parent)
                continue
            run.check_node(element, node)
            parents[id(element.getparent())] = element.getparent()
            # keys and unique of every list the change sits in, if it touched them
            subtree, local_names = _tags_below(element, node)
            ancestor, ancestor_node = element.getparent(), node.parent
            while ancestor is not None and ancestor is not root and ancestor_node is not None:
                if ancestor_node.keyword == "list" and subtree & ancestor_node.identity_tags:
                    parents[id(ancestor.getparent())] = ancestor.getparent()
                ancestor, ancestor_node = ancestor.getparent(), ancestor_node.parent
            names |= local_names
        for parent, tag in removed:
            names.add(tag.rpartition("}")[2])
            if _in_tree(parent, root):
                parents[id(parent)] = parent
        for parent in parents.values():
            parent_node = schema.root if parent is root else schema.node_for(parent)
            if parent_node is not None:
                run.check_siblings(parent, parent_node, _seen(parent, parent_node))
        if structural:
            return run.errors
        items = list(run.constrained)
        absent_parents: dict[int, tuple[etree._Element, SchemaNode]] = {}
        for dependent in schema.dependents(names):
            for instance_element in _instances(root, dependent):
                items.append((instance_element, dependent))
            if dependent.whens and dependent.parent is not None:
                # a 'when' that turned true can make a missing node mandatory
                for parent in _instances(root, dependent.parent) if dependent.parent.tag \
                        else [root]:
                    absent_parents[id(parent)] = (parent, dependent.parent)
        for parent, parent_node in absent_parents.values():
            if id(parent) not in parents:
                run.check_siblings(parent, parent_node, _seen(parent, parent_node))
        if items:
            run.add_defaults(root, schema.root)
            run.check_constraints(_unique_items(items))
    except _TooMany:
        pass
    finally:
        run.remove_defaults()
    return run.errors


def _tags_below(element: etree._Element, node: SchemaNode) -> tuple[frozenset[str], frozenset[str]]:
    """The tags, and local names, an element and what is below it can hold: for a
    leaf its own; for a subtree those its schema node allows (a superset, known
    without walking a subtree that may hold a bulk load of 10,000 entries; any
    element the schema does not know is refused on its own)."""
    if not len(element):
        return frozenset((element.tag,)), frozenset((element.tag.rpartition("}")[2],))
    found = _BELOW.get(id(node))
    if found is None or found[0] is not node:
        tags: set[str] = {element.tag}
        pending = list(node.by_tag.values())
        while pending:
            current = pending.pop()
            tags.add(current.tag)
            pending.extend(current.by_tag.values())
        found = _BELOW[id(node)] = (node, frozenset(tags),
                                    frozenset(t.rpartition("}")[2] for t in tags))
    return found[1], found[2]


_BELOW: dict[int, tuple[SchemaNode, frozenset[str], frozenset[str]]] = {}


def _in_tree(element: etree._Element, root: etree._Element) -> bool:
    """Is ``element`` (still) under ``root``? (A removed element keeps its document.)"""
    while element is not None:
        if element is root:
            return True
        element = element.getparent()
    return False


def _seen(parent: etree._Element, schema_node: SchemaNode) -> dict[SchemaNode, list[etree._Element]]:
    seen: dict[SchemaNode, list[etree._Element]] = {}
    by_tag = schema_node.by_tag
    for child in parent:
        node = by_tag.get(child.tag) if type(child.tag) is str else None
        if node is not None:
            seen.setdefault(node, []).append(child)
    return seen


def _outermost(elements: list[etree._Element]) -> list[etree._Element]:
    """The elements none of whose ancestors is among them, once each, in order
    (a set for what is already taken: a 50,000-entry edit is not quadratic)."""
    chosen = set(elements)
    result = []
    taken: set[etree._Element] = set()
    for element in elements:
        ancestor = element.getparent()
        while ancestor is not None and ancestor not in chosen:
            ancestor = ancestor.getparent()
        if ancestor is None and element not in taken:
            taken.add(element)
            result.append(element)
    return result


def _instances(root: etree._Element, node: SchemaNode) -> list[etree._Element]:
    """Every instance of ``node`` in the tree, in document order: one compiled
    XPath (C-level; ElementPath walks each step in Python, which at 10,000 list
    entries costs more than the rest of a one-leaf commit)."""
    found = _INSTANCE_PATHS.get(id(node))
    if found is None or found[0] is not node:
        chain = []
        current = node
        while current is not None and current.tag:
            chain.append(current.tag)
            current = current.parent
        prefixes: dict[str, str] = {}
        steps = []
        for tag in reversed(chain):
            if tag[0] == "{":
                namespace, _, local = tag[1:].partition("}")
                prefix = prefixes.setdefault(namespace, f"n{len(prefixes)}")
                steps.append(f"{prefix}:{local}")
            else:
                steps.append(tag)
        found = _INSTANCE_PATHS[id(node)] = (node, PerThreadXPath(
            "/".join(steps), namespaces={p: ns for ns, p in prefixes.items()}))
    return found[1](root)


_INSTANCE_PATHS: dict[int, tuple[SchemaNode, PerThreadXPath]] = {}


def _unique_items(items: list[tuple[etree._Element, SchemaNode]]):
    seen: set[int] = set()
    for element, node in items:
        if id(element) not in seen:
            seen.add(id(element))
            yield element, node
