"""Malformed NETCONF and WebSocket input at a live server, for a bounded time:
every other session still answers, and nothing committed is lost."""

from __future__ import annotations

import socket
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from tests.client import NC, NetconfClient, hostname, hostname_edit, rpc_errors
from tests.test_wire import HELLO, RawClient, frame

VALID = [
    HELLO,
    f'<rpc message-id="1" xmlns="{NC}"><get-config><source><running/></source></get-config></rpc>',
    f'<rpc message-id="2" xmlns="{NC}"><get><filter type="subtree"><interfaces '
    'xmlns="urn:ietf:params:xml:ns:yang:ietf-interfaces"/></filter></get></rpc>',
    f'<rpc message-id="3" xmlns="{NC}"><get><filter type="xpath" '
    'select="/*[local-name()=\'interfaces\']"/></get></rpc>',
    f'<rpc message-id="4" xmlns="{NC}"><lock><target><candidate/></target></lock></rpc>',
    f'<rpc message-id="5" xmlns="{NC}"><edit-config><target><candidate/></target><config>'
    '<system xmlns="urn:ietf:params:xml:ns:yang:ietf-system"><hostname>fuzz</hostname></system>'
    "</config></edit-config></rpc>",
    f'<rpc message-id="6" xmlns="{NC}"><discard-changes/></rpc>',
    f'<rpc message-id="7" xmlns="{NC}"><create-subscription '
    'xmlns="urn:ietf:params:xml:ns:netconf:notification:1.0"/></rpc>',
]


@st.composite
def mutated(draw) -> bytes:
    """A valid message cut, spliced, with bytes flipped, inserted or repeated."""
    data = bytearray(draw(st.sampled_from(VALID)).encode())
    for _ in range(draw(st.integers(1, 4))):
        how = draw(st.sampled_from(["flip", "insert", "cut", "repeat", "splice"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if how == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif how == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif how == "cut":
            del data[at:at + draw(st.integers(1, 64))]
        elif how == "repeat":
            data[at:at] = data[at:at + draw(st.integers(1, 32))] * draw(st.integers(1, 8))
        else:
            other = draw(st.sampled_from(VALID)).encode()
            data[at:] = other[draw(st.integers(0, len(other) - 1)):]
    return bytes(data)


@st.composite
def raw_frames(draw) -> bytes:
    """A WebSocket frame with any header bits, masked or not, of a mutated message."""
    payload = draw(mutated())[:125]
    first = draw(st.integers(0, 255))
    masked = draw(st.booleans())
    if draw(st.booleans()):
        return frame(first & 0x0F, payload, fin=bool(first & 0x80), masked=masked,
                     rsv=(first >> 4) & 0x7)
    return bytes([first, (0x80 if masked else 0) | len(payload)]) + payload


def test_fuzzed_input_never_disturbs_the_others_or_loses_a_commit(make_server):
    running = make_server()
    with running.connect("core-1") as keeper:
        assert rpc_errors(keeper.rpc(hostname_edit("kept"))) == []

    bystander = running.connect("edge-01")
    state = {"client": None}

    def fuzz_client() -> NetconfClient:
        client = state["client"]
        if client is None:
            client = state["client"] = running.connect("core-1", send_hello=False)
        return client

    @settings(max_examples=150, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(st.lists(st.one_of(mutated(), mutated().map(lambda b: b.decode("utf-8", "replace"))),
                    min_size=1, max_size=5))
    def netconf_messages(messages):
        client = fuzz_client()
        try:
            for message in messages:
                client.send(message)
            client.ws.recv(0.05)
        except TimeoutError:
            pass
        except (ConnectionClosed, InvalidHandshake, OSError):
            state["client"] = None

    @settings(max_examples=60, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(st.lists(raw_frames(), min_size=1, max_size=4))
    def websocket_frames(frames):
        client = RawClient(running.port, "core-1")
        try:
            client.send(b"".join(frames))
            client.sock.settimeout(0.05)
            try:
                while True:
                    client.next_frame()
            except (socket.timeout, EOFError, OSError, AssertionError, struct.error):
                pass
        finally:
            client.close()

    netconf_messages()
    websocket_frames()
    if state["client"] is not None:
        state["client"].close()
    # the others never noticed, and what was committed is still there
    reply = bystander.rpc("<get-config><source><running/></source></get-config>")
    assert reply.find(f"{{{NC}}}data") is not None
    bystander.close()
    with running.connect("core-1") as checker:
        assert hostname(checker) == "kept"
    assert running.api("/api/health")[1]["status"] == "ok"
