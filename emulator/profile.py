"""Device profiles: what kind of device, which YANG modules, what initial data.

A profile is a folder with ``profile.yaml``, the XML templates it names and,
optionally, a ``yang/`` folder of modules of its own::

    description: An IP router
    modules: [ietf-interfaces, iana-if-type, ietf-ip, ...]
    features: {ietf-system: [ntp]}
    vars: {hostname: "{name}"}      # defaults for per-device values (as in a fleet)
    config: config.xml              # initial configuration, a <data> document
    state: state.xml                # initial operational state, likewise

The templates use ``${var}`` for per-device values. A profile is loaded
once and shared by every device of that profile.
"""

from __future__ import annotations

import functools
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

from lxml import etree

from emulator import paths
from emulator.schema.compiler import SchemaError, compile_modules
from emulator.schema.model import Schema
from emulator.yamlfile import FixtureError, YList, check_keys, expect_list, expect_mapping, load

# Values every device has without being told.
BUILTIN_VARS = ("name", "n", "i", "profile")

_PROFILE_KEYS = {"description", "modules", "features", "deviations", "vars", "config", "state"}


@dataclass(frozen=True)
class YangModule:
    name: str
    path: Path


@dataclass
class Profile:
    name: str
    directory: Path
    description: str
    modules: list[YangModule]
    features: dict[str, list[str]]
    deviations: list[YangModule]
    defaults: dict[str, tuple[object, int]]   # var -> (spec, line in profile.yaml)
    templates: dict[str, string.Template] = field(repr=False)
    schema: Schema = field(repr=False)

    @property
    def placeholders(self) -> set[str]:
        names: set[str] = set()
        for template in self.templates.values():
            names.update(template.get_identifiers())
        return names

    def render(self, which: str, values: dict[str, str]) -> str:
        """The ``config`` or ``state`` document with this device's values."""
        return self.templates[which].substitute(
            {key: escape(value, {'"': "&quot;"}) for key, value in values.items()})


@functools.cache
def _module_index() -> dict[str, Path]:
    """Every YANG module on the search path, by name (newest revision wins)."""
    index: dict[str, Path] = {}
    for directory in reversed(paths.yang_search_path()):
        for file in sorted(directory.rglob("*.yang")):
            index[file.stem.split("@", 1)[0]] = file
    return index


def find_module(name: str, own: Path | None = None) -> Path | None:
    """A module by name: in the profile's own ``yang/`` folder first, then in
    the project's ``yang/`` and pyang's modules."""
    if own is not None and own.is_dir():
        candidates = sorted(own.glob(f"{name}.yang")) + sorted(own.glob(f"{name}@*.yang"))
        if candidates:
            return candidates[-1]
    return _module_index().get(name)


def load_profile(name: str, directory: Path) -> Profile:
    """Load the profile in ``directory`` (its ``profile.yaml``)."""
    path = directory / "profile.yaml"
    data = expect_mapping(load(path), path, 1, "a profile")
    check_keys(data, _PROFILE_KEYS, path, "a profile", required={"modules", "config"})

    def modules_of(key: str) -> list[YangModule]:
        items = expect_list(data.get(key, YList()), path, data.line_of(key), f"{key!r}")
        found = []
        for module, line in zip(items, items.lines):
            if not isinstance(module, str) or not module:
                raise FixtureError(path, line, f"a YANG module name must be a string, not {module!r}")
            file = find_module(module, directory / "yang")
            if file is None:
                raise FixtureError(path, line, f"YANG module {module!r} not found in the profile's "
                                               "yang/, the project's yang/ or pyang's modules")
            found.append(YangModule(module, file))
        return found

    features: dict[str, list[str]] = {}
    if "features" in data:
        raw = expect_mapping(data["features"], path, data.line_of("features"), "'features'")
        for module, names in raw.items():
            names = expect_list(names, path, raw.line_of(module), f"features of {module!r}")
            features[str(module)] = [str(n) for n in names]

    defaults: dict[str, tuple[object, int]] = {}
    if "vars" in data:
        raw = expect_mapping(data["vars"], path, data.line_of("vars"), "'vars'")
        for key, value in raw.items():
            check_var_name(key, path, raw.line_of(key))
            defaults[key] = (value, raw.line_of(key))  # checked by the fleet, per entry

    templates = {}
    for which in ("config", "state"):
        if which in data:
            templates[which] = _load_template(directory, data[which], path, data.line_of(which))
        else:
            templates[which] = string.Template('<data xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"/>')

    description = data.get("description", "")
    if not isinstance(description, str):
        raise FixtureError(path, data.line_of("description"), "'description' must be a string")
    modules = modules_of("modules")
    deviations = modules_of("deviations")
    try:
        own = directory / "yang"
        schema = compile_modules(name, [m.path for m in modules], features,
                                 [m.path for m in deviations],
                                 search=[own] if own.is_dir() else [])
    except SchemaError as exc:
        problems = str(exc).splitlines()
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise FixtureError(path, data.line_of("modules"),
                           f"the YANG modules do not compile: {problems[0]}{more}") from None
    return Profile(name=name, directory=directory, description=description.strip(),
                   modules=modules, features=features, deviations=deviations,
                   defaults=defaults, templates=templates, schema=schema)


_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def check_var_name(key: object, path: Path, line: int) -> None:
    if not isinstance(key, str) or not _VAR_NAME.match(key):
        raise FixtureError(path, line, f"var name {key!r} must be an identifier "
                                       "(letters, digits and _)")
    if key in BUILTIN_VARS:
        raise FixtureError(path, line, f"var {key!r} is built in and cannot be set")


def _load_template(directory: Path, name: object, path: Path, line: int) -> string.Template:
    if not isinstance(name, str):
        raise FixtureError(path, line, "a template must be named by a file name")
    file = (directory / name)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise FixtureError(path, line, f"cannot read template {name!r}: {exc.strerror}") from None
    template = string.Template(text)
    if not template.is_valid():
        bad = re.search(r"\$(?!\{[A-Za-z_][A-Za-z0-9_]*\}|\$)", text)
        at = text.count("\n", 0, bad.start()) + 1 if bad else None
        raise FixtureError(file, at, "a '$' must start a ${var} placeholder (write $$ for a dollar)")
    # Check the XML once, with every placeholder filled in, so a broken
    # template stops the start rather than the first session.
    sample = template.substitute({key: "x" for key in template.get_identifiers()})
    try:
        root = etree.fromstring(sample.encode())
    except etree.XMLSyntaxError as exc:
        raise FixtureError(file, exc.lineno, f"template is not well-formed XML: {exc.msg}") from None
    if etree.QName(root).localname != "data":
        raise FixtureError(file, root.sourceline, "a template's root element must be <data>")
    return template
