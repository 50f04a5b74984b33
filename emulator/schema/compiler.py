"""Compile a profile's YANG modules with pyang, once per process.

pyang parses the modules, resolves imports, groupings, augments and
deviations, and prunes what disabled features remove; this module turns
the result into a :class:`~emulator.schema.model.Schema`.
"""

from __future__ import annotations

import os
import re
import threading
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from pyang import context, error, repository
from pyang import types as ptypes

from emulator import paths
from emulator.schema import types as yt
from emulator.schema.model import Choice, ModuleInfo, Must, Schema, SchemaNode, When
from emulator.schema.xpath import XPathSyntaxError, YangXPath
from emulator.schema.xsdregex import compile_pattern

DATA_KEYWORDS = ("container", "list", "leaf", "leaf-list", "anydata", "anyxml")


class SchemaError(Exception):
    """The modules do not compile; the message holds pyang's file:line report."""


_cache: dict[tuple, Schema] = {}
_lock = threading.Lock()


def compile_modules(name: str, modules: list[Path], features: dict[str, list[str]],
                    deviations: list[Path] = (), search: list[Path] = ()) -> Schema:
    """The schema of these modules (cached: the same arguments share one Schema).

    ``search`` adds folders where imports are looked for, before the project's
    ``yang/`` and pyang's modules.
    """
    key = (tuple(modules), tuple(sorted((m, tuple(f)) for m, f in features.items())),
           tuple(deviations), tuple(search))
    with _lock:
        schema = _cache.get(key)
        if schema is None:
            schema = _Compiler(name, modules, features, list(deviations), list(search)).run()
            _cache[key] = schema
        return schema


class _Compiler:
    def __init__(self, name: str, modules: list[Path], features: dict[str, list[str]],
                 deviations: list[Path], search: list[Path]):
        self.name = name
        self.module_files = modules
        self.features = features
        self.deviation_files = deviations
        search = os.pathsep.join(str(p) for p in [*search, *paths.yang_search_path()])
        self.ctx = context.Context(repository.FileRepository(search, use_env=False))
        self.schema = Schema(name)
        self._types: dict[int, yt.YangType] = {}
        self._leafrefs: list[tuple[yt.LeafrefType, Any, SchemaNode]] = []

    # -- pyang -------------------------------------------------------------

    def _add(self, path: Path) -> Any:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SchemaError(f"{path}: cannot read: {exc.strerror}") from None
        module = self.ctx.add_module(str(path), text)
        if module is None:
            raise SchemaError(self._errors() or f"{path}: pyang could not parse this module")
        return module

    def _errors(self) -> str:
        lines = []
        for pos, tag, args in self.ctx.errors:
            if error.is_error(error.err_level(tag)):
                lines.append(f"{pos}: {error.err_to_str(tag, args)}")
        return "\n".join(lines)

    def run(self) -> Schema:
        modules = [self._add(path) for path in self.module_files]
        deviation_modules = [self._add(path) for path in self.deviation_files]
        self.ctx.deviation_modules.extend(deviation_modules)
        # A listed module supports only the features the profile names.
        self.ctx.features = {m.arg: list(self.features.get(m.arg, [])) for m in modules}
        for module_name in self.features:
            if module_name not in self.ctx.features:
                raise SchemaError(f"features given for {module_name!r}, which the profile "
                                  "does not list among its modules")
        self.ctx.validate()
        problems = self._errors()
        if problems:
            raise SchemaError(problems)
        for module in modules:
            for feature in self.features.get(module.arg, []):
                if feature not in module.i_features:
                    raise SchemaError(f"{module.pos.ref}: module {module.arg!r} has no feature "
                                      f"{feature!r}")
            module.prune()

        self._identities()
        self._module_infos(modules, deviation_modules)
        for module in modules:
            self._children(module, self.schema.root, ())
        for leafref, stmt, node in self._leafrefs:
            self._link_leafref(leafref, stmt, node)
        for node in self.schema.walk():
            _resolve_targets(node, node.type)
        self.schema.root.finish()
        # pyang's YIN emitter (for <get-schema>) reads its options from here.
        self.ctx.opts = SimpleNamespace(yin_canonical=False, yin_pretty_strings=True)
        self.schema.pyang = self.ctx
        return self.schema

    # -- modules and identities -------------------------------------------

    def _ns(self, module_name: str) -> str:
        module = self.ctx.get_module(module_name)
        return module.search_one("namespace").arg

    def _identities(self) -> None:
        for module in list(self.ctx.modules.values()):
            if module is None or module.keyword != "module":
                continue
            ns = module.search_one("namespace").arg
            for name, identity in module.i_identities.items():
                if getattr(identity, "i_not_implemented", False):
                    continue  # its if-feature is false
                bases = []
                for base in identity.search("base"):
                    target = getattr(base, "i_identity", None)
                    if target is not None:
                        bases.append((self._ns(target.i_module.i_modulename), target.arg))
                self.schema.identities.add((ns, name), bases)

    def _module_infos(self, modules: list[Any], deviation_modules: list[Any]) -> None:
        implemented = {m.arg for m in modules} | {m.arg for m in deviation_modules}
        deviators: dict[str, list[str]] = {}
        for dev in deviation_modules:
            for deviation in dev.search("deviation"):
                target = getattr(deviation, "i_target_node", None)
                if target is not None:
                    deviators.setdefault(target.i_module.i_modulename, []).append(dev.arg)
        used_prefixes: set[str] = set()
        for module in sorted((m for m in self.ctx.modules.values()
                              if m is not None and m.keyword == "module"),
                             key=lambda m: (m.arg not in implemented, m.arg)):
            revision = module.search_one("revision")
            ns = module.search_one("namespace").arg
            prefix = module.search_one("prefix").arg
            unique = prefix
            counter = 1
            while unique in used_prefixes:
                counter += 1
                unique = f"{prefix}{counter}"
            used_prefixes.add(unique)
            self.schema.prefixes[ns] = unique
            info = ModuleInfo(
                name=module.arg, revision=revision.arg if revision else None, namespace=ns,
                prefix=prefix,
                features=sorted(self.ctx.features.get(module.arg, [])) if module.arg in implemented
                else [],
                deviations=sorted(set(deviators.get(module.arg, []))),
                implemented=module.arg in implemented, path=module.pos.ref)
            for include in module.search("include"):
                sub = self.ctx.get_module(include.arg)
                if sub is not None:
                    sub_rev = sub.search_one("revision")
                    info.submodules.append((sub.arg, sub_rev.arg if sub_rev else None, sub.pos.ref))
            self.schema.modules[module.arg] = info

    # -- data nodes --------------------------------------------------------

    def _children(self, stmt: Any, parent: SchemaNode,
                  cases: tuple[tuple[Choice, str], ...], inherited: list[When] = ()) -> None:
        for child in getattr(stmt, "i_children", ()):
            keyword = child.keyword
            if keyword == "choice":
                choice = Choice(
                    name=child.arg,
                    mandatory=_arg(child, "mandatory") == "true",
                    default_case=_arg(child, "default"),
                    parent_case=cases[-1] if cases else None)
                whens = [*inherited, *self._whens(child, on_parent=True)]
                augment = getattr(child, "i_augment", None)
                if augment is not None:
                    whens.extend(self._whens(augment, on_parent=True))
                choice.whens = [w.xpath for w in whens]
                parent.choices.append(choice)
                for case in child.i_children:
                    choice.cases.append(case.arg)
                    case_whens = [*whens, *self._whens(case, on_parent=True)]
                    case_augment = getattr(case, "i_augment", None)
                    if case_augment is not None and case_augment is not augment:
                        case_whens.extend(self._whens(case_augment, on_parent=True))
                    self._children(case, parent, (*cases, (choice, case.arg)), case_whens)
            elif keyword in DATA_KEYWORDS:
                node = self._node(child, parent, cases, list(inherited))
                parent.children[(node.ns, node.name)] = node
                if keyword in ("container", "list"):
                    self._children(child, node, ())

    def _node(self, stmt: Any, parent: SchemaNode,
              cases: tuple[tuple[Choice, str], ...], inherited: list[When]) -> SchemaNode:
        module_name = stmt.i_module.i_modulename
        ns = self._ns(module_name)
        prefix = self.schema.prefixes[ns]
        node = SchemaNode(
            keyword=stmt.keyword, name=stmt.arg, ns=ns, module=module_name, prefix=prefix,
            parent=parent, config=getattr(stmt, "i_config", True) is not False,
            path=f"{parent.path}/{prefix}:{stmt.arg}", cases=cases, stmt=stmt)
        node.whens = [*inherited, *self._whens(stmt)]
        augment = getattr(stmt, "i_augment", None)
        if augment is not None:
            node.whens.extend(self._whens(augment, on_parent=True))
        node.musts = [Must(self._xpath(m, m.arg), _arg(m, "error-message"), _arg(m, "error-app-tag"))
                      for m in stmt.search("must")]
        if stmt.keyword == "container":
            node.presence = stmt.search_one("presence") is not None
        if stmt.keyword in ("leaf", "anydata", "anyxml"):
            node.mandatory = _arg(stmt, "mandatory") == "true"
        if stmt.keyword in ("list", "leaf-list"):
            node.min_elements = int(_arg(stmt, "min-elements") or 0)
            maximum = _arg(stmt, "max-elements")
            node.max_elements = None if maximum in (None, "unbounded") else int(maximum)
            node.user_ordered = _arg(stmt, "ordered-by") == "user"
        if stmt.keyword == "list":
            node.keys = tuple((ns, k.arg) for k in getattr(stmt, "i_key", None) or ())
            for _unique, leaves in getattr(stmt, "i_unique", ()):
                node.uniques.append([self._relative_path(stmt, leaf) for leaf in leaves])
        if stmt.keyword in ("leaf", "leaf-list"):
            type_stmt = stmt.search_one("type")
            node.type = self._type(type_stmt)
            if stmt.keyword == "leaf":
                default = getattr(stmt, "i_default_str", "")
                node.default = [default] if default != "" or stmt.search_one("default") else []
            else:
                node.default = [d.arg for d in stmt.search("default")] or (
                    [type_stmt.i_typedef.i_default_str]
                    if getattr(type_stmt, "i_typedef", None) is not None
                    and getattr(type_stmt.i_typedef, "i_default", None) is not None else [])
            if node.default:
                node.default_nsmap = self._prefix_map(stmt)
                if _has_identityref(node.type):
                    # an unprefixed identity in a default is the defining module's
                    own = next(p for p, ns in node.default_nsmap.items()
                               if p is not None and ns == node.default_nsmap[None])
                    node.default = [d if ":" in d else f"{own}:{d}" for d in node.default]
        return node

    def _relative_path(self, list_stmt: Any, leaf: Any) -> tuple[tuple[str, str], ...]:
        steps = []
        node = leaf
        while node is not list_stmt:
            if node.keyword in DATA_KEYWORDS:
                steps.append((self._ns(node.i_module.i_modulename), node.arg))
            node = node.parent
        return tuple(reversed(steps))

    def _whens(self, stmt: Any, on_parent: bool = False) -> list[When]:
        found = []
        for when in stmt.search("when"):
            from_uses = getattr(when, "i_origin", None) == "uses"
            found.append(When(self._xpath(when, when.arg), on_parent or from_uses))
        return found

    # -- XPath -------------------------------------------------------------

    def _prefix_map(self, stmt: Any) -> dict[str | None, str]:
        """The prefixes in scope where ``stmt`` is written (its own module's)."""
        # (a submodule's own imports and belongs-to prefix, not its module's)
        module = getattr(stmt, "i_orig_module", None) or stmt.i_module
        nsmap: dict[str | None, str] = {}
        for prefix, (module_name, _rev) in module.i_prefixes.items():
            target = self.ctx.get_module(module_name)
            if target is not None and target.keyword == "module":
                nsmap[prefix] = target.search_one("namespace").arg
        own = module.i_prefix
        if own not in nsmap:  # a submodule's belongs-to prefix names its module
            nsmap[own] = self._ns(module.i_modulename)
        nsmap[None] = nsmap[own]
        return nsmap

    def _xpath(self, stmt: Any, expression: str) -> YangXPath:
        nsmap = self._prefix_map(stmt)
        module = getattr(stmt, "i_orig_module", None) or stmt.i_module
        prefixes = {p: ns for p, ns in nsmap.items() if p is not None}
        try:
            return YangXPath(expression, module.i_prefix, prefixes, self.schema)
        except XPathSyntaxError as exc:
            raise SchemaError(f"{stmt.pos}: {exc}") from None

    # -- types -------------------------------------------------------------

    def _type(self, type_stmt: Any) -> yt.YangType:
        cached = self._types.get(id(type_stmt))
        if cached is None:
            cached = self._types[id(type_stmt)] = self._build_type(type_stmt)
        return cached

    def _restriction_statements(self, type_stmt: Any) -> dict[tuple[str, int], Any]:
        """range/length/pattern statements along the typedef chain, by position."""
        found = {}
        current = type_stmt
        while current is not None:
            for keyword in ("range", "length", "pattern"):
                for s in current.search(keyword):
                    found[(str(s.pos.ref), s.pos.line)] = s
            typedef = getattr(current, "i_typedef", None)
            current = typedef.search_one("type") if typedef is not None else None
        return found

    def _build_type(self, type_stmt: Any) -> yt.YangType:
        statements = self._restriction_statements(type_stmt)

        def stmt_at(pos: Any) -> Any:
            return statements.get((str(pos.ref), pos.line)) if pos is not None else None

        ranges: list[yt.Restriction] = []
        lengths: list[yt.Restriction] = []
        patterns: list[yt.Pattern] = []
        spec = type_stmt.i_type_spec
        while True:
            if isinstance(spec, ptypes.RangeTypeSpec):
                ranges.append(self._restriction(spec.ranges, spec.base, stmt_at(spec.ranges_pos)))
                spec = spec.base
            elif isinstance(spec, ptypes.LengthTypeSpec):
                length_base = ptypes.get_ancestor_typespec_skip_pattern(spec.base)
                lengths.append(self._restriction(spec.lengths, length_base,
                                                 stmt_at(spec.length_pos)))
                spec = spec.base
            elif isinstance(spec, ptypes.PatternTypeSpec):
                for pattern in spec.res:
                    source = stmt_at(pattern.pos)
                    # regex where the translation is exact, else libxml2 through pyang
                    # (uninverted: yt.Pattern applies invert-match itself).
                    regex = compile_pattern(pattern.spec) or \
                        ptypes.XSDPattern(pattern.spec, pattern.pos, False)
                    patterns.append(yt.Pattern(regex, pattern.spec, pattern.invert_match,
                                               _arg(source, "error-message") if source else None,
                                               _arg(source, "error-app-tag") if source else None))
                spec = spec.base
            else:
                break
        if isinstance(spec, ptypes.IntTypeSpec):
            return yt.IntegerType(spec.name, spec.min, spec.max, ranges)
        if isinstance(spec, ptypes.Decimal64TypeSpec):
            return yt.Decimal64Type(spec.fraction_digits, ranges)
        if isinstance(spec, ptypes.StringTypeSpec):
            return yt.StringType(lengths, patterns)
        if isinstance(spec, ptypes.BinaryTypeSpec):
            return yt.BinaryType(lengths)
        if isinstance(spec, ptypes.BooleanTypeSpec):
            return yt.BooleanType()
        if isinstance(spec, ptypes.EmptyTypeSpec):
            return yt.EmptyType()
        if isinstance(spec, ptypes.EnumTypeSpec):
            off = self._disabled(type_stmt, "enum")
            return yt.EnumerationType({name: value for name, value in spec.enums if name not in off})
        if isinstance(spec, ptypes.BitTypeSpec):
            off = self._disabled(type_stmt, "bit")
            return yt.BitsType({name: position for name, position in spec.bits if name not in off})
        if isinstance(spec, ptypes.IdentityrefTypeSpec):
            bases = [(self._ns(b.i_identity.i_module.i_modulename), b.i_identity.arg)
                     for b in spec.idbases if getattr(b, "i_identity", None) is not None]
            return yt.IdentityrefType(bases, self.schema.identities)
        if isinstance(spec, ptypes.PathTypeSpec):
            path = spec.path_  # the path statement itself
            leafref = yt.LeafrefType(path.arg, _require_instance(type_stmt))
            self._leafrefs.append((leafref, path, spec))
            return leafref
        if isinstance(spec, ptypes.InstanceIdentifierTypeSpec):
            return yt.InstanceIdentifierType(_require_instance(type_stmt))
        if isinstance(spec, ptypes.UnionTypeSpec):
            return yt.UnionType([self._type(member) for member in spec.types])
        raise SchemaError(f"{type_stmt.pos}: type {type_stmt.arg!r} is not supported")

    def _disabled(self, type_stmt: Any, keyword: str) -> set[str]:
        """enum or bit names whose if-feature is false, along the typedef chain."""
        off = set()
        current = type_stmt
        while current is not None:
            off.update(s.arg for s in current.search(keyword)
                       if getattr(s, "i_not_implemented", False))
            typedef = getattr(current, "i_typedef", None)
            current = typedef.search_one("type") if typedef is not None else None
        return off

    def _restriction(self, ranges: list, base: Any, stmt: Any) -> yt.Restriction:
        def bound(value: Any, default: Any) -> Any:
            if value == "min":
                return _number(base.min)
            if value == "max":
                return _number(base.max)
            return _number(value if value is not None else default)
        intervals = [(bound(lo, None), bound(hi, lo)) for lo, hi in ranges]
        return yt.Restriction(intervals, _arg(stmt, "error-message") if stmt else None,
                              _arg(stmt, "error-app-tag") if stmt else None)

    def _link_leafref(self, leafref: yt.LeafrefType, path_stmt: Any, spec: Any) -> None:
        leafref.xpath = self._xpath(path_stmt, leafref.path)
        target = getattr(spec, "i_target_node", None)
        if target is not None:
            leafref.target = self._type(target.search_one("type"))


def _resolve_targets(node: SchemaNode, yang_type: Any) -> None:
    """Leafrefs pyang leaves unresolved (union members): find the target by
    walking the path's steps over the schema, predicates aside."""
    if isinstance(yang_type, yt.UnionType):
        for member in yang_type.members:
            _resolve_targets(node, member)
        return
    if not isinstance(yang_type, yt.LeafrefType) or yang_type.target is not None:
        return
    path = re.sub(r"\[[^\]]*\]", "", yang_type.path).strip()
    current: SchemaNode | None = node
    if path.startswith("/"):
        while current is not None and current.parent is not None:
            current = current.parent
    for step in (s for s in path.split("/") if s):
        if current is None:
            return
        if step == "..":
            current = current.parent
        else:
            name = step.rpartition(":")[2]
            current = next((c for c in current.children.values() if c.name == name), None)
    if current is not None and current.type is not None:
        yang_type.target = current.type


def _has_identityref(yang_type: Any) -> bool:
    if isinstance(yang_type, yt.UnionType):
        return any(_has_identityref(m) for m in yang_type.members)
    return isinstance(yang_type, yt.IdentityrefType)


def _require_instance(type_stmt: Any) -> bool:
    """Read from the statements: pyang keeps one shared spec object for every
    plain instance-identifier, so its require_instance is whoever set it last."""
    current = type_stmt
    while current is not None:
        found = _arg(current, "require-instance")
        if found is not None:
            return found == "true"
        typedef = getattr(current, "i_typedef", None)
        current = typedef.search_one("type") if typedef is not None else None
    return True


def _arg(stmt: Any, keyword: str) -> str | None:
    if stmt is None:
        return None
    found = stmt.search_one(keyword)
    return found.arg if found is not None else None


def _number(value: Any) -> Any:
    if isinstance(value, ptypes.Decimal64Value):
        return Decimal(str(value))
    return value
