"""Fleets and profiles from fixture files, and their refusals."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from lxml import etree

from emulator import paths
from emulator.fleet import load_fleet
from emulator.yamlfile import FixtureError

IF_NS = "urn:ietf:params:xml:ns:yang:ietf-interfaces"
SYS_NS = "urn:ietf:params:xml:ns:yang:ietf-system"


def write(tmp_path: Path, text: str, name: str = "fleet.yaml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def refusal(tmp_path: Path, text: str) -> FixtureError:
    path = write(tmp_path, text)
    with pytest.raises(FixtureError) as info:
        load_fleet(path)
    return info.value


def test_default_fleet_has_three_devices_of_two_profiles_with_two_interfaces_each():
    fleet = load_fleet()
    assert len(fleet) >= 3
    assert len({d.profile.name for d in fleet}) >= 2
    for device in fleet:
        config = etree.fromstring(device.initial("config").encode())
        state = etree.fromstring(device.initial("state").encode())
        names = config.findall(f".//{{{IF_NS}}}interface/{{{IF_NS}}}name")
        assert len(names) >= 2, device
        assert len(state.findall(f".//{{{IF_NS}}}oper-status")) >= 2
        assert config.findtext(f".//{{{SYS_NS}}}hostname") == device.name


def test_every_profile_has_the_contract_modules():
    required = {"ietf-interfaces", "iana-if-type", "ietf-ip", "ietf-system",
                "ietf-netconf-monitoring", "ietf-yang-library", "ietf-netconf-notifications"}
    for profile in load_fleet().profiles.values():
        assert required <= {m.name for m in profile.modules}, profile.name
        assert all(m.path.is_file() for m in profile.modules)


def test_count_stamps_out_many_devices_with_their_own_values(tmp_path):
    fleet = load_fleet(write(tmp_path, """
        devices:
          - name: edge-{n:03d}
            count: 300
            profile: router
            vars:
              hostname: "{name}.lab.example"
              mgmt_ipv4: {ipv4: 10.1.0.0/16}
              core_ipv6: {ipv6: "2001:db8:5::/64", start: 16}
    """))
    assert len(fleet) == 300
    first, last = fleet.get("edge-001"), fleet.get("edge-300")
    assert last.values["mgmt_ipv4"] == "10.1.1.44"  # 10.1.0.0 + 300
    assert first.values["core_ipv6"] == "2001:db8:5::10"
    config = etree.fromstring(last.initial("config").encode())
    assert config.findtext(f".//{{{SYS_NS}}}hostname") == "edge-300.lab.example"
    assert "10.1.1.44" in last.initial("config")
    assert first.profile is last.profile  # one profile object, shared


def test_start_mac_counters_and_numbers(tmp_path):
    fleet = load_fleet(write(tmp_path, """
        devices:
          - name: sw{n}
            start: 0
            count: 3
            profile: switch
            vars:
              base_mac: {mac: "02:00:5e:00:00:fe"}
              rack: 7
    """))
    assert list(fleet.devices) == ["sw0", "sw1", "sw2"]
    assert [d.values["base_mac"] for d in fleet] == ["02:00:5e:00:00:fe", "02:00:5e:00:00:ff",
                                                    "02:00:5e:00:01:00"]
    assert fleet.get("sw2").values["rack"] == "7"


def test_values_are_escaped_in_the_xml(tmp_path):
    folder = tmp_path / "p"
    write(folder, "modules: [ietf-interfaces, iana-if-type]\nconfig: c.xml\n", "profile.yaml")
    (folder / "c.xml").write_text(
        f'<data xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><interfaces xmlns="{IF_NS}">'
        '<interface><name>e0</name><description>${note}</description>'
        '<type xmlns:ianaift="urn:ietf:params:xml:ns:yang:iana-if-type">ianaift:other</type>'
        '</interface></interfaces></data>')
    fleet = load_fleet(write(tmp_path, """
        profiles: {p: ./p}
        devices:
          - name: r1
            profile: p
            vars: {note: "a&b<c>"}
    """))
    config = etree.fromstring(fleet.get("r1").initial("config").encode())
    assert config.findtext(f".//{{{IF_NS}}}description") == "a&b<c>"


def test_a_profile_of_ones_own(tmp_path):
    folder = tmp_path / "lab"
    write(folder, """
        modules: [ietf-interfaces, iana-if-type]
        vars: {port: eth9}
        config: config.xml
    """, "profile.yaml")
    (folder / "config.xml").write_text(
        f'<data xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><interfaces xmlns="{IF_NS}">'
        '<interface><name>${port}</name>'
        '<type xmlns:ianaift="urn:ietf:params:xml:ns:yang:iana-if-type">ianaift:other</type>'
        '</interface></interfaces></data>')
    fleet = load_fleet(write(tmp_path, """
        profiles:
          lab: ./lab
        devices:
          - {name: lab-1, profile: lab}
    """))
    assert "<name>eth9</name>" in fleet.get("lab-1").initial("config")


@pytest.mark.parametrize("text, line, message", [
    ("devices: [\n", 2, "invalid YAML"),
    ("devices:\n  - name: a\n    profile: rooter\n", 3, "unknown profile 'rooter'"),
    ("devices:\n  - name: a\n    profile: router\n    cuont: 3\n", 4, "unknown key 'cuont'"),
    ("devices:\n  - name: a\n", 2, "has no 'profile'"),
    ("devices:\n  - name: a\n    profile: router\n  - name: a\n    profile: switch\n", 4,
     "device 'a' is defined twice"),
    ("devices:\n  - name: e{n}\n    count: 0\n    profile: router\n", 3, "'count' must be"),
    ("devices:\n  - name: e\n    count: 2\n    profile: router\n", 2, "needs {n} or {i}"),
    ("devices:\n  - name: e{m}\n    profile: router\n", 2, "unknown field {m}"),
    ("devices:\n  - name: e/1\n    profile: router\n", 2, "may hold only"),
    ("devices:\n  - name: e{n}\n    count: 300\n    profile: router\n    vars:\n"
     "      mgmt_ipv4: {ipv4: 10.0.0.0/24}\n", 6, "room for 254 devices, not 300"),
    ("devices:\n  - name: a\n    profile: router\n    vars:\n      mgmt_ipv4: {ipv4: '2001:db8::'}\n",
     5, "not an ipv4 address"),
    ("devices:\n  - name: a\n    profile: router\n    vars:\n      name: x\n", 5, "built in"),
    ("devices: []\n", 1, "no devices"),
    ("devices:\n  - name: a\n    profile: router\ndevices: []\n", 4, "duplicate key"),
    ("hosts: []\n", 1, "unknown key 'hosts'"),
    ("- just a list\n", 1, "must be a mapping"),
])
def test_bad_fleet_files_are_refused_with_file_line_and_reason(tmp_path, text, line, message):
    err = refusal(tmp_path, text)
    assert err.path == tmp_path / "fleet.yaml"
    assert err.line == line, str(err)
    assert message in err.message, str(err)
    assert str(err).startswith(f"{tmp_path / 'fleet.yaml'}:{line}: ")


def test_a_module_that_does_not_compile_stops_the_start_with_file_and_line(tmp_path):
    folder = tmp_path / "p"
    write(folder, "modules: [ietf-interfaces, broken-vendor]\nconfig: c.xml\n", "profile.yaml")
    (folder / "c.xml").write_text('<data xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"/>')
    (folder / "yang").mkdir()
    broken = folder / "yang" / "broken-vendor.yang"
    broken.write_text("module broken-vendor {\n  namespace urn:b;\n  prefix b;\n"
                      "  leaf x { type no-such-type; }\n}\n")
    err = refusal(tmp_path, "profiles: {p: ./p}\ndevices:\n  - {name: a, profile: p}\n")
    assert err.path == folder / "profile.yaml" and err.line == 1
    assert f"the YANG modules do not compile: {broken}:4:" in err.message


def test_an_initial_configuration_that_breaks_the_schema_is_refused(tmp_path):
    err = refusal(tmp_path, """
        devices:
          - name: r1
            profile: router
          - name: bad-{n}
            count: 5
            profile: router
            vars: {hostname: "not a host name!"}
    """)
    assert err.line == 4
    assert err.message.startswith("device bad-1: its initial configuration is invalid: "
                                  "/sys:system/sys:hostname: hostname:")


def test_missing_fleet_file(tmp_path):
    with pytest.raises(FixtureError, match="no such file"):
        load_fleet(tmp_path / "nope.yaml")


def test_profile_that_needs_a_var_nobody_sets(tmp_path):
    folder = tmp_path / "p"
    write(folder, "modules: [ietf-interfaces]\nconfig: c.xml\n", "profile.yaml")
    (folder / "c.xml").write_text('<data xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
                                  '<x>${serial}</x></data>')
    err = refusal(tmp_path, "profiles: {p: ./p}\ndevices:\n  - name: a\n    profile: p\n")
    assert err.line == 3 and "needs var(s) serial" in err.message


@pytest.mark.parametrize("profile_yaml, template, where, message", [
    ("modules: [ietf-nope]\nconfig: c.xml\n", "<data/>", "profile.yaml:1", "'ietf-nope' not found"),
    ("modules: [ietf-interfaces]\nconfig: c.xml\n", "<data>\n<a></b></data>", "c.xml:2",
     "not well-formed"),
    ("modules: [ietf-interfaces]\nconfig: c.xml\n", "<config/>", "c.xml:1", "must be <data>"),
    ("modules: [ietf-interfaces]\nconfig: c.xml\n", "<data>\n$5</data>", "c.xml:2", "placeholder"),
    ("modules: [ietf-interfaces]\nconfig: missing.xml\n", None, "profile.yaml:2",
     "cannot read template"),
    ("config: c.xml\n", "<data/>", "profile.yaml:1", "has no 'modules'"),
])
def test_bad_profiles_are_refused_where_they_are_wrong(tmp_path, profile_yaml, template, where,
                                                       message):
    folder = tmp_path / "p"
    write(folder, profile_yaml, "profile.yaml")
    if template is not None:
        (folder / "c.xml").write_text(template)
    err = refusal(tmp_path, "profiles: {p: ./p}\ndevices:\n  - {name: a, profile: p}\n")
    assert f"{err.path.name}:{err.line}" == where, str(err)
    assert message in err.message


def test_shipped_data_is_found():
    assert paths.DEFAULT_FLEET.is_file()
    assert any(p.name == "ietf" for p in paths.yang_search_path())
