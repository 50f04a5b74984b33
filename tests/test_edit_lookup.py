"""The edit engine finds list entries by key two ways, a C-level scan for the
first few lookups in a big list and an index after: a seeded corpus of
edits gives the same datastore and the same errors either way. And the
operational state follows edits that add or remove interfaces, however
they do it (sans-IO)."""

from __future__ import annotations

import random
from copy import deepcopy

import pytest
from lxml import etree

from bench.netconf import big_profile
from emulator.clock import VirtualClock
from emulator.datastore import edit as edit_module
from emulator.datastore.edit import apply_edit
from emulator.fleet import load_fleet
from emulator.runtime import Runtime
from tests.client import NC
from tests.memory import connect

IF = "urn:ietf:params:xml:ns:yang:ietf-interfaces"
IP = "urn:ietf:params:xml:ns:yang:ietf-ip"
ENTRIES = 60


@pytest.fixture(scope="module")
def device(tmp_path_factory):
    return load_fleet(big_profile(tmp_path_factory.mktemp("edits"), ENTRIES)).get("big-1")


def random_edit(rng: random.Random) -> str:
    items = []
    for _ in range(rng.randrange(1, 12)):
        name = rng.choice([f"eth{rng.randrange(ENTRIES + 10)}", "eth3", " eth3", "eth3 ", "new"])
        operation = rng.choice(["", "", ' nc:operation="merge"', ' nc:operation="replace"',
                                ' nc:operation="delete"', ' nc:operation="remove"',
                                ' nc:operation="create"'])
        body = rng.choice(["", f'<ipv4 xmlns="{IP}"><mtu>{rng.randrange(1280, 9000)}</mtu></ipv4>',
                           "<description>d</description>", "<enabled>false</enabled>",
                           "<type>ianaift:ethernetCsmacd</type>"])
        items.append(f"<interface{operation}><name>{name}</name>{body}</interface>")
    return (f'<config xmlns="{NC}" xmlns:nc="{NC}"><interfaces xmlns="{IF}" '
            'xmlns:ianaift="urn:ietf:params:xml:ns:yang:iana-if-type">'
            f'{"".join(items)}</interfaces></config>')


def outcome(schema, tree, text: str, error_option: str):
    work = deepcopy(tree)
    result = apply_edit(schema, work, etree.fromstring(text), error_option=error_option)
    return (etree.tostring(work, method="c14n"),
            [(e.tag, e.message, e.path) for e in result.errors],
            [(op, etree.tostring(item)) for op, item in result.changes])


def test_lookups_by_scan_and_by_index_edit_alike(device, monkeypatch):
    schema = device.profile.schema
    tree = device.running()
    rng = random.Random(1129)
    for _ in range(150):
        text = random_edit(rng)
        error_option = rng.choice(["stop-on-error", "continue-on-error"])
        monkeypatch.setattr(edit_module, "DIRECT_LOOKUPS", 0)      # the index, always
        indexed = outcome(schema, tree, text, error_option)
        monkeypatch.setattr(edit_module, "DIRECT_LOOKUPS", 1000)   # the scan, always
        scanned = outcome(schema, tree, text, error_option)
        assert scanned == indexed, text


def session(device):
    return connect(device)


def ask(connection, wire, body: str) -> str:
    connection.receive(f'<rpc message-id="1" xmlns="{NC}">{body}</rpc>')
    return wire.sent[-1]


def state_names(session, transport) -> list[str]:
    reply = etree.fromstring(ask(session, transport, f'<get><filter><interfaces xmlns="{IF}"/>'
                                                     "</filter></get>").encode())
    return reply.xpath("//i:interface[i:oper-status]/i:name/text()", namespaces={"i": IF})


def test_the_state_follows_interfaces_added_and_removed():
    device = load_fleet(None, Runtime(clock=VirtualClock())).get("core-1")
    session_, transport = session(device)
    before = state_names(session_, transport)
    # a leaf below an entry: nothing to follow
    assert "<ok/>" in ask(session_, transport, f'<edit-config><target><running/></target><config>'
                          f'<interfaces xmlns="{IF}"><interface><name>{before[0]}</name>'
                          "<description>x</description></interface></interfaces></config>"
                          "</edit-config>")
    assert state_names(session_, transport) == before
    # an entry added
    assert "<ok/>" in ask(session_, transport, f'<edit-config><target><running/></target><config>'
                          f'<interfaces xmlns="{IF}" xmlns:ianaift="urn:ietf:params:xml:ns:yang:'
                          'iana-if-type"><interface><name>eth9</name><type>ianaift:ethernetCsmacd'
                          "</type></interface></interfaces></config></edit-config>")
    assert state_names(session_, transport) == [*before, "eth9"]
    # every interface gone by a default-operation replace that does not name them
    config = etree.tostring(device.running().find("{urn:ietf:params:xml:ns:yang:ietf-system}system"),
                            encoding="unicode")
    assert "<ok/>" in ask(session_, transport, "<edit-config><target><running/></target>"
                          "<default-operation>replace</default-operation>"
                          f"<config>{config}</config></edit-config>")
    assert state_names(session_, transport) == []
    assert device.operational().links == {}
