"""The admin JSON API over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
from datetime import datetime

import pytest


def test_index_lists_the_endpoints(server):
    status, body = server.api("/api/")
    assert status == 200 and "GET /api/health" in body["endpoints"]


def test_health(server):
    status, body = server.api("/api/health")
    assert status == 200
    assert body["status"] == "ok"
    assert body["devices"] == len(server.emulator.fleet)
    assert body["profiles"] == ["router", "switch"]


def test_device_list_has_the_contract_fields(server):
    status, devices = server.api("/api/devices")
    assert status == 200 and isinstance(devices, list)
    assert [d["name"] for d in devices] == list(server.emulator.fleet.devices)
    for device in devices:
        assert {"name", "profile", "url", "status"} <= set(device)
        assert device["url"] == f"ws://127.0.0.1:{server.port}/netconf/{device['name']}"
        assert device["status"] == "up"


def test_device_list_by_profile(server):
    status, devices = server.api("/api/devices?profile=switch")
    assert status == 200 and {d["profile"] for d in devices} == {"switch"}
    status, body = server.api("/api/devices?profile=nope")
    assert status == 400 and "nope" in body["error"]


def test_device_detail_lists_its_sessions(server):
    with server.connect("edge-02") as client:
        status, detail = server.api("/api/devices/edge-02")
        assert status == 200
        assert detail["name"] == "edge-02" and detail["profile"] == "router"
        assert "ietf-interfaces" in detail["modules"]
        assert detail["vars"]["hostname"] == "edge-02"
        [session] = [s for s in detail["sessions"] if s["session-id"] == client.session_id]
        assert session["username"] == "netconf" and session["source-host"] == "127.0.0.1"
        datetime.fromisoformat(session["login-time"].replace("Z", "+00:00"))


@pytest.mark.parametrize("path", ["/api/devices/nope", "/api/devices/nope/journal"])
def test_unknown_device_is_a_404_json_error(server, path):
    status, body = server.api(path)
    assert status == 404 and "nope" in body["error"] and body["status"] == 404


def test_unknown_api_path_is_a_404_json_error(server):
    status, body = server.api("/api/frobnicate")
    assert status == 404 and "/api/frobnicate" in body["error"]


def test_wrong_method_is_a_405_json_error(server):
    status, body = server.api("/api/health", method="DELETE")
    assert status == 405 and "DELETE" in body["error"]


def test_journal_shows_what_the_client_sent_and_got(server):
    with server.connect("access-02") as client:
        client.rpc("<close-session/>", message_id="journal-test")
        client.wait_closed()
    status, body = server.api(f"/api/devices/access-02/journal?session={client.session_id}")
    assert status == 200 and body["device"] == "access-02"
    entries = body["entries"]
    assert [e["direction"] for e in entries] == ["out", "in", "in", "out"]
    assert all(e["session"] == client.session_id for e in entries)
    assert "<hello" in entries[0]["text"] and "<hello" in entries[1]["text"]
    assert 'message-id="journal-test"' in entries[2]["text"]
    assert "<ok/>" in entries[3]["text"]
    times = [datetime.fromisoformat(e["time"].replace("Z", "+00:00")) for e in entries]
    assert times == sorted(times) and all(t.tzinfo for t in times)


def test_journal_limit(server):
    with server.connect("access-03") as client:
        for _ in range(3):
            client.rpc("<nothing/>")
    status, body = server.api("/api/devices/access-03/journal?limit=2")
    assert status == 200 and len(body["entries"]) == 2
    assert body["entries"][0]["seq"] < body["entries"][1]["seq"]


@pytest.mark.parametrize("query", ["limit=abc", "limit=0", "session=-1", "limit=99999999"])
def test_journal_bad_query_is_a_400_json_error(server, query):
    status, body = server.api(f"/api/devices/core-1/journal?{query}")
    assert status == 400 and body["error"]


def test_journal_does_not_mix_devices(server):
    with server.connect("edge-01") as client:
        client.rpc("<only-on-edge-01/>")
    _, body = server.api("/api/devices/core-1/journal?limit=100000")
    assert not any("only-on-edge-01" in e["text"] for e in body["entries"])
    _, body = server.api("/api/devices/edge-01/journal")
    assert any("only-on-edge-01" in e["text"] for e in body["entries"])


# -- the API's common rules --------------------------------------------------------------

def test_a_body_that_is_not_declared_json_is_refused(server):
    # what a page of another origin can send without asking first
    body = json.dumps({"event": "link-down", "interface": "eth1"}).encode()
    status, answer = server.api("/api/devices/core-1/events", "POST", body,
                                {"Content-Type": "text/plain"})
    assert status == 415 and "application/json" in answer["error"]
    assert not server.call(lambda: [e for e in server.fleet.get("core-1").events.events
                                    if "link-down" in e.xml])


def test_a_body_over_the_limit_gets_a_json_413_before_it_is_sent(server):
    import socket

    from emulator.api.handlers import BODY_LIMIT
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(f"POST /api/reset HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     f"Content-Type: application/json\r\nContent-Length: {BODY_LIMIT + 1}\r\n\r\n"
                     .encode())
        response = b""
        while b"}" not in response:
            chunk = sock.recv(65536)
            if not chunk:
                break
            response += chunk
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert str(BODY_LIMIT) in json.loads(body)["error"]


def test_unknown_query_parameters_and_event_keys_are_refused(server):
    status, answer = server.api("/api/devices?profle=router")
    assert status == 400 and "'profle'" in answer["error"] and "profile" in answer["error"]
    status, answer = server.api("/api/devices/core-1/journal?limit=1&since=3")
    assert status == 400 and "'since'" in answer["error"]
    status, answer = server.api("/api/devices/core-1/events", "POST",
                                b'{"event": "link-down", "interface": "eth1", "interfce": "eth2"}')
    assert status == 400 and "unknown key 'interfce'" in answer["error"]
