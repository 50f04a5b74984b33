"""serve --ready-file, from a real process; and the CI recipe that waits on it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.client import NetconfClient
from tests.process import Served, run

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "examples" / "ci" / "run-with-emulator.sh"


def test_the_ready_file_says_where_everything_is(tmp_path):
    ready = tmp_path / "ready.json"
    with Served("--ready-file", str(ready), data_dir=tmp_path / "d") as served:
        # the ready line is printed after the file is in place
        content = json.loads(ready.read_text())
        assert content["port"] == served.port
        assert content["pid"] == served.process.pid
        assert content["api"] == f"http://127.0.0.1:{served.port}/api/"
        assert list(content["devices"]) == ["core-1", "edge-01", "edge-02",
                                            "access-01", "access-02", "access-03"]
        assert content["devices"]["access-01"] == {
            "profile": "switch",
            "urls": {"websocket": f"ws://127.0.0.1:{served.port}/netconf/access-01",
                     "soap": f"http://127.0.0.1:{served.port}/soap/access-01"}}
        with urllib.request.urlopen(content["health"], timeout=10) as response:
            assert json.load(response)["status"] == "ok"
        for device in content["devices"].values():
            with NetconfClient.connect(device["urls"]["websocket"]) as client:
                assert client.session_id
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".ready")] == []
    assert not ready.exists()       # removed on a clean stop


def test_a_stale_ready_file_is_removed_before_the_start(tmp_path):
    ready = tmp_path / "ready.json"
    ready.write_text('{"port": 1}')
    bad_fleet = tmp_path / "fleet.yaml"
    bad_fleet.write_text("devices: []\n")
    result = run("serve", "--port", "0", "--data-dir", str(tmp_path / "d"),
                 "--fleet", str(bad_fleet), "--ready-file", str(ready))
    assert result.returncode == 2 and "the fleet has no devices" in result.stderr
    assert not ready.exists()      # a waiting job cannot mistake the old one for this start


def test_a_ready_file_nowhere_is_a_one_line_error(tmp_path):
    result = run("serve", "--port", "0", "--data-dir", str(tmp_path / "d"),
                 "--ready-file", str(tmp_path / "no" / "ready.json"))
    assert result.returncode == 2
    assert result.stderr == (f"netconf-emulator: error: --ready-file {tmp_path}/no/ready.json: "
                             f"no such folder {tmp_path}/no\n")
    result = run("serve", "--port", "0", "--data-dir", str(tmp_path / "d"),
                 "--ready-file", str(tmp_path))
    assert result.returncode == 2 and "is a folder" in result.stderr


def recipe(*command: str, args: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "NETCONF_EMULATOR": f"{sys.executable} -m emulator",
           "NETCONF_EMULATOR_ARGS": args, "NETCONF_EMULATOR_READY_TIMEOUT": "60"}
    return subprocess.run(["sh", str(RECIPE), *command], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_ci_recipe_runs_a_command_against_a_ready_fleet(tmp_path):
    # the command under test is not Python: the shell, and the ready file it was told of
    check = ('test -n "$NETCONF_EMULATOR_PORT" && '
             'grep -q "\\"port\\": $NETCONF_EMULATOR_PORT," "$NETCONF_EMULATOR_READY_FILE" && '
             'echo "api=$NETCONF_EMULATOR_API"; exit 3')
    result = recipe("sh", "-c", check)
    assert result.returncode == 3, result.stderr     # the command's own status
    assert result.stdout.startswith("api=http://127.0.0.1:") and result.stdout.endswith("/api/\n")


def test_the_ci_recipe_reports_a_server_that_does_not_start(tmp_path):
    result = recipe("true", args=f"--fleet {tmp_path}/missing.yaml")
    assert result.returncode == 1
    assert "no such file" in result.stderr and "netconf-emulator did not start" in result.stderr
    assert recipe().returncode == 2


def test_the_ready_file_lists_ssh_urls_when_ssh_is_served(tmp_path):
    ready = tmp_path / "ready.json"
    with Served("--ready-file", str(ready), "--ssh-port", "0", data_dir=tmp_path / "d"):
        content = json.loads(ready.read_text())
        urls = content["devices"]["core-1"]["urls"]
        assert urls["ssh"].startswith("ssh://") and urls["websocket"].startswith("ws://")
