"""The one error type of the protocol: every field of RFC 6241 Appendix A.

Operations raise :class:`RpcError` (or :class:`RpcErrors` for several at
once); the session turns them into ``<rpc-error>`` elements. Nothing else
ever reaches the wire as an error.
"""

from __future__ import annotations

from copy import deepcopy
from dataclasses import dataclass, field
from typing import Iterable

from lxml import etree

from emulator.namespaces import NC_NS, qn

# RFC 6241 Appendix A: each error-tag and the error-types it may carry.
ERROR_TAG_TYPES: dict[str, frozenset[str]] = {
    "in-use": frozenset({"protocol", "application"}),
    "invalid-value": frozenset({"protocol", "application"}),
    "too-big": frozenset({"transport", "rpc", "protocol", "application"}),
    "missing-attribute": frozenset({"rpc", "protocol", "application"}),
    "bad-attribute": frozenset({"rpc", "protocol", "application"}),
    "unknown-attribute": frozenset({"rpc", "protocol", "application"}),
    "missing-element": frozenset({"protocol", "application"}),
    "bad-element": frozenset({"protocol", "application"}),
    "unknown-element": frozenset({"protocol", "application"}),
    "unknown-namespace": frozenset({"protocol", "application"}),
    "access-denied": frozenset({"protocol", "application"}),
    "lock-denied": frozenset({"protocol"}),
    "resource-denied": frozenset({"transport", "rpc", "protocol", "application"}),
    "rollback-failed": frozenset({"protocol", "application"}),
    "data-exists": frozenset({"application"}),
    "data-missing": frozenset({"application"}),
    "operation-not-supported": frozenset({"protocol", "application"}),
    "operation-failed": frozenset({"rpc", "protocol", "application"}),
    "partial-operation": frozenset({"application"}),
    "malformed-message": frozenset({"rpc"}),
}


@dataclass
class RpcError(Exception):
    """One ``<rpc-error>``.

    ``path`` is an XPath to the offending node; ``path_ns`` maps the
    prefixes it uses to namespaces, declared on ``<error-path>``.
    ``info`` holds the ``<error-info>`` children, as ``(name, text)`` pairs
    in the base namespace or ready-made elements.
    """

    tag: str
    type: str
    message: str | None = None
    severity: str = "error"
    app_tag: str | None = None
    path: str | None = None
    path_ns: dict[str, str] = field(default_factory=dict)
    info: list[tuple[str, str] | etree._Element] = field(default_factory=list)
    lang: str = "en"

    def __post_init__(self) -> None:
        allowed = ERROR_TAG_TYPES.get(self.tag)
        if allowed is None:
            raise ValueError(f"unknown error-tag {self.tag!r}")
        if self.type not in allowed:
            raise ValueError(f"error-tag {self.tag!r} cannot have error-type {self.type!r}")
        if self.severity not in ("error", "warning"):
            raise ValueError(f"unknown error-severity {self.severity!r}")
        super().__init__(self.message or self.tag)

    def to_element(self, parent: etree._Element | None = None) -> etree._Element:
        """The ``<rpc-error>``, made inside ``parent`` when given.

        Build it in place rather than appending it later: lxml drops the
        error-path's prefix declarations when an element moves between trees.
        """
        if parent is None:
            err = etree.Element(qn("rpc-error"), nsmap={None: NC_NS})
        else:
            err = etree.SubElement(parent, qn("rpc-error"))
        etree.SubElement(err, qn("error-type")).text = self.type
        etree.SubElement(err, qn("error-tag")).text = self.tag
        etree.SubElement(err, qn("error-severity")).text = self.severity
        if self.app_tag:
            etree.SubElement(err, qn("error-app-tag")).text = self.app_tag
        if self.path:
            path = etree.SubElement(err, qn("error-path"), nsmap={None: NC_NS, **self.path_ns})
            path.text = self.path
        if self.message:
            msg = etree.SubElement(err, qn("error-message"))
            msg.set("{http://www.w3.org/XML/1998/namespace}lang", self.lang)
            msg.text = self.message
        if self.info:
            info = etree.SubElement(err, qn("error-info"))
            for item in self.info:
                if isinstance(item, tuple):
                    name, text = item
                    etree.SubElement(info, qn(name)).text = text
                else:
                    # (a copy: the element may belong to a tree of the worker thread's)
                    info.append(deepcopy(item))
        return err

    # Constructors for the errors the base protocol itself raises.

    @classmethod
    def malformed(cls, message: str, *, base11: bool = True) -> "RpcError":
        # malformed-message is new in base:1.1 and MUST NOT be sent to a
        # base:1.0 session (RFC 6241 Appendix A); those get operation-failed.
        tag = "malformed-message" if base11 else "operation-failed"
        return cls(tag, "rpc", message)

    @classmethod
    def missing_element(cls, name: str, parent_path: str, message: str | None = None,
                        path_ns: dict[str, str] | None = None) -> "RpcError":
        return cls("missing-element", "protocol",
                   message or f"missing element <{name}>",
                   path=parent_path, path_ns=path_ns or {"nc": NC_NS},
                   info=[("bad-element", name)])

    @classmethod
    def invalid_value(cls, message: str, path: str,
                      path_ns: dict[str, str] | None = None) -> "RpcError":
        return cls("invalid-value", "protocol", message, path=path,
                   path_ns=path_ns or {"nc": NC_NS})


class RpcErrors(Exception):
    """Several ``<rpc-error>`` elements in one reply (e.g. continue-on-error)."""

    def __init__(self, errors: Iterable[RpcError]):
        self.errors = list(errors)
        if not self.errors:
            raise ValueError("RpcErrors needs at least one error")
        super().__init__("; ".join(str(e) for e in self.errors))
