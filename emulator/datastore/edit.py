"""The ``<edit-config>`` engine (RFC 6241 section 7.2, RFC 7950 section 7.8.6).

:func:`apply_edit` applies a ``<config>`` to a datastore tree in place and
reports what it touched (for incremental validation and change
notifications) and every error with the path of the node concerned. Every
change goes through a :class:`~emulator.datastore.journal.Journal`, so that
the caller can undo a refused edit (it changes nothing) and store or replay
an accepted one.
"""

from __future__ import annotations

import re
from copy import deepcopy
from dataclasses import dataclass, field

from lxml import etree

from emulator.datastore.journal import Journal
from emulator.errors import RpcError
from emulator.namespaces import NC_NS, YANG_NS
from emulator.netconf.filters import INDEX_MIN_CHILDREN, KeyIndex, at_least, exact
from emulator.schema.compiled import PerThreadXPath
from emulator.schema.model import Schema, SchemaNode
from emulator.schema.tree import moving
from emulator.schema.validate import instance_path

OPERATION = f"{{{NC_NS}}}operation"
INSERT, KEY, VALUE = f"{{{YANG_NS}}}insert", f"{{{YANG_NS}}}key", f"{{{YANG_NS}}}value"
WD_DEFAULT = "{urn:ietf:params:xml:ns:netconf:default:1.0}default"
OPERATIONS = ("merge", "replace", "create", "delete", "remove")
_WITH_OPERATION = PerThreadXPath(".//*[@nc:operation]", namespaces={"nc": NC_NS})
_WITH_ATTRIBUTES = PerThreadXPath("descendant-or-self::*[@*]")
# Lookups by key in one big list before it is worth indexing every entry.
DIRECT_LOOKUPS = 8


class _Stop(Exception):
    """stop-on-error / rollback-on-error: the first error ends the edit."""


@dataclass
class EditResult:
    touched: list[etree._Element] = field(default_factory=list)
    removed: list[tuple[etree._Element, str]] = field(default_factory=list)
    changes: list[tuple[str, etree._Element]] = field(default_factory=list)  # (operation, node)
    errors: list[RpcError] = field(default_factory=list)


class _Editor:
    def __init__(self, schema: Schema, target: etree._Element, default_operation: str,
                 stop_on_error: bool, journal: Journal, shared: KeyIndex | None = None):
        self.schema = schema
        self.target = target
        self.journal = journal
        journal.begin()
        # the datastore's lookups by key, good for every list this edit has not changed
        self.shared = shared
        self.default_operation = default_operation
        self.stop_on_error = stop_on_error
        self.result = EditResult()
        # lookups by (parent, tag); the parent is kept so that an id() reused
        # by a later element can never find another parent's index
        self._indexes: dict[tuple[int, str], tuple[etree._Element, dict]] = {}
        self._last: dict[tuple[int, str], tuple[etree._Element, etree._Element]] = {}
        self._asked: dict[tuple[int, str], tuple[etree._Element, int]] = {}

    # -- errors ---------------------------------------------------------------

    def fail(self, tag: str, message: str, where: etree._Element, config_root: etree._Element,
             app_tag: str | None = None, info: list | None = None, type_: str = "application") -> None:
        path, used = instance_path(self.schema, where, config_root)
        self.result.errors.append(RpcError(tag, type_, message, app_tag=app_tag, path=path,
                                           path_ns=used, info=info or []))
        if self.stop_on_error:
            raise _Stop

    # -- the walk -----------------------------------------------------------------

    def edit(self, config: etree._Element) -> None:
        self.config_root = config
        try:
            self.children(config, self.target, self.schema.root, self.default_operation)
        except _Stop:
            pass

    def children(self, config_parent: etree._Element, target_parent: etree._Element,
                 schema_node: SchemaNode, inherited: str, skip: frozenset[str] = frozenset()) -> None:
        for item in config_parent:
            if type(item.tag) is not str or item.tag in skip:
                continue
            node = schema_node.by_tag.get(item.tag)
            if node is None:
                qname = etree.QName(item)
                if qname.namespace in self.schema.prefixes:
                    self.fail("unknown-element", f"{qname.localname} is not a data node here",
                              item, self.config_root, info=[("bad-element", qname.localname)])
                else:
                    self.fail("unknown-namespace", f"namespace {qname.namespace} of "
                              f"{qname.localname} belongs to no module of this device", item,
                              self.config_root, info=[("bad-element", qname.localname),
                                                      ("bad-namespace", qname.namespace or "")])
                continue
            operation = self.operation_of(item, inherited)
            if operation is None:
                continue
            self.node(item, target_parent, node, operation)

    def operation_of(self, item: etree._Element, inherited: str) -> str | None:
        explicit = item.get(OPERATION)
        if explicit is None:
            return inherited
        if explicit not in OPERATIONS:
            self.fail("bad-attribute", f"operation {explicit!r} is not one of "
                      f"{', '.join(OPERATIONS)}", item, self.config_root, type_="protocol",
                      info=[("bad-attribute", "operation"),
                            ("bad-element", etree.QName(item).localname)])
            return None
        # (at the top, "inherited" is the default-operation, which any node may override)
        if inherited in ("create", "replace", "delete", "remove") and explicit != inherited \
                and item.getparent() is not self.config_root:
            self.fail("bad-attribute", f"operation {explicit!r} inside a {inherited!r} subtree",
                      item, self.config_root, type_="protocol",
                      info=[("bad-attribute", "operation"),
                            ("bad-element", etree.QName(item).localname)])
            return None
        return explicit

    def node(self, item: etree._Element, target_parent: etree._Element, node: SchemaNode,
             operation: str) -> None:
        existing = self.find(item, target_parent, node)
        if existing is False:
            return  # a key was missing, reported
        if not self.check_insert_attributes(item, node):
            return
        name = node.name
        if item.get(WD_DEFAULT) in ("true", "1") and node.keyword == "leaf" and \
                operation in ("merge", "replace", "create"):
            # RFC 6243 4.5: a leaf tagged as default asks for the default
            if not node.default or (item.text or "").strip() != node.default[0].strip():
                self.fail("invalid-value", f"{name} is tagged wd:default but {item.text!r} is "
                          "not its default", item, self.config_root)
                return
            if existing is not None:
                self.remove(existing, target_parent, node)
                self.result.changes.append(("remove", item))
            return
        if operation in ("delete", "remove"):
            if existing is None:
                if operation == "delete":
                    self.fail("data-missing", f"{name} does not exist, so it cannot be deleted",
                              item, self.config_root)
                return
            self.remove(existing, target_parent, node)
            self.result.changes.append((operation, item))
        elif operation == "create":
            if existing is not None:
                self.fail("data-exists", f"{name} already exists, so it cannot be created",
                          item, self.config_root)
                return
            if not self.check_nested(item, "create"):
                return
            self.insert(self.clean_copy(item), target_parent, node, item)
            self.result.changes.append(("create", item))
        elif operation == "replace":
            if not self.check_nested(item, "replace"):
                return
            copy = self.clean_copy(item)
            if existing is not None and item.get(INSERT) is None:
                self.journal.replace(target_parent, existing, copy)   # in place: the order stays
                self._index_update(target_parent, node, copy, True)
                self.result.touched.append(copy)
            else:
                if existing is not None:
                    self.remove(existing, target_parent, node, replaced=True)
                self.insert(copy, target_parent, node, item)
            self.result.changes.append(("replace", item))
        elif operation == "merge":
            self.merge(item, existing, target_parent, node)
        else:  # "none": only a way to the nodes that carry an operation
            if existing is None:
                self.fail("data-missing", f"{name} does not exist (default-operation none)",
                          item, self.config_root)
                return
            if node.keyword in ("container", "list"):
                self.children(item, existing, node, "none")

    def merge(self, item: etree._Element, existing: etree._Element | None,
              target_parent: etree._Element, node: SchemaNode) -> None:
        keyword = node.keyword
        if keyword in ("leaf", "anydata", "anyxml"):
            if existing is None:
                self.insert(self.clean_copy(item), target_parent, node, item)
                self.result.changes.append(("merge", item))
            elif keyword == "leaf":
                if (existing.text or "") != (item.text or ""):
                    copy = self.clean_copy(item)
                    self.journal.replace(target_parent, existing, copy)
                    self.result.touched.append(copy)
                    self.result.changes.append(("merge", item))
            else:
                copy = self.clean_copy(item)
                self.journal.replace(target_parent, existing, copy)
                self.result.touched.append(copy)
                self.result.changes.append(("merge", item))
        elif keyword == "leaf-list":
            if existing is None:
                self.insert(self.clean_copy(item), target_parent, node, item)
                self.result.changes.append(("merge", item))
            elif item.get(INSERT) is not None:
                self.move(existing, target_parent, node, item)
        else:
            if existing is None:
                return self.build(item, target_parent, node)
            if item.get(INSERT) is not None:
                self.move(existing, target_parent, node, item)
            self.children(item, existing, node, "merge", skip=self.keys_of(item, node))

    def keys_of(self, item: etree._Element, node: SchemaNode) -> frozenset[str]:
        """The tags of ``node``'s keys (none for a container), which may carry no operation."""
        key_tags = frozenset(tag for tag, _ in node.key_nodes)
        for child in item:
            if type(child.tag) is str and child.tag in key_tags and child.get(OPERATION):
                self.fail("bad-attribute", "a list key cannot carry an operation", child,
                          self.config_root, type_="protocol",
                          info=[("bad-attribute", "operation"),
                                ("bad-element", etree.QName(child).localname)])
        return key_tags

    def build(self, item: etree._Element, target_parent: etree._Element,
              node: SchemaNode) -> None:
        """A merge that creates a list entry or container: its content is merged
        into it while it stands apart, and it is placed in the tree as one step,
        the whole of it (a step for each of its leaves took a walk of the list
        for the entry's position: a merge of 50,000 new entries took minutes).
        What is done to the new element is its own creation, so only that is a
        change and touched."""
        anchor = self.anchor(target_parent, node, item) if node.user_ordered else None
        if anchor is False:
            return   # a bad insert, reported: nothing is added
        shell = etree.Element(item.tag, nsmap=_kept_namespaces(item))
        for key_tag, _ in node.key_nodes:
            shell.append(self.clean_copy(item.find(key_tag)))
        result = self.result
        result.changes.append(("merge", item))
        marks = len(result.touched), len(result.removed), len(result.changes)
        skip = self.keys_of(item, node)
        with self.journal.apart():
            self.children(item, shell, node, "merge", skip=skip)
        del result.touched[marks[0]:], result.removed[marks[1]:], result.changes[marks[2]:]
        self.place(shell, target_parent, node, anchor)

    # -- finding and placing --------------------------------------------------------

    def find(self, item: etree._Element, target_parent: etree._Element,
             node: SchemaNode) -> etree._Element | None | bool:
        keyword = node.keyword
        if keyword == "list":
            key = []
            for key_tag, key_node in node.key_nodes:
                value = item.find(key_tag)
                if value is None:
                    self.fail("missing-element", f"an entry of list {node.name} needs its key "
                              f"{key_node.name}", item, self.config_root,
                              info=[("bad-element", key_node.name)], type_="protocol")
                    return False
                key.append(_norm(value.text, key_node))
            return self.entry(target_parent, node, tuple(key))
        if keyword == "leaf-list":
            return self.index(target_parent, node).get((_norm(item.text, node),))
        return target_parent.find(item.tag)

    def _key(self, element: etree._Element, node: SchemaNode) -> tuple:
        if node.keyword == "leaf-list":
            return (_norm(element.text, node),)
        return tuple(_norm(element.findtext(tag), key_node) for tag, key_node in node.key_nodes)

    def entry(self, target_parent: etree._Element, node: SchemaNode,
              key: tuple) -> etree._Element | None:
        """The list entry with this key. The first few lookups in a big list ask
        lxml (one C-level scan each) instead of indexing every entry in Python:
        a one-leaf edit then costs what it touches; many lookups (a bulk load)
        build the index once."""
        found = self._indexes.get((id(target_parent), node.tag))
        if found is not None and found[0] is target_parent:
            return found[1].get(key)
        first_tag = node.key_nodes[0][0]
        # (the datastore's index knows nothing of an entry being built apart)
        if self.shared is not None and not self.journal.detached and \
                target_parent not in self.journal.changed:
            match = None
            for candidate in self.shared.candidates(target_parent, node.tag, first_tag, key[0]):
                if self._key(candidate, node) == key:
                    match = candidate   # (the last, as the index would keep it)
            return match
        asked = self._asked.get((id(target_parent), node.tag))
        count = asked[1] + 1 if asked is not None and asked[0] is target_parent else 1
        if count > DIRECT_LOOKUPS or not at_least(target_parent, INDEX_MIN_CHILDREN):
            return self.index(target_parent, node).get(key)
        self._asked[(id(target_parent), node.tag)] = (target_parent, count)
        # The key as it is usually stored (exactly), then any spelling that
        # normalises to it (padded with white space, say)
        for scan in (exact, KeyIndex().candidates):
            match = None
            for candidate in scan(target_parent, node.tag, first_tag, key[0]):
                if self._key(candidate, node) == key:
                    match = candidate   # (the last, as the index would keep it)
            if match is not None:
                return match
        return None

    def index(self, target_parent: etree._Element, node: SchemaNode) -> dict:
        """List entries (by key) or leaf-list entries (by value) of one parent."""
        found = self._indexes.get((id(target_parent), node.tag))
        if found is not None and found[0] is target_parent:
            return found[1]
        index = {self._key(entry, node): entry for entry in target_parent.iterfind(node.tag)}
        self._indexes[(id(target_parent), node.tag)] = (target_parent, index)
        return index

    def _index_update(self, target_parent: etree._Element, node: SchemaNode,
                      element: etree._Element, present: bool) -> None:
        if node.keyword not in ("list", "leaf-list"):
            return
        found = self._indexes.get((id(target_parent), node.tag))
        if found is not None and found[0] is target_parent:
            if present:
                found[1][self._key(element, node)] = element
            else:
                found[1].pop(self._key(element, node), None)

    def remove(self, existing: etree._Element, target_parent: etree._Element, node: SchemaNode,
               replaced: bool = False) -> None:
        self.journal.remove(target_parent, existing)
        self._index_update(target_parent, node, existing, False)
        if not replaced:
            self.result.removed.append((target_parent, existing.tag))

    def insert(self, element: etree._Element, target_parent: etree._Element, node: SchemaNode,
               item: etree._Element) -> None:
        anchor = self.anchor(target_parent, node, item) if node.user_ordered else None
        if anchor is False:
            return   # a bad insert, reported: nothing is added
        self.place(element, target_parent, node, anchor)

    def place(self, element: etree._Element, target_parent: etree._Element, node: SchemaNode,
              anchor: tuple[str, etree._Element | None] | None) -> None:
        self.clear_other_cases(target_parent, node)
        with moving(element):
            self._place(element, target_parent, node, anchor)
        self.journal.inserted(target_parent, element)
        self._index_update(target_parent, node, element, True)
        self.result.touched.append(element)

    def _place(self, element: etree._Element, target_parent: etree._Element, node: SchemaNode,
               anchor: tuple[str, etree._Element | None] | None) -> None:
        if anchor is not None:
            where, reference = anchor
            if where == "first":
                first = target_parent.find(node.tag)
                if first is not None:
                    first.addprevious(element)
                else:
                    target_parent.append(element)
            elif where == "before":
                reference.addprevious(element)
            elif where == "after":
                reference.addnext(element)
            else:
                self._append_after_siblings(element, target_parent, node)
        else:
            self._append_after_siblings(element, target_parent, node)

    def _append_after_siblings(self, element: etree._Element, target_parent: etree._Element,
                               node: SchemaNode) -> None:
        """After the last sibling of the same kind (remembered: many inserts into one
        parent would otherwise search its children each time)."""
        key = (id(target_parent), node.tag)
        remembered = self._last.get(key)
        last = remembered[1] if remembered is not None and remembered[0] is target_parent \
            and remembered[1].getparent() is target_parent and remembered[1].getnext() is None \
            else None
        if last is None:
            siblings = target_parent.findall(node.tag)
            last = siblings[-1] if siblings else None
        if last is not None:
            last.addnext(element)
        else:
            target_parent.append(element)
        self._last[key] = (target_parent, element)

    def move(self, existing: etree._Element, target_parent: etree._Element, node: SchemaNode,
             item: etree._Element) -> None:
        if not node.user_ordered:
            return
        anchor = self.anchor(target_parent, node, item, moving=existing)
        if not anchor:
            return
        self.journal.remove(target_parent, existing)
        where, reference = anchor
        if where == "first":
            first = target_parent.find(node.tag)
            (first.addprevious(existing) if first is not None else target_parent.append(existing))
        elif where == "last":
            self._append_after_siblings(existing, target_parent, node)
        elif where == "before":
            reference.addprevious(existing)
        else:
            reference.addnext(existing)
        self.journal.inserted(target_parent, existing)
        self.result.touched.append(existing)

    def check_insert_attributes(self, item: etree._Element, node: SchemaNode) -> bool:
        if item.get(INSERT) is None:
            return True
        if not node.user_ordered:
            # RFC 7950 8.3.1: insert on anything but an ordered-by user list
            self.fail("unknown-attribute", f"{node.name} is not ordered by the user; 'insert' "
                      "does not apply", item, self.config_root, type_="protocol",
                      info=[("bad-attribute", "insert"), ("bad-element", node.name)])
            return False
        return True   # (the anchor is checked where the entry is placed)

    def anchor(self, target_parent: etree._Element, node: SchemaNode, item: etree._Element,
               moving: etree._Element | None = None) \
            -> tuple[str, etree._Element | None] | None | bool:
        """Where an insert goes: None without insert, False when it is wrong (reported)."""
        where = item.get(INSERT)
        if where is None:
            return None
        if where in ("first", "last"):
            return where, None
        if where not in ("before", "after"):
            self.fail("bad-attribute", f"insert {where!r} is not first, last, before or after",
                      item, self.config_root, type_="protocol",
                      info=[("bad-attribute", "insert"), ("bad-element", node.name)])
            return False
        attribute = KEY if node.keyword == "list" else VALUE
        reference_text = item.get(attribute)
        if reference_text is None:
            self.fail("missing-attribute", f"insert {where!r} needs a {attribute[len(YANG_NS) + 2:]} "
                      "attribute", item, self.config_root, type_="protocol",
                      info=[("bad-attribute", attribute[len(YANG_NS) + 2:]),
                            ("bad-element", node.name)])
            return False
        reference = self.reference(target_parent, node, item, reference_text)
        if reference is None or reference is moving:
            self.fail("bad-attribute", f"the entry that {attribute[len(YANG_NS) + 2:]}="
                      f"{reference_text!r} names does not exist", item, self.config_root,
                      type_="protocol", app_tag="missing-instance",
                      info=[("bad-attribute", attribute[len(YANG_NS) + 2:]),
                            ("bad-element", node.name)])
            return False
        return where, reference

    def reference(self, target_parent: etree._Element, node: SchemaNode, item: etree._Element,
                  text: str) -> etree._Element | None:
        if node.keyword == "leaf-list":
            return self.index(target_parent, node).get((_norm(text, node),))
        # key="[k1='a'][k2='b']" with prefixes in scope on the element
        wanted: dict[str, str] = {}
        for prefix_name, value in _predicates(text):
            prefix, _, name = prefix_name.rpartition(":")
            ns = item.nsmap.get(prefix or None, node.ns)
            wanted[f"{{{ns}}}{name}"] = value
        if set(wanted) != {tag for tag, _ in node.key_nodes}:
            return None
        key = tuple(_norm(wanted[tag], key_node) for tag, key_node in node.key_nodes)
        return self.index(target_parent, node).get(key)

    def clear_other_cases(self, target_parent: etree._Element, node: SchemaNode) -> None:
        """Creating a node of one case deletes the nodes of the choice's other cases."""
        if not node.cases:
            return
        parent_node = node.parent
        for sibling in list(target_parent):
            if type(sibling.tag) is not str:
                continue
            other = parent_node.by_tag.get(sibling.tag)
            if other is None or other is node:
                continue
            for choice, case in node.cases:
                if any(c is choice and cs != case for c, cs in other.cases):
                    self.remove(sibling, target_parent, other)
                    break

    def check_nested(self, item: etree._Element, operation: str) -> bool:
        clean = True
        for descendant in _WITH_OPERATION(item):   # (C-level: a big subtree has few)
            nested = descendant.get(OPERATION)
            if nested != operation:
                clean = False
                self.fail("bad-attribute", f"operation {nested!r} inside a {operation!r} subtree",
                          descendant, self.config_root, type_="protocol",
                          info=[("bad-attribute", "operation"),
                                ("bad-element", etree.QName(descendant).localname)])
        return clean

    @staticmethod
    def clean_copy(item: etree._Element) -> etree._Element:
        """What is stored of a config element: its data, without any attribute
        (operation, insert, wd:default and the like are instructions, not data)."""
        copy = deepcopy(item)
        for element in _WITH_ATTRIBUTES(copy):   # (C-level: a big subtree has few)
            element.attrib.clear()
        copy.tail = None
        if len(copy.nsmap) > NAMESPACES_KEPT:
            # (a copy declares every namespace in scope of the original: not stored)
            etree.cleanup_namespaces(copy, keep_ns_prefixes=_text_prefixes(copy))
        return copy


# A new element keeps the namespace declarations in scope of the request's
# element up to this many; past it, only those its names and values use.
NAMESPACES_KEPT = 16


def _text_prefixes(element: etree._Element) -> list[str]:
    """The prefixes in scope of ``element`` that its text may use (identityref
    and instance-identifier values name them)."""
    text = " ".join(element.itertext())
    return [prefix for prefix in element.nsmap if prefix and f"{prefix}:" in text]


def _kept_namespaces(item: etree._Element) -> dict:
    nsmap = item.nsmap
    if len(nsmap) <= NAMESPACES_KEPT:
        return nsmap
    used = {etree.QName(e).namespace for e in item.iter() if type(e.tag) is str}
    in_text = set(_text_prefixes(item))
    return {prefix: uri for prefix, uri in nsmap.items() if uri in used or prefix in in_text}


def _norm(text: str | None, node: SchemaNode) -> str:
    text = text or ""
    return text.strip() if node.type is not None and node.type.trims else text


def _predicates(text: str) -> list[tuple[str, str]]:
    return [(name, value) for name, _, value in
            re.findall(r"\[\s*([\w.:-]+)\s*=\s*(['\"])(.*?)\2\s*\]", text)]


def apply_edit(schema: Schema, target: etree._Element, config: etree._Element,
               default_operation: str = "merge", error_option: str = "stop-on-error",
               journal: Journal | None = None, index: KeyIndex | None = None) -> EditResult:
    """Apply ``config`` (the ``<config>`` element) to ``target`` in place, each
    change a step of ``journal`` (one of its own when None). ``index``: the
    datastore's lookups by key in ``target``, kept with it."""
    editor = _Editor(schema, target, default_operation,
                     stop_on_error=error_option != "continue-on-error",
                     journal=journal if journal is not None else Journal(target), shared=index)
    editor.edit(config)
    if default_operation == "replace" and not (editor.result.errors and editor.stop_on_error):
        # The configuration replaces the datastore's whole content: each top-level
        # node it gives was replaced (or had its own operation), the rest goes.
        given = {item.tag for item in config if type(item.tag) is str}
        for child in list(target):
            if type(child.tag) is str and child.tag not in given:
                editor.journal.remove(target, child)
                editor.result.removed.append((target, child.tag))
    return editor.result
