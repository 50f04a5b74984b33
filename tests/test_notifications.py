"""Event notifications end to end over WebSocket: RFC 5277 subscriptions, replay
and their errors, RFC 6470 base events, link events from the API, delivery."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from lxml import etree

from emulator.clock import VirtualClock, rfc3339
from emulator.fleet import load_fleet
from emulator.runtime import Limits, Runtime
from emulator.transports.websocket import close_code
from tests.client import NC, NS, rpc_errors
from tests.memory import MemoryWire, connect
from tests.memory import subscribe as subscribe_wire

NCE = "urn:ietf:params:xml:ns:netconf:notification:1.0"
NMN = "urn:ietf:params:xml:ns:netmod:notification"
NCN = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"
EMEV = "urn:netconf-emulator:yang:events"
AL = "urn:ietf:params:xml:ns:yang:ietf-alarms"
IF = "urn:ietf:params:xml:ns:yang:ietf-interfaces"
X = {"n": NCE, "m": NMN, "ncn": NCN, "ev": EMEV, "al": AL, "if": IF, "nc": NC}


def subscribe(client, body: str = "") -> etree._Element:
    return client.rpc(f'<create-subscription xmlns="{NCE}">{body}</create-subscription>')


def raise_event(server, device: str, event: str, interface: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/api/devices/{device}/events",
        data=json.dumps({"event": event, "interface": interface}).encode(), method="POST",
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def next_notification(client, timeout: float = 10) -> etree._Element:
    """The next notification (skipping nothing: a reply here is a test failure)."""
    message = client.recv_xml(timeout)
    assert message.tag == f"{{{NCE}}}notification", etree.tostring(message).decode()
    return message


def content(notification: etree._Element) -> etree._Element:
    return [c for c in notification if c.tag != f"{{{NCE}}}eventTime"][0]


def moment(notification: etree._Element) -> datetime:
    text = notification.findtext("n:eventTime", namespaces=X)
    assert text.endswith("Z") or text[-6] in "+-", text   # RFC 3339 with a time zone
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def ok(reply) -> None:
    assert reply.find("nc:ok", NS) is not None, etree.tostring(reply).decode()


# -- link events from the API ---------------------------------------------------------------

def test_link_down_changes_state_and_is_notified_with_its_alarm(make_server):
    running = make_server()
    with running.connect("edge-01") as client:
        ok(subscribe(client))
        before = datetime.now(timezone.utc)
        answer = raise_event(running, "edge-01", "link-down", "eth1")
        assert answer["changed"] is True and answer["oper-status"] == "down"
        link = next_notification(client)
        assert content(link).tag == f"{{{EMEV}}}link-down"
        assert content(link).findtext("ev:if-name", namespaces=X) == "eth1"
        assert content(link).findtext("ev:oper-status", namespaces=X) == "down"
        assert moment(link) >= before - timedelta(seconds=1)
        alarm = content(next_notification(client))
        assert alarm.tag == f"{{{AL}}}alarm-notification"
        assert alarm.findtext("al:resource", namespaces=X) == "/if:interfaces/if:interface[if:name='eth1']"
        assert alarm.findtext("al:perceived-severity", namespaces=X) == "major"
        data = client.rpc("<get/>").find("nc:data", NS)
        eth1 = data.xpath("if:interfaces/if:interface[if:name='eth1']", namespaces=X)[0]
        assert eth1.findtext("if:oper-status", namespaces=X) == "down"
        changed = datetime.fromisoformat(eth1.findtext("if:last-change", namespaces=X).replace("Z", "+00:00"))
        assert changed >= before - timedelta(seconds=1)
        assert data.xpath("string(//al:alarm-list/al:number-of-alarms)", namespaces=X) == "1"

        raise_event(running, "edge-01", "link-up", "eth1")
        assert content(next_notification(client)).tag == f"{{{EMEV}}}link-up"
        cleared = content(next_notification(client))
        assert cleared.findtext("al:perceived-severity", namespaces=X) == "cleared"
        data = client.rpc("<get/>").find("nc:data", NS)
        assert data.xpath("string(//al:alarm[al:resource=\"/if:interfaces/if:interface[if:name='eth1']\"]"
                          "/al:is-cleared)", namespaces=X) == "true"


def test_a_switch_has_no_alarms_but_still_notifies(server):
    with server.connect("access-01") as client:
        ok(subscribe(client))
        raise_event(server, "access-01", "link-down", "ge-0/0/2")
        assert content(next_notification(client)).tag == f"{{{EMEV}}}link-down"
        raise_event(server, "access-01", "link-up", "ge-0/0/2")
        assert content(next_notification(client)).tag == f"{{{EMEV}}}link-up"


@pytest.mark.parametrize("body, status, message", [
    ({"event": "meltdown", "interface": "eth0"}, 400, "no event 'meltdown'"),
    ({"event": "link-down"}, 400, "needs 'interface'"),
    ({"event": "link-down", "interface": "eth9"}, 404, "no interface 'eth9'"),
    ({"interface": "eth0"}, 400, '"event"'),
    ([1, 2], 400, "JSON object"),
])
def test_bad_events_are_json_errors(server, body, status, message):
    status_code, answer = server.api("/api/devices/core-1/events", method="POST",
                                     body=json.dumps(body).encode())
    assert status_code == status and message in answer["error"]


def test_not_json_is_a_400(server):
    status, answer = server.api("/api/devices/core-1/events", method="POST", body=b"{nope")
    assert status == 400 and "not JSON" in answer["error"]


def test_fleet_wide_events(make_server):
    running = make_server()

    def post(body: dict) -> tuple[int, dict]:
        return running.api("/api/events", method="POST", body=json.dumps(body).encode())

    # named devices and a plain interface: all or nothing
    assert post({"event": "link-down", "interface": "eth0", "devices": ["core-1", "edge-01"]}) \
        == (200, {"matched": 2, "raised": 2, "changed": 2})
    assert post({"event": "link-up", "interface": "eth0", "devices": ["core-1", "nope"]})[0] == 404
    status, answer = post({"event": "link-up", "interface": "eth1",
                           "devices": ["core-1", "access-01"]})   # the switches have no eth1
    assert status == 404 and "access-01" in answer["error"]
    assert running.call(lambda: running.fleet.get("core-1").operational()
                        .link("eth0").oper_up) is False          # (core-1's eth0 is still down)
    # no device list, on a mixed fleet: the devices that have the interface
    assert post({"event": "link-down", "interface": "eth1"}) == \
        (200, {"matched": 3, "raised": 3, "changed": 3})
    # a glob, and a profile
    status, answer = post({"event": "link-down", "interface": "ge-0/0/[12]", "profile": "switch"})
    assert status == 200 and answer["matched"] == 3 and answer["raised"] == 6
    status, answer = post({"event": "link-up", "interface": "xe-*"})
    assert status == 404 and "'xe-*'" in answer["error"]
    status, answer = post({"event": "link-up", "interface": "eth*", "profile": "firewall"})
    assert status == 400 and "no profile 'firewall'" in answer["error"]


# -- create-subscription and its errors (RFC 5277 2.1.1) -------------------------------------

@pytest.mark.parametrize("body, tag, bad", [
    ("<stopTime>2020-01-01T00:00:00Z</stopTime>", "missing-element", "startTime"),
    ("<startTime>2999-01-01T00:00:00Z</startTime>", "bad-element", "startTime"),
    ("<startTime>2020-01-02T00:00:00Z</startTime><stopTime>2020-01-01T00:00:00Z</stopTime>",
     "bad-element", "stopTime"),
    ("<startTime>yesterday</startTime>", "bad-element", "startTime"),
    ("<stream>SYSLOG</stream>", "invalid-value", "stream"),
    ('<filter type="xpath" select="/a["/>', "invalid-value", None),
])
def test_subscription_errors(server, body, tag, bad):
    with server.connect() as client:
        [err] = rpc_errors(subscribe(client, body))
        assert err["tag"] == tag and err["type"] == "protocol"
        if bad:
            assert err["info"]["bad-element"] == bad
        ok(subscribe(client))   # nothing was left half made


def test_one_subscription_per_session(server):
    with server.connect() as client:
        ok(subscribe(client))
        [err] = rpc_errors(subscribe(client))
        assert err["tag"] == "in-use"


def test_interleave_rpcs_while_subscribed(make_server):
    running = make_server()
    with running.connect("core-1") as client:
        ok(subscribe(client))
        raise_event(running, "core-1", "link-down", "eth0")
        reply = None
        seen = []
        client.send(f'<rpc message-id="x" xmlns="{NC}"><get-config><source><running/></source>'
                    "</get-config></rpc>")
        while reply is None:
            message = client.recv_xml()
            if message.tag == f"{{{NC}}}rpc-reply":
                reply = message
            else:
                seen.append(message)
        assert reply.get("message-id") == "x" and reply.find("nc:data", NS) is not None
        kinds = [etree.QName(content(m)).localname for m in seen]
        if "link-down" not in kinds:   # (it may also come after the reply)
            kinds.append(etree.QName(content(next_notification(client))).localname)
        assert "link-down" in kinds


# -- replay --------------------------------------------------------------------------------------

def test_replay_then_replay_complete_then_live(make_server):
    running = make_server()
    start = datetime.now(timezone.utc) - timedelta(seconds=1)
    raise_event(running, "edge-02", "link-down", "eth0")
    raise_event(running, "edge-02", "link-up", "eth0")
    with running.connect("edge-02") as client:
        ok(subscribe(client, f"<startTime>{iso(start)}</startTime>"))
        replayed = []
        while True:
            note = next_notification(client)
            if content(note).tag == f"{{{NMN}}}replayComplete":
                break
            replayed.append(note)
        kinds = [etree.QName(content(n)).localname for n in replayed]
        assert kinds[:2] == ["link-down", "alarm-notification"] and "link-up" in kinds
        times = [moment(n) for n in replayed]
        assert times == sorted(times)
        raise_event(running, "edge-02", "link-down", "eth1")
        assert content(next_notification(client)).tag == f"{{{EMEV}}}link-down"


def test_stop_time_in_the_past_completes_the_subscription(make_server):
    running = make_server(clock=VirtualClock())
    start = rfc3339(running.call(running.runtime.clock.now) - 2)
    raise_event(running, "core-1", "link-down", "eth1")
    running.advance(10)
    stop = rfc3339(running.call(running.runtime.clock.now))
    running.advance(10)
    raise_event(running, "core-1", "link-up", "eth1")   # after stopTime: not replayed
    with running.connect("core-1") as client:
        ok(subscribe(client, f"<startTime>{start}</startTime><stopTime>{stop}</stopTime>"))
        kinds = []
        while not kinds or kinds[-1] != "notificationComplete":
            kinds.append(etree.QName(content(next_notification(client))).localname)
        assert "link-down" in kinds and "link-up" not in kinds
        assert kinds[-2:] == ["replayComplete", "notificationComplete"]


def test_stop_time_in_the_future_ends_the_subscription_then(make_server):
    running = make_server(clock=VirtualClock())
    device = running.fleet.get("edge-01")
    with running.connect("edge-01") as client:
        now = running.call(running.runtime.clock.now)
        ok(subscribe(client, f"<startTime>{rfc3339(now - 1)}</startTime>"
                             f"<stopTime>{rfc3339(now + 3600)}</stopTime>"))
        kinds = [etree.QName(content(next_notification(client))).localname]
        while kinds[-1] != "replayComplete":
            kinds.append(etree.QName(content(next_notification(client))).localname)
        running.advance(3599.9)
        assert running.call(lambda: [s.subscription is not None for s in device.sessions.values()]) \
            == [True]                          # not before its time
        running.advance(0.1)
        assert etree.QName(content(next_notification(client))).localname == "notificationComplete"


# -- filters ---------------------------------------------------------------------------------------

def test_subtree_filter_selects_config_changes(make_server):
    running = make_server()
    with running.connect("core-1") as client:
        ok(subscribe(client, f'<filter type="subtree"><netconf-config-change xmlns="{NCN}"/></filter>'))
        raise_event(running, "core-1", "link-down", "eth0")    # filtered out
        reply = client.rpc(f'<edit-config><target><running/></target><config>'
                           f'<interfaces xmlns="{IF}"><interface><name>eth0</name>'
                           "<description>changed</description></interface></interfaces>"
                           "</config></edit-config>")
        change = None
        while change is None:
            message = client.recv_xml()
            if message.tag == f"{{{NCE}}}notification":
                change = content(message)
        ok(reply)
        assert change.tag == f"{{{NCN}}}netconf-config-change"
        assert change.findtext("ncn:changed-by/ncn:session-id", namespaces=X) == str(client.session_id)
        assert change.findtext("ncn:changed-by/ncn:username", namespaces=X) == "netconf"
        assert change.findtext("ncn:datastore", namespaces=X) == "running"
        [edit] = change.findall("ncn:edit", X)
        target = edit.find("ncn:target", X)
        assert target.text == "/if:interfaces/if:interface[if:name='eth0']/if:description"
        assert target.nsmap["if"] == IF
        assert edit.findtext("ncn:operation", namespaces=X) == "merge"


def test_xpath_filter(make_server):
    running = make_server()
    with running.connect("core-1") as client:
        ok(subscribe(client, f'<filter type="xpath" xmlns:ev="{EMEV}" '
                             "select=\"/ev:link-down[ev:if-name='eth1']\"/>"))
        raise_event(running, "core-1", "link-down", "eth0")
        raise_event(running, "core-1", "link-down", "eth1")
        note = content(next_notification(client))
        assert note.findtext("ev:if-name", namespaces=X) == "eth1"


# -- RFC 6470 --------------------------------------------------------------------------------------

def test_session_start_and_end_with_killed_by(make_server):
    running = make_server()
    with running.connect("core-1") as watcher:
        ok(subscribe(watcher))
        victim = running.connect("core-1")
        start = content(next_notification(watcher))
        assert start.tag == f"{{{NCN}}}netconf-session-start"
        assert start.findtext("ncn:session-id", namespaces=X) == str(victim.session_id)
        ok(watcher.rpc(f"<kill-session><session-id>{victim.session_id}</session-id></kill-session>"))
        end = content(next_notification(watcher))
        assert end.tag == f"{{{NCN}}}netconf-session-end"
        assert end.findtext("ncn:termination-reason", namespaces=X) == "killed"
        assert end.findtext("ncn:killed-by", namespaces=X) == str(watcher.session_id)
        victim.close()


def test_confirmed_commit_events(make_server):
    running = make_server()
    with running.connect("edge-02") as client:
        ok(subscribe(client, f'<filter type="subtree"><netconf-confirmed-commit xmlns="{NCN}"/></filter>'))
        ok(client.rpc("<commit><confirmed/><confirm-timeout>30</confirm-timeout></commit>"))
        assert _confirm_event(client) == ("start", "30")
        ok(client.rpc("<commit><confirmed/><confirm-timeout>1</confirm-timeout></commit>"))
        assert _confirm_event(client) == ("extend", "1")
        assert _confirm_event(client, timeout=5) == ("timeout", None)
        assert client.last_event.find("ncn:session-id", X) is None   # none for a timeout


def _confirm_event(client, timeout: float = 10) -> tuple[str, str | None]:
    while True:
        message = client.recv_xml(timeout)
        if message.tag == f"{{{NCE}}}notification":
            event = content(message)
            client.last_event = event
            return (event.findtext("ncn:confirm-event", namespaces=X),
                    event.findtext("ncn:timeout", namespaces=X))


# -- streams, monitoring, delivery -------------------------------------------------------------

def test_streams_are_listed(server):
    with server.connect() as client:
        data = client.rpc(f'<get><filter type="subtree"><netconf xmlns="{NMN}"/></filter></get>')
    [stream] = data.xpath("//m:stream", namespaces=X)
    assert stream.findtext("m:name", namespaces=X) == "NETCONF"
    assert stream.findtext("m:replaySupport", namespaces=X) == "true"
    assert stream.findtext("m:replayLogCreationTime", namespaces=X).endswith("Z")


def on_virtual_clock(name: str = "core-1", start: float = 2_000_000.0, **limits):
    """A device of the default fleet whose time moves only when the test says."""
    clock = VirtualClock(start)
    return load_fleet(None, Runtime(clock=clock, limits=Limits(**limits))).get(name), clock


def test_event_time_never_goes_backwards():
    device, clock = on_virtual_clock()
    device.publish(etree.Element(f"{{{EMEV}}}link-down"))
    clock._now -= 60    # a wall clock can step back; eventTime must not
    device.publish(etree.Element(f"{{{EMEV}}}link-up"))
    first, second = device.events.events
    assert second.time > first.time


def test_the_replay_log_is_bounded_by_count():
    device, _ = on_virtual_clock(replay_size=3)
    for _ in range(10):
        device.publish(etree.Element(f"{{{EMEV}}}link-down"))
    assert [e.seq for e in device.events.events] == [8, 9, 10]


def test_the_replay_log_drops_events_older_than_its_age():
    device, clock = on_virtual_clock(replay_age=3600)
    device.publish(etree.Element(f"{{{EMEV}}}link-down"))
    clock.advance(1800)
    device.publish(etree.Element(f"{{{EMEV}}}link-up"))
    clock.advance(1801)               # the first is now 3601 s old
    wire = MemoryWire()
    connection, _ = connect(device, wire)
    subscribe_wire(connection, wire, f"<startTime>{rfc3339(clock.now() - 7200)}</startTime>")
    assert wire.notes() == ["link-up", "netconf-session-start", "replayComplete"]


def stalled_subscriber(port: int, device: str) -> socket.socket:
    """A WebSocket client with a tiny receive buffer that subscribes, then never reads."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    sock.connect(("127.0.0.1", port))
    sock.sendall((f"GET /netconf/{device} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                  "Sec-WebSocket-Protocol: netconf\r\n\r\n").encode())
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(1)
    assert response.startswith(b"HTTP/1.1 101")

    def frame(text: str) -> bytes:   # a masked client text frame
        payload = text.encode()
        mask = os.urandom(4)
        header = bytes([0x81]) + (bytes([0x80 | len(payload)]) if len(payload) < 126
                                  else bytes([0x80 | 126]) + struct.pack(">H", len(payload)))
        return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))

    sock.sendall(frame(f'<hello xmlns="{NC}"><capabilities><capability>'
                       "urn:ietf:params:netconf:base:1.1</capability></capabilities></hello>"))
    sock.sendall(frame(f'<rpc message-id="s" xmlns="{NC}"><create-subscription xmlns="{NCE}"/></rpc>'))
    return sock


# 20,000 notifications (about 7 MB): past what the kernel's socket buffers take in
# (Linux autotunes a send buffer up to 4 MB) before the emulator's own queue fills.
BURSTS = 500


@pytest.mark.slow
def test_a_subscriber_that_does_not_read_is_let_go_and_others_never_notice(make_server):
    running = make_server(notification_queue=20)
    device = running.emulator.fleet.get("access-02")
    stalled = stalled_subscriber(running.port, "access-02")
    with running.connect("access-02") as reader:
        ok(subscribe(reader))
        # (the raw socket's subscription is handled when the server reads it: no
        # clock can say when, so this waits for it, briefly and with a deadline)
        deadline = time.monotonic() + 10
        while running.call(lambda: sum(1 for s in device.sessions.values() if s.subscription)) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.02)

        async def storm() -> None:   # in bursts, as a drill would raise them
            for _ in range(BURSTS):
                for _ in range(20):
                    device.raise_event("link-down", {"interface": "ge-0/0/3"})
                    device.raise_event("link-up", {"interface": "ge-0/0/3"})
                await asyncio.sleep(0.01)

        storm_done = asyncio.run_coroutine_threadsafe(storm(), running.loop)
        received = 0
        while received < BURSTS * 40:
            message = reader.recv_xml(timeout=20)
            if message.tag == f"{{{NCE}}}notification" and \
                    content(message).tag in (f"{{{EMEV}}}link-down", f"{{{EMEV}}}link-up"):
                received += 1
        assert received == BURSTS * 40               # the reader lost nothing
        storm_done.result(60)
        assert running.call(lambda: device.stats["notification-overflows"]) == 1
        assert running.call(lambda: sum(1 for s in device.sessions.values() if s.subscription)) == 1
    stalled.close()


def test_an_overflowing_session_is_ended_and_counted():
    device, clock = on_virtual_clock(notification_queue=1)
    wire = MemoryWire()
    connection, _ = connect(device, wire)
    subscribe_wire(connection, wire)
    wire.room = 0                       # the client stops reading
    # link-down and its alarm: the first fills the queue, the second overflows it
    device.raise_event("link-down", {"interface": "eth0"})
    assert device.stats["notification-overflows"] == 1
    assert wire.notes()[-1] == "link-down"
    # let go at once, even on a clock that never moves; it counts what was written
    assert connection.session.closed and "notification queue overflow" in wire.closed.detail
    assert close_code(wire.closed) == 1008
    assert connection.session.out_notifications == len(wire.notes())
    device.raise_event("link-up", {"interface": "eth0"})
    assert device.stats["out-notifications"] == len(wire.notes())


def test_an_overflow_never_reorders_what_the_others_get():
    device, clock = on_virtual_clock(notification_queue=1)
    full, fine = MemoryWire(), MemoryWire()
    subscribe_wire(*connect(device, full))
    subscribe_wire(*connect(device, fine))
    full.room = 0
    device.raise_event("link-down", {"interface": "eth1"})
    assert fine.notes()[-3:] == ["link-down", "alarm-notification", "netconf-session-end"]


def test_a_filter_that_fails_ends_only_its_own_subscription():
    device, _ = on_virtual_clock()
    broken, fine = MemoryWire(), MemoryWire()
    bad, _ = connect(device, broken)
    subscribe_wire(bad, broken, f'<filter type="xpath" xmlns:ev="{EMEV}" '
                           'select="/ev:link-down[no-such-function()]"/>')
    subscribe_wire(*connect(device, fine))
    device.raise_event("link-down", {"interface": "eth1"})
    assert bad.session.subscription is None and not bad.session.closed
    assert fine.notes()[-2:] == ["link-down", "alarm-notification"]


def test_a_filter_that_selects_part_of_an_event_gets_all_of_it():
    device, _ = on_virtual_clock()
    wire = MemoryWire()
    connection, _ = connect(device, wire)
    subscribe_wire(connection, wire, f'<filter type="subtree"><link-down xmlns="{EMEV}">'
                                "<if-index/></link-down></filter>")
    device.raise_event("link-down", {"interface": "eth1"})
    [note] = [etree.fromstring(t) for t in wire.sent if t.startswith("<notification")]
    assert content(note).findtext("ev:if-name", namespaces=X) == "eth1"
    assert connection.session.subscription is not None


def test_link_events_on_an_interface_that_is_administratively_down_change_nothing():
    device, _ = on_virtual_clock("edge-01")
    wire = MemoryWire()
    subscribe_wire(*connect(device, wire))
    answer = device.raise_event("link-up", {"interface": "eth2"})   # eth2 is enabled false
    assert answer["changed"] is False and answer["oper-status"] == "down"
    assert wire.notes() == []
    assert device.operational().alarms == {}


def test_replay_includes_events_exactly_at_start_and_stop_time():
    device, clock = on_virtual_clock(start=4_000_000.123456789)
    for _ in range(10):
        device.publish(etree.Element(f"{{{EMEV}}}link-down"))
        clock.advance(0.0000013)
    for event in list(device.events.events):
        printed = rfc3339(event.time)
        wire = MemoryWire()
        connection, _ = connect(device, wire)
        subscribe_wire(connection, wire, f"<startTime>{printed}</startTime><stopTime>{printed}</stopTime>")
        texts = [t for t in wire.sent if t.startswith("<notification")]
        assert f"<eventTime>{printed}</eventTime>" in texts[0], (printed, texts)
        times = [etree.fromstring(t).findtext("n:eventTime", namespaces=X) for t in texts]
        assert times == sorted(times)   # replayComplete and notificationComplete come after


def test_a_subscription_ends_at_its_stop_time_on_the_clock():
    device, clock = on_virtual_clock()
    wire = MemoryWire()
    connection, _ = connect(device, wire)
    start, stop = rfc3339(clock.now()), rfc3339(clock.now() + 3600)
    subscribe_wire(connection, wire, f"<startTime>{start}</startTime><stopTime>{stop}</stopTime>")
    clock.advance(1800)
    device.raise_event("link-down", {"interface": "eth1"})
    clock.advance(1799)
    assert "notificationComplete" not in wire.notes()
    clock.advance(1)
    assert wire.notes()[-1] == "notificationComplete"
    device.raise_event("link-up", {"interface": "eth1"})
    assert "link-up" not in wire.notes()


# -- every kind of notification is valid against its module (yanglint) -----------------------

YANGLINT = shutil.which("yanglint")


@pytest.mark.skipif(YANGLINT is None, reason="yanglint (libyang2-tools) is not installed")
def test_every_kind_of_notification_validates_with_yanglint(make_server, tmp_path):
    running = make_server()
    kinds: dict[str, str] = {}

    def keep(message: str) -> None:
        event = content(etree.fromstring(message))
        name = etree.QName(event).localname
        detail = event.findtext("ncn:confirm-event", namespaces=X) or ""
        kinds.setdefault(f"{name}{':' + detail if detail else ''}", message)

    def call(client, body: str) -> etree._Element:
        client.send(f'<rpc message-id="v" xmlns="{NC}">{body}</rpc>')
        while True:
            message = client.recv()
            if not message.startswith("<notification"):
                return etree.fromstring(message)
            keep(message)

    with running.connect("core-1") as client:
        ok(call(client, f'<create-subscription xmlns="{NCE}"/>'))
        victim = running.connect("core-1")
        ok(call(client, f"<kill-session><session-id>{victim.session_id}</session-id></kill-session>"))
        ok(call(client, f'<edit-config><target><running/></target><config><interfaces xmlns="{IF}">'
                        "<interface><name>eth0</name><description>d</description></interface>"
                        "</interfaces></config></edit-config>"))
        ok(call(client, "<commit><confirmed/><confirm-timeout>30</confirm-timeout></commit>"))
        ok(call(client, "<commit/>"))
        ok(call(client, "<commit><confirmed/><confirm-timeout>1</confirm-timeout></commit>"))
        raise_event(running, "core-1", "link-down", "eth1")
        raise_event(running, "core-1", "link-up", "eth1")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "netconf-confirmed-commit:timeout" not in kinds:
            try:
                keep(client.recv(timeout=1))
            except TimeoutError:
                continue
        victim.close()
        running_config = call(client, "<get-config><source><running/></source></get-config>")
    assert {"netconf-session-start", "netconf-session-end", "netconf-config-change",
            "netconf-confirmed-commit:start", "netconf-confirmed-commit:complete",
            "netconf-confirmed-commit:timeout", "link-down", "alarm-notification"} <= set(kinds)
    data = running_config.find("nc:data", NS)
    operational = tmp_path / "operational.xml"
    operational.write_text("".join(etree.tostring(child, encoding="unicode") for child in data))
    modules = Path(sys.prefix, "share", "yang", "modules")
    ours = Path(__file__).parents[1] / "yang"
    command = [YANGLINT, "-t", "nc-notif", "-p", str(modules / "ietf"), "-p", str(modules / "iana"),
               "-p", str(ours), "-O", str(operational),
               str(modules / "ietf" / "ietf-netconf-notifications.yang"),
               str(modules / "ietf" / "ietf-alarms.yang"), str(ours / "emulator-events.yang"),
               *(str(modules / "ietf" / f"{name}.yang") for name in (
                   "ietf-interfaces", "ietf-ip", "ietf-system", "ietf-routing",
                   "ietf-ipv4-unicast-routing", "ietf-ipv6-unicast-routing")),
               str(modules / "iana" / "iana-if-type.yang")]
    failures = []
    for kind, text in kinds.items():
        path = tmp_path / f"{kind.replace(':', '-')}.xml"
        path.write_text(text)
        result = subprocess.run([*command, str(path)], capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            failures.append(f"{kind}: {result.stderr.strip()}")
    assert not failures, "\n".join(failures)
