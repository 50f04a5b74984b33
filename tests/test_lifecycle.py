"""A device's lifecycle: reset, reboot, unreachable and hung, end to end and in
the sessions layer."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from lxml import etree
from websockets.exceptions import InvalidMessage, InvalidStatus
from websockets.sync.client import connect as websockets_connect

from emulator.clock import VirtualClock, rfc3339
from emulator.fleet import load_fleet
from emulator.lifecycle import Status
from emulator.runtime import Runtime
from tests.client import NC, NS, NetconfClient, hostname, hostname_edit, rpc_errors
from tests.memory import MemoryWire, connect, subscribe

SYS = "urn:ietf:params:xml:ns:yang:ietf-system"
NCN = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"
NCE = "urn:ietf:params:xml:ns:netconf:notification:1.0"


def ok(reply: etree._Element) -> None:
    assert reply.find("nc:ok", NS) is not None, etree.tostring(reply).decode()


def subscribed(running, device: str) -> NetconfClient:
    client = running.connect(device)
    ok(client.rpc(f"<create-subscription xmlns='{NCE}'/>"))
    return client


def next_event(client: NetconfClient) -> etree._Element:
    note = client.recv_xml()
    assert note.tag == f"{{{NCE}}}notification", etree.tostring(note)
    return note[1]


def boot_time(client) -> str:
    reply = client.rpc(f"<get><filter type='subtree'><system-state xmlns='{SYS}'><clock>"
                       "<boot-datetime/></clock></system-state></filter></get>")
    return reply.findtext(f".//{{{SYS}}}boot-datetime")


def post(running, path: str, body: object = None, headers: dict | None = None):
    return running.api(path, "POST", json.dumps(body).encode() if body is not None else b"",
                       headers)


# -- reset ---------------------------------------------------------------------------------

def test_reset_ends_the_sessions_and_puts_the_fixture_back(make_server):
    running = make_server(clock=VirtualClock())
    editor = running.connect("core-1")
    ok(editor.rpc(hostname_edit("changed")))
    ok(editor.rpc(hostname_edit("staged", "candidate")))
    ok(editor.rpc("<copy-config><target><startup/></target><source><running/></source>"
                  "</copy-config>"))
    watcher = subscribed(running, "core-1")
    bystander = running.connect("edge-01")
    running.call(lambda: running.fleet.get("core-1").raise_event("link-down",
                                                                  {"interface": "eth1"}))
    assert next_event(watcher).tag.endswith("link-down")
    next_event(watcher)                                     # (its alarm)

    assert post(running, "/api/devices/core-1/reset") == (200, {"reset": 1, "devices": ["core-1"]})
    # the editor's session ended first: the watcher saw it end, then was closed itself
    end = next_event(watcher)
    assert end.tag == f"{{{NCN}}}netconf-session-end"
    assert end.findtext(f"{{{NCN}}}session-id") == str(editor.session_id)
    assert end.findtext(f"{{{NCN}}}termination-reason") == "other"
    assert editor.wait_closed() == (1012, "device reset")
    assert watcher.wait_closed() == (1012, "device reset")
    assert rpc_errors(bystander.rpc("<get-config><source><running/></source></get-config>")) == []

    with running.connect("core-1") as fresh:
        assert hostname(fresh) == hostname(fresh, "startup") == hostname(fresh, "candidate") \
            == "core-1"
        ok(fresh.rpc(f"<create-subscription xmlns='{NCE}'><startTime>2000-01-01T00:00:00Z"
                     "</startTime></create-subscription>"))
        replayed = [next_event(fresh).tag for _ in range(2)]
        assert replayed == [f"{{{NCN}}}netconf-session-start",
                            "{urn:ietf:params:xml:ns:netmod:notification}replayComplete"]
    device = running.api("/api/devices/core-1")[1]
    assert device["status"] == "up"
    journal = running.api("/api/devices/core-1/journal")[1]["entries"]
    assert all(e["session"] > editor.session_id for e in journal)
    bystander.close()


def test_a_reset_survives_a_restart(make_server, tmp_path):
    running = make_server(data_dir=tmp_path / "d")
    with running.connect("core-1") as client:
        ok(client.rpc(hostname_edit("changed")))
    post(running, "/api/reset")
    running.stop()
    again = make_server(data_dir=tmp_path / "d")
    with again.connect("core-1") as client:
        assert hostname(client) == "core-1"


def test_fleet_reset_takes_a_list_and_checks_every_name_first(make_server):
    running = make_server()
    with running.connect("core-1") as one, running.connect("edge-01") as two:
        ok(one.rpc(hostname_edit("one")))
        ok(two.rpc(hostname_edit("two")))
        status, answer = post(running, "/api/reset", {"devices": ["core-1", "nope"]})
        assert status == 404 and "nope" in answer["error"]
        assert hostname(one) == "one"                      # nothing was reset
        assert post(running, "/api/reset", {"devices": ["edge-01"]}) == (200, {"reset": 1})
        assert two.wait_closed() == (1012, "device reset")
        assert hostname(one) == "one"
    assert post(running, "/api/reset") == (200, {"reset": 6})
    assert post(running, "/api/reset", {})[1] == {"reset": 6}
    for body, message in [(["core-1"], "JSON object"), ({"devices": "core-1"}, "list of device")]:
        status, answer = post(running, "/api/reset", body)
        assert status == 400 and message in answer["error"]
    status, answer = post(running, "/api/devices/nope/reset")
    assert status == 404 and "nope" in answer["error"]


def test_state_changing_api_calls_follow_the_origin_rule(make_server):
    running = make_server()
    status, answer = post(running, "/api/reset", headers={"Origin": "https://evil.example"})
    assert status == 403 and "--allow-origin" in answer["error"]
    assert post(running, "/api/reset", headers={"Origin": "http://localhost:3000"})[0] == 200
    assert running.api("/api/devices")[0] == 200       # reading needs no Origin check


# -- reboot --------------------------------------------------------------------------------

def test_reboot_ends_sessions_reloads_startup_and_boots_anew(make_server):
    clock = VirtualClock()
    running = make_server(clock=clock)
    with running.connect("core-1") as client:
        booted = boot_time(client)
        ok(client.rpc(hostname_edit("saved")))
        ok(client.rpc("<copy-config><target><startup/></target><source><running/></source>"
                      "</copy-config>"))
        ok(client.rpc(hostname_edit("unsaved")))
        running.advance(3600)
        running.call(lambda: running.fleet.get("core-1").reboot(downtime=30))
        assert client.wait_closed() == (1012, "device reboot")

    assert running.api("/api/devices/core-1")[1]["status"] == "rebooting"
    with pytest.raises(InvalidStatus) as refused:
        running.connect("core-1")
    assert refused.value.response.status_code == 503
    assert b"core-1 is rebooting" in refused.value.response.body

    running.advance(30)
    assert running.api("/api/devices/core-1")[1]["status"] == "up"
    with running.connect("core-1") as client:
        assert hostname(client) == "saved"                  # running came from startup
        assert boot_time(client) == rfc3339(running.call(clock.now)) != booted
        ok(client.rpc(f"<create-subscription xmlns='{NCE}'><startTime>2000-01-01T00:00:00Z"
                      "</startTime></create-subscription>"))
        ends = []
        while True:
            event = next_event(client)
            if event.tag.endswith("replayComplete"):
                break
            if event.tag == f"{{{NCN}}}netconf-session-end":
                ends.append(event.findtext(f"{{{NCN}}}termination-reason"))
        assert ends == ["other"]                            # the replay log survives a reboot


def test_a_pending_confirmed_commit_does_not_survive_a_reboot(make_server):
    running = make_server(clock=VirtualClock())
    with running.connect("core-1") as client:
        ok(client.rpc(hostname_edit("trial", "candidate")))
        ok(client.rpc("<commit><confirmed/><persist>p1</persist></commit>"))
        running.call(lambda: running.fleet.get("core-1").reboot())
        client.wait_closed()
    running.advance(600)                   # the timer is gone with the pending commit
    with running.connect("core-1") as client:
        assert hostname(client) == "core-1"
        errors = rpc_errors(client.rpc("<commit><persist-id>p1</persist-id></commit>"))
        assert errors and errors[0]["tag"] == "invalid-value"


# -- unreachable and hung ---------------------------------------------------------------------

def test_an_unreachable_device_drops_its_sessions_and_answers_nothing(make_server):
    running = make_server(clock=VirtualClock())
    client = running.connect("core-1")
    running.call(lambda: running.fleet.get("core-1").set_status(Status.UNREACHABLE, 60))
    assert client.wait_closed() == (None, None)             # no close frame
    with pytest.raises((InvalidMessage, EOFError, OSError)):
        running.connect("core-1")
    assert running.api("/api/devices/core-1")[1]["status"] == "unreachable"
    running.advance(60)
    with running.connect("core-1") as client:
        assert hostname(client) == "core-1"


def test_a_hung_device_accepts_connections_and_answers_when_it_is_back(make_server):
    running = make_server(clock=VirtualClock())
    device = running.fleet.get("core-1")
    running.call(lambda: device.set_status(Status.HUNG, 120))

    with websockets_connect(running.url("core-1"), subprotocols=["netconf"],
                            open_timeout=10) as ws:     # the handshake is answered
        [session] = running.call(lambda: list(device.sessions.values()))
        assert not session.started                      # ... and nothing is said
        running.advance(120)
        assert "<session-id>" in ws.recv(10)


def test_a_hung_device_reads_requests_into_the_journal_and_answers_none():
    clock = VirtualClock()
    device = load_fleet(None, Runtime(clock=clock)).get("core-1")
    wire = MemoryWire()
    connection, _ = connect(device, wire)
    subscribe(connection, wire)
    sent = len(wire.sent)
    device.set_status(Status.HUNG)
    connection.receive(f"<rpc message-id='9' xmlns='{NC}'><get/></rpc>")
    device.raise_event("link-down", {"interface": "eth1"})
    assert len(wire.sent) == sent and not connection.session.closed
    assert "message-id='9'" in list(device.journal())[-1].text
    device.set_status(Status.UP)
    connection.receive(f"<rpc message-id='10' xmlns='{NC}'><close-session/></rpc>")
    assert 'message-id="10"' in wire.sent[-1] and wire.closed.reason.value == "closed"


def test_a_session_opened_while_hung_gets_its_hello_when_the_device_is_back():
    device = load_fleet(None, Runtime(clock=VirtualClock())).get("core-1")
    device.set_status(Status.HUNG)
    connection, wire = connect(device, send_hello=False)
    assert wire.sent == []
    device.set_status(Status.UP)
    assert len(wire.sent) == 1 and "<session-id>" in wire.sent[0]
    assert device.stats["in-sessions"] == 1


def test_what_a_client_sends_while_the_device_hangs_is_handled_when_it_is_back():
    clock = VirtualClock()
    device = load_fleet(None, Runtime(clock=clock)).get("core-1")
    connection, wire = connect(device, send_hello=False)   # the server's hello is out
    device.set_status(Status.HUNG)
    connection.receive(f"<hello xmlns='{NC}'><capabilities><capability>"
                       "urn:ietf:params:netconf:base:1.1</capability></capabilities></hello>")
    connection.receive(f"<rpc message-id='5' xmlns='{NC}'><get-config><source><running/>"
                       "</source></get-config></rpc>")
    clock.advance(3600)                 # no hello timeout while the device cannot read it
    assert not connection.session.closed and len(wire.sent) == 1
    device.set_status(Status.UP)
    assert connection.session.state.value == "open"
    assert 'message-id="5"' in wire.sent[-1] and "<data" in wire.sent[-1]


def test_a_reset_drops_a_pending_confirmed_commit_without_rolling_it_back():
    device = load_fleet(None, Runtime(clock=VirtualClock())).get("core-1")
    watcher, seen = connect(device)
    subscribe(watcher, seen)
    editor, _ = connect(device)
    editor.receive(f"<rpc message-id='2' xmlns='{NC}'>{hostname_edit('trial', 'candidate')}</rpc>")
    editor.receive(f"<rpc message-id='3' xmlns='{NC}'><commit><confirmed/></commit></rpc>")
    before = seen.notes()
    device.reset()
    after = seen.notes()[len(before):]
    assert "netconf-confirmed-commit" not in after and "netconf-config-change" not in after
    assert seen.closed.detail == "device reset"


def test_reset_bodies_are_checked_to_the_key(make_server):
    running = make_server()
    status, answer = post(running, "/api/reset", {"device": ["core-1"]})   # a typo
    assert status == 400 and "unknown key 'device'" in answer["error"]
    status, answer = post(running, "/api/devices/core-1/reset", {"force": True})
    assert status == 400 and "unknown key 'force'" in answer["error"]
    request = urllib.request.Request(f"http://127.0.0.1:{running.port}/api/devices/core-1/reset",
                                     data=b"garbage", method="POST",
                                     headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 400 and "not JSON" in json.loads(refused.value.read())["error"]
