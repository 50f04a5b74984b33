"""The drill engine on the virtual clock: scheduling, selectors, schema
errors, expectations, reports, stop and restore, determinism."""

from __future__ import annotations

import asyncio
import json
import textwrap
import time

import pytest
from lxml import etree

from emulator.clock import RealClock, VirtualClock
from emulator.fleet import load_fleet
from emulator.runtime import Runtime
from emulator.scenarios import model, report, schema
from emulator.scenarios.engine import Run, State
from tests.memory import NC, NCE, connect, subscribe


def drill(text: str) -> model.Scenario:
    return model.parse(textwrap.dedent(text), "test.yaml")


@pytest.fixture
def fleet():
    return load_fleet(None, Runtime(clock=VirtualClock()))


def play(fleet, text: str, *, until: float | None = None, **kwargs) -> Run:
    scenario = drill(text) if isinstance(text, str) else text
    run = Run(scenario, fleet, fleet.runtime, **kwargs)
    run.start()
    fleet.runtime.clock.advance(scenario.length + 1 if until is None else until)
    return run


def events(run: Run, kind: str = "event") -> list[tuple]:
    return [(e["t"], e.get("device"), e.get("interface"), e.get("event"))
            for e in run.timeline if e["kind"] == kind]


def request(connection, operation: str = "<get/>", message_id: str = "7") -> None:
    connection.receive(f'<rpc message-id="{message_id}" xmlns="{NC}">{operation}</rpc>')


# -- scheduling ----------------------------------------------------------------------

def test_at_after_and_every_place_steps_in_drill_time(fleet):
    run = play(fleet, """
        name: times
        steps:
          - at: 1m
            target: {devices: core-1, interfaces: eth0}
            event: link-down
          - after: 30s
            target: {devices: core-1, interfaces: eth0}
            event: link-up
          - at: 2m
            every: 10s
            count: 3
            target: {devices: core-1, interfaces: eth1}
            event: link-down
          - at: 3m
            every: 1m
            until: 5m
            target: {devices: edge-01}
            event: device-hang
            duration: 30s
        """)
    assert [t for t, *_ in events(run)] == [60, 90, 120, 130, 140, 180, 240, 300]
    assert [t for t, *_ in events(run, "undo")] == [210, 270, 330]
    assert run.state is State.FINISHED and run.verdict == "pass"
    assert run.drill_time() == 330


def test_duration_undoes_the_event_and_the_device_sees_it(fleet):
    core = fleet.get("core-1")
    connection, wire = connect(core)
    subscribe(connection, wire)
    run = play(fleet, """
        name: d
        steps:
          - at: 10s
            target: {devices: core-1, interfaces: eth0}
            event: link-down
            duration: 90s
        """, until=50)
    assert wire.notes()[-2:] == ["link-down", "alarm-notification"]
    fleet.runtime.clock.advance(60)
    assert wire.notes()[-2:] == ["link-up", "alarm-notification"]
    assert events(run, "undo") == [(100, "core-1", "eth0", "link-down")]


def test_jitter_moves_each_device_later_within_its_bound_and_repeatably(fleet):
    text = """
        name: j
        seed: 3
        steps:
          - at: 10s
            target: {devices: "*", interfaces: eth0}
            event: link-down
            jitter: 5s
        """
    first = play(fleet, text)
    times = [t for t, *_ in events(first)]
    assert all(10 <= t <= 15 for t in times) and len(set(times)) > 1
    again = play(load_fleet(None, Runtime(clock=VirtualClock())), text)
    assert events(again) == events(first)


# -- selectors -------------------------------------------------------------------

@pytest.mark.parametrize("target, expected", [
    ('{devices: "edge-*"}', {"edge-01", "edge-02"}),
    ('{devices: [core-1, "access-0[12]"]}', {"core-1", "access-01", "access-02"}),
    ("{profiles: switch}", {"access-01", "access-02", "access-03"}),
    ('{profiles: router, devices: "*-02"}', {"edge-02"}),
    ("{}", {"core-1", "edge-01", "edge-02", "access-01", "access-02", "access-03"}),
])
def test_targets_select_devices_by_name_glob_and_profile(fleet, target, expected):
    run = play(fleet, f"""
        name: s
        steps:
          - at: 1s
            target: {target}
            event: device-hang
        """)
    assert {d for _, d, *_ in events(run)} == expected


def test_sample_and_percent_are_seeded(fleet):
    text = """
        name: s
        seed: {seed}
        steps:
          - at: 1s
            target: {{sample: 2}}
            event: device-hang
          - at: 2s
            target: {{percent: 50}}
            event: device-hang
        """
    picks = {}
    for seed in (1, 1, 2, 3, 4):
        run = play(load_fleet(None, Runtime(clock=VirtualClock())), text.format(seed=seed))
        chosen = [d for _, d, *_ in events(run)]
        assert len(chosen) == 2 + 3
        picks.setdefault(seed, []).append(chosen)
    assert picks[1][0] == picks[1][1]
    assert len({tuple(p[0]) for p in picks.values()}) > 1


def test_one_by_one_rolls_through_the_devices(fleet):
    run = play(fleet, """
        name: rolling
        steps:
          - every: 1m
            count: 4
            target: {profiles: router, one-by-one: true}
            event: device-hang
            duration: 10s
        """)
    assert [d for _, d, *_ in events(run)] == ["core-1", "edge-01", "edge-02", "core-1"]


def test_interfaces_by_glob_and_a_device_without_them(fleet):
    run = play(fleet, """
        name: i
        steps:
          - at: 1s
            target: {devices: [core-1, access-01], interfaces: "eth[01]"}
            event: link-down
        """)
    assert [(d, i) for _, d, i, _ in events(run) if i] == [("core-1", "eth0"), ("core-1", "eth1")]
    notes = [e for e in run.timeline if e.get("note")]
    assert notes and notes[0]["device"] == "access-01"


# -- schema errors: the file, the line, what was expected --------------------------------

@pytest.mark.parametrize("body, line, words", [
    ("  - at: 1s\n    event: lnk-down\n", 5, ["steps[0].event", "'lnk-down' is not one of"]),
    ("  - at: 1s\n    event: link-down\n    durration: 5s\n", 6,
     ["unknown key 'durration'", "duration"]),
    ("  - at: soon\n    event: link-down\n", 4, ["steps[0].at", "90s"]),
    ("  - at: 1s\n    after: 2s\n    event: link-down\n", 4, ["exclude each other"]),
    ("  - every: 1s\n    event: device-hang\n", 4, ["needs count or until"]),
    ("  - at: 1s\n", 4, ["needs one of: event, expect"]),
    ("  - at: 1s\n    event: device-hang\n  - expect: {rpc: get, within: 5s, of: nope}\n", 6,
     ["expect.of", "'nope'"]),
    ("  - at: 1s\n    event: device-hang\n  - expect: {rpc: get, within: 5s, match: '//['}\n",
     6, ["not an XPath"]),
    ("  - at: 1s\n    event: device-hang\n  - expect: {rpc: get, within: 5s, match: '//x:get'}\n",
     6, ["not an XPath", "Undefined namespace prefix"]),
    ("  - at: 1s\n    event: device-hang\n    target: {sample: 0}\n", 6, ["target.sample"]),
    ("  - at: 1s\n    event: link-up\n    duration: 5s\n", 6, ["not undone by time"]),
    ("  - at: 1s\n    event: device-hang\n  - at: 2s\n    event: device-hang\n"
     "    name: step-1\n", 8, ["names an earlier step"]),
])
def test_a_mistake_names_the_file_the_line_and_what_was_expected(body, line, words):
    with pytest.raises(model.ScenarioError) as caught:
        model.parse(f"name: bad\nseed: 1\nsteps:\n{body}", "bad.yaml")
    message = str(caught.value)
    assert message.startswith(f"bad.yaml:{line}: "), message
    for word in words:
        assert word in message, message


@pytest.mark.parametrize("text, words", [
    ("[1, 2]", ["bad.yaml:1:", "a drill is a mapping"]),
    ("name: x\nsteps: [\n", ["bad.yaml:", "invalid YAML"]),
    ("name: x\n", ["needs", "steps"]),
    ("name: x\nsteps: []\n", ["steps"]),
    ("name: 'a b'\nsteps:\n  - at: 1\n    event: device-hang\n", ["bad.yaml:1:", "name"]),
])
def test_a_file_that_is_not_a_drill_is_refused_in_one_line(text, words):
    with pytest.raises(model.ScenarioError) as caught:
        model.parse(text, "bad.yaml")
    message = str(caught.value)
    assert "\n" not in message
    for word in words[1:]:
        assert word in message, message
    if words[0].endswith(":"):
        assert message.startswith(words[0]), message


def test_the_shipped_json_schema_is_the_one_the_loader_uses():
    shipped = model.SCENARIOS / "drill.schema.json"
    assert shipped.read_text() == schema.text(), \
        "run: python -m emulator.scenarios.schema > scenarios/drill.schema.json"


def test_every_shipped_drill_loads():
    drills = model.shipped()
    assert len(drills) >= 5
    for path in drills.values():
        scenario = model.load(path)
        assert scenario.description and any(s.expect for s in scenario.steps), path


# -- expectations ----------------------------------------------------------------

EXPECT = """
    name: e
    steps:
      - name: down
        at: 10s
        target: {devices: core-1, interfaces: eth0}
        event: link-down
        duration: 1m
      - after: 0s
        expect: EXPECTATION
    """


def test_an_expectation_is_met_by_the_request_in_its_window(fleet):
    connection, _ = connect(fleet.get("core-1"))
    run = play(fleet, EXPECT.replace("EXPECTATION", "{rpc: get, within: 10s}"), until=15)
    request(connection)
    fleet.runtime.clock.advance(100)
    window, = run.status()["windows"]
    assert window["state"] == "met" and window["evidence"]["operation"] == "get"
    assert window["evidence"]["t"] == 15 and window["evidence"]["message-id"] == "7"
    assert run.verdict == "pass"


def test_an_expectation_is_missed_when_the_window_passes(fleet):
    connection, _ = connect(fleet.get("core-1"))
    run = play(fleet, EXPECT.replace("EXPECTATION", "{rpc: edit-config, within: 10s}"), until=15)
    request(connection, "<get-config><source><running/></source></get-config>")
    fleet.runtime.clock.advance(10)
    request(connection, "<edit-config/>")          # too late
    fleet.runtime.clock.advance(100)
    window, = run.status()["windows"]
    assert window["state"] == "missed"
    assert window["evidence"]["seen"] == "get-config x1"
    assert run.verdict == "fail"
    assert "MISSED" in "\n".join(report.lines(run.status()))


def test_must_not_is_met_when_nobody_acts_and_missed_when_somebody_does(fleet):
    text = EXPECT.replace("EXPECTATION", "{rpc: commit, during: true, none: true}")
    run = play(fleet, text)
    assert run.status()["windows"][0]["state"] == "met"
    connection, _ = connect(fleet.get("core-1"))
    other = Run(drill(text), fleet, fleet.runtime)
    other.start()
    fleet.runtime.clock.advance(30)
    request(connection, "<commit/>", message_id="c1")
    fleet.runtime.clock.advance(100)
    window, = other.status()["windows"]
    assert window["state"] == "missed" and window["closes"] == 70
    assert window["evidence"] == {"t": 30, "session": connection.session.id,
                                  "operation": "commit", "message-id": "c1"}


def test_an_xpath_on_the_request_narrows_what_counts(fleet):
    connection, _ = connect(fleet.get("core-1"))
    expect = ("{rpc: get-config, within: 10s, match: \"//nc:running\", "
              "namespaces: {nc: 'urn:ietf:params:xml:ns:netconf:base:1.0'}}")
    run = play(fleet, EXPECT.replace("EXPECTATION", expect), until=12)
    request(connection, "<get-config><source><candidate/></source></get-config>")
    assert run.status()["windows"][0]["state"] == "open"
    request(connection, "<get-config><source><running/></source></get-config>", "8")
    assert run.status()["windows"][0]["state"] == "met"


def test_expectations_watch_each_device_the_event_hit(fleet):
    connection, _ = connect(fleet.get("edge-02"))
    run = play(fleet, """
        name: each
        steps:
          - at: 1s
            target: {devices: "edge-*"}
            event: device-hang
            duration: 5s
          - after: 10s
            expect: {rpc: "*", within: 5s, devices: "edge-*"}
        """, until=12)
    request(connection)
    fleet.runtime.clock.advance(10)
    states = {w["device"]: w["state"] for w in run.status()["windows"]}
    assert states == {"edge-01": "missed", "edge-02": "met"}


def test_junit_has_a_case_per_expectation_and_fails_the_missed(fleet):
    connection, _ = connect(fleet.get("core-1"))
    run = play(fleet, """
        name: j
        steps:
          - at: 1s
            target: {devices: [core-1, edge-01]}
            event: device-hang
            duration: 5s
          - after: 0s
            expect: {rpc: get, within: 10s}
        """, until=2)
    request(connection)
    fleet.runtime.clock.advance(20)
    suite = etree.fromstring(report.junit(run.status()))
    assert suite.tag == "testsuite" and suite.get("tests") == "3" and suite.get("failures") == "1"
    cases = suite.findall("testcase")
    failed = [c for c in cases if c.find("failure") is not None]
    assert len(failed) == 1 and failed[0].get("name").startswith("edge-01")
    assert "a client sends get within 10 s" in failed[0].find("failure").get("message")


# -- stop, restore, determinism ----------------------------------------------------

def test_stop_cancels_what_is_to_come_and_restore_undoes_what_is_in_force(fleet):
    core = fleet.get("core-1")
    run = play(fleet, """
        name: s
        steps:
          - at: 1s
            target: {devices: core-1, interfaces: eth0}
            event: link-down
          - at: 2s
            target: {devices: edge-01}
            event: device-hang
            duration: 1h
          - at: 1h
            target: {devices: core-1}
            event: device-hang
          - after: 0s
            expect: {rpc: get, within: 10s}
        """, until=5)
    assert core.operational().link("eth0").oper_up is False
    assert fleet.get("edge-01").status.value == "hung"
    run.stop()
    assert run.state is State.STOPPED and run.verdict is None
    assert core.operational().link("eth0").oper_up is False       # (left as it stands)
    run.stop(restore=True)
    assert core.operational().link("eth0").oper_up is True
    assert fleet.get("edge-01").status.value == "up"
    fleet.runtime.clock.advance(7200)
    assert core.status.value == "up"                                # the later step never came
    assert run.timeline[-1]["kind"] == "undo"


def test_the_same_seed_gives_the_same_timeline():
    text = model.load(model.shipped()["uplink-flap-storm"]).text
    timelines = []
    for _ in range(2):
        fleet = load_fleet(None, Runtime(clock=VirtualClock()))
        run = play(fleet, drill(text), seed=11)
        timelines.append([json.dumps(e, sort_keys=True) for e in run.timeline])
    assert timelines[0] == timelines[1] and len(timelines[0]) > 10
    fleet = load_fleet(None, Runtime(clock=VirtualClock()))
    other = play(fleet, drill(text), seed=12)
    assert [json.dumps(e, sort_keys=True) for e in other.timeline] != timelines[0]


def test_speed_plays_drill_time_faster_on_the_clock(fleet):
    run = Run(drill("""
        name: fast
        steps:
          - at: 100s
            target: {devices: core-1}
            event: device-hang
            duration: 100s
        """), fleet, fleet.runtime, speed=10)
    run.start()
    fleet.runtime.clock.advance(10)
    assert events(run) == [(100, "core-1", None, "device-hang")]
    assert fleet.get("core-1").status.value == "hung"
    fleet.runtime.clock.advance(10)
    assert fleet.get("core-1").status.value == "up" and run.state is State.FINISHED


# -- the shipped drills, each played against a well-behaved NMS and against none --------

class PollingNms:
    """A well-behaved NMS, in process: a subscribed session to every device
    that is up; every 20 s of drill time it reads each device's configuration
    and state, and it reconnects to a device whose session ended once the
    device takes connections again. It never reconfigures anything."""

    PERIOD = 20.0

    def __init__(self, fleet):
        self.fleet = fleet
        self.sessions: dict[str, tuple] = {}
        self.polls = 0
        self._poll()

    def _poll(self) -> None:
        self.polls += 1
        for device in self.fleet:
            connection, wire = self.sessions.get(device.name, (None, None))
            if wire is None or wire.closed is not None or wire.aborted:
                if device.status.value != "up":
                    continue
                connection, wire = connect(device)
                # (its reply may come late, or as an error, on a flaky device)
                request(connection, f'<create-subscription xmlns="{NCE}"/>', "s")
                self.sessions[device.name] = (connection, wire)
            request(connection, "<get-config><source><running/></source></get-config>",
                    f"c{self.polls}")
            request(connection, "<get/>", f"g{self.polls}")
        self.fleet.runtime.clock.call_later(self.PERIOD, self._poll)


@pytest.mark.parametrize("name", sorted(model.shipped()))
def test_each_shipped_drill_passes_with_a_well_behaved_nms_and_fails_without_one(name):
    scenario = model.load(model.shipped()[name])
    fleet = load_fleet(None, Runtime(clock=VirtualClock()))
    nms = PollingNms(fleet)
    run = play(fleet, scenario)
    status = run.status()
    assert status["state"] == "finished" and status["errors"] == 0, status
    assert status["verdict"] == "pass", [w for w in status["windows"] if w["state"] != "met"]
    assert status["events_raised"] > 0 and nms.polls > scenario.length / PollingNms.PERIOD - 1
    musts = [s for s in scenario.steps if s.expect and not s.expect.none]
    alone = play(load_fleet(None, Runtime(clock=VirtualClock())), scenario)
    assert alone.status()["errors"] == 0
    assert alone.verdict == ("fail" if musts else "pass")
    assert alone.status()["expectations"]["missed"] >= len(musts)


def test_a_run_opens_a_bounded_number_of_windows(fleet, monkeypatch):
    monkeypatch.setattr("emulator.scenarios.engine.MAX_WINDOWS", 4)
    run = play(fleet, """
        name: many
        steps:
          - at: 1s
            expect: {rpc: get, within: 1s, devices: "*"}
        """)
    assert run.status()["windows_total"] == 4 and run.errors == 2
    assert sum(e["kind"] == "error" for e in run.timeline) == 2


def test_sessions_affected_counts_the_sessions_an_event_hit(fleet):
    connect(fleet.get("core-1"))
    connect(fleet.get("core-1"))
    run = play(fleet, """
        name: hit
        steps:
          - at: 1s
            target: {devices: [core-1, edge-01]}
            event: device-hang
        """)
    assert run.status()["sessions_affected"] == 2 and run.status()["devices_affected"] == 2


def test_components_are_selected_by_name_and_glob(fleet):
    run = play(fleet, """
        name: hw
        steps:
          - at: 1s
            target: {devices: core-1, components: "fan-*"}
            event: hardware-failure
            duration: 1m
        """, until=2)
    assert [(e["device"], e["component"]) for e in run.timeline if e["kind"] == "event"] == \
        [("core-1", "fan-1"), ("core-1", "fan-2")]
    fleet.runtime.clock.advance(100)
    assert [e["component"] for e in run.timeline if e["kind"] == "undo"] == ["fan-1", "fan-2"]


@pytest.mark.parametrize("text, words", [
    ("name: x\nsteps: " + "[" * 20000 + "]" * 20000 + "\n", ["nested more than 64"]),
    ("name: x\nsteps:\n" + "".join("  " * i + "- \n" for i in range(1, 400)),
     ["hostile.yaml:4: steps[0]:", "..."]),
    ("a: &a [1,1,1,1,1,1,1,1,1,1]\n"
     + "".join(f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcdef", "bcdefg"))
     + "name: x\nsteps: []\n", ["at most 100000 values"]),
    ("name: 'a b" + "c" * 5000 + "'\nsteps:\n  - at: 1s\n    event: device-hang\n",
     ["hostile.yaml:1: name:", "..."]),
], ids=["brackets", "indentation", "aliases", "a long value"])
def test_hostile_drill_files_are_refused_quickly_in_one_line(text, words):
    started = time.monotonic()
    with pytest.raises(model.ScenarioError) as caught:
        model.parse(text, "hostile.yaml")
    message = str(caught.value)
    assert time.monotonic() - started < 5
    assert message.startswith("hostile.yaml") and "\n" not in message and len(message) < 500
    for word in words:
        assert word in message, message


# -- what an independent review found -----------------------------------------------------

def test_on_the_real_clock_steps_at_one_drill_time_keep_their_order():
    async def main() -> Run:
        fleet = load_fleet(None, Runtime(clock=RealClock()))
        run = Run(drill("""
            name: order
            steps:
              - at: 100ms
                target: {devices: core-1, interfaces: eth0}
                event: link-down
                duration: 100ms
              - after: 0s
                expect: {rpc: commit, none: true, within: 100ms}
            """), fleet, fleet.runtime)
        run.start()
        await asyncio.wait_for(run.finished(), 10)
        return run
    for _ in range(5):
        run = asyncio.run(main())
        assert [(e["kind"], e.get("state")) for e in run.timeline if e["kind"] != "run"] == \
            [("event", None), ("expect", "open"), ("undo", None), ("expect", "met")]


def test_a_request_during_the_grace_hold_counts_at_any_speed():
    async def main(speed: float) -> dict:
        fleet = load_fleet(None, Runtime(clock=VirtualClock()))
        connection, _ = connect(fleet.get("core-1"))
        run = Run(drill(EXPECT.replace("EXPECTATION", "{rpc: get, within: 7s}")), fleet,
                  fleet.runtime, speed=speed, grace=5.0)
        run.start()
        fleet.runtime.clock.advance(17.0000001 / speed)     # the window's end: held
        assert fleet.runtime.clock._held()
        request(connection)
        fleet.runtime.clock.advance(100)
        await asyncio.wait_for(run.finished(), 10)
        return run.status()
    for speed in (1, 60, 7):
        status = asyncio.run(main(speed))
        assert status["verdict"] == "pass", (speed, status["windows"])


def test_overlapping_link_downs_leave_the_link_as_it_was(fleet):
    run = play(fleet, """
        name: overlap
        steps:
          - at: 0s
            target: {devices: core-1, interfaces: eth0}
            event: link-down
            duration: 10s
          - at: 5s
            target: {devices: core-1, interfaces: eth0}
            event: link-down
            duration: 60s
        """, until=30)
    link = fleet.get("core-1").operational().link
    assert link("eth0").oper_up is False                  # the second still holds it down
    fleet.runtime.clock.advance(60)
    assert run.state is State.FINISHED and link("eth0").oper_up is True


def test_a_run_that_ends_inside_the_journal_does_not_hide_the_request_from_another():
    async def main() -> tuple[dict, dict]:
        fleet = load_fleet(None, Runtime(clock=VirtualClock()))
        connection, _ = connect(fleet.get("core-1"))
        first = Run(drill(EXPECT.replace("EXPECTATION", "{rpc: get, within: 1s}")), fleet,
                    fleet.runtime, grace=5.0)
        second = Run(drill(EXPECT.replace("EXPECTATION", "{rpc: get, within: 1m}")), fleet,
                     fleet.runtime, run_id="run-2")
        first.start()
        second.start()
        fleet.runtime.clock.advance(11)        # the first's window is held at its end
        request(connection)
        fleet.runtime.clock.advance(100)
        await asyncio.wait_for(first.finished(), 10)
        return first.status(), second.status()
    first, second = asyncio.run(main())
    assert first["windows"][0]["state"] == "met" and second["windows"][0]["state"] == "met"


def test_timelines_hold_no_absolute_clock_times():
    text = """
        name: flap
        seed: 4
        steps:
          - at: 1s
            target: {devices: core-1, interfaces: eth0}
            event: link-flap
            params: {count: 2, period: 10s}
          - at: 2s
            target: {devices: core-1}
            event: notification-storm
            params: {rate: 10}
            duration: 2s
        """
    lines = []
    for offset in (0, 3600):
        fleet = load_fleet(None, Runtime(clock=VirtualClock()))
        fleet.runtime.clock.advance(offset)
        run = play(fleet, text)
        lines.append([json.dumps(e, sort_keys=True) for e in run.timeline])
    assert lines[0] == lines[1]


def test_restore_brings_a_rebooting_device_up(fleet):
    run = play(fleet, """
        name: r
        steps:
          - at: 1s
            target: {devices: core-1}
            event: device-reboot
            params: {downtime: 1h}
        """, until=10)
    assert fleet.get("core-1").status.value == "rebooting"
    run.stop(restore=True)
    assert fleet.get("core-1").status.value == "up"


def test_effects_kept_for_restore_are_bounded(fleet, monkeypatch):
    monkeypatch.setattr("emulator.scenarios.engine.MAX_ACTIVE", 2)
    run = play(fleet, """
        name: many
        steps:
          - at: 1s
            target: {devices: core-1, interfaces: "eth*"}
            event: link-down
        """)
    assert run.errors == 1 and sum(e["kind"] == "error" for e in run.timeline) == 1
    run.stop(restore=True)
    links = fleet.get("core-1").operational().link
    assert [links(n).oper_up for n in ("eth0", "eth1", "eth2")] == [True, True, False]


def test_a_drill_that_would_end_past_the_clocks_last_year_is_refused(fleet):
    from emulator.scenarios.runs import CannotPlay, Runs
    with pytest.raises(CannotPlay):
        Runs(fleet, fleet.runtime).start(drill("""
            name: slow
            steps:
              - at: 365d
                event: device-hang
            """), speed=1e-6)


def test_named_interfaces_are_looked_up_not_matched_against_every_one(fleet, monkeypatch):
    def every_name(self, pattern="*"):
        raise AssertionError("a named interface should not list the device's interfaces")
    monkeypatch.setattr("emulator.device.Device.interfaces", every_name)
    run = play(fleet, """
        name: named
        steps:
          - at: 1s
            target: {devices: [core-1, access-01], interfaces: [eth0, eth0, nope]}
            event: link-down
        """)
    assert [(d, i) for _, d, i, _ in events(run) if i] == [("core-1", "eth0")]
    assert [e["device"] for e in run.timeline if e.get("note")] == ["access-01"]
