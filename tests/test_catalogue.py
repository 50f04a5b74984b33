"""The event catalogue (emulator.scenarios.catalogue): every event on the
virtual clock, what a subscribed client receives, durations that undo, resets
that clear, and the API that raises them."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree
from websockets.exceptions import InvalidStatus

from emulator.clock import VIRTUAL_EPOCH, VirtualClock, rfc3339
from emulator.device import (BadEventParameter, NoSuchComponent, NoSuchInterface, NotInProfile,
                             UnknownEvent)
from emulator.fleet import load_fleet
from emulator.lifecycle import Status
from emulator.runtime import Limits, Runtime
from emulator.scenarios import catalogue
from emulator.scenarios.catalogue import EVENTS, check, describe, parse_duration, raise_event
from tests.client import NC, hostname_edit, rpc_errors
from tests.memory import MemoryWire, connect, subscribe

NCE = "urn:ietf:params:xml:ns:netconf:notification:1.0"
NCN = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"
EMEV = "urn:netconf-emulator:yang:events"
AL = "urn:ietf:params:xml:ns:yang:ietf-alarms"
HW = "urn:ietf:params:xml:ns:yang:ietf-hardware"
IF = "urn:ietf:params:xml:ns:yang:ietf-interfaces"
SYS = "urn:ietf:params:xml:ns:yang:ietf-system"
X = {"nc": NC, "al": AL, "hw": HW, "if": IF, "sys": SYS, "ev": EMEV, "ncn": NCN, "n": NCE}


def fleet(**limits):
    clock = VirtualClock()
    return clock, load_fleet(None, Runtime(clock=clock, limits=Limits(**limits)))


def watched(device) -> tuple:
    """A subscribed session on ``device`` (in memory), and its wire."""
    connection, wire = connect(device)
    subscribe(connection, wire)
    return connection, wire


def notes(wire: MemoryWire, since: int = 0) -> list[etree._Element]:
    """The event elements notified on ``wire`` from its ``since``th message on."""
    return [etree.fromstring(t)[1] for t in wire.sent[since:] if t.startswith("<notification")]


def names(elements) -> list[str]:
    return [etree.QName(e).localname for e in elements]


def rpc(connection, body: str, message_id: str = "m") -> None:
    connection.receive(f'<rpc message-id="{message_id}" xmlns="{NC}">{body}</rpc>')


def get(connection, wire, body: str = "<get/>") -> etree._Element:
    rpc(connection, body, "get")
    return etree.fromstring(wire.sent[-1])


# -- the catalogue itself ----------------------------------------------------------------------

def test_the_catalogue_describes_every_event_as_json():
    described = describe()
    assert set(described) == set(EVENTS) == {
        "link-down", "link-up", "link-flap", "device-reboot", "device-unreachable", "device-hang",
        "hardware-failure", "hardware-recovery", "alarm-raise", "alarm-clear", "config-drift",
        "rpc-fault", "notification-storm"}
    assert json.loads(json.dumps(described)) == described
    for name, kind in described.items():
        assert kind["doc"] and kind["target"] in ("device", "interface", "component"), name
        for param in kind["params"]:
            assert param["kind"] in ("string", "integer", "number", "duration", "boolean",
                                     "enum") and param["doc"], (name, param)
    assert described["link-down"]["params"] == [{"name": "interface", "kind": "string",
                                                 "required": True, "doc": EVENTS["link-down"]
                                                 .params[0].doc}]
    assert described["link-down"]["undoable"] and not described["link-flap"]["undoable"]


@pytest.mark.parametrize("text, seconds", [
    (90, 90.0), (1.5, 1.5), ("90", 90.0), ("90s", 90.0), ("2m", 120.0), ("1m30s", 90.0),
    ("500ms", 0.5), ("1.5h", 5400.0), ("1d", 86400.0), (" 2 m ", 120.0)])
def test_durations_are_seconds_or_text(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "-5", -1, "5x", "m", True, None, [], "2m garbage",
                                  float("inf"), "400d"])
def test_bad_durations_are_refused(text):
    with pytest.raises(BadEventParameter):
        parse_duration(text)


def test_check_fills_defaults_and_changes_nothing():
    _, devices = fleet()
    device = devices.get("core-1")
    before = len(device.events.events)
    assert check(device, "link-flap", {"interface": "eth0"}) == \
        {"interface": "eth0", "count": 3, "period": 10.0}
    assert check(device, "rpc-fault", {"latency": "250ms", "operation": "get"}) == {
        "operation": "get", "error-tag": None, "error-message": "", "latency": 0.25,
        "jitter": 0.0, "drop-after": None, "count": None}
    assert check(device, "alarm-raise", {})["resource"] == "core-1"
    assert check(device, "device-reboot", {}) == {"downtime": 30.0}
    assert len(device.events.events) == before
    assert device.operational().link("eth0").oper_up and device.rpc_faults == []


@pytest.mark.parametrize("event, params, error, words", [
    ("meltdown", {}, UnknownEvent, ["no event 'meltdown'", "link-down"]),
    ("link-down", {}, BadEventParameter, ["'link-down'", "needs 'interface'"]),
    ("link-down", {"interface": "eth9"}, NoSuchInterface, ["eth9", "eth0, eth1"]),
    ("link-down", {"interface": "eth0", "interfce": "x"}, BadEventParameter,
     ["unknown key 'interfce'", "it takes event, interface, duration"]),
    ("link-flap", {"interface": "eth0", "count": "3"}, BadEventParameter,
     ["'link-flap'", "'count'", "whole number"]),
    ("link-flap", {"interface": "eth0", "count": 0}, BadEventParameter, ["at least 1"]),
    ("link-flap", {"interface": "eth0", "period": "soon"}, BadEventParameter,
     ["'period'", "90s"]),
    ("hardware-failure", {"component": "fan-9"}, NoSuchComponent, ["fan-9", "fan-1"]),
    ("hardware-failure", {"component": "fan-1", "severity": "dire"}, BadEventParameter,
     ["'severity'", "critical, major, minor, warning"]),
    ("alarm-raise", {"alarm-type-id": "emev:nope"}, BadEventParameter, ["emev:nope"]),
    ("alarm-raise", {"alarm-type-id": "ianaift:ethernetCsmacd"}, BadEventParameter,
     ["not an identity derived from"]),
    ("rpc-fault", {"operation": "get"}, BadEventParameter, ["needs what to do"]),
    ("rpc-fault", {"error-tag": "in-use", "drop-after": 2}, BadEventParameter,
     ["do not go together"]),
    ("rpc-fault", {"error-tag": "oops"}, BadEventParameter, ["'error-tag'", "in-use"]),
    ("config-drift", {"path": "system/contact"}, BadEventParameter, ["absolute path"]),
    ("config-drift", {"path": "/nope:system/contact"}, BadEventParameter, ["'nope'"]),
    ("config-drift", {"path": "/ietf-system:system"}, BadEventParameter, ["leaf"]),
    ("config-drift", {"path": "/if:interfaces/if:interface/if:description"},
     BadEventParameter, ["every key"]),
    ("config-drift", {"path": "/if:interfaces/if:interface[if:name='eth9']/if:description"},
     BadEventParameter, ["list entry", "eth9"]),
    ("notification-storm", {"rate": 10**6}, BadEventParameter, ["at most 10000"]),
])
def test_bad_parameters_name_the_event_the_parameter_and_what_was_expected(
        event, params, error, words):
    _, devices = fleet()
    with pytest.raises(error) as refused:
        check(devices.get("core-1"), event, params)
    for word in words:
        assert word in str(refused.value)


def test_an_event_that_needs_a_module_the_profile_lacks_is_refused():
    _, devices = fleet()
    switch = devices.get("access-01")          # ietf-hardware, but no ietf-alarms
    with pytest.raises(NotInProfile, match="no ietf-alarms"):
        check(switch, "alarm-raise", {})
    with pytest.raises(NotInProfile):
        check(switch, "alarm-clear", {})
    assert check(switch, "hardware-failure", {"component": "fan-1"})["severity"] == "major"


def test_a_duration_only_for_what_can_be_undone():
    _, devices = fleet()
    device = devices.get("core-1")
    with pytest.raises(BadEventParameter, match="'downtime'"):
        raise_event(device, "device-reboot", {}, duration=30)
    with pytest.raises(BadEventParameter, match="takes no duration"):
        raise_event(device, "link-up", {"interface": "eth0"}, duration="1m")
    with pytest.raises(BadEventParameter, match="'duration'"):
        raise_event(device, "link-down", {"interface": "eth0"}, duration="later")
    assert device.operational().link("eth0").oper_up


# -- links -----------------------------------------------------------------------------------------

def test_link_down_for_a_duration_comes_back_up_on_the_clock():
    clock, devices = fleet()
    device = devices.get("core-1")
    _, wire = watched(device)
    seen = len(wire.sent)
    raised = raise_event(device, "link-down", {"interface": "eth1"}, duration="90s")
    assert raised.result == {"device": "core-1", "event": "link-down", "changed": True,
                             "interface": "eth1", "oper-status": "down",
                             "ends-at": VIRTUAL_EPOCH + 90}
    assert raised.active and raised.ends_at == VIRTUAL_EPOCH + 90
    assert names(notes(wire, seen)) == ["link-down", "alarm-notification"]
    clock.advance(89.9)
    assert raised.active and not device.operational().link("eth1").oper_up
    clock.advance(0.1)
    assert not raised.active and device.operational().link("eth1").oper_up
    after = notes(wire, seen)
    assert names(after) == ["link-down", "alarm-notification", "link-up", "alarm-notification"]
    assert after[3].findtext("al:perceived-severity", namespaces=X) == "cleared"
    raised.undo()                                   # idempotent: nothing more
    assert len(notes(wire, seen)) == 4


def test_undo_before_the_end_cancels_the_timer():
    clock, devices = fleet()
    device = devices.get("core-1")
    raised = raise_event(device, "link-down", {"interface": "eth1"}, duration=60)
    raised.undo()
    assert device.operational().link("eth1").oper_up and not raised.active
    raise_event(device, "link-down", {"interface": "eth1"})      # down again, for good
    clock.advance(120)
    assert not device.operational().link("eth1").oper_up


def test_link_flap_goes_down_and_up_count_times_one_cycle_a_period():
    clock, devices = fleet()
    device = devices.get("edge-01")
    _, wire = watched(device)
    seen = len(wire.sent)
    raised = raise_event(device, "link-flap", {"interface": "eth0", "count": 3, "period": "4s"})
    assert raised.ends_at == VIRTUAL_EPOCH + 10      # last up: 2 periods and a half in
    clock.advance(60)
    links = [n for n in notes(wire, seen) if n.tag.startswith(f"{{{EMEV}}}link")]
    times = [etree.fromstring(t)[0].text for t in wire.sent[seen:]
             if "<link-" in t]
    assert names(links) == ["link-down", "link-up"] * 3
    # (to the second: an eventTime is a microsecond after the one before it at most)
    assert [t[:19] for t in times] == [rfc3339(VIRTUAL_EPOCH + s)[:19] for s in (0, 2, 4, 6, 8, 10)]
    assert device.operational().link("eth0").oper_up and not raised.active


def test_a_flap_undone_midway_leaves_the_link_as_it_was():
    clock, devices = fleet()
    device = devices.get("edge-01")
    raised = raise_event(device, "link-flap", {"interface": "eth0", "count": 100, "period": 1})
    clock.advance(0.2)
    raised.undo()
    assert device.operational().link("eth0").oper_up
    clock.advance(100)
    assert device.operational().link("eth0").oper_up


# -- device lifecycle ---------------------------------------------------------------------------

def test_device_reboot_end_to_end(make_server):
    clock = VirtualClock()
    running = make_server(clock=clock)
    with running.connect("core-1") as client:
        client.rpc(hostname_edit("saved"))
        client.rpc("<copy-config><target><startup/></target><source><running/></source>"
                   "</copy-config>")
        client.rpc(hostname_edit("unsaved"))
        status, answer = running.api("/api/devices/core-1/events", "POST",
                                     json.dumps({"event": "device-reboot",
                                                 "downtime": "2m"}).encode())
        assert status == 200 and answer["sessions"] == 1 and answer["status"] == "rebooting"
        assert client.wait_closed() == (1012, "device reboot")
    with pytest.raises(InvalidStatus) as refused:
        running.connect("core-1")
    assert refused.value.response.status_code == 503
    running.advance(119)
    assert running.api("/api/devices/core-1")[1]["status"] == "rebooting"
    running.advance(1)
    with running.connect("core-1") as client:
        reply = client.rpc("<get-config><source><running/></source></get-config>")
        assert reply.findtext(".//sys:hostname", namespaces=X) == "saved"
        client.rpc(f"<create-subscription xmlns='{NCE}'><startTime>2000-01-01T00:00:00Z"
                   "</startTime></create-subscription>")
        replayed = []
        while not replayed or replayed[-1].tag != "{urn:ietf:params:xml:ns:netmod:notification}" \
                                                  "replayComplete":
            replayed.append(client.recv_xml()[1])
        [restarted] = [e for e in replayed if e.tag == f"{{{EMEV}}}device-restarted"]
        assert restarted.findtext("ev:boot-time", namespaces=X) == \
            rfc3339(VIRTUAL_EPOCH + 120) == client.rpc(
                "<get><filter type='subtree'><system-state xmlns='urn:ietf:params:xml:ns:yang:"
                "ietf-system'/></filter></get>").findtext(".//sys:boot-datetime", namespaces=X)
        assert restarted.findtext("ev:downtime", namespaces=X) == "120.000"


def test_reboot_raised_is_active_while_the_device_is_down():
    clock, devices = fleet()
    device = devices.get("core-1")
    connect(device)
    raised = raise_event(device, "device-reboot", {"downtime": 10})
    assert raised.active and raised.result["sessions"] == 1 and raised.ends_at == \
        VIRTUAL_EPOCH + 10
    clock.advance(10)
    assert not raised.active and device.status is Status.UP
    assert names([etree.fromstring(e.xml) for e in device.events.events])[-1] == \
        "device-restarted"


def test_device_unreachable_drops_sessions_and_comes_back_after_its_duration():
    clock, devices = fleet()
    device = devices.get("core-1")
    connection, wire = connect(device)
    raised = raise_event(device, "device-unreachable", {}, duration="5m")
    assert raised.result["sessions"] == 1 and wire.aborted and wire.closed is None
    assert device.status is Status.UNREACHABLE and raised.active
    clock.advance(300)
    assert device.status is Status.UP and not raised.active


def test_an_undo_does_not_override_a_later_state():
    clock, devices = fleet()
    device = devices.get("core-1")
    hung = raise_event(device, "device-hang", {}, duration=60)
    gone = raise_event(device, "device-unreachable", {})
    assert not hung.active and gone.active
    clock.advance(60)                                 # the hang's end: not its state any more
    assert device.status is Status.UNREACHABLE
    gone.undo()
    assert device.status is Status.UP
    with pytest.raises(BadEventParameter, match="rebooting"):
        device.reboot(30)
        raise_event(device, "device-hang", {})


def test_device_hang_keeps_sessions_and_answers_when_its_duration_ends():
    clock, devices = fleet()
    device = devices.get("core-1")
    connection, wire = connect(device)
    raised = raise_event(device, "device-hang", {}, duration=30)
    sent = len(wire.sent)
    rpc(connection, "<get-config><source><running/></source></get-config>", "7")
    clock.advance(29)
    assert len(wire.sent) == sent and not connection.session.closed
    clock.advance(1)
    assert 'message-id="7"' in wire.sent[-1] and not raised.active


# -- hardware and alarms ----------------------------------------------------------------------------

def test_hardware_failure_shows_in_ietf_hardware_and_ietf_alarms_until_recovery():
    clock, devices = fleet()
    device = devices.get("core-1")
    connection, wire = watched(device)
    seen = len(wire.sent)
    clock.advance(5)
    raised = raise_event(device, "hardware-failure", {"component": "fan-2",
                                                      "severity": "critical"}, duration="10m")
    assert raised.result["changed"] and raised.result["oper-state"] == "disabled"
    disabled, alarm = notes(wire, seen)
    assert disabled.tag == f"{{{HW}}}hardware-state-oper-disabled"
    assert disabled.findtext("hw:name", namespaces=X) == "fan-2"
    assert disabled.findtext("hw:alarm-state", namespaces=X) == "critical"
    assert alarm.findtext("al:resource", namespaces=X) == \
        "/hw:hardware/hw:component[hw:name='fan-2']"
    assert alarm.findtext("al:alarm-type-id", namespaces=X) == "emev:hardware-alarm"
    assert alarm.findtext("al:perceived-severity", namespaces=X) == "critical"
    data = get(connection, wire)
    fan = data.xpath("//hw:component[hw:name='fan-2']/hw:state", namespaces=X)[0]
    assert fan.findtext("hw:oper-state", namespaces=X) == "disabled"
    assert fan.findtext("hw:alarm-state", namespaces=X) == "critical"
    assert fan.findtext("hw:state-last-changed", namespaces=X) == rfc3339(VIRTUAL_EPOCH + 5)
    other = data.xpath("//hw:component[hw:name='fan-1']/hw:state", namespaces=X)[0]
    assert other.findtext("hw:oper-state", namespaces=X) == "enabled"
    assert data.xpath("string(//al:alarm[al:alarm-type-id='emev:hardware-alarm']/al:is-cleared)",
                      namespaces=X) == "false"
    assert "emev:hardware-alarm" in data.xpath("//al:alarm-inventory/al:alarm-type/"
                                               "al:alarm-type-id/text()", namespaces=X)
    seen = len(wire.sent)
    clock.advance(600)
    assert names(notes(wire, seen)) == ["hardware-state-oper-enabled", "alarm-notification"]
    assert notes(wire, seen)[1].findtext("al:perceived-severity", namespaces=X) == "cleared"
    assert not raised.active


def test_a_failed_port_takes_its_link_down_and_recovery_brings_it_back():
    clock, devices = fleet()
    device = devices.get("core-1")
    _, wire = watched(device)
    seen = len(wire.sent)
    raise_event(device, "hardware-failure", {"component": "port-eth1"})
    assert names(notes(wire, seen)) == ["hardware-state-oper-disabled", "alarm-notification",
                                        "link-down", "alarm-notification"]
    assert not device.operational().link("eth1").oper_up
    recovered = raise_event(device, "hardware-recovery", {"component": "port-eth1"})
    assert recovered.result["oper-status"] == "up" and device.operational().link("eth1").oper_up
    assert raise_event(device, "hardware-recovery", {"component": "port-eth1"}) \
        .result["changed"] is False


def test_a_switch_fails_hardware_without_an_alarm_list():
    _, devices = fleet()
    switch = devices.get("access-01")
    _, wire = watched(switch)
    seen = len(wire.sent)
    raise_event(switch, "hardware-failure", {"component": "psu-1"})
    assert names(notes(wire, seen)) == ["hardware-state-oper-disabled"]


def test_alarm_raise_and_clear_of_any_alarm_type():
    clock, devices = fleet()
    device = devices.get("core-1")
    connection, wire = watched(device)
    seen = len(wire.sent)
    drill = raise_event(device, "alarm-raise", {"text": "drill 1"}, duration=60)
    typed = raise_event(device, "alarm-raise", {
        "resource": "/if:interfaces/if:interface[if:name='eth0']",
        "alarm-type-id": "emulator-events:link-alarm", "alarm-type-qualifier": "optics",
        "severity": "minor", "text": "low light"})
    assert typed.result["alarm-type-id"] == "emev:link-alarm"
    again = raise_event(device, "alarm-raise", typed.params)          # the same again
    assert again.result["changed"] is False
    data = get(connection, wire)
    alarms = data.xpath("//al:alarm-list/al:alarm", namespaces=X)
    assert [(a.findtext("al:resource", namespaces=X), a.findtext("al:alarm-type-id",
             namespaces=X), a.findtext("al:alarm-type-qualifier", namespaces=X),
             a.findtext("al:perceived-severity", namespaces=X)) for a in alarms] == [
        ("core-1", "emev:drill-alarm", "", "major"),
        ("/if:interfaces/if:interface[if:name='eth0']", "emev:link-alarm", "optics", "minor")]
    clock.advance(60)
    cleared = raise_event(device, "alarm-clear", {
        "resource": "/if:interfaces/if:interface[if:name='eth0']",
        "alarm-type-id": "emev:link-alarm", "alarm-type-qualifier": "optics"})
    assert cleared.result["changed"] and not drill.active
    sent = notes(wire, seen)
    assert [n.findtext("al:perceived-severity", namespaces=X) for n in sent] == \
        ["major", "minor", "cleared", "cleared"]
    assert [n.findtext("al:alarm-text", namespaces=X) for n in sent][:2] == ["drill 1",
                                                                             "low light"]


# -- config-drift ---------------------------------------------------------------------------------

def test_config_drift_changes_running_as_the_server_and_says_so():
    clock, devices = fleet()
    device = devices.get("core-1")
    connection, wire = watched(device)
    rpc(connection, "<lock><target><running/></target></lock>")     # a lock does not stop it
    seen = len(wire.sent)
    raised = raise_event(device, "config-drift", {}, duration="1h")
    assert raised.result["changed"] and raised.result["was"] is None
    [change] = notes(wire, seen)
    assert change.tag == f"{{{NCN}}}netconf-config-change"
    assert change.find("ncn:changed-by/ncn:server", X) is not None
    assert change.findtext("ncn:edit/ncn:target", namespaces=X) == "/sys:system/sys:contact"
    config = get(connection, wire, "<get-config><source><running/></source></get-config>")
    assert config.findtext(".//sys:contact", namespaces=X) == "changed at the console"
    clock.advance(3600)
    config = get(connection, wire, "<get-config><source><running/></source></get-config>")
    assert config.find(".//sys:contact", X) is None
    assert [n.findtext("ncn:edit/ncn:operation", namespaces=X)
            for n in notes(wire, seen)] == ["merge", "remove"]


def test_config_drift_of_a_list_entry_leaf_and_its_undo():
    _, devices = fleet()
    device = devices.get("core-1")
    path = "/ietf-interfaces:interfaces/interface[name='eth1']/description"
    old = device.running().xpath("string(//if:interface[if:name='eth1']/if:description)",
                                 namespaces=X)
    raised = raise_event(device, "config-drift", {"path": path, "value": "patched by hand"})
    assert raised.result["was"] == old
    assert device.running().xpath("string(//if:interface[if:name='eth1']/if:description)",
                                  namespaces=X) == "patched by hand"
    raised.undo()
    assert device.running().xpath("string(//if:interface[if:name='eth1']/if:description)",
                                  namespaces=X) == old


def test_config_drift_that_would_make_running_invalid_is_refused():
    _, devices = fleet()
    device = devices.get("core-1")
    before = device.running()
    with pytest.raises(BadEventParameter, match="invalid"):
        raise_event(device, "config-drift", {
            "path": "/if:interfaces/if:interface[if:name='eth1']/if:enabled", "value": "maybe"})
    assert device.running() is before


# -- rpc-fault --------------------------------------------------------------------------------

GET_CONFIG = "<get-config><source><running/></source></get-config>"


def test_rpc_fault_answers_the_next_n_rpcs_of_an_operation_with_an_error():
    _, devices = fleet()
    device = devices.get("core-1")
    connection, wire = connect(device)
    rpc(connection, GET_CONFIG, "1")
    rpc(connection, GET_CONFIG, "2")             # (now in the memo)
    answered = wire.sent[-1]
    raised = raise_event(device, "rpc-fault", {"operation": "get-config", "error-tag": "in-use",
                                               "count": 2})
    rpc(connection, "<get/>", "3")               # another operation: answered
    assert "<data" in wire.sent[-1]
    for message_id in ("4", "5"):
        rpc(connection, GET_CONFIG, message_id)
        reply = etree.fromstring(wire.sent[-1])
        assert reply.get("message-id") == message_id
        [error] = rpc_errors(reply)
        assert error["tag"] == "in-use" and error["type"] == "application"
        assert "injected" in error["message"]
    assert not raised.active and device.rpc_faults == []
    rpc(connection, GET_CONFIG, "6")
    assert wire.sent[-1] == answered.replace('message-id="2"', 'message-id="6"')
    assert device.stats["out-rpc-errors"] == 2 and device.stats["in-bad-rpcs"] == 0


def test_rpc_fault_for_a_duration_on_every_operation_carries_its_error_info():
    clock, devices = fleet()
    device = devices.get("core-1")
    connection, wire = connect(device)
    raise_event(device, "rpc-fault", {"error-tag": "lock-denied", "error-message": "busy"},
                duration=10)
    rpc(connection, "<lock><target><running/></target></lock>", "1")
    [error] = rpc_errors(etree.fromstring(wire.sent[-1]))
    assert error["tag"] == "lock-denied" and error["type"] == "protocol"
    assert error["message"] == "busy" and error["info"]["session-id"] == "0"
    clock.advance(10)
    rpc(connection, "<lock><target><running/></target></lock>", "2")
    assert "<ok/>" in wire.sent[-1]


def test_rpc_fault_latency_is_fleet_time_and_replies_stay_in_order():
    clock, devices = fleet()
    device = devices.get("core-1")
    connection, wire = connect(device)
    raise_event(device, "rpc-fault", {"operation": "get-config", "latency": "2s"})
    sent = len(wire.sent)
    rpc(connection, GET_CONFIG, "slow")
    rpc(connection, "<get/>", "fast")            # not delayed itself, but after the slow one
    assert len(wire.sent) == sent
    clock.advance(1.999)
    assert len(wire.sent) == sent
    clock.advance(0.001)
    assert [etree.fromstring(t).get("message-id") for t in wire.sent[sent:]] == ["slow", "fast"]
    journal = [e for e in device.journal() if e.direction == "out"]
    assert journal[-2].time == VIRTUAL_EPOCH + 2


def test_rpc_fault_jitter_comes_from_the_given_random_source():
    def delays(seed: int) -> list[float]:
        clock, devices = fleet()
        device = devices.get("core-1")
        connection, wire = connect(device)
        raise_event(device, "rpc-fault", {"latency": 1, "jitter": 1}, rng=random.Random(seed))
        answered = []
        for n in range(5):
            start = clock.now()
            sent = len(wire.sent)
            rpc(connection, "<get/>", str(n))
            while len(wire.sent) == sent:
                clock.jump()
            answered.append(round(clock.now() - start, 6))
        return answered

    first = delays(7)
    assert first == delays(7) != delays(8)
    assert all(1 <= d <= 2 for d in first) and len(set(first)) == 5


def test_rpc_fault_drops_a_session_at_its_nth_rpc_without_a_close_handshake():
    _, devices = fleet()
    device = devices.get("core-1")
    connection, wire = connect(device)
    watcher, seen = watched(device)
    raise_event(device, "rpc-fault", {"drop-after": 3})
    rpc(connection, "<get/>", "1")
    rpc(connection, "<get/>", "2")
    sent = len(wire.sent)
    rpc(connection, "<get/>", "3")
    assert len(wire.sent) == sent and wire.aborted and wire.closed is None
    end = [n for n in notes(seen) if n.tag == f"{{{NCN}}}netconf-session-end"][-1]
    assert end.findtext("ncn:termination-reason", namespaces=X) == "dropped"
    assert not watcher.session.closed           # (its own rpcs: one so far)


def test_a_reset_device_has_no_faults_left():
    clock, devices = fleet()
    device = devices.get("core-1")
    fault = raise_event(device, "rpc-fault", {"error-tag": "operation-failed"})
    storm = raise_event(device, "notification-storm", {"rate": 10})
    flap = raise_event(device, "link-flap", {"interface": "eth0", "count": 50, "period": 1})
    gone = raise_event(device, "device-unreachable", {}, duration=60)
    link = raise_event(device, "link-down", {"interface": "eth1"}, duration=60)
    assert device.rpc_faults and device.faults.effects
    device.reset()
    assert device.rpc_faults == [] and device.faults.effects == set()
    assert not any(r.active for r in (fault, storm, flap, gone, link))
    assert clock.next_timer() is None                  # every timer of theirs is gone
    logged = len(device.events.events)
    clock.advance(3600)
    assert len(device.events.events) == logged and device.status is Status.UP
    connection, wire = connect(device)
    rpc(connection, "<get/>")
    assert rpc_errors(etree.fromstring(wire.sent[-1])) == []
    link.undo()                                        # after a reset: nothing to undo
    assert len(device.events.events) == logged + 1     # (the session's start, no more)


def test_a_reboot_ends_the_faults_too():
    clock, devices = fleet()
    device = devices.get("core-1")
    fault = raise_event(device, "rpc-fault", {"latency": 5})
    storm = raise_event(device, "notification-storm", {"rate": 5})
    raise_event(device, "device-reboot", {"downtime": 0})
    assert device.rpc_faults == [] and not fault.active and not storm.active


# -- notification-storm -----------------------------------------------------------------------------

def test_a_storm_publishes_rate_a_second_for_its_duration():
    clock, devices = fleet()
    device = devices.get("core-1")
    _, wire = watched(device)
    seen = len(wire.sent)
    raised = raise_event(device, "notification-storm", {"rate": 100}, duration="3s")
    clock.advance(10)
    storm = notes(wire, seen)
    assert len(storm) == 300 and set(names(storm)) == {"storm-event"}
    assert [int(n.findtext("ev:sequence", namespaces=X)) for n in storm] == list(range(1, 301))
    times = [etree.fromstring(t)[0].text for t in wire.sent[seen:]]
    assert times[0][:19] == rfc3339(VIRTUAL_EPOCH)[:19]
    assert times[100] == rfc3339(VIRTUAL_EPOCH + 1) and times[-1] == rfc3339(VIRTUAL_EPOCH + 2.99)
    assert not raised.active and raised.result["sent"] == 300


def test_a_storm_of_count_notifications_ends_by_itself():
    clock, devices = fleet()
    device = devices.get("core-1")
    raised = raise_event(device, "notification-storm", {"rate": 1000, "count": 25})
    clock.advance(1)
    assert raised.result["sent"] == 25 and not raised.active
    assert sum(1 for e in device.events.events if "storm-event" in e.xml) == 25


def test_a_subscriber_that_does_not_keep_up_with_a_storm_is_let_go():
    clock, devices = fleet(notification_queue=50)
    device = devices.get("core-1")
    slow = MemoryWire(room=10)                       # takes ten messages, then stops reading
    slow_connection, _ = connect(device, slow)
    subscribe(slow_connection, slow)
    fast_connection, fast = watched(device)
    seen = len(fast.sent)
    raise_event(device, "notification-storm", {"rate": 1000}, duration=2)
    clock.advance(2)
    assert slow_connection.session.closed and "overflow" in slow.closed.detail
    assert len(slow.sent) <= 10 + 50 + 1             # bounded: what it took, the queue, no more
    assert len([n for n in notes(fast, seen) if n.tag.endswith("storm-event")]) == 2000
    assert device.stats["notification-overflows"] == 1


# -- the API -----------------------------------------------------------------------------------------

def post(running, path: str, body) -> tuple[int, dict]:
    return running.api(path, "POST", json.dumps(body).encode())


def test_the_api_raises_any_event_with_a_duration(make_server):
    clock = VirtualClock()
    running = make_server(clock=clock)
    status, answer = post(running, "/api/devices/core-1/events",
                          {"event": "hardware-failure", "component": "psu-1", "duration": "90s"})
    assert status == 200 and answer == {"device": "core-1", "event": "hardware-failure",
                                        "changed": True, "component": "psu-1",
                                        "oper-state": "disabled",
                                        "ends-at": VIRTUAL_EPOCH + 90}
    running.advance(90)
    assert running.call(lambda: running.fleet.get("core-1").operational()
                        .component("psu-1").enabled)
    status, answer = post(running, "/api/devices/core-1/events",
                          {"event": "rpc-fault", "operation": "get", "error-tag": "in-use",
                           "count": 1})
    assert status == 200 and answer["operation"] == "get"
    with running.connect("core-1") as client:
        assert rpc_errors(client.rpc("<get/>"))[0]["tag"] == "in-use"
        assert rpc_errors(client.rpc("<get/>")) == []
    assert running.api("/api/")[1]["events"] == describe()


@pytest.mark.parametrize("body, status, words", [
    ({"event": "alarm-raise"}, 400, ["access-01", "no ietf-alarms"]),
    ({"event": "hardware-failure", "component": "fan-7"}, 404, ["fan-7"]),
    ({"event": "link-up", "interface": "ge-0/0/1", "duration": 5}, 400, ["takes no duration"]),
    ({"event": "link-down", "interface": "ge-0/0/1", "duration": "a while"}, 400, ["'duration'"]),
    ({"event": "notification-storm", "rate": "fast"}, 400, ["'rate'", "whole number"]),
    ({"event": "device-hang", "devices": ["x"]}, 400, ["unknown key 'devices'"]),
])
def test_the_api_refuses_bad_events_with_a_message(server, body, status, words):
    code, answer = post(server, "/api/devices/access-01/events", body)
    assert code == status and answer["status"] == status
    for word in words:
        assert word in answer["error"]
    assert post(server, "/api/devices/nope/events", {"event": "device-hang"})[0] == 404


def test_fleet_wide_events_of_every_target(make_server):
    running = make_server(clock=VirtualClock())
    status, answer = post(running, "/api/events", {"event": "hardware-failure",
                                                   "component": "fan-*", "profile": "switch"})
    assert (status, answer) == (200, {"matched": 3, "raised": 6, "changed": 6})
    status, answer = post(running, "/api/events", {"event": "device-hang", "duration": 60,
                                                   "devices": ["core-1", "edge-01"]})
    assert (status, answer) == (200, {"matched": 2, "raised": 2, "changed": 2})
    assert running.api("/api/devices/edge-01")[1]["status"] == "hung"
    running.advance(60)
    assert running.api("/api/devices/edge-01")[1]["status"] == "up"
    status, answer = post(running, "/api/events", {"event": "alarm-raise"})   # switches: none
    assert status == 400 and "no ietf-alarms" in answer["error"]
    status, answer = post(running, "/api/events", {"event": "alarm-raise", "profile": "router"})
    assert (status, answer) == (200, {"matched": 3, "raised": 3, "changed": 3})
    status, answer = post(running, "/api/events", {"event": "hardware-failure",
                                                   "component": "fan-1", "devices": ["core-1"],
                                                   "severity": "bad"})
    assert status == 400 and "'severity'" in answer["error"]


# -- the notifications are valid YANG instance data (libyang) -------------------------------------

YANGLINT = shutil.which("yanglint")


@pytest.mark.skipif(YANGLINT is None, reason="yanglint (libyang2-tools) is not installed")
def test_the_catalogues_notifications_validate_with_yanglint(tmp_path):
    clock, devices = fleet()
    device = devices.get("core-1")
    connection, wire = watched(device)
    seen = len(wire.sent)
    raise_event(device, "hardware-failure", {"component": "port-eth1"})
    raise_event(device, "alarm-raise", {"alarm-type-qualifier": "q"})
    raise_event(device, "notification-storm", {"rate": 1, "count": 1})
    raise_event(device, "device-reboot", {"downtime": 1})
    clock.advance(1)
    # the failure again, after the reboot, so that the data shows what they name
    connection, seen_wire = watched(device)
    raise_event(device, "hardware-failure", {"component": "port-eth1"})
    raise_event(device, "config-drift", {})
    rpc(connection, f"<get><filter type='subtree'><interfaces xmlns='{IF}'/><hardware "
                    f"xmlns='{HW}'/><alarms xmlns='{AL}'/><system xmlns='{SYS}'/></filter></get>",
        "g")
    data = etree.fromstring(seen_wire.sent[-1]).find("nc:data", X)
    operational = tmp_path / "operational.xml"
    operational.write_text("".join(etree.tostring(c, encoding="unicode") for c in data))
    texts = [t for t in wire.sent[seen:] + seen_wire.sent if t.startswith("<notification")]
    kinds = {}
    for text in texts:
        kinds.setdefault(etree.QName(etree.fromstring(text)[1]).localname, text)
    restarted = [e for e in device.events.events if "device-restarted" in e.xml][0]
    kinds["device-restarted"] = restarted.envelope()
    assert {"hardware-state-oper-disabled", "alarm-notification", "storm-event",
            "netconf-config-change", "link-down", "device-restarted"} <= set(kinds)
    modules = Path(sys.prefix, "share", "yang", "modules")
    ours = Path(__file__).parents[1] / "yang"
    features = ["-F", "ietf-hardware:entity-mib,hardware-state"]
    command = [YANGLINT, *features, "-t", "nc-notif", "-p", str(modules / "ietf"),
               "-p", str(modules / "iana"), "-p", str(ours), "-O", str(operational),
               *(str(modules / "ietf" / f"{name}.yang") for name in (
                   "ietf-netconf-notifications", "ietf-alarms", "ietf-hardware",
                   "ietf-interfaces", "ietf-ip", "ietf-system", "ietf-routing",
                   "ietf-ipv4-unicast-routing", "ietf-ipv6-unicast-routing")),
               str(modules / "iana" / "iana-if-type.yang"),
               str(modules / "iana" / "iana-hardware.yang"), str(ours / "emulator-events.yang")]
    failures = []
    for kind, text in kinds.items():
        path = tmp_path / f"{kind}.xml"
        path.write_text(text)
        result = subprocess.run([*command, str(path)], capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            failures.append(f"{kind}: {result.stderr.strip()}")
    assert not failures, "\n".join(failures)


def test_the_catalogue_module_imports_no_server_or_api():
    source = Path(catalogue.__file__).read_text()
    assert "emulator.api" not in source and "emulator.server" not in source


def test_rpc_faults_over_websocket_on_the_virtual_clock(make_server):
    running = make_server(clock=VirtualClock())
    with running.connect("core-1") as client:
        status, _ = post(running, "/api/devices/core-1/events",
                         {"event": "rpc-fault", "latency": "30s", "count": 1})
        assert status == 200
        client.send(f'<rpc message-id="late" xmlns="{NC}"><get-config><source><running/>'
                    "</source></get-config></rpc>")
        with pytest.raises(TimeoutError):
            client.recv(timeout=0.3)                 # (30 s of the fleet's time: not yet)
        running.advance(30)
        reply = client.recv_xml()
        assert reply.get("message-id") == "late" and reply.find("nc:data", X) is not None
        assert post(running, "/api/devices/core-1/events",
                    {"event": "rpc-fault", "drop-after": 1})[0] == 200
        client.send(f'<rpc message-id="gone" xmlns="{NC}"><get/></rpc>')
        assert client.wait_closed() == (None, None)      # no close frame
    assert running.api("/api/devices/core-1")[1]["session_count"] == 0


def test_components_mirror_interfaces():
    _, devices = fleet()
    device = devices.get("core-1")
    assert device.components() == ["chassis", "psu-1", "fan-1", "psu-2", "fan-2", "port-eth0",
                                   "port-eth1", "port-eth2", "port-lo0"]
    assert device.components("fan-*") == ["fan-1", "fan-2"]
    assert devices.get("access-01").components("port-ge-0/0/[12]") == ["port-ge-0/0/1",
                                                                       "port-ge-0/0/2"]


def test_rpcs_piling_up_behind_a_latency_stop_the_transport_reading():
    import asyncio

    from emulator.sessions import DELAYED_BACKLOG

    async def scenario() -> None:
        clock, devices = fleet()
        device = devices.get("core-1")
        connection, wire = connect(device)
        raise_event(device, "rpc-fault", {"latency": 5})
        for n in range(DELAYED_BACKLOG):
            await asyncio.wait_for(connection.ready_for_more(), 1)
            rpc(connection, "<get/>", str(n))
        reading = asyncio.ensure_future(connection.ready_for_more())
        await asyncio.sleep(0)
        assert not reading.done()                   # the transport waits before reading more
        clock.advance(5)
        await asyncio.wait_for(reading, 1)
        assert [etree.fromstring(t).get("message-id") for t in wire.sent[-DELAYED_BACKLOG:]] \
            == [str(n) for n in range(DELAYED_BACKLOG)]

    asyncio.run(scenario())


def test_a_storm_with_a_count_and_a_duration_stops_at_whichever_comes_first():
    clock, devices = fleet()
    device = devices.get("core-1")
    short = raise_event(device, "notification-storm", {"rate": 10, "count": 1000}, duration=2)
    assert short.ends_at == VIRTUAL_EPOCH + 2
    few = raise_event(device, "notification-storm", {"rate": 10, "count": 5}, duration=60)
    assert few.ends_at == VIRTUAL_EPOCH + 0.4
    clock.advance(60)
    assert short.result["sent"] == 20 and few.result["sent"] == 5
    assert not short.active and not few.active
