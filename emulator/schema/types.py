"""YANG built-in types as value checkers (RFC 7950 section 9).

Each type turns the text of a leaf into a comparable value, or raises
:class:`BadValue` with a message a person understands. Values compare
equal when YANG says they are equal (``"007"`` and ``"7"`` as uint8,
``a:x`` and ``b:x`` as identityrefs when both prefixes name one namespace).
"""

from __future__ import annotations

import base64
import binascii
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterable, Mapping

Ranges = list[tuple[Any, Any]]   # [(low, high), ...]; any one must hold


class BadValue(ValueError):
    """The text is not a value of the type; ``app_tag`` comes from the module."""

    def __init__(self, message: str, app_tag: str | None = None):
        super().__init__(message)
        self.app_tag = app_tag


def shown(text: str, limit: int = 40) -> str:
    """A value as a message shows it: quoted, and cut when long."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _in_ranges(value: Any, ranges: Ranges) -> bool:
    return any(low <= value <= high for low, high in ranges)


def _describe(ranges: Ranges) -> str:
    return " | ".join(str(lo) if lo == hi else f"{lo}..{hi}" for lo, hi in ranges)


class Restriction:
    """A range or length statement: its intervals, and its own error text."""

    def __init__(self, ranges: Ranges, message: str | None = None, app_tag: str | None = None):
        self.ranges = ranges
        self.message = message
        self.app_tag = app_tag

    def check(self, value: Any, what: str, shown: Any) -> None:
        if not _in_ranges(value, self.ranges):
            raise BadValue(self.message or f"{what} {shown} is outside {_describe(self.ranges)}",
                           self.app_tag)


class YangType:
    name = "?"
    #: True for types whose text may carry surrounding whitespace (numbers, as
    #: libyang reads them); the others must match exactly.
    trims = False

    def parse(self, text: str, nsmap: Mapping[str | None, str]) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


# (at most 20 digits: int() of thousands of digits is slow, then refused anyway)
_INT = re.compile(r"[+-]?0*[0-9]{1,20}\Z")


class IntegerType(YangType):
    trims = True

    def __init__(self, name: str, low: int, high: int, restrictions: list[Restriction]):
        self.name = name
        self.low, self.high = low, high
        self.restrictions = restrictions

    def parse(self, text: str, nsmap: Mapping[str | None, str]) -> int:
        text = text.strip()
        if not _INT.match(text):
            raise BadValue(f"{shown(text)} is not an integer of {self.name}'s range")
        value = int(text)
        if not self.low <= value <= self.high:
            raise BadValue(f"{value} is outside the {self.name} range {self.low}..{self.high}")
        for restriction in self.restrictions:
            restriction.check(value, "value", value)
        return value


_DECIMAL = re.compile(r"[+-]?0*[0-9]{1,19}(\.[0-9]{1,40})?\Z")


class Decimal64Type(YangType):
    name = "decimal64"
    trims = True

    def __init__(self, fraction_digits: int, restrictions: list[Restriction]):
        self.fraction_digits = fraction_digits
        self.restrictions = restrictions
        self.limit = Decimal(2**63) / (Decimal(10) ** fraction_digits)

    def parse(self, text: str, nsmap: Mapping[str | None, str]) -> Decimal:
        text = text.strip()
        if not _DECIMAL.match(text):
            raise BadValue(f"{shown(text)} is not a decimal number in range")
        # Extra fraction digits are tolerated when they are zeros ("1.500" for
        # fraction-digits 2), as libyang does: the value is still exact.
        digits = len(text.partition(".")[2].rstrip("0"))
        if digits > self.fraction_digits:
            raise BadValue(f"{text} has {digits} fraction digits; at most "
                           f"{self.fraction_digits} are allowed")
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise BadValue(f"{text!r} is not a decimal number") from None
        if not -self.limit <= value < self.limit:
            raise BadValue(f"{text} is outside the decimal64 range")
        for restriction in self.restrictions:
            restriction.check(value, "value", text)
        return value


class Pattern:
    """One ``pattern``: an XSD regular expression (with libxml2's engine, through
    pyang), possibly inverted, with the module's own error text."""

    def __init__(self, regex: Callable[[str], Any], source: str, invert: bool,
                 message: str | None, app_tag: str | None):
        self.regex = regex
        self.source = source
        self.invert = invert
        self.message = message
        self.app_tag = app_tag

    def check(self, text: str) -> None:
        matched = bool(self.regex(text))
        if matched == self.invert:
            how = "matches the excluded pattern" if self.invert else "does not match the pattern"
            raise BadValue(self.message or f"{text!r} {how} {self.source!r}", self.app_tag)


class StringType(YangType):
    name = "string"

    def __init__(self, lengths: list[Restriction], patterns: list[Pattern]):
        self.lengths = lengths
        self.patterns = patterns

    def parse(self, text: str, nsmap: Mapping[str | None, str]) -> str:
        for restriction in self.lengths:
            restriction.check(len(text), "length", len(text))
        for pattern in self.patterns:
            pattern.check(text)
        return text


class BooleanType(YangType):
    name = "boolean"

    def parse(self, text: str, nsmap: Mapping[str | None, str]) -> bool:
        if text == "true":
            return True
        if text == "false":
            return False
        raise BadValue(f"{text!r} is not a boolean (true or false)")


class EmptyType(YangType):
    name = "empty"

    def parse(self, text: str, nsmap: Mapping[str | None, str]) -> str:
        if text:
            raise BadValue(f"a leaf of type empty has no value, not {text!r}")
        return ""


class EnumerationType(YangType):
    name = "enumeration"

    def __init__(self, enums: dict[str, int]):
        self.enums = enums

    def parse(self, text: str, nsmap: Mapping[str | None, str]) -> str:
        if text not in self.enums:
            raise BadValue(f"{text!r} is not one of {', '.join(self.enums)}")
        return text


class BitsType(YangType):
    name = "bits"

    def __init__(self, bits: dict[str, int]):
        self.bits = bits

    def parse(self, text: str, nsmap: Mapping[str | None, str]) -> frozenset[str]:
        names = text.split()
        for name in names:
            if name not in self.bits:
                raise BadValue(f"{name!r} is not a bit of this type (bits: {', '.join(self.bits)})")
        if len(set(names)) != len(names):
            raise BadValue(f"a bit is named twice in {text.strip()!r}")
        return frozenset(names)


class BinaryType(YangType):
    name = "binary"

    def __init__(self, lengths: list[Restriction]):
        self.lengths = lengths

    def parse(self, text: str, nsmap: Mapping[str | None, str]) -> bytes:
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise BadValue("not valid base64") from None
        for restriction in self.lengths:
            restriction.check(len(data), "length (bytes)", len(data))
        return data


class IdentityrefType(YangType):
    """Values are ``(namespace, name)`` of an identity derived from every base."""

    name = "identityref"

    def __init__(self, bases: list[tuple[str, str]], identities: "Identities"):
        self.bases = bases
        self.identities = identities

    def parse(self, text: str, nsmap: Mapping[str | None, str]) -> tuple[str, str]:
        identity = self.identities.resolve(text, nsmap)
        for base in self.bases:
            if not self.identities.derived_from(identity, base):
                raise BadValue(f"identity {text!r} is not derived from {base[1]!r}")
        return identity


class LeafrefType(YangType):
    """Values have the referred leaf's type; whether an instance exists is a
    constraint, checked once the whole tree is known."""

    name = "leafref"

    def __init__(self, path: str, require_instance: bool):
        self.path = path
        self.require_instance = require_instance
        self.target: YangType | None = None   # set once every leaf is compiled
        self.xpath: Any = None                # the compiled path

    def parse(self, text: str, nsmap: Mapping[str | None, str]) -> Any:
        if self.target is None:
            return text
        return self.target.parse(text, nsmap)

    @property
    def trims(self) -> bool:  # type: ignore[override]
        return self.target.trims if self.target is not None else False


_INSTANCE_ID = re.compile(
    r"""(/[A-Za-z_][\w.-]*:[A-Za-z_][\w.-]*(\[(?:[^\]'"]|'[^']*'|"[^"]*")*\])*)+\Z""")


class InstanceIdentifierType(YangType):
    name = "instance-identifier"

    def __init__(self, require_instance: bool):
        self.require_instance = require_instance

    def parse(self, text: str, nsmap: Mapping[str | None, str]) -> str:
        text = text.strip()
        if not _INSTANCE_ID.match(text):
            raise BadValue(f"{text!r} is not an instance-identifier (/prefix:node[...]/...)")
        for prefix in re.findall(r"/([A-Za-z_][\w.-]*):", text):
            if prefix not in nsmap:
                raise BadValue(f"prefix {prefix!r} in {text!r} is not declared")
        return text


class UnionType(YangType):
    name = "union"

    def __init__(self, members: list[YangType]):
        self.members = members

    def member_for(self, text: str, nsmap: Mapping[str | None, str]) -> YangType:
        reasons = []
        for member in self.members:
            try:
                member.parse(text, nsmap)
                return member
            except BadValue as exc:
                reasons.append(str(exc))
        raise BadValue(f"{text.strip()!r} matches no member of the union ({'; '.join(reasons)})")

    def parse(self, text: str, nsmap: Mapping[str | None, str]) -> Any:
        member = self.member_for(text, nsmap)
        return (member.name, member.parse(text, nsmap))


class Identities:
    """Every identity of a compiled schema and what it derives from."""

    def __init__(self) -> None:
        self.bases: dict[tuple[str, str], set[tuple[str, str]]] = {}
        self._ancestors: dict[tuple[str, str], set[tuple[str, str]]] = {}

    def add(self, identity: tuple[str, str], bases: Iterable[tuple[str, str]]) -> None:
        self.bases.setdefault(identity, set()).update(bases)
        self._ancestors.clear()

    def resolve(self, text: str, nsmap: Mapping[str | None, str]) -> tuple[str, str]:
        prefix, _, name = text.rpartition(":")
        ns = nsmap.get(prefix or None)
        if ns is None:
            raise BadValue(f"prefix {prefix!r} of {text!r} is not declared" if prefix
                           else f"{text!r} needs a namespace prefix")
        identity = (ns, name)
        if identity not in self.bases:
            raise BadValue(f"no identity {name!r} in namespace {ns}")
        return identity

    def ancestors(self, identity: tuple[str, str]) -> set[tuple[str, str]]:
        cached = self._ancestors.get(identity)
        if cached is not None:
            return cached
        seen: set[tuple[str, str]] = set()
        todo = list(self.bases.get(identity, ()))
        while todo:
            base = todo.pop()
            if base not in seen:
                seen.add(base)
                todo.extend(self.bases.get(base, ()))
        self._ancestors[identity] = seen
        return seen

    def derived_from(self, identity: tuple[str, str], base: tuple[str, str]) -> bool:
        return base in self.ancestors(identity)
