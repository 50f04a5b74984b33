"""RFC 6455 as written, frame by frame, with raw bytes on a real socket."""

from __future__ import annotations

import os
import socket
import struct

import pytest

from tests.client import NC

HELLO = (f'<hello xmlns="{NC}"><capabilities><capability>urn:ietf:params:netconf:base:1.1'
         "</capability></capabilities></hello>")


def frame(opcode: int, payload: bytes = b"", *, fin: bool = True, masked: bool = True,
          rsv: int = 0) -> bytes:
    """A client frame; ``payload`` is masked with a random key unless told not to."""
    first = (0x80 if fin else 0) | rsv << 4 | opcode
    length = len(payload)
    if length < 126:
        header = bytes([first, (0x80 if masked else 0) | length])
    elif length < 65536:
        header = bytes([first, (0x80 if masked else 0) | 126]) + struct.pack(">H", length)
    else:
        header = bytes([first, (0x80 if masked else 0) | 127]) + struct.pack(">Q", length)
    if not masked:
        return header + payload
    mask = os.urandom(4)
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class RawClient:
    """``window``: the socket's receive buffer, set before it connects (set after
    the handshake, a small one leaves a window that takes minutes to read megabytes
    through; left alone, it grows to 32 MiB)."""

    def __init__(self, port: int, device: str = "core-1", window: int | None = None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if window is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, window)
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", port))
        self.sock.sendall((f"GET /netconf/{device} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                           "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: netconf\r\n\r\n")
                          .encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self._more()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head
        opcode, hello = self.next_frame()
        assert opcode == 0x1 and b"<hello" in hello

    def _more(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError
        self.buffer += chunk

    def _take(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self._more()
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def next_frame(self) -> tuple[int, bytes]:
        first, second = self._take(2)
        assert not second & 0x80, "a server's frames are never masked"
        length = second & 0x7F
        if length == 126:
            length = struct.unpack(">H", self._take(2))[0]
        elif length == 127:
            length = struct.unpack(">Q", self._take(8))[0]
        return first & 0x0F, self._take(length)

    def closing(self) -> tuple[int | None, str]:
        """Read to the server's close frame; its code and reason. Then the
        server must close the TCP connection."""
        while True:
            opcode, payload = self.next_frame()
            if opcode == 0x8:
                break
        code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else None
        self.sock.settimeout(10)
        with pytest.raises(EOFError):
            self._more()
        return code, payload[2:].decode()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw(server):
    clients = []

    def connect() -> RawClient:
        client = RawClient(server.port)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()


@pytest.mark.parametrize("data, code, why", [
    (frame(0x1, HELLO.encode(), masked=False), 1002, "masked"),
    (frame(0x1, HELLO.encode(), rsv=0b100), 1002, "reserved bits"),
    (frame(0x1, HELLO.encode(), rsv=0b001), 1002, "reserved bits"),
    (frame(0x3, b"x"), 1002, "unknown opcode"),
    (frame(0xB, b""), 1002, "unknown opcode"),
    (frame(0x9, b"ping", fin=False), 1002, "fragmented"),
    (frame(0x9, b"p" * 126), 1002, "125 bytes"),
    (frame(0x0, b"orphan"), 1002, "continuation"),
    (frame(0x1, b"<rpc", fin=False) + frame(0x1, b"/>"), 1002, "fragmented one ended"),
    (frame(0x1, b"<hello>\xff\xfe</hello>"), 1007, "UTF-8"),
    (frame(0x1, b"\xce", fin=False) + frame(0x0, b"\xff"), 1007, "UTF-8"),
    (frame(0x8, b"\x03"), 1002, "two bytes"),
    (frame(0x8, struct.pack(">H", 1000) + b"\xff"), 1007, "UTF-8"),
])
def test_a_protocol_violation_gets_a_close_frame_that_says_why(raw, data, code, why):
    client = raw()
    client.send(data)
    got, reason = client.closing()
    assert got == code and why in reason


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000])
def test_an_invalid_close_code_is_a_protocol_error_not_echoed(raw, code):
    client = raw()
    client.send(frame(0x8, struct.pack(">H", code)))
    assert client.closing() == (1002, f"close code {code} may not be sent")


@pytest.mark.parametrize("code", [1000, 1001, 1003, 1007, 1011, 1012, 3000, 4999])
def test_a_valid_close_code_is_echoed(raw, code):
    client = raw()
    client.send(frame(0x8, struct.pack(">H", code) + b"bye"))
    assert client.closing()[0] == code


def test_an_empty_close_is_answered_with_an_empty_close(raw):
    client = raw()
    client.send(frame(0x8))
    assert client.closing() == (None, "")


def test_fragments_with_a_ping_between_them_make_one_message(raw):
    client = raw()
    client.send(frame(0x1, HELLO[:40].encode(), fin=False) + frame(0x9, b"hi")
                + frame(0x0, HELLO[40:].encode()))
    assert client.next_frame() == (0xA, b"hi")
    client.send(frame(0x1, f'<rpc message-id="7" xmlns="{NC}"><get-config><source>'
                           "<running/></source></get-config></rpc>".encode()))
    opcode, reply = client.next_frame()
    assert opcode == 0x1 and b'message-id="7"' in reply and b"<data" in reply


def test_other_sessions_never_notice_a_violation(server, raw):
    with server.connect() as bystander:
        client = raw()
        client.send(frame(0x1, b"x", masked=False))
        assert client.closing()[0] == 1002
        reply = bystander.rpc("<get-config><source><running/></source></get-config>")
        assert reply.find(f"{{{NC}}}data") is not None


# -- what a message may be --------------------------------------------------------------

@pytest.mark.parametrize("text", [
    f'<rpc message-id="1" xmlns="{NC}"><get-config><source><running/></source></get-config></rpc>',
    f'<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE rpc [<!ENTITY x "y">]>'
    f'<rpc message-id="1" xmlns="{NC}"><get-config><source><running/></source></get-config></rpc>',
])
def test_a_utf16_message_is_malformed_even_with_a_bom(raw, text):
    client = raw()
    client.send(frame(0x1, HELLO.encode()))
    client.send(frame(0x2, "\ufeff".encode("utf-16-le") + text.encode("utf-16-le")))
    opcode, reply = client.next_frame()
    assert b"<rpc-error>" in reply and b"malformed-message" in reply and b"UTF-8" in reply
    assert b"<data" not in reply


def test_a_message_of_exactly_the_limit_then_a_small_one_in_one_write(make_server):
    limit = 65536
    running = make_server(max_message_size=limit)
    client = RawClient(running.port)
    try:
        client.send(frame(0x1, HELLO.encode()))
        prefix = f'<rpc message-id="big" xmlns="{NC}"><get-config><source><running/></source>'
        filler = "<!--" + "x" * (limit - len(prefix) - len("--></get-config></rpc>") - 4) + "-->"
        big = (prefix + filler + "</get-config></rpc>").encode()
        assert len(big) == limit
        small = f'<rpc message-id="small" xmlns="{NC}"><get-config><source><running/>' \
                "</source></get-config></rpc>"
        client.send(frame(0x1, big) + frame(0x1, small.encode()))
        replies = [client.next_frame()[1] for _ in range(2)]
        assert b'message-id="big"' in replies[0] and b'message-id="small"' in replies[1]
    finally:
        client.close()


# -- bounded memory, sessions in turn -------------------------------------------------------

def test_a_client_that_does_not_read_its_replies_is_not_read_either(make_server, monkeypatch):
    from emulator import sessions
    monkeypatch.setattr(sessions, "REPLY_BACKLOG", 256 * 1024)
    monkeypatch.setattr(sessions, "REPLY_STALL_SECONDS", 0.5)   # (real time: the wire's)
    running = make_server()
    client = RawClient(running.port, "core-1")
    client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client.send(frame(0x1, HELLO.encode()))
    request = f'<rpc message-id="g" xmlns="{NC}"><get/></rpc>'.encode()
    client.send(frame(0x1, request) * 400)          # and never reads a reply
    device = running.fleet.get("core-1")

    def paused() -> tuple[bool, int, int]:
        [connection] = [c for c in running.runtime.connections if c.device is device]
        replies = sum(1 for e in device.journal(limit=10_000) if e.direction == "out")
        return connection._caught_up is not None, connection.unflushed, replies

    import time

    # (until the client's socket and ours are full and the server stops reading it:
    # that is the kernel's doing, not the clock's)
    deadline = time.monotonic() + 10
    while not running.call(paused)[0]:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    stopped, unflushed, replies = running.call(paused)
    one_reply = max(len(e.text) for e in device.journal() if e.direction == "out")
    assert unflushed <= 256 * 1024 + one_reply and replies < 400
    with running.connect("core-1") as bystander:   # the others never notice
        assert bystander.rpc("<get-config><source><running/></source></get-config>") \
            .find(f"{{{NC}}}data") is not None
        # (the stall's limit is real time, as the wire's housekeeping is: 0.5 s here)
        deadline = time.monotonic() + 10
        while running.call(lambda: len(device.sessions)) > 1:   # let go after the stall
            assert time.monotonic() < deadline
            time.sleep(0.02)
    client.close()


def test_the_memo_is_bounded_in_bytes_too():
    from emulator.clock import VirtualClock
    from emulator.device import MEMO_BYTES
    from emulator.fleet import load_fleet
    from emulator.runtime import Runtime
    device = load_fleet(None, Runtime(clock=VirtualClock())).get("core-1")
    for n in range(48):
        device.remember(f"request {n}", ("x" * 400_000, lambda: True))
    assert sum(len(k) + len(e[0]) for k, e in device.memo.items()) <= MEMO_BYTES
    device.remember("huge", ("x" * (MEMO_BYTES + 1), lambda: True))
    assert "huge" not in device.memo


def test_a_client_that_pipelines_heavy_requests_shares_the_loop(make_server):
    import time
    running = make_server()
    device = running.fleet.get("core-1")
    with running.connect("edge-01") as bystander:
        attacker = RawClient(running.port, "core-1")
        try:
            attacker.send(frame(0x1, HELLO.encode()))
            began = time.perf_counter()
            attacker.send(frame(0x1, f'<rpc message-id="g" xmlns="{NC}"><get/></rpc>'.encode())
                          * 300)
            deadline = time.monotonic() + 10      # (until the server is busy with them)
            while running.call(lambda: sum(1 for e in device.journal(limit=1000)
                                           if e.direction == "out")) < 5:
                assert time.monotonic() < deadline
            asked = time.perf_counter()
            bystander.rpc("<get-config><source><running/></source></get-config>")
            waited = time.perf_counter() - asked
            for _ in range(300):
                attacker.next_frame()
            whole = time.perf_counter() - began
        finally:
            attacker.close()
    # (it was answered after the attacker's whole backlog: 5.6 s for 500)
    assert waited < whole / 5 and waited < 0.5, (waited, whole)
