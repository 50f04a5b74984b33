"""The pytest plugin, as a user's test suite uses it: suites run inside these
tests by pytest's own ``pytester``, against a real fleet with real ncclient."""

from __future__ import annotations

import importlib.metadata
import textwrap
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

PLUGIN = "emulator.pytest_plugin"


def plugin_args() -> list[str]:
    """Load the plugin by name, unless its entry point (an installed package)
    loads it already: pytest refuses a plugin registered twice."""
    installed = [e for e in importlib.metadata.entry_points(group="pytest11")
                 if e.value == PLUGIN]
    return [] if installed else ["-p", PLUGIN]


HEADER = '''
NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
SYS = "urn:ietf:params:xml:ns:yang:ietf-system"
IF = "urn:ietf:params:xml:ns:yang:ietf-interfaces"
HOSTNAME = ("subtree", f'<system xmlns="{SYS}"><hostname/></system>')

def hostname_config(name):
    return (f'<config xmlns="{NC}"><system xmlns="{SYS}"><hostname>{name}</hostname>'
            '</system></config>')
'''


def suite(pytester: pytest.Pytester, body: str, *args: str, **files: str) -> pytest.RunResult:
    pytester.makepyfile(test_suite=HEADER + textwrap.dedent(body))
    for name, text in files.items():
        pytester.path.joinpath(name).write_text(textwrap.dedent(text))
    return pytester.runpytest(*plugin_args(), "-p", "no:cacheprovider", "-p", "no:randomly", *args)


def test_each_test_starts_from_the_fixture(pytester):
    result = suite(pytester, '''
        def test_changes_everything(netconf_fleet):
            m = netconf_fleet.client("core-1")
            m.edit_config(target="running", config=hostname_config("changed"))
            netconf_fleet.inject("core-1", "link-down", interface="eth0")
            assert "changed" in m.get_config("running", filter=HOSTNAME).data_xml

        def test_sees_none_of_it(netconf_fleet):
            assert netconf_fleet.rpcs("core-1") == []          # the journal too
            m = netconf_fleet.client("core-1")
            assert "<hostname>core-1</hostname>" in m.get_config("running", filter=HOSTNAME).data_xml
            state = m.get(filter=("subtree", f'<interfaces xmlns="{IF}"><interface><name>eth0</name>'
                                             '<oper-status/></interface></interfaces>')).data_xml
            assert "<oper-status>up</oper-status>" in state

        def test_one_fleet_for_the_session(netconf_fleet, netconf_fleet_session):
            assert netconf_fleet is netconf_fleet_session
            assert netconf_fleet.devices == ["core-1", "edge-01", "edge-02",
                                             "access-01", "access-02", "access-03"]
            assert netconf_fleet.url("edge-01") == f"ws://127.0.0.1:{netconf_fleet.port}/netconf/edge-01"
    ''')
    result.assert_outcomes(passed=3)


def test_reset_of_one_device_leaves_the_others(pytester):
    result = suite(pytester, '''
        def test_reset_one(netconf_fleet):
            for name in ("core-1", "edge-01"):
                netconf_fleet.client(name).edit_config(target="running",
                                                       config=hostname_config("x-" + name))
            assert netconf_fleet.reset("core-1") == 1
            assert netconf_fleet.rpcs("core-1") == []
            netconf_fleet.assert_rpc("edge-01", "edit-config", count=1)
            m = netconf_fleet.client("edge-01")
            assert "x-edge-01" in m.get_config("running", filter=HOSTNAME).data_xml
    ''')
    result.assert_outcomes(passed=1)


def test_inject_raises_the_event_for_subscribers(pytester):
    result = suite(pytester, '''
        import pytest
        from emulator.device import DeviceError

        def test_link_down(netconf_fleet):
            m = netconf_fleet.client("edge-01")
            m.create_subscription()
            answer = netconf_fleet.inject("edge-01", "link-down", interface="eth1")
            assert answer["changed"] and answer["oper-status"] == "down"
            note = m.take_notification(timeout=10)
            assert note is not None and "link-down" in note.notification_xml
            assert "<if-name>eth1</if-name>" in note.notification_xml

        def test_a_bad_event_is_refused(netconf_fleet):
            with pytest.raises(DeviceError, match="no interface 'eth9'"):
                netconf_fleet.inject("edge-01", "link-down", interface="eth9")
            with pytest.raises(DeviceError, match="no event 'meteor'"):
                netconf_fleet.inject("edge-01", "meteor", interface="eth0")
    ''')
    result.assert_outcomes(passed=2)


def test_journal_assertions_pass_and_fail_with_what_was_sent(pytester):
    result = suite(pytester, '''
        def test_passes(netconf_fleet):
            m = netconf_fleet.client("core-1")
            m.edit_config(target="candidate", config=hostname_config("one"))
            m.commit()
            [commit] = netconf_fleet.assert_rpc("core-1", "commit", count=1)
            assert commit.ok and commit.session == int(m.session_id)
            [edit] = netconf_fleet.rpcs("core-1", "edit-config")
            assert edit.find("nc:target/nc:candidate") is not None
            assert edit.xpath("string(.//*[local-name()='hostname'])") == "one"
            netconf_fleet.assert_rpc("core-1", "edit-config",
                                     where=lambda r: r.find("nc:target/nc:candidate") is not None)
            netconf_fleet.assert_no_rpc("edge-01", "commit")

        def test_fails(netconf_fleet):
            m = netconf_fleet.client("core-1")
            m.edit_config(target="candidate", config=hostname_config("two"))
            m.commit()
            netconf_fleet.assert_rpc("core-1", "commit", count=2)

        def test_fails_with_nothing_sent(netconf_fleet):
            netconf_fleet.assert_rpc("edge-02", "lock")
    ''')
    result.assert_outcomes(passed=1, failed=2)
    output = result.stdout.str()
    assert "core-1: expected exactly 2 <commit>, got 1." in output
    assert "What clients sent to core-1 (2 rpc(s)):" in output
    assert "1. <edit-config> session " in output and "<hostname>two</hostname>" in output
    assert "2. <commit> session " in output
    assert "edge-02: expected at least one <lock>, got 0." in output
    assert "No client sent edge-02 any <rpc>" in output
    # the failure points at the test's line, not into the plugin
    assert "testing.py" not in output.split("short test summary")[0].split("test_fails")[1]


def test_the_virtual_clock_moves_only_when_told(pytester):
    result = suite(pytester, '''
        import pytest
        from ncclient.operations import RPCError

        def test_confirmed_commit_rolls_back_after_its_timeout(netconf_fleet):
            assert netconf_fleet.virtual
            m = netconf_fleet.client("core-1")
            m.edit_config(target="candidate", config=hostname_config("tentative"))
            m.commit(confirmed=True, timeout="600")
            began = netconf_fleet.now()
            netconf_fleet.advance(599)
            assert "tentative" in m.get_config("running", filter=HOSTNAME).data_xml
            assert netconf_fleet.advance(2) >= 1       # the rollback ran
            assert netconf_fleet.now() == began + 601
            assert "<hostname>core-1</hostname>" in m.get_config("running", filter=HOSTNAME).data_xml

        def test_time_starts_at_the_virtual_epoch_and_never_goes_back(netconf_fleet):
            assert netconf_fleet.now() >= 1735689600.0      # 2025-01-01T00:00:00Z (+ the test above)
            with pytest.raises(ValueError):
                netconf_fleet.advance(-1)
    ''')
    result.assert_outcomes(passed=2)


def test_fleet_file_and_clock_from_the_ini_file(pytester):
    result = suite(pytester, '''
        import pytest
        from emulator.testing import FleetError

        def test_own_fleet_on_real_time(netconf_fleet):
            assert netconf_fleet.devices == ["lab-1", "lab-2"]
            assert not netconf_fleet.virtual
            with pytest.raises(FleetError, match="real clock"):
                netconf_fleet.advance(1)
    ''', **{
        "pytest.ini": """
            [pytest]
            netconf_fleet = fleets/lab.yaml
            netconf_clock = real
        """,
    })
    assert result.ret == pytest.ExitCode.USAGE_ERROR    # the fleet file is not there yet
    result.stderr.fnmatch_lines(["*the ini option netconf_fleet: no such fleet file: "
                                 "*fleets/lab.yaml"])
    pytester.mkdir("fleets")
    pytester.path.joinpath("fleets", "lab.yaml").write_text(
        "devices:\n  - name: lab-{n}\n    count: 2\n    profile: switch\n")
    result = pytester.runpytest(*plugin_args(), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_command_line_wins_and_bad_settings_are_one_line_errors(pytester):
    pytester.path.joinpath("one.yaml").write_text(
        "devices:\n  - name: solo\n    profile: router\n")
    result = suite(pytester, '''
        def test_solo(netconf_fleet):
            assert netconf_fleet.devices == ["solo"] and netconf_fleet.virtual
    ''', "--netconf-fleet", "one.yaml", "--netconf-clock", "virtual")
    result.assert_outcomes(passed=1)

    result = pytester.runpytest(*plugin_args(), "--netconf-fleet", "missing.yaml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*netconf-emulator: --netconf-fleet: no such fleet file: *missing.yaml"])

    pytester.path.joinpath("bad.yaml").write_text("devices:\n  - name: x\n    profile: rooter\n")
    result = pytester.runpytest(*plugin_args(), "--netconf-fleet", "bad.yaml")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*netconf-emulator: cannot load the fleet: *bad.yaml:3: "
                                 "unknown profile 'rooter'*"])


def test_a_fresh_fleet_is_the_tests_own(pytester):
    result = suite(pytester, '''
        def test_own(fresh_netconf_fleet, netconf_fleet):
            assert fresh_netconf_fleet is not netconf_fleet
            assert fresh_netconf_fleet.port != netconf_fleet.port
            m = fresh_netconf_fleet.client("access-01")
            m.edit_config(target="running", config=hostname_config("mine"))
            assert netconf_fleet.rpcs("access-01") == []
            fresh_netconf_fleet.assert_rpc("access-01", "edit-config", count=1)
    ''')
    result.assert_outcomes(passed=1)


def test_the_readmes_example_test_passes(pytester):
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    example = "# test_nms.py" + readme.split("```python\n# test_nms.py", 1)[1].split("```", 1)[0]
    pytester.makepyfile(test_nms=example)
    result = pytester.runpytest(*plugin_args(), "-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=5)
