"""Datastores survive the process: across restarts, --fresh, and SIGKILL in the
middle of a stream of commits."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import threading
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest
from lxml import etree
from websockets.exceptions import ConnectionClosed

from tests.client import NC, NS, NetconfClient
from tests.process import Served, run

IF = "urn:ietf:params:xml:ns:yang:ietf-interfaces"
NCE = "urn:ietf:params:xml:ns:netconf:notification:1.0"


def set_description(client: NetconfClient, text: str, candidate: bool = True) -> bool:
    target = "candidate" if candidate else "running"
    reply = client.rpc(f'<edit-config><target><{target}/></target><config><interfaces xmlns="{IF}">'
                       f"<interface><name>eth0</name><description>{text}</description></interface>"
                       "</interfaces></config></edit-config>")
    if reply.find("nc:ok", NS) is None:
        return False
    if candidate:
        reply = client.rpc("<commit/>")
    return reply.find("nc:ok", NS) is not None


def description(served: Served, source: str = "running") -> str:
    with NetconfClient.connect(served.url("core-1")) as client:
        reply = client.rpc(f"<get-config><source><{source}/></source></get-config>")
    return reply.xpath("string(//i:interface[i:name='eth0']/i:description)",
                       namespaces={"i": IF, "nc": NC})


def test_committed_configuration_survives_a_restart_and_fresh_forgets_it(tmp_path):
    data = tmp_path / "data"
    with Served(data_dir=data) as served:
        with NetconfClient.connect(served.url("core-1")) as client:
            assert set_description(client, "kept across restarts")
            reply = client.rpc("<copy-config><target><startup/></target><source><running/></source>"
                               "</copy-config>")
            assert reply.find("nc:ok", NS) is not None
    with Served(data_dir=data) as served:
        assert description(served) == "kept across restarts"
        assert description(served, "startup") == "kept across restarts"
    with Served("--fresh", data_dir=data) as served:
        assert description(served) == "management"  # the fixture's


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sigkill_in_a_stream_of_commits_loses_nothing_answered(tmp_path, seed):
    data = tmp_path / "data"
    answered: list[int] = []
    # killed after a seeded number of answered commits, while the next is in flight
    # (a count, not a sleep: it needs no time to pass, only commits to happen)
    kill_after = 6 + random.Random(seed).randrange(60)
    enough = threading.Event()
    with Served(data_dir=data) as served:
        client = NetconfClient.connect(served.url("core-1"))

        def commit_forever() -> None:
            i = 0
            try:
                while True:
                    i += 1
                    if set_description(client, f"commit-{i}"):
                        answered.append(i)
                        if len(answered) >= kill_after:
                            enough.set()
            except (ConnectionClosed, OSError, TimeoutError):
                return

        writer = threading.Thread(target=commit_forever, daemon=True)
        writer.start()
        assert enough.wait(30)
        served.process.send_signal(signal.SIGKILL)
        served.process.wait(10)
        writer.join(15)
    assert len(answered) > 5
    with Served(data_dir=data) as served:
        found = description(served)
    last = answered[-1]
    # every commit answered <ok/> is there; at most the one in flight is more
    assert found in (f"commit-{last}", f"commit-{last + 1}"), (found, last)


def test_a_confirmed_commit_pending_at_a_restart_is_rolled_back(tmp_path):
    data = tmp_path / "data"
    with Served(data_dir=data) as served:
        with NetconfClient.connect(served.url("core-1")) as client:
            assert set_description(client, "before")
            reply = client.rpc(f'<edit-config><target><candidate/></target><config>'
                               f'<interfaces xmlns="{IF}"><interface><name>eth0</name>'
                               "<description>unconfirmed</description></interface></interfaces>"
                               "</config></edit-config>")
            assert reply.find("nc:ok", NS) is not None
            reply = client.rpc("<commit><confirmed/><persist>p</persist></commit>")
            assert reply.find("nc:ok", NS) is not None
        assert description(served) == "unconfirmed"
    with Served(data_dir=data) as served:
        assert description(served) == "before"   # RFC 6241 8.4.1


def test_the_replay_log_is_kept_across_restarts(tmp_path):
    data = tmp_path / "data"
    since = (datetime.now(timezone.utc) - timedelta(seconds=5)).isoformat().replace("+00:00", "Z")
    with Served(data_dir=data) as served:
        request = urllib.request.Request(
            f"http://127.0.0.1:{served.port}/api/devices/core-1/events",
            data=json.dumps({"event": "link-down", "interface": "eth1"}).encode(), method="POST",
            headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=10).read()
    with Served(data_dir=data) as served:
        with NetconfClient.connect(served.url("core-1")) as client:
            reply = client.rpc(f'<create-subscription xmlns="{NCE}"><startTime>{since}</startTime>'
                               "</create-subscription>")
            assert reply.find("nc:ok", NS) is not None
            texts = []
            while not texts or "replayComplete" not in texts[-1]:
                texts.append(client.recv())
    assert any("<link-down" in t and "<if-name>eth1</if-name>" in t for t in texts)


# -- a data dir that is safe ------------------------------------------------------------------

def test_a_corrupt_datastore_file_is_a_one_line_error(tmp_path):
    data = tmp_path / "data"
    with Served(data_dir=data):
        pass
    (data / "datastores.sqlite").write_bytes(b"this is not a database" * 500)
    for name in ("datastores.sqlite-wal", "datastores.sqlite-shm"):
        (data / name).unlink(missing_ok=True)
    result = run("serve", "--port", "0", "--data-dir", str(data))
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert "datastores.sqlite" in line and "--fresh" in line and "Traceback" not in line
    with Served("--fresh", data_dir=data) as served:       # --fresh replaces it
        assert description(served) == "management"


def test_a_sqlite_file_that_is_not_ours_is_refused(tmp_path):
    data = tmp_path / "data"
    with Served(data_dir=data):
        pass
    connection = sqlite3.connect(data / "datastores.sqlite")
    connection.execute("CREATE TABLE invoices (id INTEGER, amount REAL)")
    connection.commit()
    connection.close()
    result = run("serve", "--port", "0", "--data-dir", str(data))
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert "'invoices'" in line and "--fresh" in line


def test_a_second_server_on_the_data_dir_is_refused_with_the_first_ones_pid(tmp_path):
    data = tmp_path / "data"
    with Served(data_dir=data) as served:
        with NetconfClient.connect(served.url("core-1")) as client:
            assert set_description(client, "first's", candidate=False)
        result = run("serve", "--port", "0", "--fresh", "--data-dir", str(data))
        assert result.returncode == 1
        [line] = result.stderr.strip().splitlines()
        assert f"PID {served.process.pid}" in line and str(data) in line
        assert description(served) == "first's"           # --fresh deleted nothing
    with Served(data_dir=data) as served:
        assert description(served) == "first's"


def test_a_changed_profile_that_refuses_the_stored_configuration(tmp_path):
    """The fleet file moved a router to the switch profile: its stored router
    configuration does not fit, so it starts from the switch fixture, with a
    note, and the old rows are kept aside."""
    data = tmp_path / "data"
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text("devices:\n  - name: lab-1\n    profile: router\n"
                     "  - name: lab-2\n    profile: router\n")
    with Served("--fleet", str(fleet), data_dir=data) as served:
        for name in ("lab-1", "lab-2"):
            with NetconfClient.connect(served.url(name)) as client:
                reply = client.rpc(
                    f'<edit-config><target><running/></target><config><interfaces xmlns="{IF}">'
                    "<interface><name>eth0</name><description>saved</description></interface>"
                    "</interfaces></config></edit-config>")
                assert reply.find("nc:ok", NS) is not None
    fleet.write_text("devices:\n  - name: lab-1\n    profile: switch\n"
                     "  - name: lab-2\n    profile: router\n")
    with Served("--fleet", str(fleet), data_dir=data) as served:
        with NetconfClient.connect(served.url("lab-1")) as client:
            reply = client.rpc("<validate><source><running/></source></validate>")
            assert reply.find("nc:ok", NS) is not None
            reply = client.rpc("<get-config><source><running/></source></get-config>")
            assert "saved" not in etree.tostring(reply).decode()
        with NetconfClient.connect(served.url("lab-2")) as client:   # the same profile: kept
            reply = client.rpc("<get-config><source><running/></source></get-config>")
            assert "saved" in etree.tostring(reply).decode()
    [note] = [line for line in served.stderr_lines() if "note:" in line]
    assert "device lab-1" in note and "'switch'" in note and "set_aside" in note
    kept = sqlite3.connect(data / "datastores.sqlite").execute(
        "SELECT device, name FROM set_aside").fetchall()
    assert ("lab-1", "running") in kept
    with Served("--fleet", str(fleet), data_dir=data) as served:   # told once
        pass
    assert not [line for line in served.stderr_lines() if "note:" in line]
