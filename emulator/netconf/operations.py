"""The operation registry, and the operations of the base protocol itself.

An operation is a function of one :class:`Rpc` that returns the reply's
content: ``None`` for ``<ok/>``, or an element (or list of elements) such as
``<data>``. It raises :class:`~emulator.errors.RpcError` to refuse.
Adding one is a decorator::

    @BASE_OPERATIONS.operation("get-config")
    def get_config(rpc: Rpc) -> etree._Element: ...
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Union

from lxml import etree

from emulator.errors import RpcError
from emulator.namespaces import NC_NS, qn
from emulator.netconf.termination import Reason


@dataclass(frozen=True)
class Serialized:
    """Reply content that is already XML text (e.g. from a cache).

    With ``still_valid``, the whole reply may be given again to the same
    request (message-id aside) for as long as ``still_valid()`` holds.
    """

    text: str
    still_valid: Callable[[], bool] | None = None


@dataclass(frozen=True)
class Offload:
    """An operation whose heavy part is done off the event loop: ``work()`` runs
    on a worker thread and may touch only what it was given (trees of its own,
    the schema); then ``finish(value)`` runs on the loop with what ``work``
    returned and gives the reply as an operation does (``value`` is what
    ``work`` raised, when it raised). Meanwhile the session reads no more of
    its client's messages."""

    work: Callable[[], Any]
    finish: Callable[[Any], "Reply"]


Reply = Union[None, etree._Element, list, Serialized, Offload]
Handler = Callable[["Rpc"], Reply]


@dataclass
class Rpc:
    """One request as an operation sees it: the session and its device (typed
    loosely: this layer sits below both)."""

    session: Any
    device: Any
    element: etree._Element       # the <rpc>
    operation: etree._Element     # its one child
    after_reply: list[Callable[[], None]] = field(default_factory=list)

    @property
    def operation_name(self) -> str:
        return etree.QName(self.operation).localname

    def param(self, name: str, ns: str = NC_NS) -> etree._Element | None:
        tag = f"{{{ns}}}{name}"
        for child in self.operation:   # (quicker than find() for a few children)
            if child.tag == tag:
                return child
        return None

    @property
    def _op_prefix(self) -> tuple[str, str | None]:
        ns = etree.QName(self.operation).namespace
        return ("nc", None) if ns == NC_NS else ("op", ns)

    @property
    def path_ns(self) -> dict[str, str]:
        """The prefixes :meth:`path` uses: ``nc``, and ``op`` for an operation
        outside the base namespace."""
        prefix, ns = self._op_prefix
        return {"nc": NC_NS} if ns is None else {"nc": NC_NS, prefix: ns}

    def path(self, *names: str) -> str:
        """An error-path to this operation or one of its parameters."""
        prefix, _ = self._op_prefix
        op = etree.QName(self.operation).localname
        return "/".join(["/nc:rpc", *(f"{prefix}:{n}" for n in (op, *names))])


class OperationRegistry:
    """Operations by qualified name; a device consults one registry."""

    def __init__(self, parent: "OperationRegistry | None" = None):
        self._handlers: dict[str, Handler] = {}
        self._parent = parent

    def operation(self, name: str, ns: str = NC_NS) -> Callable[[Handler], Handler]:
        def register(func: Handler) -> Handler:
            self._handlers[qn(name, ns)] = func
            return func
        return register

    def get(self, tag: str) -> Handler | None:
        handler = self._handlers.get(tag)
        if handler is None and self._parent is not None:
            return self._parent.get(tag)
        return handler


BASE_OPERATIONS = OperationRegistry()


@BASE_OPERATIONS.operation("close-session")
def close_session(rpc: Rpc) -> None:
    # RFC 6241 section 7.8: reply first, then end the session.
    rpc.after_reply.append(lambda: rpc.session.end(Reason.CLOSED, "close-session"))


@BASE_OPERATIONS.operation("kill-session")
def kill_session(rpc: Rpc) -> None:
    param = rpc.param("session-id")
    if param is None:
        raise RpcError.missing_element("session-id", rpc.path(),
                                       "<kill-session> needs a <session-id>", rpc.path_ns)
    text = (param.text or "").strip()
    path = rpc.path("session-id")
    # session-id-type: uint32 from 1 (RFC 6241 appendix C); ASCII digits only.
    if not re.fullmatch(r"[0-9]{1,10}", text) or not 1 <= int(text) <= 0xFFFFFFFF:
        raise RpcError.invalid_value(f"session-id {text!r} is not a session number", path)
    target_id = int(text)
    if target_id == rpc.session.id:
        # RFC 6241 section 7.9: a session cannot kill itself.
        raise RpcError.invalid_value(
            "a session cannot kill itself; use <close-session>", path)
    if not rpc.device.kill_session(target_id, killed_by=rpc.session.id):
        raise RpcError.invalid_value(f"no session {target_id} on this device", path)
