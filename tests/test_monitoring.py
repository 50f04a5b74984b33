"""What a device says about itself, and its live state, end to end over WebSocket:
<get>, <get-config>, <get-schema>, ietf-netconf-monitoring, ietf-yang-library,
the hello's module capabilities."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from emulator import paths
from emulator.clock import VirtualClock, rfc3339
from emulator.fleet import load_fleet
from emulator.schema.validate import validate
from tests.client import NC, NS, rpc_errors

IF = "urn:ietf:params:xml:ns:yang:ietf-interfaces"
SYS = "urn:ietf:params:xml:ns:yang:ietf-system"
HW = "urn:ietf:params:xml:ns:yang:ietf-hardware"
NCM = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
YL = "urn:ietf:params:xml:ns:yang:ietf-yang-library"
RT = "urn:ietf:params:xml:ns:yang:ietf-routing"
VLAN = "urn:netconf-emulator:yang:vlans"
LAB_ROUTER = Path(__file__).parent / "profiles" / "lab-router"
X = {"if": IF, "sys": SYS, "hw": HW, "ncm": NCM, "yl": YL, "rt": RT, "nc": NC, "vlan": VLAN}


def data_of(reply: etree._Element) -> etree._Element:
    data = reply.find("nc:data", NS)
    assert data is not None, etree.tostring(reply)
    return data


def filtered(body: str) -> str:
    return f'<filter type="subtree">{body}</filter>'


# -- get and get-config ---------------------------------------------------------------

def test_get_config_never_returns_state(server):
    with server.connect("core-1") as client:
        data = data_of(client.rpc("<get-config><source><running/></source></get-config>"))
    assert data.xpath("//if:interface/if:name/text()", namespaces=X) == ["eth0", "eth1", "eth2", "lo0"]
    assert data.findtext("sys:system/sys:hostname", namespaces=X) == "core-1"
    for state_only in ("//if:oper-status", "//if:statistics", "//ncm:netconf-state",
                       "//sys:system-state", "//hw:hardware", "//yl:yang-library", "//rt:ribs"):
        assert not data.xpath(state_only, namespaces=X), state_only


def test_get_returns_configuration_and_state_together(server):
    with server.connect("core-1") as client:
        data = data_of(client.rpc("<get/>"))
    eth0 = data.xpath("if:interfaces/if:interface[if:name='eth0']", namespaces=X)[0]
    assert eth0.findtext("if:description", namespaces=X) == "management"   # configuration
    assert eth0.findtext("if:oper-status", namespaces=X) == "up"            # state
    assert eth0.findtext("if:phys-address", namespaces=X).startswith("02:00:5e")
    assert eth0.findtext("if:speed", namespaces=X) == "1000000000"
    assert data.xpath("if:interfaces/if:interface[if:name='eth2']/if:oper-status/text()",
                      namespaces=X) == ["down"]                              # seeded, and disabled
    assert data.find("sys:system-state/sys:clock/sys:boot-datetime", X) is not None
    classes = data.xpath("hw:hardware/hw:component/hw:class/text()", namespaces=X)
    assert {"ianahw:chassis", "ianahw:fan", "ianahw:power-supply", "ianahw:port"} <= set(classes)
    assert data.xpath("rt:routing/rt:ribs/rt:rib/rt:routes/rt:route", namespaces=X)
    assert data.xpath("string(al:alarms/al:alarm-list/al:number-of-alarms)",
                      namespaces={"al": "urn:ietf:params:xml:ns:yang:ietf-alarms"}) == "0"


def test_every_default_device_reports_state_that_its_schema_accepts(server):
    for device in load_fleet():
        errors = validate(device.profile.schema, device.state(), config=False)
        assert errors == [], (device.name, [(e.path, e.message) for e in errors])


def test_counters_and_last_change_move_with_the_clock(make_server):
    running = make_server(clock=VirtualClock())
    query = filtered(f'<interfaces xmlns="{IF}"><interface><name>eth1</name><last-change/>'
                     "<statistics><in-octets/></statistics></interface></interfaces>")

    def read(client) -> tuple[int, str]:
        data = data_of(client.rpc(f"<get>{query}</get>"))
        return (int(data.xpath("string(//if:in-octets)", namespaces=X)),
                data.xpath("string(//if:last-change)", namespaces=X))

    with running.connect("edge-01") as client:
        octets, booted = read(client)
        running.advance(3600)                  # an hour of device time
        later, last_change = read(client)
        assert later > octets and last_change == booted
        running.call(lambda: running.fleet.get("edge-01").raise_event(
            "link-down", {"interface": "eth1"}))
        down_at = running.call(lambda: running.runtime.clock.now())
        running.advance(600)
        stopped, last_change = read(client)
        assert last_change == rfc3339(down_at)
        running.advance(600)
        assert read(client)[0] == stopped      # no traffic while the link is down


def test_subtree_filter_on_state(server):
    with server.connect("access-01") as client:
        data = data_of(client.rpc(
            "<get>" + filtered(f'<interfaces xmlns="{IF}"><interface><name>ge-0/0/5</name>'
                               "<oper-status/></interface></interfaces>") + "</get>"))
    [interfaces] = data
    [interface] = interfaces
    assert [(etree.QName(e).localname, e.text) for e in interface] == [
        ("name", "ge-0/0/5"), ("oper-status", "down")]


def test_xpath_filter(server):
    with server.connect("access-01") as client:
        reply = client.rpc(f'<get><filter type="xpath" xmlns:v="{VLAN}" '
                           "select=\"/v:vlans/v:vlan[v:id=20]/v:name\"/></get>")
        names = data_of(reply).xpath("//vlan:name/text()", namespaces=X)
        assert names == ["voice"]
        [err] = rpc_errors(client.rpc('<get><filter type="xpath" select="/a["/></get>'))
        assert err["tag"] == "invalid-value" and err["path"] == "/nc:rpc/nc:get/nc:filter"


@pytest.mark.parametrize("body, tag, path", [
    ("<get-config/>", "missing-element", "/nc:rpc/nc:get-config"),
    ("<get-config><source><nonsense/></source></get-config>", "invalid-value",
     "/nc:rpc/nc:get-config/nc:source"),
    ("<get-config><source><running/><startup/></source></get-config>", "bad-element",
     "/nc:rpc/nc:get-config/nc:source"),
    ('<get-config><source><running/></source><filter type="regex"/></get-config>',
     "bad-attribute", "/nc:rpc/nc:get-config/nc:filter"),
    ('<get><filter type="xpath"/></get>', "missing-attribute", "/nc:rpc/nc:get/nc:filter"),
])
def test_reading_refusals(server, body, tag, path):
    with server.connect() as client:
        [err] = rpc_errors(client.rpc(body))
    assert err["tag"] == tag and err["path"] == path


# -- capabilities and the YANG library ---------------------------------------------------

def hello_capabilities(client) -> list[str]:
    return [c.text for c in client.server_hello.iterfind("nc:capabilities/nc:capability", NS)]


def test_hello_lists_each_module_with_revision_and_features(server):
    with server.connect("core-1") as client:
        caps = hello_capabilities(client)
    assert ("urn:ietf:params:xml:ns:yang:ietf-interfaces?module=ietf-interfaces"
            "&revision=2018-02-20&features=if-mib") in caps
    assert any(c.startswith("urn:ietf:params:netconf:capability:yang-library:1.1?revision="
                            "2019-01-04&content-id=") for c in caps)
    assert "urn:ietf:params:netconf:capability:xpath:1.0" in caps
    assert not any("module=ietf-inet-types" in c for c in caps)  # import-only


def test_deviations_and_profile_own_modules(make_server, tmp_path):
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(f"profiles:\n  lab: {LAB_ROUTER}\ndevices:\n  - name: lab-1\n    profile: lab\n")
    running = make_server(fleet)
    with running.connect("lab-1") as client:
        caps = hello_capabilities(client)
        assert ("urn:ietf:params:xml:ns:yang:ietf-system?module=ietf-system&revision=2014-08-06"
                "&features=ntp&deviations=lab-deviations") in caps
        data = data_of(client.rpc("<get>" + filtered(f'<yang-library xmlns="{YL}"/>') + "</get>"))
        system = data.xpath("//yl:module[yl:name='ietf-system']", namespaces=X)[0]
        assert system.xpath("yl:deviation/text()", namespaces=X) == ["lab-deviations"]
        assert system.xpath("yl:feature/text()", namespaces=X) == ["ntp"]


def test_yang_library_and_modules_state(server):
    with server.connect("access-02") as client:
        data = data_of(client.rpc("<get>" + filtered(f'<yang-library xmlns="{YL}"/>'
                                                     f'<modules-state xmlns="{YL}"/>') + "</get>"))
    implemented = data.xpath("yl:yang-library/yl:module-set/yl:module/yl:name/text()", namespaces=X)
    assert {"ietf-interfaces", "emulator-vlans", "netconf-websocket"} <= set(implemented)
    imported = data.xpath("yl:yang-library/yl:module-set/yl:import-only-module/yl:name/text()",
                          namespaces=X)
    assert "ietf-inet-types" in imported
    datastores = data.xpath("yl:yang-library/yl:datastore/yl:name/text()", namespaces=X)
    assert "ds:running" in datastores and "ds:operational" in datastores
    content_id = data.findtext("yl:yang-library/yl:content-id", namespaces=X)
    assert data.findtext("yl:modules-state/yl:module-set-id", namespaces=X) == content_id
    conformance = dict(zip(data.xpath("yl:modules-state/yl:module/yl:name/text()", namespaces=X),
                           data.xpath("yl:modules-state/yl:module/yl:conformance-type/text()",
                                      namespaces=X)))
    assert conformance["emulator-vlans"] == "implement" and conformance["ietf-yang-types"] == "import"


# -- ietf-netconf-monitoring ---------------------------------------------------------------

def test_netconf_state_sessions_schemas_and_statistics(server):
    with server.connect("edge-02") as watcher, server.connect("edge-02") as client:
        client.rpc("<nothing/>")
        data = data_of(client.rpc("<get>" + filtered(f'<netconf-state xmlns="{NCM}"/>') + "</get>"))
        state = data.find("ncm:netconf-state", X)
        sessions = {int(s.findtext("ncm:session-id", namespaces=X)): s
                    for s in state.iterfind("ncm:sessions/ncm:session", X)}
        mine = sessions[client.session_id]
        assert watcher.session_id in sessions
        assert mine.findtext("ncm:username", namespaces=X) == "netconf"
        assert mine.findtext("ncm:source-host", namespaces=X) == "127.0.0.1"
        assert mine.findtext("ncm:transport", namespaces=X) == "ncws:netconf-websocket"
        assert mine.findtext("ncm:in-rpcs", namespaces=X) == "2"
        assert mine.findtext("ncm:out-rpc-errors", namespaces=X) == "1"
        schemas = {(s.findtext("ncm:identifier", namespaces=X), s.findtext("ncm:format", namespaces=X))
                   for s in state.iterfind("ncm:schemas/ncm:schema", X)}
        assert ("ietf-interfaces", "yang") in schemas and ("ietf-interfaces", "yin") in schemas
        assert state.xpath("ncm:datastores/ncm:datastore/ncm:name/text()", namespaces=X) == [
            "running", "candidate", "startup"]
        statistics = state.find("ncm:statistics", X)
        assert int(statistics.findtext("ncm:in-sessions", namespaces=X)) >= 2
        assert int(statistics.findtext("ncm:in-rpcs", namespaces=X)) >= 2


def test_get_schema_in_yang_and_yin(server):
    with server.connect("access-01") as client:
        reply = client.rpc(f'<get-schema xmlns="{NCM}"><identifier>ietf-interfaces</identifier>'
                           "</get-schema>")
        text = reply.find(f"{{{NCM}}}data").text
        assert "module ietf-interfaces {" in text and "revision 2018-02-20" in text
        reply = client.rpc(f'<get-schema xmlns="{NCM}"><identifier>emulator-vlans</identifier>'
                           "<version>2026-11-22</version><format>yin</format></get-schema>")
        yin = reply.find(f"{{{NCM}}}data")[0]
        assert etree.QName(yin).localname == "module" and yin.get("name") == "emulator-vlans"


@pytest.mark.parametrize("body, tag", [
    ("<identifier>no-such-module</identifier>", "invalid-value"),
    ("<identifier>ietf-interfaces</identifier><version>1999-01-01</version>", "invalid-value"),
    ("<identifier>ietf-interfaces</identifier><format>xsd</format>", "invalid-value"),
    ("", "missing-element"),
])
def test_get_schema_refusals(server, body, tag):
    with server.connect() as client:
        [err] = rpc_errors(client.rpc(f'<get-schema xmlns="{NCM}">{body}</get-schema>'))
    assert err["tag"] == tag and err["path"].startswith("/nc:rpc/op:get-schema")


YANGLINT = shutil.which("yanglint")


@pytest.mark.skipif(YANGLINT is None, reason="yanglint (libyang2-tools) is not installed")
def test_a_full_get_of_every_default_device_validates_with_yanglint(server, tmp_path):
    modules = Path(sys.prefix) / "share" / "yang" / "modules"
    failures = []
    for device in server.fleet:
        with server.connect(device.name) as client:
            data = client.rpc("<get/>").find("nc:data", NS)
        path = tmp_path / f"{device.name}.xml"
        path.write_text("".join(etree.tostring(child, encoding="unicode") for child in data))
        implemented = [m for m in device.profile.schema.modules.values() if m.implemented]
        command = [YANGLINT, "-t", "data", "-p", str(modules / "ietf"), "-p",
                   str(modules / "iana"), "-p", str(paths.YANG)]
        for module in implemented:
            if module.features:
                command += ["-F", f"{module.name}:{','.join(module.features)}"]
        command += [str(m.path) for m in implemented]
        command += [str(m.path) for m in device.profile.deviations]
        result = subprocess.run([*command, str(path)], capture_output=True, text=True, timeout=60)
        if result.returncode != 0 or "err" in result.stderr:
            failures.append(f"{device.name}: {result.stderr.strip()}")
    assert not failures, "\n".join(failures)


def test_the_yang_library_implements_what_the_server_serves(server):
    with server.connect("core-1") as client:
        data = client.rpc("<get><filter type='subtree'><yang-library xmlns='urn:ietf:params:xml:"
                          "ns:yang:ietf-yang-library'/></filter></get>")
    implemented = set(data.xpath("//y:module/y:name/text()",
                                 namespaces={"y": "urn:ietf:params:xml:ns:yang:ietf-yang-library"}))
    assert {"ietf-netconf", "ietf-datastores", "ietf-netconf-with-defaults"} <= implemented


@pytest.mark.parametrize("how", ["subtree", "xpath"])
def test_a_selected_state_leaf_comes_with_its_entry_key_over_the_wire(server, how):
    """RFC 6241 6.2.5: an <interface> carrying only oper-status could not be tied
    to its entry (and a validator refuses a list entry without its key)."""
    if how == "subtree":
        body = filtered(f'<interfaces xmlns="{IF}"><interface><oper-status/></interface>'
                        "</interfaces>")
    else:
        body = (f'<filter type="xpath" xmlns:if="{IF}" '
                'select="/if:interfaces/if:interface/if:oper-status"/>')
    with server.connect("access-01") as client:
        data = data_of(client.rpc(f"<get>{body}</get>"))
    entries = data.findall(f"{{{IF}}}interfaces/{{{IF}}}interface")
    assert len(entries) == 9
    for entry in entries:
        assert [etree.QName(e).localname for e in entry] == ["name", "oper-status"]
    assert entries[1].findtext(f"{{{IF}}}name") == "ge-0/0/1"
