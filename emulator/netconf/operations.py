"""The operation registry, and the operations of the base protocol itself.

An operation is a function of one :class:`Rpc` that returns the reply's
content: ``None`` for ``<ok/>``, or an element (or list of elements) such as
``<data>``. It raises :class:`~emulator.netconf.errors.RpcError` to refuse.
Adding one is a decorator::

    @BASE_OPERATIONS.operation("get-config")
    def get_config(rpc: Rpc) -> etree._Element: ...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterator, Union

from lxml import etree

from emulator.netconf.errors import RpcError
from emulator.netconf.termination import Reason
from emulator.netconf.xml import NC_NS, qn

if TYPE_CHECKING:
    from emulator.device import Device
    from emulator.netconf.session import Session

Reply = Union[None, etree._Element, list]
Handler = Callable[["Rpc"], Reply]


@dataclass
class Rpc:
    """One request as an operation sees it."""

    session: "Session"
    device: "Device"
    element: etree._Element       # the <rpc>
    operation: etree._Element     # its one child
    after_reply: list[Callable[[], None]] = field(default_factory=list)

    def param(self, name: str, ns: str = NC_NS) -> etree._Element | None:
        return self.operation.find(qn(name, ns))

    @property
    def path_ns(self) -> dict[str, str]:
        """The prefixes :meth:`path` uses: ``nc``, and ``op`` for an operation
        outside the base namespace."""
        ns = etree.QName(self.operation).namespace
        return {"nc": NC_NS} if ns == NC_NS else {"nc": NC_NS, "op": ns}

    def path(self, *names: str) -> str:
        """An error-path to this operation or one of its parameters."""
        prefix = "nc" if etree.QName(self.operation).namespace == NC_NS else "op"
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

    def names(self) -> Iterator[str]:
        yield from self._handlers
        if self._parent is not None:
            yield from self._parent.names()


BASE_OPERATIONS = OperationRegistry()


@BASE_OPERATIONS.operation("close-session")
def close_session(rpc: Rpc) -> None:
    # RFC 6241 section 7.8: reply first, then end the session.
    rpc.after_reply.append(lambda: rpc.session.terminate(Reason.CLOSED, "close-session"))


@BASE_OPERATIONS.operation("kill-session")
def kill_session(rpc: Rpc) -> None:
    param = rpc.param("session-id")
    if param is None:
        raise RpcError.missing_element("session-id", rpc.path(),
                                       "<kill-session> needs a <session-id>", rpc.path_ns)
    text = (param.text or "").strip()
    path = rpc.path("session-id")
    if not text.isdigit() or int(text) == 0:
        raise RpcError.invalid_value(f"session-id {text!r} is not a session number", path)
    target_id = int(text)
    if target_id == rpc.session.id:
        # RFC 6241 section 7.9: a session cannot kill itself.
        raise RpcError.invalid_value(
            "a session cannot kill itself; use <close-session>", path)
    if not rpc.device.kill_session(target_id, killed_by=rpc.session.id):
        raise RpcError.invalid_value(f"no session {target_id} on this device", path)
