"""emulator.client: real ncclient over a real WebSocket to a real fleet."""

from __future__ import annotations

import time
from typing import Iterator

import pytest
from ncclient.operations import RPCError
from ncclient.transport.errors import TransportError

from emulator.client import WebSocketError, connect, root_of
from emulator.testing import NetconfFleet

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
SYS = "urn:ietf:params:xml:ns:yang:ietf-system"
IF = "urn:ietf:params:xml:ns:yang:ietf-interfaces"
HOSTNAME = ("subtree", f'<system xmlns="{SYS}"><hostname/></system>')


def hostname_config(name: str) -> str:
    return f'<config xmlns="{NC}"><system xmlns="{SYS}"><hostname>{name}</hostname></system></config>'


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NetconfFleet]:
    with NetconfFleet.start(data_dir=tmp_path_factory.mktemp("client")) as served:
        yield served


@pytest.fixture
def core(fleet: NetconfFleet) -> Iterator[NetconfFleet]:
    fleet.reset()
    yield fleet
    fleet.close_clients()


def test_get_and_get_config(core):
    with connect(core.url("core-1"), timeout=10) as m:
        assert m.connected and int(m.session_id) > 0
        assert "urn:ietf:params:netconf:base:1.1" in m.server_capabilities
        config = m.get_config("running", filter=HOSTNAME).data_xml
        assert "<hostname>core-1</hostname>" in config
        state = m.get(filter=("subtree", f'<interfaces xmlns="{IF}"/>')).data_xml
        assert "<oper-status>" in state          # state, not only configuration
    assert not m.connected
    core.assert_rpc("core-1", "close-session", count=1)


def test_edit_candidate_commit_and_discard(core):
    m = core.client("edge-01")
    m.edit_config(target="candidate", config=hostname_config("staged"))
    assert "edge-01" in m.get_config("running", filter=HOSTNAME).data_xml
    m.commit()
    assert "staged" in m.get_config("running", filter=HOSTNAME).data_xml
    m.edit_config(target="candidate", config=hostname_config("dropped"))
    m.discard_changes()
    assert "staged" in m.get_config("candidate", filter=HOSTNAME).data_xml
    [edit, _] = core.rpcs("edge-01", "edit-config")
    assert edit.ok and edit.find("nc:target/nc:candidate") is not None


def test_rpc_errors_raise_with_their_fields(core):
    m = core.client("core-1")
    with pytest.raises(RPCError) as caught:
        m.edit_config(target="running", config=hostname_config("x" * 300))  # longer than 253
    assert caught.value.tag == "invalid-value"
    assert "hostname" in (caught.value.path or "")


def test_lock_is_denied_to_another_session_until_unlocked(core):
    first, second = core.client("access-01"), core.client("access-01")
    first.lock("running")
    with pytest.raises(RPCError) as caught:
        second.lock("running")
    assert caught.value.tag == "lock-denied"
    assert f"session-id>{first.session_id}</" in caught.value.info
    with first.locked("candidate"):
        with pytest.raises(RPCError):
            second.edit_config(target="candidate", config=hostname_config("blocked"))
    first.unlock("running")
    second.lock("running")
    second.unlock("running")


def test_notifications_arrive_between_replies(core):
    m = core.client("core-1")
    m.create_subscription()
    core.inject("core-1", "link-down", interface="eth0")
    m.edit_config(target="running", config=hostname_config("noted"))   # replies go on meanwhile
    kinds = []
    for _ in range(3):
        note = m.take_notification(timeout=10)
        assert note is not None
        kinds.append(note.notification_ele[1].tag.split("}")[1])
    assert kinds == ["link-down", "alarm-notification", "netconf-config-change"]
    assert m.take_notification(block=False) is None


def test_replay_since_a_start_time(core):
    core.inject("core-1", "link-down", interface="eth1")
    m = core.client("core-1")
    m.create_subscription(start_time="2000-01-01T00:00:00Z")
    tags = []
    while (note := m.take_notification(timeout=10)) is not None:
        tags.append(note.notification_ele[-1].tag.split("}")[1])
        if tags[-1] == "replayComplete":
            break
    assert "link-down" in tags and tags[-1] == "replayComplete"


def test_a_reset_ends_the_session_and_the_client_sees_it(core):
    m = core.client("core-1")
    m.get_config("running", filter=HOSTNAME)
    core.reset("core-1")
    m._session.join(10)            # the session thread ends when the close frame arrives
    assert not m.connected
    with pytest.raises(TransportError):
        m.get_config("running")


def test_round_trips_do_not_wait_for_a_poll(core):
    """Stock ncclient sends between reads that wait up to 100 ms: 50 round
    trips would take seconds. These take milliseconds each."""
    m = core.client("core-1")
    m.get_config("running", filter=HOSTNAME)
    began = time.perf_counter()
    for _ in range(50):
        m.get_config("running", filter=HOSTNAME)
    assert time.perf_counter() - began < 2.5


def test_bad_urls_and_unknown_devices_are_clear_errors(core):
    with pytest.raises(ValueError, match="not a ws:// or wss:// URL"):
        connect("http://127.0.0.1:1/netconf/core-1")
    with pytest.raises(WebSocketError, match="cannot open .*/netconf/nope.*404"):
        connect(core.url("core-1").replace("core-1", "nope"), timeout=5)
    with pytest.raises(WebSocketError, match="cannot open"):
        connect("ws://127.0.0.1:1/netconf/core-1", timeout=5)    # nothing listens there


@pytest.mark.parametrize("raw, expected", [
    ('<?xml version="1.0"?><rpc-reply message-id="7" xmlns="urn:x"><ok/></rpc-reply>',
     ("{urn:x}rpc-reply", {"message-id": "7"})),
    ("<nc:rpc-reply xmlns:nc='urn:x' message-id='8'/>", ("{urn:x}rpc-reply", {"message-id": "8"})),
    ('<!-- first --><rpc-reply xmlns="urn:x" message-id="a&amp;b"/>',
     ("{urn:x}rpc-reply", {"message-id": "a&b"})),
    ('<rpc-reply xmlns="urn:x" xmlns:y="urn:y" y:z="1" message-id="9"/>',
     ("{urn:x}rpc-reply", {"{urn:y}z": "1", "message-id": "9"})),
])
def test_the_root_element_is_read_as_ncclient_reads_it(raw, expected):
    from ncclient.xml_ import parse_root
    assert root_of(raw) == expected
    assert (parse_root(raw)[0], dict(parse_root(raw)[1])) == expected
