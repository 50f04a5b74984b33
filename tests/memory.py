"""The sessions layer without a socket: a Wire that keeps what it is given."""

from __future__ import annotations

from typing import Any, Callable

from lxml import etree

from emulator.netconf.termination import Termination
from emulator.sessions import Connection
from emulator.transports.websocket import TRANSPORT
from tests.client import BASE11, NC, hello

NCE = "urn:ietf:params:xml:ns:netconf:notification:1.0"


class Unflushed:
    """A write the client has not taken yet (its socket is full)."""

    def __init__(self) -> None:
        self.callbacks: list[Callable[[Any], None]] = []

    def done(self) -> bool:
        return False

    def add_done_callback(self, callback: Callable[[Any], None]) -> None:
        self.callbacks.append(callback)


class MemoryWire:
    """``room``: how many messages the client takes before it stops reading."""

    def __init__(self, room: int = 10**9):
        self.sent: list[str] = []
        self.room = room
        self.closed: Termination | None = None
        self.aborted = False

    def write(self, text: str) -> Any:
        self.sent.append(text)
        if self.room <= 0:
            return Unflushed()
        self.room -= 1
        return None

    def close(self, termination: Termination) -> None:
        self.closed = termination

    def abort(self) -> None:
        self.aborted = True

    def last(self) -> etree._Element:
        return etree.fromstring(self.sent[-1].encode())

    def notes(self) -> list[str]:
        """The local names of the events notified so far."""
        return [etree.QName(etree.fromstring(t)[1]).localname for t in self.sent
                if t.startswith("<notification")]


def connect(device, wire: MemoryWire | None = None, *, send_hello: bool = True,
            username: str = "u") -> tuple[Connection, MemoryWire]:
    wire = wire or MemoryWire()
    connection = Connection(device.runtime, device, wire, username=username,
                            source_host="127.0.0.1", transport=TRANSPORT)
    connection.open()
    if send_hello:
        connection.receive(hello(BASE11))
    return connection, wire


def subscribe(connection: Connection, wire: MemoryWire, body: str = "") -> None:
    connection.receive(f'<rpc message-id="1" xmlns="{NC}"><create-subscription xmlns="{NCE}">'
                       f"{body}</create-subscription></rpc>")
    assert any(t.startswith("<rpc-reply") and "<ok/>" in t for t in wire.sent), wire.sent[-1:]
