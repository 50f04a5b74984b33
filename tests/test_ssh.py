"""NETCONF over SSH (RFC 6242) end to end: a real asyncssh server on 127.0.0.1,
and real clients: stock ncclient, scrapli-netconf, netconf-console2 as a
process, and paramiko for raw bytes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import asyncssh
import paramiko
import pytest
from lxml import etree
from ncclient import manager
from ncclient.operations import RPCError

from emulator.clock import VirtualClock
from emulator.settings import Options
from emulator.transports.framing import Framing, frame
from emulator.transports.ssh import SshError, raise_open_files_limit
from tests.client import BASE10, BASE11, NC, NS, rpc_errors
from tests.conftest import RunningServer
from tests.process import Served, run
from tests.ssh_client import PASSWORD, USER, RawSsh

NCM = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
SYS = "urn:ietf:params:xml:ns:yang:ietf-system"
SESSIONS = f'<netconf-state xmlns="{NCM}"><sessions/></netconf-state>'


@pytest.fixture(scope="module")
def client_key(tmp_path_factory) -> tuple[Path, Path]:
    """An ed25519 key pair: (private key file, authorized_keys file)."""
    folder = tmp_path_factory.mktemp("keys")
    key = asyncssh.generate_private_key("ssh-ed25519")
    private = folder / "id_ed25519"
    private.write_bytes(key.export_private_key())
    private.chmod(0o600)
    authorized = folder / "authorized_keys"
    authorized.write_bytes(key.export_public_key())
    return private, authorized


@pytest.fixture(scope="module")
def ssh(tmp_path_factory, client_key):
    options = Options(port=0, data_dir=tmp_path_factory.mktemp("data"), ssh_port=0,
                      authorized_keys=client_key[1])
    running = RunningServer(None, options)
    yield running
    running.stop()


def port(server, device: str = "core-1") -> int:
    return server.emulator.ssh.ports[device]


def nc_connect(server, device: str = "core-1", **kwargs) -> manager.Manager:
    """Stock ncclient, as an NMS would call it."""
    settings = dict(host="127.0.0.1", port=port(server, device), username=USER,
                    password=PASSWORD, hostkey_verify=False, look_for_keys=False,
                    allow_agent=False, timeout=10)
    settings.update(kwargs)
    m = manager.connect(**settings)
    m.timeout = 10
    return m


def session_entry(server, device: str, session_id: int) -> dict:
    status, detail = server.api(f"/api/devices/{device}")
    assert status == 200
    return next(s for s in detail["sessions"] if s["session-id"] == session_id)


def wait_until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


# -- stock ncclient --------------------------------------------------------------


def test_ncclient_connect_get_and_monitoring(ssh):
    with nc_connect(ssh) as m:
        assert m.session_id and int(m.session_id) > 0
        assert BASE11 in m.server_capabilities
        reply = m.get(filter=("subtree", SESSIONS))
        entry = reply.data_ele.xpath(f"//m:session[m:session-id='{m.session_id}']",
                                     namespaces={"m": NCM})[0]
        transport = entry.find(f"{{{NCM}}}transport")
        # ietf-netconf-monitoring's own identity, in the module's namespace
        assert transport.text == "netconf-ssh" and transport.nsmap[None] == NCM
        assert entry.findtext(f"{{{NCM}}}username") == USER
        assert entry.findtext(f"{{{NCM}}}source-host") == "127.0.0.1"
        config = m.get_config("running")
        assert config.data_ele.find(f".//{{{SYS}}}hostname") is not None


def test_ncclient_edit_and_commit(ssh):
    new = f'<config xmlns="{NC}"><system xmlns="{SYS}"><location>rack 42</location></system></config>'
    with nc_connect(ssh, "edge-01") as m:
        with m.locked("candidate"):
            m.edit_config(new, target="candidate")
            m.commit()
        running = m.get_config("running", filter=("subtree", f'<system xmlns="{SYS}"/>'))
        assert running.data_ele.findtext(f".//{{{SYS}}}location") == "rack 42"
    # and WebSocket sees the same datastore
    with ssh.connect("edge-01") as ws:
        reply = ws.rpc(f'<get-config><source><running/></source><filter type="subtree">'
                       f'<system xmlns="{SYS}"/></filter></get-config>')
        assert reply.findtext(f".//{{{SYS}}}location") == "rack 42"


def test_ncclient_rpc_error(ssh):
    with nc_connect(ssh) as m:
        with pytest.raises(RPCError) as info:
            m.edit_config(f'<config xmlns="{NC}"><system xmlns="{SYS}"><nope/></system></config>',
                          target="running")
        assert info.value.tag == "unknown-element"


def test_ncclient_notifications(ssh):
    with nc_connect(ssh, "edge-02") as m:
        m.create_subscription()
        status, _ = ssh.api("/api/devices/edge-02/events", method="POST",
                            body=json.dumps({"event": "link-down", "interface": "eth0"}).encode())
        assert status == 200
        note = m.take_notification(timeout=10)
        assert note is not None and "eth0" in note.notification_xml


def test_a_lock_taken_over_ssh_is_seen_over_websocket_and_back(ssh):
    with nc_connect(ssh, "access-01") as m, ssh.connect("access-01") as ws:
        m.lock("running")
        [err] = rpc_errors(ws.rpc("<lock><target><running/></target></lock>"))
        assert err["tag"] == "lock-denied" and err["info"]["session-id"] == m.session_id
        m.unlock("running")
        assert ws.rpc("<lock><target><running/></target></lock>").find("nc:ok", NS) is not None
        with pytest.raises(RPCError) as info:
            m.lock("running")
        assert info.value.tag == "lock-denied"
        assert info.value.info and str(ws.session_id) in info.value.info


def test_two_channels_of_one_connection_are_two_sessions(ssh):
    from emulator.transports.framing import Framer
    with RawSsh(port(ssh)) as raw:
        raw.start()
        second = raw.transport.open_session(timeout=10)
        second.settimeout(10)
        second.invoke_subsystem("netconf")
        framer = Framer(1 << 20)
        while (hello := framer.next_message()) is None:
            framer.feed(second.recv(65536))
        other_id = int(etree.fromstring(hello).findtext("nc:session-id", namespaces=NS))
        assert other_id != raw.session_id
        second.close()
        # the first goes on
        assert raw.rpc("<get-config><source><running/></source></get-config>").get("message-id") == "1"


def test_a_dropped_ssh_connection_releases_its_lock(ssh):
    raw = RawSsh(port(ssh, "access-01")).start()
    assert raw.rpc("<lock><target><candidate/></target></lock>").find("nc:ok", NS) is not None
    with ssh.connect("access-01") as ws:
        assert rpc_errors(ws.rpc("<lock><target><candidate/></target></lock>"))[0]["tag"] \
            == "lock-denied"
        raw.transport.sock.close()               # the TCP connection goes, no goodbye
        device = ssh.fleet.get("access-01")
        wait_until(lambda: ssh.call(lambda: raw.session_id not in device.sessions))
        assert ws.rpc("<lock><target><candidate/></target></lock>").find("nc:ok", NS) is not None
        ws.rpc("<unlock><target><candidate/></target></unlock>")
    raw.close()


def test_kill_session_across_transports(ssh):
    with nc_connect(ssh, "access-02") as m, ssh.connect("access-02") as ws:
        m.kill_session(str(ws.session_id))
        assert ws.wait_closed()[0] == 1000
    raw = RawSsh(port(ssh, "access-02")).start()
    with raw, ssh.connect("access-02") as ws:
        ws.rpc(f"<kill-session><session-id>{raw.session_id}</session-id></kill-session>")
        _, stderr = raw.wait_closed()
        assert f"killed by session {ws.session_id}" in stderr


# -- scrapli-netconf and netconf-console2 --------------------------------------


def test_scrapli_netconf(ssh):
    from scrapli_netconf.driver import NetconfDriver
    conn = NetconfDriver(host="127.0.0.1", port=port(ssh, "core-1"), auth_username=USER,
                         auth_password=PASSWORD, auth_strict_key=False, transport="paramiko",
                         timeout_socket=10, timeout_transport=10, timeout_ops=10)
    conn.open()
    try:
        assert conn.netconf_version.value == "1.1"
        response = conn.get_config(source="running")
        assert not response.failed and "hostname" in response.result
        response = conn.get(filter_=SESSIONS, filter_type="subtree")
        assert "netconf-ssh" in response.result
    finally:
        conn.close()


def test_scrapli_netconf_base10(ssh):
    from scrapli_netconf.driver import NetconfDriver
    conn = NetconfDriver(host="127.0.0.1", port=port(ssh, "core-1"), auth_username=USER,
                         auth_password=PASSWORD, auth_strict_key=False, transport="paramiko",
                         preferred_netconf_version="1.0",
                         timeout_socket=10, timeout_transport=10, timeout_ops=10)
    conn.open()
    try:
        assert conn.netconf_version.value == "1.0"
        assert "hostname" in conn.get_config(source="running").result
    finally:
        conn.close()


def test_netconf_console2_as_a_process(ssh):
    result = subprocess.run(
        # its console script, run by this interpreter (the venv need not be on PATH)
        [sys.executable, "-c", "import sys; from netconf_console.ncc import main; "
         "sys.argv[0] = 'netconf-console2'; sys.exit(main())",
         "--host", "127.0.0.1", "--port", str(port(ssh, "access-03")),
         "-u", USER, "-p", PASSWORD, "--get-config"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "<hostname>access-03" in result.stdout


def test_openssh_client_with_a_key(ssh, client_key):
    """``ssh -s netconf``, as yangcli and shell scripts connect (skipped without OpenSSH)."""
    import shutil
    if shutil.which("ssh") is None:
        pytest.skip("no OpenSSH client here")
    messages = (f'<hello xmlns="{NC}"><capabilities><capability>{BASE10}</capability>'
                f'</capabilities></hello>]]>]]>'
                f'<rpc message-id="1" xmlns="{NC}"><close-session/></rpc>]]>]]>')
    result = subprocess.run(
        ["ssh", "-i", str(client_key[0]), "-F", "/dev/null", "-o", "BatchMode=yes",
         "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
         "-o", "ConnectTimeout=10", "-p", str(port(ssh)), "carol@127.0.0.1", "-s", "netconf"],
        input=messages, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    hello_text, reply, rest = result.stdout.split("]]>]]>")
    assert "<session-id>" in hello_text and "<ok/>" in reply and rest.strip() == ""
    # a session the server ends exits 1, its reason on stderr
    result = subprocess.run(
        ["ssh", "-i", str(client_key[0]), "-F", "/dev/null", "-o", "BatchMode=yes",
         "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o",
         "LogLevel=error", "-p", str(port(ssh)), "carol@127.0.0.1", "-s", "netconf"],
        input="<hello/>]]>]]>", capture_output=True, text=True, timeout=30)
    assert result.returncode == 1, result.stderr
    assert "netconf-emulator: expected <hello> in the base namespace" in result.stderr


# -- framing ---------------------------------------------------------------------


def test_base10_session_keeps_end_of_message_framing(ssh):
    with RawSsh(port(ssh)) as raw:
        raw.start(BASE10)
        raw.channel.settimeout(10)
        raw.send(f'<rpc message-id="7" xmlns="{NC}"><get-config><source><running/></source>'
                 f'</get-config></rpc>]]>]]>'.encode())
        data = b""
        while b"]]>]]>" not in data:
            data += raw.channel.recv(65536)
        assert data.startswith(b"<rpc-reply") and data.endswith(b"]]>]]>")
        assert b'message-id="7"' in data


def test_requests_pipelined_in_one_write_are_answered_in_order_one_per_turn(ssh):
    with RawSsh(port(ssh)) as raw:
        raw.start(BASE10)
        raw.channel.settimeout(10)
        raw.send(b"".join(f'<rpc message-id="p{i}" xmlns="{NC}"><get-config><source><running/>'
                          f'</source></get-config></rpc>]]>]]>'.encode() for i in range(50)))
        data = b""
        while data.count(b"]]>]]>") < 50:
            data += raw.channel.recv(65536)
        ids = [part.split(b'message-id="')[1].split(b'"')[0] for part in data.split(b"]]>]]>")[:50]]
        assert ids == [f"p{i}".encode() for i in range(50)]


def test_base11_session_switches_to_chunks_after_the_hellos(ssh):
    with RawSsh(port(ssh)) as raw:
        data = b""
        while b"]]>]]>" not in data:            # the server's hello: end-of-message
            data += raw.channel.recv(65536)
        assert data.startswith(b"<hello") or data.startswith(b"<?xml")
        # our hello and the first rpc in one packet
        raw.send(f'<hello xmlns="{NC}"><capabilities><capability>{BASE11}</capability>'
                 f'</capabilities></hello>]]>]]>'.encode()
                 + frame(f'<rpc message-id="8" xmlns="{NC}"><get-config><source><running/>'
                         f'</source></get-config></rpc>'.encode(), Framing.CHUNKED))
        data = b""
        while not data.endswith(b"\n##\n"):
            data += raw.channel.recv(65536)
        assert data.startswith(b"\n#")
        raw.framer.use_chunks()
        raw.framer.feed(data)
        assert b'message-id="8"' in raw.recv()


def test_chunked_hello_and_newlines_before_chunks_are_tolerated(ssh):
    # what ncclient has been seen to send
    with RawSsh(port(ssh)) as raw:
        raw.recv()
        raw.send(frame(f'<hello xmlns="{NC}"><capabilities><capability>{BASE11}</capability>'
                       f'</capabilities></hello>'.encode(), Framing.CHUNKED))
        raw.framer.use_chunks()
        body = f'<rpc message-id="9" xmlns="{NC}"><get-config><source><running/></source>' \
               f'</get-config></rpc>'.encode()
        raw.send(b"\n\n#" + str(len(body) - 5).encode() + b"\n" + body[:-5]
                 + b"\n\n#5\n" + body[-5:] + b"\n\n##\n")
        assert raw.recv_xml().get("message-id") == "9"


@pytest.mark.parametrize("data, says", [
    (b"\n#0\n", "bad chunk header"),
    (b"\n#abc\n", "bad chunk header"),
    (b"\n#007\n<a/>\n##\n", "bad chunk header"),
    (b"\n##\n", "before any chunk"),
    (b"\n#4\n<a/>garbage\n##\n", "expected a chunk header"),
    (f'<rpc message-id="1" xmlns="{NC}"><get/></rpc>]]>]]>'.encode(), "expected a chunk header"),
])
def test_framing_errors_end_the_session_with_a_reason(ssh, data, says, caplog):
    with RawSsh(port(ssh, "edge-02")) as raw, nc_connect(ssh, "edge-02") as watcher:
        raw.start()
        watcher.create_subscription()
        raw.send(data)
        rest, stderr = raw.wait_closed()
        assert rest == b"" and "framing error: " in stderr and says in stderr
        # the session ended as sessions do: its netconf-session-end event
        note = watcher.take_notification(timeout=10)
        assert "netconf-session-end" in note.notification_xml
        assert f"<session-id>{raw.session_id}</session-id>" in note.notification_xml
        assert "<termination-reason>other</termination-reason>" in note.notification_xml
    assert any("framing error" in r.getMessage() and says in r.getMessage()
               for r in caplog.records if r.name == "emulator.transports.ssh")


@pytest.mark.parametrize("base", [BASE10, BASE11])
def test_max_message_size_applies(make_server, base):
    server = make_server(ssh_port=0, max_message_size=4096)
    with RawSsh(port(server)) as raw:
        raw.start(base)
        filler = "x" * 5000
        message = f'<rpc message-id="1" xmlns="{NC}"><get><!--{filler}--></get></rpc>'.encode()
        raw.send(frame(message, raw.framer.framing))
        reply = raw.recv_xml()
        [err] = rpc_errors(reply)
        assert err["tag"] == "too-big" and err["type"] == "transport"
        _, stderr = raw.wait_closed()
        assert "message too big" in stderr
    # the next session is fine
    with RawSsh(port(server)) as raw:
        raw.start(base)
        assert raw.rpc("<get-config><source><running/></source></get-config>").tag == f"{{{NC}}}rpc-reply"


def test_a_big_reply_crosses_many_ssh_packets(ssh):
    with nc_connect(ssh, "core-1") as m:
        reply = m.get()
        assert len(reply.xml) > 20000


# -- what else SSH may ask for -----------------------------------------------------


@pytest.mark.parametrize("request_kind", ["shell", "exec", "sftp"])
def test_only_the_netconf_subsystem_is_served(ssh, request_kind):
    raw = RawSsh(port(ssh), subsystem=None)
    with raw:
        with pytest.raises(paramiko.SSHException):
            if request_kind == "shell":
                raw.channel.invoke_shell()
            elif request_kind == "exec":
                raw.channel.exec_command("show version")
            else:
                raw.channel.invoke_subsystem("sftp")


def test_port_forwarding_is_refused(ssh):
    with RawSsh(port(ssh), subsystem=None) as raw:
        with pytest.raises(paramiko.ChannelException):
            raw.transport.open_channel("direct-tcpip", ("127.0.0.1", ssh.port),
                                       ("127.0.0.1", 0), timeout=10)
        with pytest.raises(paramiko.SSHException, match="forwarding request denied"):
            raw.transport.request_port_forward("127.0.0.1", 0)


# -- who may log in -------------------------------------------------------------------


@pytest.mark.parametrize("username, password", [(USER, "wrong"), ("admin", PASSWORD), (USER, "")])
def test_wrong_password_is_refused(ssh, username, password):
    with pytest.raises(paramiko.AuthenticationException):
        RawSsh(port(ssh), username=username, password=password)


def test_public_key_login_names_the_user(ssh, client_key):
    key = paramiko.Ed25519Key.from_private_key_file(str(client_key[0]))
    with RawSsh(port(ssh), username="alice", key=key) as raw:
        raw.start()
        assert session_entry(ssh, "core-1", raw.session_id)["username"] == "alice"


def test_ncclient_with_a_key_file(ssh, client_key):
    with nc_connect(ssh, password=None, key_filename=str(client_key[0]), username="bob") as m:
        reply = m.get(filter=("subtree", SESSIONS))
        names = reply.data_ele.xpath(f"//m:session[m:session-id='{m.session_id}']/m:username/text()",
                                     namespaces={"m": NCM})
        assert names == ["bob"]


def test_a_key_not_listed_is_refused(ssh):
    stranger = paramiko.Ed25519Key.from_private_key(
        __import__("io").StringIO(asyncssh.generate_private_key("ssh-ed25519")
                                  .export_private_key().decode()))
    with pytest.raises(paramiko.AuthenticationException):
        RawSsh(port(ssh), key=stranger)


# -- the host key, the lifecycle, shutdown ---------------------------------------------


def host_key_of(server, device: str = "core-1") -> str:
    with RawSsh(port(server, device)) as raw:
        return raw.transport.get_remote_server_key().get_base64()


def test_the_host_key_is_ed25519_and_kept_across_restarts(make_server, tmp_path):
    first = make_server(ssh_port=0)
    key = host_key_of(first)
    with RawSsh(port(first)) as raw:
        assert raw.transport.get_remote_server_key().get_name() == "ssh-ed25519"
    first.stop()
    key_file = tmp_path / "data" / "ssh_host_ed25519_key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    second = make_server(ssh_port=0)
    assert host_key_of(second, "edge-01") == key


def test_hello_timeout_over_ssh(make_server):
    server = make_server(ssh_port=0, hello_timeout=60, clock=VirtualClock())
    with RawSsh(port(server)) as raw:
        raw.recv()                             # the server's hello; ours never comes
        server.advance(61)
        _, stderr = raw.wait_closed()
        assert "no <hello> within 60 s" in stderr


def test_a_subscriber_that_stops_reading_is_let_go(make_server):
    """SSH flow control: once the client's window and asyncssh's write buffer
    are full, the notifications written are counted against the queue bound."""
    server = make_server(ssh_port=0, notification_queue=20)
    device = server.fleet.get("core-1")
    with RawSsh(port(server), window_size=4096) as raw:
        raw.start()
        reply = raw.rpc('<create-subscription xmlns="urn:ietf:params:xml:ns:netconf:'
                        'notification:1.0"/>')
        assert reply.find("nc:ok", NS) is not None

        def storm() -> None:
            for _ in range(200):
                device.raise_event("link-down", {"interface": "eth0"})
                device.raise_event("link-up", {"interface": "eth0"})
        server.call(storm)
        assert server.call(lambda: device.stats["notification-overflows"]) == 1
        _, stderr = raw.wait_closed()          # what was sent, then the end
        assert "notification queue overflow" in stderr


def test_a_damaged_host_key_stops_the_start_in_one_line(tmp_path):
    data = tmp_path / "d"
    with Served("--ssh-port", "0", data_dir=data):
        pass
    (data / "ssh_host_ed25519_key").write_text("not a key\n")
    result = run("serve", "--port", "0", "--ssh-port", "0", "--data-dir", str(data))
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("netconf-emulator: error: the SSH host key in the data dir is not one")
    assert "--fresh" in line


def test_a_device_reset_ends_its_ssh_sessions(ssh):
    raw = RawSsh(port(ssh, "access-03")).start()
    with raw:
        assert ssh.api("/api/devices/access-03/reset", method="POST")[0] == 200
        _, stderr = raw.wait_closed()
        assert "device reset" in stderr


def test_rebooting_and_unreachable_devices(make_server):
    from emulator.lifecycle import Status
    server = make_server(ssh_port=0)
    device = server.fleet.get("edge-01")
    server.call(lambda: device.reboot(downtime=3600))
    with pytest.raises(paramiko.ChannelException) as info:
        RawSsh(port(server, "edge-01"))
    assert info.value.code == paramiko.common.OPEN_FAILED_CONNECT_FAILED  # with the reason
    server.call(lambda: device.set_status(Status.UNREACHABLE, 3600))
    with pytest.raises((paramiko.SSHException, EOFError, OSError)):
        RawSsh(port(server, "edge-01"))


def test_a_hung_device_holds_its_hello_until_it_is_up(make_server):
    from emulator.lifecycle import Status
    server = make_server(ssh_port=0, clock=VirtualClock())
    device = server.fleet.get("core-1")
    server.call(lambda: device.set_status(Status.HUNG, 10))
    with RawSsh(port(server)) as raw:            # the channel opens...
        assert not raw.channel.recv_ready()       # ...and nothing is said
        assert server.call(lambda: [s.started for s in device.sessions.values()]) == [False]
        server.advance(11)
        raw.start()                               # until the device is up again
        assert raw.rpc("<get-config><source><running/></source></get-config>") \
            .get("message-id") == "1"


def test_shutdown_closes_ssh_sessions_with_a_reason(make_server):
    server = make_server(ssh_port=0)
    raw = RawSsh(port(server)).start()
    with raw:
        server.stop()
        _, stderr = raw.wait_closed()
        assert "server shutting down" in stderr


def test_api_and_endpoint_urls(ssh):
    status, devices = ssh.api("/api/devices")
    assert status == 200
    urls = {d["name"]: d["ssh_url"] for d in devices}
    assert urls["core-1"] == f"ssh://127.0.0.1:{port(ssh, 'core-1')}"
    assert len(set(urls.values())) == len(urls)


def test_no_ssh_url_without_ssh(server):
    status, devices = server.api("/api/devices")
    assert all("ssh_url" not in d for d in devices)


# -- fleets --------------------------------------------------------------------------


def free_port_run(count: int) -> int:
    """A base port with ``count`` free ports after it (checked now; tests only)."""
    import socket
    for _ in range(50):
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        base = probe.getsockname()[1]
        probe.close()
        if base + count > 65535:
            continue
        socks = []
        try:
            for p in range(base, base + count):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no run of free ports")


def test_ssh_port_base_gives_device_i_port_base_plus_i(make_server):
    base = free_port_run(6)
    server = make_server(ssh_port=base)
    ports = [server.emulator.ssh.ports[d.name] for d in server.fleet]
    assert ports == list(range(base, base + 6))
    with RawSsh(base + 3) as raw:
        raw.start()
        assert session_entry(server, "access-01", raw.session_id)["session-id"] == raw.session_id


def test_a_fleet_file_pins_ssh_ports(make_server, tmp_path):
    pinned = free_port_run(2)
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(f"devices:\n"
                     f"  - {{name: a, profile: router}}\n"
                     f"  - {{name: 'p{{n}}', count: 2, profile: switch, ssh_port: {pinned}}}\n")
    server = make_server(fleet=fleet, ssh_port=0)
    ports = server.emulator.ssh.ports
    assert ports["p1"] == pinned and ports["p2"] == pinned + 1 and ports["a"] not in (pinned, pinned + 1)


def test_two_devices_on_one_port_are_refused(make_server, tmp_path):
    from emulator.server import StartError
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text("devices:\n  - {name: a, profile: router, ssh_port: 40000}\n"
                     "  - {name: b, profile: router, ssh_port: 40000}\n")
    with pytest.raises(StartError, match="both listen for SSH on port 40000"):
        make_server(fleet=fleet, ssh_port=0)


def test_a_thousand_devices_with_ssh_ports(make_server, tmp_path):
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text("devices:\n  - {name: 'd{n:04d}', count: 1000, profile: switch}\n")
    started = time.monotonic()
    server = make_server(fleet=fleet, ssh_port=0)
    took = time.monotonic() - started
    ports = server.emulator.ssh.ports
    assert len(set(ports.values())) == 1000
    for name in ("d0001", "d0500", "d1000"):
        with RawSsh(ports[name]) as raw:
            raw.start()
            assert session_entry(server, name, raw.session_id)
    status, devices = server.api("/api/devices")
    assert len({d["ssh_url"] for d in devices}) == 1000
    assert took < 10, took


def test_serve_prints_ssh_endpoints(tmp_path):
    with Served("--ssh-port", "0", data_dir=tmp_path / "d") as served:
        ssh_lines = [l for l in served.lines if l.startswith("endpoint ssh://")]
        assert len(ssh_lines) == 6 and "device=core-1 profile=router" in ssh_lines[0]
        core = int(ssh_lines[0].split()[1].rsplit(":", 1)[1])
        with RawSsh(core) as raw:
            assert raw.start().session_id > 0
    assert (tmp_path / "d" / "ssh_host_ed25519_key").exists()


def test_a_busy_ssh_port_stops_the_start_in_one_line(tmp_path):
    import socket
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        fleet = tmp_path / "fleet.yaml"
        fleet.write_text("devices:\n  - {name: solo, profile: router}\n")
        result = run("serve", "--port", "0", "--ssh-port", str(taken), "--fleet", str(fleet),
                     "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 1
    assert result.stderr.strip() == (f"netconf-emulator: error: cannot listen for SSH on "
                                     f"127.0.0.1:{taken} (device solo): Address already in use")


def test_without_ssh_port_no_ssh_is_served(tmp_path):
    with Served(data_dir=tmp_path / "d") as served:
        assert not [l for l in served.lines if "ssh://" in l]
    assert not (tmp_path / "d" / "ssh_host_ed25519_key").exists()


def test_an_open_files_limit_too_low_is_said_in_one_line():
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        pytest.skip("no hard limit on open files here")
    with pytest.raises(SshError, match=r"ulimit -n \d+") as info:
        raise_open_files_limit(hard)
    assert "\n" not in str(info.value)
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == (soft, hard)
    # a hard limit short of the spare files the server wants is still enough to start
    try:
        raise_open_files_limit(hard - 100)
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == hard
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_channel_that_never_asks_for_the_subsystem_is_closed(ssh, monkeypatch):
    from emulator.transports import ssh as ssh_transport
    monkeypatch.setattr(ssh_transport, "SUBSYSTEM_SECONDS", 0.2)   # (real time: the wire's)
    with RawSsh(port(ssh), subsystem=None) as raw:
        raw.channel.settimeout(10)
        assert raw.channel.recv(1024) == b""                 # closed by the server
        assert b"no subsystem requested" in raw.channel.recv_stderr(1024)


def test_a_connection_may_open_only_so_many_channels(ssh, monkeypatch):
    from emulator.transports import ssh as ssh_transport
    monkeypatch.setattr(ssh_transport, "MAX_CHANNELS", 2)
    with RawSsh(port(ssh)) as raw:
        second = raw.transport.open_session(timeout=10)
        third = raw.transport.open_session(timeout=10)
        third.settimeout(10)
        assert third.recv(1024) == b""
        assert b"at most 2 channels" in third.recv_stderr(1024)
        second.close()


def test_big_work_over_ssh_is_answered_when_the_worker_is_done(tmp_path, client_key):
    # (the channel reads nothing more until the session's work off the loop is answered)
    from emulator.runtime import Limits
    interfaces_ns = "urn:ietf:params:xml:ns:yang:ietf-interfaces"
    options = Options(port=0, data_dir=tmp_path / "data", ssh_port=0,
                      authorized_keys=client_key[1])
    running = RunningServer(None, options, Limits(offload_elements=20, offload_bytes=2048))
    try:
        names = [f"ssh{i}" for i in range(40)]
        config = (f'<config xmlns="{NC}"><interfaces xmlns="{interfaces_ns}" '
                  'xmlns:ianaift="urn:ietf:params:xml:ns:yang:iana-if-type">' +
                  "".join(f"<interface><name>{n}</name><type>ianaift:ethernetCsmacd</type>"
                          "</interface>" for n in names) + "</interfaces></config>")
        with nc_connect(running) as m:
            m.edit_config(config, target="candidate")
            m.commit()
            reply = m.get_config("running")
            got = {e.text for e in reply.data_ele.iter(f"{{{interfaces_ns}}}name")}
            assert set(names) <= got
    finally:
        running.stop()
