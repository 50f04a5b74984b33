"""`netconf-emulator` as a user runs it: a real process, real signals."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.client import NS, NetconfClient
from tests.process import Served, run


def test_serve_prints_every_endpoint_then_ready_and_stops_on_sigterm(tmp_path):
    served = Served(data_dir=tmp_path / "d")
    try:
        endpoints = [line for line in served.lines if line.startswith("endpoint ")]
        assert len(endpoints) == 6
        assert f"endpoint ws://127.0.0.1:{served.port}/netconf/core-1 device=core-1 profile=router" \
            in endpoints
        assert served.lines[0] == f"api http://127.0.0.1:{served.port}/api/"
        assert served.lines[-1] == f"ready: 6 devices on port {served.port}"
        with urllib.request.urlopen(f"http://127.0.0.1:{served.port}/api/health") as response:
            assert json.load(response)["status"] == "ok"
        client = NetconfClient.connect(f"ws://127.0.0.1:{served.port}/netconf/core-1")
        assert served.stop(signal.SIGTERM) == 0
        # the open session was closed cleanly, with a close frame
        assert client.wait_closed() == (1001, "server shutting down")
    finally:
        served.process.kill()


def test_sigint_exits_zero(tmp_path):
    served = Served(data_dir=tmp_path / "d")
    with NetconfClient.connect(f"ws://127.0.0.1:{served.port}/netconf/access-01") as client:
        assert client.rpc("<nothing/>").find("nc:rpc-error", NS) is not None
        assert served.stop(signal.SIGINT) == 0
        assert client.wait_closed()[0] == 1001
    assert (tmp_path / "d").is_dir()


def test_fleet_option_and_fresh(tmp_path):
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text("devices:\n  - name: lab-{n}\n    count: 2\n    profile: switch\n")
    data_dir = tmp_path / "d"
    served = Served("--fleet", str(fleet), data_dir=data_dir)
    assert served.stop() == 0
    assert (data_dir / ".netconf-emulator-data").exists()
    (data_dir / "old.db").write_text("x")
    served = Served("--fleet", str(fleet), "--fresh", data_dir=data_dir)
    try:
        assert [l.split()[2] for l in served.lines if l.startswith("endpoint")] == \
            ["device=lab-1", "device=lab-2"]
        assert not (data_dir / "old.db").exists()
    finally:
        assert served.stop() == 0


@pytest.mark.parametrize("fresh", [False, True])
def test_a_folder_that_is_not_ours_is_refused_and_left_alone(tmp_path, fresh):
    """A data dir the server writes to carries the marker, so the server never
    writes into a folder of other files: it could not --fresh it later."""
    precious = tmp_path / "home"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    result = run("serve", "--port", "0", *(["--fresh"] if fresh else []),
                 "--data-dir", str(precious))
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert "holds files that are not netconf-emulator's" in line and str(precious) in line
    assert sorted(p.name for p in precious.iterdir()) == ["thesis.tex"]
    assert (precious / "thesis.tex").read_text() == "years of work"


def test_a_data_dir_written_to_carries_the_marker(tmp_path):
    data_dir = tmp_path / "new"
    with Served(data_dir=data_dir):
        pass
    assert (data_dir / ".netconf-emulator-data").exists()
    with Served("--fresh", data_dir=data_dir):   # so --fresh works on it later
        pass


def test_bad_fleet_is_refused_with_file_and_line(tmp_path):
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text("devices:\n  - name: a\n    profile: nope\n")
    result = run("serve", "--port", "0", "--fleet", str(fleet), "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"netconf-emulator: error: {fleet}:3: unknown profile 'nope' (known: router, switch)"]
    assert "ready" not in result.stdout


def test_port_in_use_is_a_one_line_error(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run("serve", "--port", str(port), "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"netconf-emulator: error: cannot listen on 127.0.0.1:{port}")


@pytest.mark.parametrize("args, message", [
    (["serve", "--port", "http"], "'http' is not a port number"),
    (["serve", "--max-message-size", "lots"], "'lots' is not a size"),
    (["serve", "--tls-cert", "/no/such.pem"], "no such file: /no/such.pem"),
    (["serve", "--frobnicate"], "unrecognized arguments: --frobnicate"),
    (["serve", "--replay-size", "0", "--port", "0"], "--replay-size must be at least 1"),
    (["serve", "--notification-queue", "0", "--port", "0"], "--notification-queue must be at least 1"),
    (["serve", "--replay-age", "-3"], "'-3' is not a number of seconds"),
    (["serve", "--autojump", "0.1", "--port", "0"], "--autojump needs --clock virtual"),
    (["serve", "--clock", "sundial"], "invalid choice: 'sundial'"),
    ([], "choose a command"),
])
def test_bad_arguments_are_one_line_errors(args, message):
    result = run(*args)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("netconf-emulator: error:") and message in line


def test_tls_key_without_cert_is_refused(tmp_path):
    key = tmp_path / "key.pem"
    key.write_text("x")
    result = run("serve", "--port", "0", "--tls-key", str(key), "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 1
    assert "need --tls-cert" in result.stderr


def test_check_reports_the_fleet(tmp_path):
    result = run("check")
    assert result.returncode == 0
    assert "6 devices (router: 3, switch: 3)" in result.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("devices: [\n")
    result = run("check", "--fleet", str(bad))
    assert result.returncode == 2 and f"{bad}:2: invalid YAML" in result.stderr


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "netconf-emulator"
    if not script.exists():
        pytest.skip("package not installed with pip in this interpreter")
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and result.stdout.startswith("netconf-emulator ")


def test_a_virtual_clock_moves_only_when_told(tmp_path):
    with Served("--clock", "virtual", data_dir=tmp_path / "d") as served:
        def api(method: str, path: str, body: bytes | None = None) -> dict:
            request = urllib.request.Request(f"http://127.0.0.1:{served.port}{path}",
                                             method=method, data=body,
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read())

        health = api("GET", "/api/health")
        assert health["clock"] == "virtual" and health["time"] == "2025-01-01T00:00:00.000000Z"
        sys_ns = "urn:ietf:params:xml:ns:yang:ietf-system"
        with NetconfClient.connect(served.url("core-1")) as client:
            client.rpc(f"<edit-config><target><candidate/></target><config><system xmlns="
                       f"'{sys_ns}'><hostname>trial</hostname></system></config></edit-config>")
            client.rpc("<commit><confirmed/><confirm-timeout>30</confirm-timeout></commit>")
            moved = api("POST", "/api/clock", b'{"advance": 30}')
            assert moved["time"] == "2025-01-01T00:00:30.000000Z" and moved["timers_run"] == 1
            reply = client.rpc("<get-config><source><running/></source></get-config>")
            assert reply.findtext(f".//{{{sys_ns}}}hostname") == "core-1"   # rolled back


def test_quiet_prints_no_endpoint_lines_and_large_fleets_get_a_summary(tmp_path):
    with Served("--quiet", data_dir=tmp_path / "q") as served:
        assert [line.split()[0] for line in served.lines] == ["api", "ready:"]
    fleet = tmp_path / "big.yaml"
    fleet.write_text("devices:\n  - name: sw-{n:04d}\n    count: 1001\n    profile: switch\n")
    with Served("--fleet", str(fleet), data_dir=tmp_path / "b") as served:
        assert not [line for line in served.lines if line.startswith("endpoint ")]
        [summary] = [line for line in served.lines if line.startswith("endpoints:")]
        assert "1001 devices" in summary and "/netconf/DEVICE" in summary
