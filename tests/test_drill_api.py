"""Drills through the API, and `netconf-emulator drill` as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from lxml import etree

from emulator.clock import VirtualClock

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
ROOT = Path(__file__).resolve().parent.parent

DRILL = textwrap.dedent("""
    name: api-drill
    seed: 5
    steps:
      - name: down
        at: 10s
        target: {devices: core-1, interfaces: eth0}
        event: link-down
        duration: 1m
      - after: 0s
        expect: {rpc: get, within: 20s}
    """)


def post(running, path: str, body: dict) -> tuple[int, dict]:
    return running.api(path, "POST", json.dumps(body).encode())


@pytest.fixture
def virtual(make_server):
    return make_server(clock=VirtualClock(), drill_grace=0.0)


def test_scenarios_are_listed_and_shown(virtual):
    status, listing = virtual.api("/api/scenarios")
    assert status == 200
    names = {s["name"] for s in listing["scenarios"]}
    assert {"uplink-flap-storm", "rolling-core-reboot"} <= names
    status, one = virtual.api("/api/scenarios/uplink-flap-storm")
    assert status == 200 and "name: uplink-flap-storm" in one["source"] and one["steps"] == 3
    status, error = virtual.api("/api/scenarios/nope")
    assert status == 404 and "uplink-flap-storm" in error["error"]


def test_a_run_from_an_uploaded_file_plays_and_reports(virtual):
    status, run = post(virtual, "/api/scenarios/runs", {"source": DRILL})
    assert status == 201 and run["state"] == "running" and run["seed"] == 5
    path = f"/api/scenarios/runs/{run['id']}"
    virtual.advance(15)
    with virtual.connect("core-1") as client:
        client.rpc("<get/>")
        virtual.advance(100)
    status, done = virtual.api(path)
    assert done["state"] == "finished" and done["verdict"] == "pass"
    assert done["expectations"]["met"] == 1 and done["events_raised"] == 1
    request = urllib.request.urlopen(f"http://127.0.0.1:{virtual.port}{path}/timeline", timeout=10)
    assert request.headers["Content-Type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in request.read().splitlines()]
    assert [e["kind"] for e in lines] == ["run", "run", "event", "expect", "expect", "undo", "run"]
    status, runs = virtual.api("/api/scenarios/runs")
    assert runs["runs"][0]["id"] == run["id"]


def test_the_stream_follows_the_run_to_its_end(virtual):
    status, run = post(virtual, "/api/scenarios/runs", {"scenario": "uplink-flap-storm", "seed": 1})
    assert status == 201
    received: list[str] = []

    def follow() -> None:
        url = f"http://127.0.0.1:{virtual.port}/api/scenarios/runs/{run['id']}/stream"
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.headers["Content-Type"].startswith("text/event-stream")
            for line in response:
                received.append(line.decode())
    reader = threading.Thread(target=follow)
    reader.start()
    deadline = time.monotonic() + 10
    while not any("running" in line for line in received) and time.monotonic() < deadline:
        time.sleep(0.01)
    virtual.advance(3600)
    reader.join(10)
    assert not reader.is_alive()
    data = [json.loads(line[6:]) for line in received if line.startswith("data: {\"t\"")]
    assert sum(e["kind"] == "event" for e in data) == 24
    assert "event: end\n" in received and data[-1]["state"] == "finished"


def test_stop_with_restore_puts_back_what_is_in_force(virtual):
    status, run = post(virtual, "/api/scenarios/runs", {"source": DRILL})
    virtual.advance(12)
    core = virtual.fleet.get("core-1")
    assert virtual.call(lambda: core.operational().link("eth0").oper_up) is False
    status, stopped = post(virtual, f"/api/scenarios/runs/{run['id']}/stop", {"restore": True})
    assert status == 200 and stopped["state"] == "stopped"
    assert stopped["expectations"]["not_checked"] == 1
    assert virtual.call(lambda: core.operational().link("eth0").oper_up) is True


@pytest.mark.parametrize("body, status, words", [
    ({}, 400, ["either"]),
    ({"scenario": "nope"}, 404, ["no shipped scenario"]),
    ({"source": "name: x\nsteps:\n  - at: 1s\n    event: nope\n"}, 400,
     ["uploaded drill:4:", "'nope' is not one of"]),
    ({"source": DRILL, "speed": 0}, 400, ["speed"]),
    ({"source": DRILL, "seed": "x"}, 400, ["seed"]),
    ({"source": DRILL, "colour": 1}, 400, ["unknown key 'colour'"]),
    ({"source": 5}, 400, ["text"]),
])
def test_a_bad_run_request_gets_a_json_error(virtual, body, status, words):
    got, error = post(virtual, "/api/scenarios/runs", body)
    assert got == status, error
    for word in words:
        assert word in error["error"]
    assert virtual.api("/api/scenarios/runs/run-99")[0] == 404


def test_on_a_fast_virtual_clock_a_window_waits_for_a_client_in_real_time(make_server):
    """Time runs as fast as it can, but stands at an expectation's end until
    the client acts (or the grace passes): here the client reacts to the
    notification, in real time, and still meets the expectation."""
    running = make_server(clock=VirtualClock(), drill_grace=5.0)
    with running.connect("core-1") as client:
        client.rpc('<create-subscription xmlns="urn:ietf:params:xml:ns:netconf:notification:1.0"/>')
        running.call(lambda: running.runtime.clock.start_autojump(0))
        status, run = post(running, "/api/scenarios/runs", {"source": DRILL})
        while True:
            message = client.recv_xml(timeout=10)
            if message.find(".//{*}link-down") is not None:
                break
        time.sleep(0.3)                     # (a slow NMS)
        client.send(f'<rpc message-id="late" xmlns="{NC}"><get/></rpc>')
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            status, done = running.api(f"/api/scenarios/runs/{run['id']}")
            if done["state"] == "finished":
                break
            time.sleep(0.05)
    assert done["verdict"] == "pass", done["windows"]
    assert done["windows"][0]["evidence"]["message-id"] == "late"
    assert done["windows"][0]["evidence"]["t"] <= 30


# -- the CLI, as a real process ------------------------------------------------------

def cli(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "emulator", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_drill_command_reports_progress_and_fails_on_a_missed_expectation(tmp_path):
    (tmp_path / "d.yaml").write_text(DRILL)
    done = cli("drill", "d.yaml", "--clock", "virtual", "--port", "0", "--grace", "0",
               "--data-dir", "data", "--junit", "report.xml", "--timeline", "t.jsonl",
               cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    out = done.stdout
    assert "event link-down core-1 eth0" in out and "undo link-down core-1 eth0" in out
    assert "MISSED" in out and "verdict fail" in out
    suite = etree.parse(str(tmp_path / "report.xml")).getroot()
    assert suite.get("failures") == "1"
    timeline = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert timeline[0]["seed"] == 5 and timeline[-1]["verdict"] == "fail"


def test_drill_command_exits_zero_when_every_expectation_is_met(tmp_path):
    (tmp_path / "d.yaml").write_text(DRILL.replace("rpc: get,", "rpc: get, none: true,"))
    done = cli("drill", "d.yaml", "--clock", "virtual", "--port", "0", "--data-dir", "data",
               "--grace", "0.2", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "expectations: 1 met, 0 missed" in done.stdout


@pytest.mark.parametrize("args, words", [
    (["nope"], ["no such drill", "uplink-flap-storm"]),
    (["bad.yaml"], ["bad.yaml:3:", "steps"]),
    (["d.yaml", "--speed", "0"], ["speed"]),
    (["d.yaml", "--url", "http://127.0.0.1:1"], ["127.0.0.1:1"]),
])
def test_drill_command_refuses_in_one_line(tmp_path, args, words):
    (tmp_path / "d.yaml").write_text(DRILL)
    (tmp_path / "bad.yaml").write_text("name: bad\nsteps:\n  - {}\n")
    done = cli("drill", *args, cwd=tmp_path)
    assert done.returncode in (2, 3), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    for word in words:
        assert word in done.stderr


def test_drill_command_plays_on_a_running_server(virtual, tmp_path):
    (tmp_path / "d.yaml").write_text(DRILL)
    virtual.call(lambda: virtual.runtime.clock.start_autojump(0))
    done = cli("drill", "d.yaml", "--url", f"http://127.0.0.1:{virtual.port}", "--grace", "0",
               "--timeline", "t.jsonl", cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "event link-down core-1 eth0" in done.stdout and "verdict fail" in done.stdout
    assert (tmp_path / "t.jsonl").read_text().count("\n") == 7


def test_serve_plays_a_scenario_given_at_start(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator", "serve", "--port", "0", "--data-dir", "data",
         "--clock", "virtual", "--autojump", "0.01", "--scenario", "uplink-flap-storm",
         "--timeline", "t.jsonl", "--quiet"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        lines = []
        while time.monotonic() < deadline and not any(l.startswith("drill ") for l in lines):
            lines.append(process.stdout.readline())
        url = next(l for l in lines if l.startswith("drill ")).split(" at ")[1].strip()
        while time.monotonic() < deadline:
            with urllib.request.urlopen(url, timeout=10) as response:
                status = json.loads(response.read())
            if status["state"] == "finished":
                break
            time.sleep(0.1)
        assert status["state"] == "finished" and status["events_raised"] == 24
    finally:
        process.terminate()
        process.wait(10)
    assert (tmp_path / "t.jsonl").read_text().count("\"kind\":\"event\"") == 24


def test_an_in_process_fleet_plays_a_drill_on_its_own_clock(tmp_path):
    from emulator.testing import NetconfFleet

    with NetconfFleet.start(data_dir=tmp_path / "data") as fleet:
        run = fleet.play("uplink-flap-storm", seed=3)
        fleet.advance(60)
        assert fleet.drill_status(run)["state"] == "running"
        fleet.advance(3600)
        status = fleet.drill_status(run)
        assert status["state"] == "finished" and status["events_raised"] == 24
        assert status["seed"] == 3
        other = fleet.play("name: inline\nsteps:\n  - at: 1h\n    event: device-hang\n")
        fleet.reset()                              # (stops what still plays)
        assert fleet.drill_status(other)["state"] == "stopped"


def test_a_run_waits_for_sessions_before_drill_time_starts(virtual):
    status, run = post(virtual, "/api/scenarios/runs", {"source": DRILL, "wait_for_sessions": 2})
    assert status == 201 and run["state"] == "waiting"
    path = f"/api/scenarios/runs/{run['id']}"
    virtual.advance(3600)                          # time passes; the drill has not begun
    assert virtual.api(path)[1]["state"] == "waiting"
    with virtual.connect("core-1"), virtual.connect("edge-01"):
        deadline = time.monotonic() + 10
        while virtual.api(path)[1]["state"] == "waiting" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert virtual.api(path)[1]["state"] == "running"
        virtual.advance(9)
        assert virtual.api(path)[1]["events_raised"] == 0
        virtual.advance(1)
        assert virtual.api(path)[1]["events_raised"] == 1
