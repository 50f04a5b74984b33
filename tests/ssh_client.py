"""A raw NETCONF-over-SSH client for the tests, on paramiko: bytes as given,
so that framing can be tested exactly, and RFC 6242 framing to read replies."""

from __future__ import annotations

import socket
import time

import paramiko
from lxml import etree

from emulator.transports.framing import Framer, Framing, frame
from tests.client import BASE10, BASE11, NC, NS, hello

USER = "netconf"
PASSWORD = "netconf"
TIMEOUT = 10


class RawSsh:
    """One SSH connection with one netconf-subsystem channel."""

    def __init__(self, port: int, *, username: str = USER, password: str | None = PASSWORD,
                 key: paramiko.PKey | None = None, subsystem: str | None = "netconf",
                 window_size: int | None = None):
        sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.transport = paramiko.Transport(sock)
        self.transport.banner_timeout = TIMEOUT
        self.transport.start_client(timeout=TIMEOUT)
        try:
            if key is not None:
                self.transport.auth_publickey(username, key)
            else:
                self.transport.auth_password(username, password or "")
            self.channel = self.transport.open_session(window_size=window_size, timeout=TIMEOUT)
            self.channel.settimeout(TIMEOUT)
            if subsystem is not None:
                self.channel.invoke_subsystem(subsystem)
        except BaseException:
            self.transport.close()
            raise
        self.framer = Framer(1 << 30)
        self.server_hello: etree._Element | None = None
        self.session_id: int | None = None

    def start(self, *caps: str) -> "RawSsh":
        """Read the server's hello and send ours (end-of-message framed)."""
        self.server_hello = self.recv_xml()
        self.session_id = int(self.server_hello.findtext("nc:session-id", namespaces=NS))
        caps = caps or (BASE10, BASE11)
        self.send(hello(*caps).encode() + b"]]>]]>")
        if BASE11 in caps:
            self.framer.use_chunks()
        return self

    @property
    def chunked(self) -> bool:
        return self.framer.framing is Framing.CHUNKED

    def send(self, data: bytes) -> None:
        self.channel.sendall(data)

    def rpc(self, operation: str, message_id: str = "1") -> etree._Element:
        text = f'<rpc message-id="{message_id}" xmlns="{NC}">{operation}</rpc>'.encode()
        self.send(frame(text, self.framer.framing))
        return self.recv_xml()

    def recv(self) -> bytes:
        deadline = time.monotonic() + TIMEOUT
        while (message := self.framer.next_message()) is None:
            if time.monotonic() > deadline:
                raise TimeoutError("no whole message")
            data = self.channel.recv(65536)
            if not data:
                raise EOFError("the server closed the channel")
            self.framer.feed(data)
        return message

    def recv_xml(self) -> etree._Element:
        return etree.fromstring(self.recv())

    def wait_closed(self) -> tuple[bytes, str]:
        """Read to the channel's end: what came (unframed) and the stderr text."""
        data = b""
        while chunk := self.channel.recv(65536):
            data += chunk
        stderr = b""
        while self.channel.recv_stderr_ready():
            stderr += self.channel.recv_stderr(65536)
        return data, stderr.decode()

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> "RawSsh":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
