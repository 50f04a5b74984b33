"""<get> builds what its filter can reach, and its quick ways (the interfaces'
state written as text, whole top-level nodes written as they are) answer
exactly as the general way does. Sans-IO: a device and a session, no socket."""

from __future__ import annotations

import pytest
from lxml import etree

from emulator import operational
from emulator.clock import VirtualClock
from emulator.fleet import load_fleet
from emulator.runtime import Runtime
from tests.client import NC
from tests.memory import connect

IF = "urn:ietf:params:xml:ns:yang:ietf-interfaces"
HW = "urn:ietf:params:xml:ns:yang:ietf-hardware"
NCM = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
YL = "urn:ietf:params:xml:ns:yang:ietf-yang-library"
SYS = "urn:ietf:params:xml:ns:yang:ietf-system"


@pytest.fixture(params=["core-1", "access-01"])
def device(request):
    return load_fleet(None, Runtime(clock=VirtualClock())).get(request.param)


def ask(device, body: str) -> etree._Element:
    connection, wire = connect(device)
    connection.receive(f'<rpc message-id="1" xmlns="{NC}">{body}</rpc>')
    reply = wire.last()
    assert reply.find(f"{{{NC}}}rpc-error") is None, wire.sent[-1]
    return reply.find(f"{{{NC}}}data")


def shape(element) -> tuple:
    """An element as data: names, text, attributes, children (not where
    namespace declarations happen to be written)."""
    return (element.tag, (element.text or "").strip(), sorted(element.attrib.items()),
            [shape(c) for c in element if type(c.tag) is str])


def test_the_interfaces_written_as_text_are_what_merging_gives(device, monkeypatch):
    quick = device.state()
    monkeypatch.setattr(operational.OperationalState, "interfaces_text", lambda *a: None)
    general = device.state()
    assert shape(quick) == shape(general)
    assert quick.find(f"{{{IF}}}interfaces/{{{IF}}}interface/{{{IF}}}statistics") is not None


@pytest.mark.parametrize("whole, general", [
    (f'<filter><interfaces xmlns="{IF}"/></filter>',
     f'<filter><interfaces xmlns="{IF}"><interface/></interfaces></filter>'),
    ('<filter><interfaces xmlns=""/></filter>',
     f'<filter><interfaces xmlns="{IF}"><interface/></interfaces></filter>'),
    (f'<filter type="xpath" xmlns:if="{IF}" select="/if:interfaces"/>',
     f'<filter type="xpath" xmlns:if="{IF}" select="/if:interfaces/if:interface"/>'),
    (f'<filter><system xmlns="{SYS}"/><interfaces xmlns="{IF}"/></filter>',
     f'<filter><system xmlns="{SYS}"><hostname/><clock/><ntp/></system>'
     f'<interfaces xmlns="{IF}"><interface/></interfaces></filter>'),
    (f'<filter><hardware xmlns="{HW}"/></filter>',
     f'<filter><hardware xmlns="{HW}"><component/><last-change/></hardware></filter>'),
])
def test_whole_top_level_nodes_are_answered_as_the_general_way_answers(device, whole, general):
    assert shape(ask(device, f"<get>{whole}</get>")) == shape(ask(device, f"<get>{general}</get>"))
    assert shape(ask(device, f"<get-config><source><running/></source>{whole}</get-config>")) == \
        shape(ask(device, f"<get-config><source><running/></source>{general}</get-config>"))


def test_get_builds_only_what_the_filter_can_reach(device, monkeypatch):
    from emulator import monitoring
    built = []
    monkeypatch.setattr(monitoring, "STATE", tuple(
        (tag, (lambda f, t: lambda d: built.append(t) or f(d))(build, tag))
        for tag, build in monitoring.STATE))
    ask(device, f'<get><filter><interfaces xmlns="{IF}"><interface><name>eth0</name>'
                "<oper-status/></interface></interfaces></filter></get>")
    ask(device, f'<get><filter type="xpath" xmlns:if="{IF}" '
                "select=\"/if:interfaces/if:interface[if:name='eth0']\"/></get>")
    assert built == []
    data = ask(device, f'<get><filter><netconf-state xmlns="{NCM}"><sessions/></netconf-state>'
                       "</filter></get>")
    assert built == [f"{{{NCM}}}netconf-state"]
    assert data.find(f"{{{NCM}}}netconf-state/{{{NCM}}}sessions") is not None
    built.clear()
    ask(device, '<get><filter type="xpath" select="//*[local-name()=\'name\']"/></get>')
    assert f"{{{YL}}}yang-library" in built   # an XPath beyond the simple form: everything


def interfaces_by_name_corpus(names: list[str]) -> list[str]:
    """Filters that select interfaces by name (and ones that look alike but do not)."""
    a, b = names[0], names[-1]
    entry = "<interface><name>{}</name>{}</interface>"
    bodies = [entry.format(a, ""), entry.format(f"  {a} ", ""), entry.format("nope", ""),
              entry.format(a, "<oper-status/>") + entry.format(b, "<statistics/>"),
              entry.format(b, "<name/><admin-status/>"),          # the key selected explicitly
              entry.format(a, "<enabled>true</enabled>"),          # a second content match
              entry.format(a, "<type>ianaift:ethernetCsmacd</type>"),
              entry.format(b, "") + entry.format(a, "<if-index/>"),   # (document order)
              entry.format(a, "") + entry.format(a, "<speed/>"),
              "<interface><enabled>false</enabled></interface>",  # no name: the general way
              f"<interface><name>{a}</name></interface><interface/>"]
    return [f'<filter><interfaces xmlns="{IF}" xmlns:ianaift="urn:ietf:params:xml:ns:yang:'
            f'iana-if-type">{body}</interfaces></filter>' for body in bodies]


def test_interfaces_by_name_are_answered_as_the_general_way_answers(device, monkeypatch):
    """<get> of interfaces by name builds just those entries; it answers exactly as
    building every interface and filtering does, whatever the filter holds."""
    from emulator.datastore import operations
    names = device.interfaces()
    device.raise_event("link-down", {"interface": names[-1]})
    device.runtime.clock.advance(90)   # (counters moved)
    general = operations._interfaces_by_name
    used = []
    monkeypatch.setattr(operations, "_interfaces_by_name",
                        lambda *a: used.append(general(*a)) or used[-1])
    for filter_xml in interfaces_by_name_corpus(names):
        for extra in ("", '<with-defaults xmlns="urn:ietf:params:xml:ns:yang:'
                          'ietf-netconf-with-defaults">report-all</with-defaults>'):
            quick = ask(device, f"<get>{filter_xml}{extra}</get>")
            monkeypatch.setattr(operations, "_interfaces_by_name", lambda *a: None)
            plain = ask(device, f"<get>{filter_xml}{extra}</get>")
            monkeypatch.setattr(operations, "_interfaces_by_name",
                                lambda *a: used.append(general(*a)) or used[-1])
            assert shape(quick) == shape(plain), filter_xml
    assert sum(u is not None for u in used) >= 16   # the quick way answered most of them
