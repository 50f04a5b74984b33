"""NETCONF over WebSocket, as draft-iijima-netconf-websocket-ps-04 describes.

``ws[s]://HOST:PORT/netconf/{device}``; the client offers subprotocol
``netconf`` and the server selects it; one NETCONF message per WebSocket
message; the server's ``<hello>`` goes first. Everything NETCONF is left to
the sans-IO session: this module only moves whole messages.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from ipaddress import ip_address
from typing import TYPE_CHECKING, Any

from tornado.iostream import StreamClosedError
from tornado.websocket import (WebSocketClosedError, WebSocketHandler, WebSocketProtocol13,
                               _WebSocketParams)

from emulator.netconf.errors import RpcError
from emulator.netconf.session import Session, State
from emulator.netconf.termination import Reason, Termination

if TYPE_CHECKING:
    from emulator.device import Device
    from emulator.server import Emulator

log = logging.getLogger(__name__)

SUBPROTOCOL = "netconf"

# WebSocket close codes (RFC 6455 section 7.4.1) for each way a session ends.
CLOSE_CODES = {
    Reason.CLOSED: 1000,
    Reason.KILLED: 1000,
    Reason.DROPPED: 1001,
    Reason.TIMEOUT: 1002,
    Reason.BAD_HELLO: 1002,
    Reason.OTHER: 1001,
}
MESSAGE_TOO_BIG = 1009

# After refusing an oversized message, how long to read and discard the
# rest of it so that the client sees our close frame rather than a reset.
DRAIN_IDLE_SECONDS = 1.0
DRAIN_MAX_SECONDS = 30.0


def close_reason(text: str) -> str:
    """A close frame's reason holds at most 123 bytes of UTF-8."""
    data = text.encode("utf-8")
    if len(data) <= 123:
        return text
    return data[:120].decode("utf-8", "ignore") + "..."


class NetconfWebSocket(WebSocketHandler):
    """One WebSocket connection carrying one NETCONF session."""

    def initialize(self, emulator: "Emulator") -> None:
        self.emulator = emulator
        self.session: Session | None = None
        self._hello_timer: Any = None
        self._too_big = False
        self._user = ""
        self._protocol: _NetconfProtocol | None = None
        self._device: Device | None = None
        self.unread = 0   # notifications written but not yet taken by the client's socket

    # -- the opening handshake -------------------------------------------

    async def get(self, device_name: str) -> None:
        if not self.emulator.host_allowed(self.request.host):
            return self._refuse(403, f"this server is not served as {self.request.host!r} "
                                     "(name it with --allow-host)")
        device = self.emulator.fleet.get(device_name)
        if device is None:
            return self._refuse(404, f"no device named {device_name!r} in this fleet")
        refusal = self._origin_refusal()
        if refusal:
            return self._refuse(403, refusal)
        offered = [p.strip() for p in self.request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
        if SUBPROTOCOL not in offered:
            return self._refuse(400, f"offer WebSocket subprotocol {SUBPROTOCOL!r} "
                                     "(Sec-WebSocket-Protocol: netconf) to speak NETCONF")
        # draft-iijima-netconf-websocket-ps-04 section 4 (after RFC 4743 2.4).
        self.set_header("Cache-Control", "no-cache")
        self.set_header("Pragma", "no-cache")
        self._device = device
        self._user = self._username()  # the TLS socket is gone once upgraded
        await super().get(device_name)

    def _refuse(self, status: int, message: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        self.finish(message + "\n")

    def _origin_refusal(self) -> str | None:
        """Cross-site WebSocket hijacking guard: same origin, loopback, or allowed."""
        origin = self.request.headers.get("Origin")
        if origin is None or self.check_origin(origin):
            return None  # no Origin: not a browser
        return (f"origin {origin!r} may not open NETCONF sessions here "
                "(allow it with --allow-origin)")

    def check_origin(self, origin: str) -> bool:
        # Tornado calls this too (after get() has already checked); it must
        # give the same answer on every Tornado version, same origin included.
        netloc = urllib.parse.urlsplit(origin).netloc.lower()
        if netloc and netloc == self.request.host.lower():
            return True
        allowed = self.emulator.options.allow_origins
        if "*" in allowed or origin.rstrip("/") in allowed:
            return True
        host = urllib.parse.urlsplit(origin).hostname or ""
        if host == "localhost":
            return True
        try:
            return ip_address(host).is_loopback
        except ValueError:
            return False

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        return SUBPROTOCOL

    def get_websocket_protocol(self) -> WebSocketProtocol13 | None:
        if self.request.headers.get("Sec-WebSocket-Version") != "13":
            return None
        params = _WebSocketParams(ping_interval=self.ping_interval,
                                  ping_timeout=self.ping_timeout,
                                  max_message_size=self.max_message_size,
                                  compression_options=self.get_compression_options())
        self._protocol = _NetconfProtocol(self, False, params)
        return self._protocol

    # -- the session ------------------------------------------------------

    def open(self, device_name: str) -> None:
        assert self._device is not None  # found in get()
        self.emulator.connections.add(self)
        # Replies are small and awaited: send each at once (no Nagle delay).
        self.set_nodelay(True)
        self.session = self._device.open_session(self, self._user, self.request.remote_ip)
        self.session.start()
        timeout = self.emulator.options.hello_timeout
        if timeout and not self.session.closed:
            self._hello_timer = asyncio.get_running_loop().call_later(timeout, self._hello_timed_out)

    def _username(self) -> str:
        """RFC 7589's cert-to-name in spirit: SAN (email, DNS, IP), then CN."""
        cert = self.request.get_ssl_certificate() if self.emulator.options.tls_client_ca else None
        if not cert:
            return self.emulator.options.username
        sans = dict()
        for kind, value in cert.get("subjectAltName", ()):
            sans.setdefault(kind, value)
        for kind in ("email", "DNS", "IP Address"):
            if kind in sans:
                return sans[kind]
        for rdn in cert.get("subject", ()):
            for key, value in rdn:
                if key == "commonName":
                    return value
        return self.emulator.options.username

    def _hello_timed_out(self) -> None:
        if self.session and self.session.state is State.AWAIT_HELLO:
            timeout = self.emulator.options.hello_timeout
            self.session.terminate(Reason.TIMEOUT, f"no <hello> within {timeout:g} s")

    def on_message(self, message: str | bytes) -> None:
        if self.session is None:
            return
        self.session.receive(message)
        if self._hello_timer is not None and self.session.state is not State.AWAIT_HELLO:
            self._hello_timer.cancel()
            self._hello_timer = None

    def on_message_too_big(self) -> None:
        session = self.session
        if session is None or session.closed:
            return
        self._too_big = True
        limit = self.max_message_size
        if session.state is State.OPEN:
            session.send_error_without_rpc(RpcError(
                "too-big", "transport",
                f"a message may hold at most {limit} bytes (--max-message-size)"))
        session.terminate(Reason.OTHER, "message too big")

    def on_close(self) -> None:
        self.emulator.connections.discard(self)
        if self._hello_timer is not None:
            self._hello_timer.cancel()
        if self.session is not None:
            self.session.terminate(Reason.DROPPED, "connection closed")

    def abort(self) -> None:
        """Hang up without waiting for the client's close frame."""
        if self._protocol is not None:
            self._protocol._abort()
        self.emulator.connections.discard(self)

    # -- the Transport the session talks to ------------------------------

    def send(self, text: str) -> None:
        protocol = self.ws_connection
        if protocol is None or protocol.is_closing():
            return
        try:
            protocol.send_text(text)
        except (WebSocketClosedError, StreamClosedError):
            pass

    def send_notification(self, text: str) -> bool:
        """Write a notification unless the client already has too many unread ones."""
        protocol = self.ws_connection
        if protocol is None or protocol.is_closing():
            return True
        if self.unread >= self.emulator.options.notification_queue:
            return False
        try:
            future = protocol.send_text(text)
        except (WebSocketClosedError, StreamClosedError):
            return True
        if future is not None and not future.done():
            self.unread += 1
            future.add_done_callback(self._written)
        return True

    def _written(self, future: Any) -> None:
        self.unread -= 1

    def disconnect(self, termination: Termination) -> None:
        code = MESSAGE_TOO_BIG if self._too_big else CLOSE_CODES[termination.reason]
        if self.ws_connection is not None:
            self.close(code, close_reason(termination.detail or termination.reason.value))


class _NetconfProtocol(WebSocketProtocol13):
    """Tornado's protocol, plus a polite refusal of oversized messages.

    Tornado drops the connection as soon as a frame header announces too
    many bytes; we first tell the NETCONF client why (an ``<rpc-error>``
    with ``too-big``), send the close frame, and read and discard the rest
    of the message so that the client reads our close frame, not a reset.
    """

    _oversize = False
    _draining = False

    def send_text(self, text: str) -> Any:
        """One text frame, written now; the future resolves once it is flushed.
        (Tornado's write_message wraps every message in a task; a frame is enough.)"""
        if self._compressor is not None:
            return self.write_message(text)
        return self._write_frame(True, 0x1, text.encode("utf-8"))
    _drains: set[asyncio.Task] = set()   # keeps the drain tasks alive until done

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        if code == MESSAGE_TOO_BIG and not self._oversize and not self.server_terminated:
            self._oversize = True
            handler = self.handler
            handler.on_message_too_big()  # ends the session, which closes us with 1009
        super().close(code, reason)

    def _abort(self) -> None:
        if self._oversize and self.stream is not None and not self.stream.closed():
            if not self._draining:
                self._draining = True
                self.client_terminated = True  # stops the frame loop
                task = asyncio.ensure_future(self._drain())
                self._drains.add(task)
                task.add_done_callback(self._drains.discard)
            return
        super()._abort()

    async def _drain(self) -> None:
        stream = self.stream
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DRAIN_MAX_SECONDS
        try:
            await stream.write(b"")  # the error and the close frame are out
            while loop.time() < deadline:
                idle = loop.call_later(DRAIN_IDLE_SECONDS, stream.close)
                try:
                    await stream.read_bytes(65536, partial=True)
                finally:
                    idle.cancel()
        except StreamClosedError:
            pass
        finally:
            stream.close()
