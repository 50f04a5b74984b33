"""Datastores survive the process: across restarts, --fresh, and SIGKILL in the
middle of a stream of commits."""

from __future__ import annotations

import json
import random
import signal
import threading
import time
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest
from websockets.exceptions import ConnectionClosed

from tests.client import NC, NS, NetconfClient
from tests.process import Served

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
    with Served(data_dir=data) as served:
        client = NetconfClient.connect(served.url("core-1"))

        def commit_forever() -> None:
            i = 0
            try:
                while True:
                    i += 1
                    if set_description(client, f"commit-{i}"):
                        answered.append(i)
            except (ConnectionClosed, OSError, TimeoutError):
                return

        writer = threading.Thread(target=commit_forever, daemon=True)
        writer.start()
        time.sleep(0.3 + random.Random(seed).random())
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
            data=json.dumps({"event": "link-down", "interface": "eth1"}).encode(), method="POST")
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
