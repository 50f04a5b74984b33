"""emulator.testing.NetconfFleet on its own (the plugin's fixtures wrap it)."""

from __future__ import annotations

from typing import Iterator

import pytest

from emulator.testing import FleetError, NetconfFleet, parse_rpcs
from tests.client import NetconfClient

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NetconfFleet]:
    with NetconfFleet.start(data_dir=tmp_path_factory.mktemp("testing")) as served:
        yield served


@pytest.fixture
def clean(fleet: NetconfFleet) -> NetconfFleet:
    fleet.reset()
    return fleet


def test_unknown_devices_and_clocks_are_clear_errors(clean, tmp_path):
    for call in (lambda: clean.url("nope"), lambda: clean.reset("core-1", "nope"),
                 lambda: clean.rpcs("nope"), lambda: clean.inject("nope", "link-down")):
        with pytest.raises(FleetError, match=r"no device named 'nope' in this fleet \(devices: "
                                             r"core-1, edge-01, .*\)"):
            call()
    with pytest.raises(FleetError, match="clock must be 'virtual' or 'real', not 'fast'"):
        NetconfFleet.start(data_dir=tmp_path, clock="fast")


def test_rpcs_carry_their_replies(clean):
    with NetconfClient.connect(clean.url("edge-02")) as client:
        client.rpc("<get-config><source><running/></source></get-config>", message_id="a")
        client.rpc("<lock><target><nowhere/></target></lock>", message_id="b")
        client.send(f'<rpc message-id="c" xmlns="{NC}"><commit/></rpc>')   # no reply awaited yet
        client.recv()
    get, lock, commit = clean.rpcs("edge-02")
    assert (get.operation, get.message_id, get.ok) == ("get-config", "a", True)
    assert lock.operation == "lock" and not lock.ok
    assert lock.reply.find(f"{{{NC}}}rpc-error") is not None
    assert commit.session == get.session and commit.ok
    assert clean.assert_rpc("edge-02", "lock", where=lambda r: not r.ok) == [lock]
    with pytest.raises(AssertionError, match="expected at least one <lock> matching the condition"):
        clean.assert_rpc("edge-02", "lock", where=lambda r: r.ok)
    assert [e.direction for e in clean.journal("edge-02")][:2] == ["out", "in"]   # hello first


def test_what_is_not_an_rpc_is_left_out():
    from emulator.device import JournalEntry
    entries = [JournalEntry((1, 0.0, "in", 1, f'<hello xmlns="{NC}"/>')),
               JournalEntry((2, 0.0, "in", 1, "<rpc not well-formed")),
               JournalEntry((3, 0.0, "in", 1, f'<rpc xmlns="{NC}" message-id="1"/>')),
               JournalEntry((4, 0.0, "in", 1, f'<rpc xmlns="{NC}" message-id="2"><get/></rpc>'))]
    [only] = parse_rpcs("d", entries)
    assert only.operation == "get" and only.reply is None and not only.ok


def test_call_runs_on_the_fleets_loop_and_returns_or_raises(clean):
    import threading
    assert clean.call(lambda: threading.current_thread().name) == "netconf-fleet"
    with pytest.raises(ZeroDivisionError):
        clean.call(lambda: 1 / 0)
    assert clean.call(lambda: clean.device("core-1").status.value) == "up"
    assert repr(clean).startswith("<NetconfFleet 6 devices on port ")
