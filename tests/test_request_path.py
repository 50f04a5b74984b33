"""The request path's shortcuts say what the long way says (sans-IO): a reply
to a plain <rpc> written as text is the text lxml writes; the memo's size is
kept as it changes and stays within its bounds; a stale reply is dropped."""

from __future__ import annotations

import pytest
from lxml import etree

from emulator.clock import VirtualClock
from emulator.device import MEMO_BYTES, MEMO_SIZE
from emulator.fleet import load_fleet
from emulator.runtime import Runtime
from tests.client import NC
from tests.memory import connect

SYS = "urn:ietf:params:xml:ns:yang:ietf-system"
BODY = ("<get-config><source><running/></source><filter type=\"subtree\">"
        f'<system xmlns="{SYS}"><hostname/></system></filter></get-config>')


@pytest.fixture
def device():
    return load_fleet(None, Runtime(clock=VirtualClock())).get("core-1")


def lxml_reply(request: str, data: str) -> str:
    """The reply as lxml writes it: the request's attributes on an <rpc-reply>,
    the data spliced in where a placeholder element stood."""
    rpc = etree.fromstring(request)
    reply = etree.Element(f"{{{NC}}}rpc-reply", attrib=dict(rpc.attrib), nsmap={None: NC})
    etree.SubElement(reply, "{urn:placeholder}here", nsmap={"p": "urn:placeholder"})
    return etree.tostring(reply, encoding="unicode").replace(
        '<p:here xmlns:p="urn:placeholder"/>', data)


@pytest.mark.parametrize("message_id", ["1", "a b", "x&amp;y", "it's", "&quot;q&quot;", "é",
                                        "", "a&#9;b", "a&#10;b", "a&gt;b", "a>b", "&lt;"])
def test_a_reply_written_as_text_is_what_lxml_writes(device, message_id):
    connection, wire = connect(device)
    replies = []
    for _ in range(3):   # the first answer, then (where it may) the memo's
        request = f'<rpc message-id="{message_id}" xmlns="{NC}">{BODY}</rpc>'
        connection.receive(request)
        replies.append(wire.sent[-1])
    data = wire.sent[-1][wire.sent[-1].index("<data"):wire.sent[-1].rindex("</rpc-reply>")]
    assert "core-1" in data
    assert replies == [lxml_reply(request, data)] * 3


def test_the_memo_keeps_its_size_as_it_changes(device):
    sizes = [10, 400_000, 30, 700_000, 5, 1_200_000, 80, 2_000_000, 7]
    for n in range(60):
        size = sizes[n % len(sizes)]
        device.remember(f"request {n % 23}", ("x" * size, lambda: True))
        memo = device.memo
        assert memo.chars == sum(len(k) + len(e[0]) for k, e in memo.items())
        assert memo.chars <= MEMO_BYTES and len(memo) <= MEMO_SIZE
        assert f"request {n % 23}" in memo
    for key in list(device.memo)[::2]:
        device.forget_reply(key)
    device.forget_reply("never kept")
    memo = device.memo
    assert memo.chars == sum(len(k) + len(e[0]) for k, e in memo.items())


def test_a_stale_reply_is_dropped_and_answered_anew(device):
    connection, wire = connect(device)
    for n in (1, 2):
        connection.receive(f'<rpc message-id="{n}" xmlns="{NC}">{BODY}</rpc>')
    assert len(device.memo) == 1 and "<hostname>core-1</hostname>" in wire.sent[-1]
    connection.receive(f'<rpc message-id="3" xmlns="{NC}"><edit-config><target><running/>'
                       f'</target><config><system xmlns="{SYS}"><hostname>renamed</hostname>'
                       "</system></config></edit-config></rpc>")
    assert "<ok/>" in wire.sent[-1]
    connection.receive(f'<rpc message-id="4" xmlns="{NC}">{BODY}</rpc>')
    assert '<rpc-reply xmlns="%s" message-id="4">' % NC in wire.sent[-1]
    assert "<hostname>renamed</hostname>" in wire.sent[-1]
    memo = device.memo
    assert len(memo) == 1 and memo.chars == sum(len(k) + len(e[0]) for k, e in memo.items())
