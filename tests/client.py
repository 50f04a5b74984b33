"""A small NETCONF-over-WebSocket client for the tests, on the `websockets` library."""

from __future__ import annotations

import itertools
from typing import Any

from lxml import etree
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
NS = {"nc": NC}
BASE10 = "urn:ietf:params:netconf:base:1.0"
BASE11 = "urn:ietf:params:netconf:base:1.1"


SYS = "urn:ietf:params:xml:ns:yang:ietf-system"


def hostname_edit(name: str, target: str = "running") -> str:
    """An <edit-config> that sets the system's hostname: the smallest real change."""
    return (f"<edit-config><target><{target}/></target><config><system xmlns='{SYS}'>"
            f"<hostname>{name}</hostname></system></config></edit-config>")


def hostname(client: "NetconfClient", source: str = "running") -> str:
    reply = client.rpc(f"<get-config><source><{source}/></source><filter type='subtree'>"
                       f"<system xmlns='{SYS}'><hostname/></system></filter></get-config>")
    return reply.findtext(f".//{{{SYS}}}hostname")


def hello(*caps: str) -> str:
    items = "".join(f"<capability>{c}</capability>" for c in caps)
    return f'<hello xmlns="{NC}"><capabilities>{items}</capabilities></hello>'


def rpc_errors(reply: etree._Element) -> list[dict[str, Any]]:
    """Every <rpc-error> of a reply as a dict of its fields."""
    found = []
    for err in reply.iterfind("nc:rpc-error", NS):
        fields: dict[str, Any] = {}
        for child in err:
            name = etree.QName(child).localname
            if name == "error-info":
                fields["info"] = {etree.QName(i).localname: i.text for i in child}
            elif name == "error-path":
                fields["path"] = child.text
                fields["path_ns"] = dict(child.nsmap)
            else:
                fields[name.removeprefix("error-")] = child.text
        found.append(fields)
    return found


class NetconfClient:
    def __init__(self, ws: ClientConnection):
        self.ws = ws
        self._ids = itertools.count(101)
        self.server_hello: etree._Element | None = None
        self.session_id: int | None = None

    @classmethod
    def connect(cls, url: str, *, subprotocols: tuple[str, ...] = ("netconf",),
                send_hello: bool = True, caps: tuple[str, ...] = (BASE10, BASE11),
                **kwargs: Any) -> "NetconfClient":
        ws = connect(url, subprotocols=list(subprotocols) or None, open_timeout=10,
                     close_timeout=5, max_size=None, **kwargs)
        ws.__enter__()  # what `with connect(...)` does; the client closes it itself
        client = cls(ws)
        client.server_hello = client.recv_xml()
        client.session_id = int(client.server_hello.findtext("nc:session-id", namespaces=NS))
        if send_hello:
            client.send(hello(*caps))
        return client

    def send(self, text: str | bytes) -> None:
        self.ws.send(text)

    def recv(self, timeout: float = 10) -> str:
        message = self.ws.recv(timeout)
        return message.decode() if isinstance(message, bytes) else message

    def recv_xml(self, timeout: float = 10) -> etree._Element:
        return etree.fromstring(self.recv(timeout).encode())

    def rpc(self, operation: str, message_id: str | None = None, attrs: str = "") -> etree._Element:
        """Send one <rpc> around ``operation`` and return the reply."""
        message_id = message_id or str(next(self._ids))
        self.send(f'<rpc message-id="{message_id}" xmlns="{NC}" {attrs}>{operation}</rpc>')
        return self.recv_xml()

    def wait_closed(self, timeout: float = 10) -> tuple[int | None, str | None]:
        """Read until the server closes; return its close code and reason."""
        try:
            while True:
                self.ws.recv(timeout)
        except ConnectionClosed as closed:
            if closed.rcvd is None:
                return None, None
            return closed.rcvd.code, closed.rcvd.reason

    def close(self) -> None:
        self.ws.close()

    def __enter__(self) -> "NetconfClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
