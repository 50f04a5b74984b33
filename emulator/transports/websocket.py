"""NETCONF over WebSocket, as draft-iijima-netconf-websocket-ps-04 describes.

``ws[s]://HOST:PORT/netconf/{device}``; the client offers subprotocol
``netconf`` and the server selects it; one NETCONF message per WebSocket
message; the server's ``<hello>`` goes first. Everything NETCONF is left to
the sans-IO session: this module only moves whole messages.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from typing import Any

from tornado.iostream import StreamClosedError
from tornado.websocket import (WebSocketClosedError, WebSocketHandler, WebSocketProtocol13,
                               _WebSocketParams)

from emulator.device import Device
from emulator.fleet import Fleet
from emulator.lifecycle import Admit
from emulator.namespaces import NCWS_NS
from emulator.netconf.termination import Cause, Reason, Termination
from emulator.sessions import Connection, admission
from emulator.settings import Options, host_allowed, origin_allowed

log = logging.getLogger(__name__)

SUBPROTOCOL = "netconf"
# The transport's identity in ietf-netconf-monitoring (yang/netconf-websocket.yang).
TRANSPORT = (NCWS_NS, "netconf-websocket")

# WebSocket close codes (RFC 6455 section 7.4.1, and IANA's registry for
# 1012) for each way a session ends: first by the server's cause, then by
# RFC 6470's reason.
CAUSE_CODES = {
    Cause.SHUTDOWN: 1001,       # going away
    Cause.RESET: 1012,          # service restart: reconnect, the device is back
    Cause.REBOOT: 1012,         # service restart: reconnect once it is up again
    Cause.TOO_BIG: 1009,        # message too big
    Cause.OVERFLOW: 1008,       # policy violation: notifications were not read
}
TRY_AGAIN_LATER = 1013    # a device that stopped taking connections during the handshake
CLOSE_CODES = {
    Reason.CLOSED: 1000,
    Reason.KILLED: 1000,
    Reason.DROPPED: 1001,
    Reason.TIMEOUT: 1002,
    Reason.BAD_HELLO: 1002,
    Reason.OTHER: 1001,
}

# After refusing an oversized message, how long to read and discard the
# rest of it so that the client sees our close frame rather than a reset.
# (Real time: it protects the socket, it is no part of the device model.)
DRAIN_IDLE_SECONDS = 1.0
DRAIN_MAX_SECONDS = 30.0


def close_code(termination: Termination) -> int:
    return CAUSE_CODES.get(termination.cause) or CLOSE_CODES[termination.reason]


def close_reason(text: str) -> str:
    """A close frame's reason holds at most 123 bytes of UTF-8."""
    data = text.encode("utf-8")
    if len(data) <= 123:
        return text
    return data[:120].decode("utf-8", "ignore") + "..."


class NetconfWebSocket(WebSocketHandler):
    """One WebSocket connection carrying one NETCONF session: frames in and out;
    the session's policy is the sessions layer's (emulator.sessions)."""

    def initialize(self, fleet: Fleet, options: Options) -> None:
        self.fleet = fleet
        self.options = options
        self.connection: Connection | None = None
        self._user = ""
        self._protocol: _NetconfProtocol | None = None
        self._device: Device | None = None

    # -- the opening handshake -------------------------------------------

    async def get(self, device_name: str) -> None:
        if not host_allowed(self.options, self.request.host):
            return self._refuse(403, f"this server is not served as {self.request.host!r} "
                                     "(name it with --allow-host)")
        device = self.fleet.get(device_name)
        if device is None:
            return self._refuse(404, f"no device named {device_name!r} in this fleet")
        if not origin_allowed(self.options, self.request.headers.get("Origin"), self.request.host):
            return self._refuse(403, f"origin {self.request.headers['Origin']!r} may not open "
                                     "NETCONF sessions here (allow it with --allow-origin)")
        offered = [p.strip() for p in self.request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
        if SUBPROTOCOL not in offered:
            return self._refuse(400, f"offer WebSocket subprotocol {SUBPROTOCOL!r} "
                                     "(Sec-WebSocket-Protocol: netconf) to speak NETCONF")
        admit = admission(device)
        if admit is Admit.REFUSE:
            self.set_header("Retry-After", "1")
            return self._refuse(503, device.refusal())
        if admit is Admit.IGNORE:
            # gone from the network: no answer at all
            self.request.connection.stream.close()
            self._finished = True
            return
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

    def check_origin(self, origin: str) -> bool:
        # Tornado calls this too (after get() has already checked); it must
        # give the same answer on every Tornado version, same origin included.
        return origin_allowed(self.options, origin, self.request.host)

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

    # -- frames in ---------------------------------------------------------

    def open(self, device_name: str) -> None:
        assert self._device is not None  # found in get()
        admit = admission(self._device)   # (again: the device may have changed meanwhile)
        if admit is Admit.IGNORE:
            return self.abort()
        if admit is Admit.REFUSE:
            return self.close(TRY_AGAIN_LATER, close_reason(self._device.refusal()))
        # Replies are small and awaited: send each at once (no Nagle delay).
        self.set_nodelay(True)
        self.connection = Connection(self.fleet.runtime, self._device, _Wire(self),
                                     username=self._user,
                                     source_host=self.request.remote_ip, transport=TRANSPORT)
        self.connection.open()

    def _username(self) -> str:
        """RFC 7589's cert-to-name in spirit: SAN (email, DNS, IP), then CN."""
        cert = self.request.get_ssl_certificate() if self.options.tls_client_ca else None
        if not cert:
            return self.options.username
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
        return self.options.username

    async def on_message(self, message: str | bytes) -> None:
        # (Tornado reads the next frame only once this returns: one message per
        # turn of the loop for each connection, and none from a client that
        # leaves its replies unread)
        if self.connection is not None:
            self.connection.receive(message)
            await self.connection.ready_for_more()

    def on_message_too_big(self) -> None:
        if self.connection is not None:
            self.connection.too_big(self.max_message_size)

    def on_close(self) -> None:
        if self.connection is not None:
            self.connection.lost()

    def abort(self) -> None:
        """Hang up without waiting for the client's close frame."""
        if self._protocol is not None:
            self._protocol._abort()


class _Wire:
    """Frames out: what the session's Connection writes to."""

    __slots__ = ("handler",)

    def __init__(self, handler: NetconfWebSocket):
        self.handler = handler

    def write(self, text: str) -> Any:
        protocol = self.handler.ws_connection
        if protocol is None or protocol.is_closing():
            return None
        try:
            return protocol.send_text(text)
        except (WebSocketClosedError, StreamClosedError):
            return None

    def close(self, termination: Termination) -> None:
        if self.handler.ws_connection is not None:
            self.handler.close(close_code(termination),
                               close_reason(termination.detail or termination.reason.value))

    def abort(self) -> None:
        self.handler.abort()


MESSAGE_TOO_BIG = 1009    # what Tornado closes with when a frame announces too much
PROTOCOL_ERROR = 1002
INVALID_DATA = 1007


def _valid_close_code(code: int) -> bool:
    """A code a peer may put in its close frame (RFC 6455 7.4.1 and 7.4.2, with
    IANA's 1012-1014); 1005, 1006 and 1015 are never sent, 1004 is reserved."""
    return code in (1000, 1001, 1002, 1003) or 1007 <= code <= 1014 or 3000 <= code <= 4999


class _NetconfProtocol(WebSocketProtocol13):
    """Tornado's protocol, plus RFC 6455 as written, and a polite refusal of
    oversized messages.

    Tornado drops the TCP connection on a protocol violation, echoes any close
    code, and accepts unmasked client frames; RFC 6455 asks for a close frame
    first (1002, or 1007 for a text message that is not UTF-8; section 7.1.7),
    for masked client frames (5.1) and for valid close codes only (7.4). Each
    frame's header is checked here before Tornado reads the rest of it.

    Tornado also drops the connection as soon as a frame header announces too
    many bytes; we first tell the NETCONF client why (an ``<rpc-error>``
    with ``too-big``), send the close frame, and read and discard the rest
    of the message so that the client reads our close frame, not a reset.
    """

    _header_next = False
    _failing = False

    _oversize = False
    _draining = False

    def send_text(self, text: str) -> Any:
        """One text frame, written now; the future resolves once it is flushed.
        (Tornado's write_message wraps every message in a task; a frame is enough.)"""
        if self._compressor is not None:
            return self.write_message(text)
        return self._write_frame(True, 0x1, text.encode("utf-8"))
    _drains: set[asyncio.Task] = set()   # keeps the drain tasks alive until done

    # -- RFC 6455, section by section --------------------------------------------

    async def _receive_frame(self) -> None:
        self._header_next = True
        await super()._receive_frame()

    async def _read_bytes(self, n: int) -> bytes:
        data = await super()._read_bytes(n)
        if self._header_next:           # the first two bytes of a frame
            self._header_next = False
            problem = self._header_problem(data)
            if problem:
                self._fail(PROTOCOL_ERROR, problem)
                raise StreamClosedError()   # (ends Tornado's frame loop)
        return data

    def _header_problem(self, header: bytes) -> str | None:
        first, second = header[0], header[1]
        opcode = first & 0x0F
        if not second & 0x80:
            return "a client's frames must be masked"                    # 5.1
        if first & 0x70:
            return "reserved bits set, and no extension was agreed"     # 5.2
        if opcode not in (0x0, 0x1, 0x2, 0x8, 0x9, 0xA):
            return f"unknown opcode {opcode:#x}"                         # 5.2
        if opcode & 0x8:
            if not first & 0x80:
                return "a control frame must not be fragmented"          # 5.5
            if second & 0x7F > 125:
                return "a control frame carries at most 125 bytes"       # 5.5
        elif opcode == 0x0 and self._fragmented_message_buffer is None:
            return "a continuation frame with no message to continue"   # 5.4
        elif opcode != 0x0 and self._fragmented_message_buffer is not None:
            return "a new message before the fragmented one ended"      # 5.4
        return None

    def _handle_message(self, opcode: int, data: bytes) -> Any:
        if self._failing:
            return None
        if opcode == 0x1:
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                return self._fail(INVALID_DATA, "a text message must be UTF-8")   # 8.1
        elif opcode == 0x8 and data:
            if len(data) == 1:
                return self._fail(PROTOCOL_ERROR, "a close frame's code has two bytes")  # 5.5.1
            code = struct.unpack(">H", data[:2])[0]
            if not _valid_close_code(code):
                return self._fail(PROTOCOL_ERROR, f"close code {code} may not be sent")  # 7.4
            try:
                data[2:].decode("utf-8")
            except UnicodeDecodeError:
                return self._fail(INVALID_DATA, "a close reason must be UTF-8")          # 5.5.1
        return super()._handle_message(opcode, data)

    def _fail(self, code: int, reason: str) -> None:
        """_Fail the WebSocket Connection_ (7.1.7): a close frame that says why,
        then the TCP connection closes, without waiting for the client's close."""
        if self._failing:
            return
        self._failing = True
        self.client_terminated = True          # read no more frames
        self._stop_pinging()
        stream = self.stream
        if self.server_terminated or stream is None or stream.closed():
            if stream is not None:
                stream.close()
            return
        self.server_terminated = True
        try:
            flushed = self._write_frame(True, 0x8, struct.pack(">H", code) + reason.encode())
        except StreamClosedError:
            return
        flushed.add_done_callback(lambda _: stream.close())
        # (a client that reads nothing would never let it flush: real time, wire housekeeping)
        asyncio.get_running_loop().call_later(DRAIN_IDLE_SECONDS, stream.close)

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        if code == MESSAGE_TOO_BIG and not self._oversize and not self.server_terminated:
            self._oversize = True
            handler = self.handler
            handler.on_message_too_big()  # ends the session, which closes us with 1009
        super().close(code, reason)

    def _abort(self) -> None:
        if self._failing and self.stream is not None and not self.stream.closed():
            return                     # the close frame is on its way; then the stream closes
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
            self._stop_pinging()

    def _stop_pinging(self) -> None:
        # (Tornado stops its pings in close(); these ways out do not pass there)
        if self._ping_coroutine is not None:
            self._ping_coroutine.cancel()
            self._ping_coroutine = None
