"""What a client can make a device or a session hold is bounded: the
candidate's record of its changes, a config-change event's edits, the replay
log's text, a session's unread notifications by size, the elements of one
message; and the API's JSON is not inflated by escapes. (The datastores' own
size: tests/test_offload.py.)"""

from __future__ import annotations

import json

import pytest
from lxml import etree

from emulator.clock import VirtualClock
from emulator.datastore import datastores
from emulator.datastore.datastores import EDITS_LISTED, top_level_edits
from emulator.fleet import load_fleet
from emulator.runtime import Limits, Runtime
from tests.client import NC, rpc_errors
from tests.memory import NCE, MemoryWire, connect, subscribe
from tests.test_soap import Soap, envelope

IF = "urn:ietf:params:xml:ns:yang:ietf-interfaces"
IANAIFT = "urn:ietf:params:xml:ns:yang:iana-if-type"
NC_NOTIFY = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"


def device_of(**limits):
    return load_fleet(None, Runtime(clock=VirtualClock(), limits=Limits(**limits))).get("core-1")


def edit(body: str, target: str = "candidate", n: int = 1) -> str:
    return (f'<rpc message-id="{n}" xmlns="{NC}" xmlns:nc="{NC}"><edit-config><target><{target}/>'
            f'</target><config><interfaces xmlns="{IF}" xmlns:ianaift="{IANAIFT}">{body}'
            "</interfaces></config></edit-config></rpc>")


def test_the_candidates_record_of_many_edits_is_not_kept_whole(monkeypatch):
    monkeypatch.setattr(datastores, "CHANGES_KEPT", 20)
    device = device_of()
    connection, wire = connect(device)
    description = "d" * 10_000
    for n in range(30):    # a create and a delete again and again: the content stays the same
        connection.receive(edit(f"<interface><name>tmp</name><type>ianaift:ethernetCsmacd</type>"
                                f"<description>{description}</description></interface>", n=n))
        connection.receive(edit('<interface nc:operation="delete"><name>tmp</name></interface>',
                                n=n))
        assert rpc_errors(wire.last()) == []
    changes = device.datastores.candidate_changes
    # (it kept each created and deleted entry, 10 KB apiece, until <commit>)
    assert len(changes.touched) + len(changes.removed) <= 20 + 2
    assert len(changes.edits) <= EDITS_LISTED
    connection.receive(f'<rpc message-id="c" xmlns="{NC}"><commit/></rpc>')
    assert wire.last().find(f"{{{NC}}}ok") is not None


def test_a_config_change_of_many_entries_names_the_nodes_above_them():
    device = device_of()
    connection, wire = connect(device)
    subscribe(connection, wire, "")
    body = "".join(f"<interface><name>n{i}</name><type>ianaift:ethernetCsmacd</type></interface>"
                   for i in range(EDITS_LISTED + 50))
    connection.receive(edit(body, target="running"))
    [note] = [etree.fromstring(t) for t in wire.sent if "netconf-config-change" in t]
    targets = [t.text for t in note.iter(f"{{{NC_NOTIFY}}}target")]
    assert targets == ["/if:interfaces"]


def test_edits_are_listed_each_or_by_their_top_level_node():
    few = [("merge", f"/if:interfaces/if:interface[if:name='e{i}']", {"if": "urn:if"})
           for i in range(3)]
    assert top_level_edits(few) == few
    many = [("merge", f"/if:interfaces/if:interface[if:name='a/{i}']", {"if": "urn:if"})
            for i in range(EDITS_LISTED)] + [("delete", "/sys:system/sys:contact",
                                             {"sys": "urn:sys"})]
    # (a node standing for changes below it was merged into, whatever they were)
    assert top_level_edits(many) == [("merge", "/if:interfaces", {"if": "urn:if"}),
                                     ("merge", "/sys:system", {"sys": "urn:sys"})]
    deleted = [("delete", f"/a:x[a:k='{i}']", {"a": "urn:a"}) for i in range(EDITS_LISTED)] + \
        [("delete", "/b:y", {"b": "urn:b"})]
    assert top_level_edits(deleted) == [("merge", None, {})]   # (not "the datastore deleted")
    long = [("create", f"/a:x[a:k='{'v' * 20_000}']", {"a": "urn:a"})]   # (a long key)
    assert top_level_edits(long) == [("merge", None, {})]
    lists = [("merge", f"/a:x[a:k='{i}']", {"a": "urn:a"}) for i in range(EDITS_LISTED + 1)]
    assert top_level_edits(lists) == [("merge", None, {})]


def test_the_replay_log_keeps_its_newest_events_within_its_text_bound(monkeypatch):
    from emulator import notifications
    monkeypatch.setattr(notifications, "REPLAY_CHARS", 20_000)
    device = device_of()
    log = device.events
    for n in range(50):
        element = etree.Element(f"{{{NCE}}}x")
        element.text = str(n) * 1000
        device.publish(element)
    assert log.chars <= 20_000 and log.chars == sum(len(e.xml) for e in log.events)
    assert log.events[-1].xml.count("49") >= 500 and len(log.events) < 50


def test_a_subscriber_that_leaves_large_notifications_unread_is_let_go(monkeypatch):
    from emulator import sessions
    monkeypatch.setattr(sessions, "NOTIFICATION_BACKLOG", 50_000)
    device = device_of(notification_queue=1000)
    slow = MemoryWire(room=3)                  # takes three messages, then stops reading
    connection, _ = connect(device, slow)
    subscribe(connection, slow)
    for n in range(20):
        element = etree.Element(f"{{{NCE}}}x")
        element.text = "y" * 10_000
        device.publish(element)
    assert connection.session.closed and "overflow" in slow.closed.detail
    assert connection.unread_chars <= 50_000 + 11_000


def test_a_message_of_more_elements_than_any_request_needs_is_not_parsed(make_server):
    from emulator.netconf.session import MESSAGE_ELEMENTS_BEYOND
    running = make_server(max_datastore_elements=100, offload_bytes=1000)
    many = "<a/>" * (100 + MESSAGE_ELEMENTS_BEYOND + 1)
    with running.connect("core-1") as client:
        reply = client.rpc(f"<get-config><source><running/></source><filter>{many}</filter>"
                           "</get-config>", message_id="m7")
        [error] = rpc_errors(reply)
        assert error["tag"] == "too-big" and "--max-datastore-elements" in error["message"]
        assert reply.get("message-id") == "m7"
        assert client.rpc("<get-config><source><running/></source></get-config>") \
            .find(f"{{{NC}}}data") is not None


def test_the_api_writes_text_beyond_ascii_as_it_is(server):
    with server.connect("edge-02") as client:
        client.rpc("<get-config><source><running/></source><filter><x>\u00e9\U0001F600</x>"
                   "</filter></get-config>", message_id="utf")
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/api/devices/edge-02/journal",
                                timeout=10) as response:
        raw = response.read()
    assert "\u00e9\U0001F600".encode() in raw and b"\\ud83d" not in raw
    assert any("\U0001F600" in e["text"] for e in json.loads(raw)["entries"])


def test_the_reply_cache_counts_its_questions_too():
    from emulator.datastore.datastores import REPLY_CACHE_BYTES
    device = device_of()
    stores = device.datastores
    stamp = stores.stamp("running")
    for n in range(10):      # each question 1 MB, each answer tiny
        stores.cache_reply(stamp, (b"f" * 1_000_000 + str(n).encode(), ""), "<data/>")
    kept = sum(len(key[1]) + len(text) for key, text in stores._replies.items())
    assert kept <= REPLY_CACHE_BYTES and stores._reply_chars == kept


def test_a_hello_longer_than_any_needs_ends_the_session_unparsed():
    from emulator.netconf.session import HELLO_LIMIT
    device = device_of()
    connection, wire = connect(device, send_hello=False)
    caps = "".join(f"<capability>urn:x:{i}</capability>" for i in range(HELLO_LIMIT // 30))
    connection.receive(f'<hello xmlns="{NC}"><capabilities>{caps}</capabilities></hello>')
    assert connection.session.closed and "hello" in wire.closed.detail


def test_a_soap_body_of_more_elements_than_any_request_needs_is_not_parsed(make_server):
    running = make_server(max_datastore_elements=100)
    with Soap(running) as soap:
        status, text = soap.post_raw(envelope("<a/>" * 20_000))
    assert status == 413 and b"too-big" in text and b"elements" in text


def test_a_filter_of_many_siblings_counts_each_against_the_budget():
    from emulator.netconf import filters
    data = etree.fromstring(f'<data xmlns="{NC}"><interfaces xmlns="{IF}">' + "".join(
        f"<interface><name>e{i}</name></interface>" for i in range(200)) + "</interfaces></data>")
    spec = etree.fromstring(f'<filter xmlns="{NC}"><interfaces xmlns="{IF}">' + "".join(
        f"<x{i}/>" for i in range(200)) + "</interfaces></filter>")
    with pytest.raises(filters.OverBudget):     # (200 x 200 looks, not 200)
        filters.apply(data, spec, "/nc:rpc", budget=20_000)
    assert len(filters.apply(data, spec, "/nc:rpc")) == 0


def test_a_soap_body_of_too_many_prefixes_is_not_unwrapped(make_server):
    running = make_server()
    prefixes = " ".join(f'xmlns:p{i}="urn:x:{i}"' for i in range(2_000))
    with Soap(running) as soap:
        status, text = soap.post_raw(envelope(f"<hello xmlns='{NC}' {prefixes}/>"))
    assert status == 500 and b"resource-denied" in text and b"prefixes" in text
