"""NETCONF over WebSocket end to end: real Tornado on 127.0.0.1, real `websockets` client."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request

import pytest
import tornado.websocket
import trustme
from websockets.exceptions import ConnectionClosed, InvalidMessage, InvalidStatus
from websockets.sync.client import connect

from emulator.clock import VirtualClock
from emulator.netconf.session import State
from tests.client import BASE10, BASE11, NC, NS, NetconfClient, hello, rpc_errors


def refused(url: str, **kwargs) -> tuple[int, str]:
    with pytest.raises(InvalidStatus) as info:
        connect(url, open_timeout=10, **kwargs)
    response = info.value.response
    return response.status_code, response.body.decode()


# -- the opening handshake ----------------------------------------------------

def test_handshake_selects_netconf_and_forbids_caching(server):
    with server.connect() as client:
        assert client.ws.subprotocol == "netconf"
        headers = client.ws.response.headers
        assert headers["Cache-Control"] == "no-cache"
        assert headers["Pragma"] == "no-cache"


def test_server_hello_comes_first(server):
    with server.connect(send_hello=False) as client:
        caps = [c.text for c in client.server_hello.iterfind("nc:capabilities/nc:capability", NS)]
        assert BASE10 in caps and BASE11 in caps
        assert client.session_id > 0


def test_each_device_on_its_own_path(server):
    clients = [server.connect(name) for name in ("core-1", "edge-01", "access-01")]
    try:
        ids = {c.session_id for c in clients}
        assert len(ids) == 3
        for name, client in zip(("core-1", "edge-01", "access-01"), clients):
            assert client.session_id in server.call(lambda n=name: set(server.emulator.fleet.get(n).sessions))
    finally:
        for client in clients:
            client.close()


def test_unknown_device_is_404_before_the_upgrade(server):
    status, body = refused(server.url("no-such-device"), subprotocols=["netconf"])
    assert status == 404 and "no-such-device" in body


@pytest.mark.parametrize("subprotocols", [None, ["xmpp"]])
def test_client_must_offer_the_netconf_subprotocol(server, subprotocols):
    status, body = refused(server.url("core-1"), subprotocols=subprotocols)
    assert status == 400 and "netconf" in body


def test_plain_http_get_on_a_device_path_is_refused(server):
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"http://127.0.0.1:{server.port}/netconf/core-1", timeout=5)
    assert info.value.code == 400


@pytest.mark.parametrize("origin", ["http://127.0.0.1:3000", "http://localhost", "http://[::1]:8080"])
def test_loopback_origins_are_accepted(server, origin):
    with server.connect(origin=origin) as client:
        assert client.session_id


def raw_handshake(port: int, host: str, origin: str | None = None, path: str = "/netconf/core-1",
                  protocol: str = "netconf") -> tuple[int, str]:
    """A handshake with exactly these headers; the status code and the body."""
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Upgrade: websocket",
             "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
             "Sec-WebSocket-Version: 13", f"Sec-WebSocket-Protocol: {protocol}"]
    if origin:
        lines.append(f"Origin: {origin}")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            sock.settimeout(2)
            try:
                while chunk := sock.recv(4096):
                    body += chunk
            except OSError:
                pass
    return int(head.split()[1]), body.decode(errors="replace")


def test_same_origin_is_accepted_for_a_named_host(make_server):
    running = make_server(allow_hosts=["emu.lab"])
    host = f"emu.lab:{running.port}"
    assert raw_handshake(running.port, host, origin=f"http://{host}")[0] == 101
    status, body = raw_handshake(running.port, host, origin="http://evil.example")
    assert status == 403 and "--allow-origin" in body


def test_dns_rebinding_names_are_refused(server):
    # A page on evil.example whose name now points at 127.0.0.1 is "same origin".
    host = f"evil.example:{server.port}"
    status, body = raw_handshake(server.port, host, origin=f"http://{host}")
    assert status == 403 and "--allow-host" in body
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}/api/devices",
                                     headers={"Host": host})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=5)
    assert info.value.code == 403 and "--allow-host" in json.loads(info.value.read())["error"]


def test_ip_literal_and_localhost_hosts_are_accepted(server):
    for host in (f"127.0.0.1:{server.port}", f"localhost:{server.port}", f"[::1]:{server.port}",
                 f"192.0.2.1:{server.port}"):
        assert raw_handshake(server.port, host)[0] == 101, host


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1.evil.example"])
def test_foreign_origins_are_403(server, origin):
    status, body = refused(server.url("core-1"), subprotocols=["netconf"], origin=origin)
    assert status == 403 and "--allow-origin" in body


def test_allow_origin_lets_a_named_origin_in(make_server):
    running = make_server(allow_origins=["https://nms.example"])
    with running.connect(origin="https://nms.example") as client:
        assert client.session_id
    status, _ = refused(running.url("core-1"), subprotocols=["netconf"], origin="https://other.example")
    assert status == 403


# -- messages -------------------------------------------------------------------

def test_rpc_reply_over_websocket_echoes_attributes(server):
    with server.connect() as client:
        reply = client.rpc("<kill-session><session-id>424242</session-id></kill-session>",
                           message_id="m-1", attrs='xmlns:ex="urn:ex" ex:tag="t"')
        assert reply.get("message-id") == "m-1" and reply.get("{urn:ex}tag") == "t"
        assert rpc_errors(reply)[0]["tag"] == "invalid-value"


def test_binary_frames_and_trailing_end_of_message_are_accepted(server):
    with server.connect(send_hello=False) as client:
        client.send(hello(BASE11).encode() + b"]]>]]>")
        client.send(f'<rpc message-id="9" xmlns="{NC}"><close-session/></rpc>]]>]]>'.encode())
        reply = client.recv_xml()
        assert reply.get("message-id") == "9" and reply.find("nc:ok", NS) is not None


def test_malformed_messages_get_errors_and_the_session_goes_on(server):
    with server.connect() as client:
        client.send("<rpc message-id='1'")
        assert rpc_errors(client.recv_xml())[0]["tag"] == "malformed-message"
        client.send(f"<rpc xmlns='{NC}'><close-session/></rpc>")
        assert rpc_errors(client.recv_xml())[0]["tag"] == "missing-attribute"
        assert rpc_errors(client.rpc("<frobnicate/>"))[0]["tag"] == "operation-not-supported"
        assert client.rpc("<close-session/>").find("nc:ok", NS) is not None


def test_an_rpc_with_too_many_attributes_is_refused_at_once(server):
    with server.connect() as client:
        attrs = " ".join(f'a{i}="x"' for i in range(50_000))
        started = time.monotonic()
        [err] = rpc_errors(client.rpc("<close-session/>", message_id="many", attrs=attrs))
        assert time.monotonic() - started < 2
        assert err["tag"] == "resource-denied" and "50001 attributes" in err["message"]
        assert client.rpc("<close-session/>").find("nc:ok", NS) is not None


def test_xxe_and_billion_laughs_over_websocket(server, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    laughs = ['<!ENTITY l0 "lol">'] + [f'<!ENTITY l{i} "{("&l%d;" % (i - 1)) * 10}">'
                                       for i in range(1, 10)]
    with server.connect() as client:
        client.send(f'<!DOCTYPE rpc [<!ENTITY x SYSTEM "file://{secret}">]>'
                    f'<rpc message-id="1" xmlns="{NC}"><a>&x;</a></rpc>')
        text = client.recv()
        assert "TOP-SECRET" not in text and "malformed-message" in text
        client.send(f'<!DOCTYPE rpc [{"".join(laughs)}]><rpc message-id="2" xmlns="{NC}">'
                    '<a>&l9;</a></rpc>')
        started = time.monotonic()
        assert "malformed-message" in client.recv()
        assert time.monotonic() - started < 2
        assert client.rpc("<close-session/>").find("nc:ok", NS) is not None


def test_no_common_base_closes_the_session(server):
    with server.connect(caps=("urn:ietf:params:netconf:base:9.9",)) as client:
        code, reason = client.wait_closed()
    assert code == 1002 and "no common base" in reason


def test_rpc_before_hello_closes_the_session(server):
    with server.connect(send_hello=False) as client:
        client.send(f'<rpc message-id="1" xmlns="{NC}"><close-session/></rpc>')
        code, reason = client.wait_closed()
    assert code == 1002 and "expected <hello>" in reason


def test_close_session_replies_then_closes_cleanly(server):
    with server.connect() as client:
        assert client.rpc("<close-session/>").find("nc:ok", NS) is not None
        assert client.wait_closed() == (1000, "close-session")


def test_kill_session_closes_the_other_connection(server):
    victim = server.connect()
    with server.connect() as killer:
        reply = killer.rpc(f"<kill-session><session-id>{victim.session_id}</session-id></kill-session>")
        assert reply.find("nc:ok", NS) is not None
        code, reason = victim.wait_closed()
        assert code == 1000 and f"killed by session {killer.session_id}" in reason
        # the killer goes on
        assert rpc_errors(killer.rpc("<x/>"))[0]["tag"] == "operation-not-supported"


def test_kill_session_refuses_own_id_over_websocket(server):
    with server.connect() as client:
        [err] = rpc_errors(client.rpc(
            f"<kill-session><session-id>{client.session_id}</session-id></kill-session>"))
        assert err["tag"] == "invalid-value"


def test_dropped_connection_ends_the_session(server):
    client = server.connect()
    sid = client.session_id
    client.ws.socket.close()  # no close frame: a dropped TCP connection
    client.ws.close()
    # (the server notices the reset when its loop reads it: no clock says when)
    deadline = time.monotonic() + 5
    while server.call(lambda: sid in server.emulator.fleet.get("core-1").sessions):
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_hello_timeout_ends_a_silent_session(make_server):
    running = make_server(hello_timeout=60, clock=VirtualClock())
    with running.connect(send_hello=False) as client:   # (it has read the server's hello)
        running.advance(59.9)
        assert running.call(lambda: len(running.fleet.get("core-1").sessions)) == 1
        running.advance(0.1)
        code, reason = client.wait_closed()
    assert code == 1002 and "no <hello> within 60 s" in reason


def test_message_over_the_size_limit_is_refused_cleanly(make_server):
    running = make_server(max_message_size=4096)
    bystander = running.connect()
    with running.connect() as client:
        client.send(f'<rpc message-id="1" xmlns="{NC}"><x>{"a" * 200_000}</x></rpc>')
        [err] = rpc_errors(client.recv_xml())
        assert err["tag"] == "too-big" and err["type"] == "transport"
        assert "4096" in err["message"]
        code, reason = client.wait_closed()
        assert code == 1009
    # other sessions never notice
    assert rpc_errors(bystander.rpc("<nothing/>"))[0]["tag"] == "operation-not-supported"
    bystander.close()


def test_message_just_under_the_limit_is_handled(make_server):
    running = make_server(max_message_size=4096)
    with running.connect() as client:
        reply = client.rpc(f"<nothing>{'a' * 3900}</nothing>")
        assert rpc_errors(reply)[0]["tag"] == "operation-not-supported"


def test_server_pings_idle_sessions(make_server):
    running = make_server(ping_interval=0.1)
    pings: list[bytes] = []
    still_open = threading.Event()

    # (WebSocket pings run on the event loop's real time: they keep sockets
    # alive and model nothing of the device, so this test lets real time pass)
    async def idle_client() -> None:
        conn = await tornado.websocket.websocket_connect(running.url("core-1"), subprotocols=["netconf"])
        conn.on_ping = pings.append  # called for each ping the server sends
        await conn.read_message()  # the hello
        conn.write_message(hello(BASE11))
        await asyncio.sleep(0.8)
        if conn.protocol is not None and not conn.protocol.client_terminated:
            still_open.set()  # after several ping intervals of silence
        conn.close()

    asyncio.run(idle_client())
    assert len(pings) >= 3
    assert still_open.is_set()


# -- TLS ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


@pytest.fixture
def tls_files(ca, tmp_path):
    server_pem = tmp_path / "server.pem"
    ca.issue_cert("127.0.0.1", "localhost").private_key_and_cert_chain_pem.write_to_path(server_pem)
    ca_pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(ca_pem)
    return server_pem, ca_pem


def client_context(ca, cert=None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    if cert is not None:
        cert.configure_cert(context)
    return context


def session_usernames(running, device="core-1"):
    return running.call(lambda: {s.id: s.username
                                 for s in running.emulator.fleet.get(device).sessions.values()})


def test_wss_without_client_certificates_uses_the_default_username(make_server, ca, tls_files):
    running = make_server(tls_cert=tls_files[0], username="operator")
    with running.connect(ssl=client_context(ca)) as client:
        assert running.url("core-1").startswith("wss://")
        assert session_usernames(running)[client.session_id] == "operator"
        assert client.rpc("<close-session/>").find("nc:ok", NS) is not None


@pytest.mark.parametrize("identities, common_name, username", [
    (("alice@example.org",), None, "alice@example.org"),
    (("nms.example.org",), None, "nms.example.org"),
    (("192.0.2.9",), None, "192.0.2.9"),
])
def test_client_certificate_names_the_user(make_server, ca, tls_files, identities, common_name,
                                           username):
    running = make_server(tls_cert=tls_files[0], tls_client_ca=tls_files[1])
    cert = ca.issue_cert(*identities, common_name=common_name)
    with running.connect(ssl=client_context(ca, cert)) as client:
        assert session_usernames(running)[client.session_id] == username


def test_common_name_when_the_certificate_has_no_usable_san(make_server, ca, tls_files):
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    ca_key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), None)
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "bob")]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .sign(ca_key, hashes.SHA256()))
    cert_pem = tmp = tls_files[0].parent / "bob.pem"
    tmp.write_bytes(cert.public_bytes(serialization.Encoding.PEM)
                    + key.private_bytes(serialization.Encoding.PEM,
                                        serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()))
    running = make_server(tls_cert=tls_files[0], tls_client_ca=tls_files[1])
    context = client_context(ca)
    context.load_cert_chain(cert_pem)
    with running.connect(ssl=context) as client:
        assert session_usernames(running)[client.session_id] == "bob"


def test_client_without_a_certificate_is_refused_when_one_is_required(make_server, ca, tls_files):
    running = make_server(tls_cert=tls_files[0], tls_client_ca=tls_files[1])
    # With TLS 1.3 the refusal arrives after the client's side of the handshake,
    # so it surfaces in the WebSocket handshake or the first read; no hello ever comes.
    with pytest.raises((ssl.SSLError, ConnectionError, InvalidMessage, ConnectionClosed)):
        NetconfClient.connect(running.url("core-1"), ssl=client_context(ca))


def test_other_sessions_do_not_notice_a_refused_peer(server):
    with server.connect() as client:
        refused(server.url("core-1"), subprotocols=["xmpp"])
        refused(server.url("nope"), subprotocols=["netconf"])
        assert client.rpc("<close-session/>").find("nc:ok", NS) is not None


def test_sessions_are_recorded_with_username_and_source(server):
    with server.connect() as client:
        sessions = server.call(lambda: {s.id: (s.username, s.source_host, s.state)
                                        for s in server.emulator.fleet.get("core-1").sessions.values()})
        assert sessions[client.session_id][:2] == ("netconf", "127.0.0.1")
        # the hello may still be in flight; the state is one of the two live ones
        assert sessions[client.session_id][2] in (State.AWAIT_HELLO, State.OPEN)

