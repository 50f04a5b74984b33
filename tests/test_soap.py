"""NETCONF over SOAP/HTTP (RFC 4743) end to end: a real server on 127.0.0.1, a
real SOAP toolkit (zeep, from the served WSDL), and raw HTTP for the session
rules, the headers and the refusals."""

from __future__ import annotations

import base64
import gc
import http.client
import socket
import ssl
import subprocess
import sys
import time
from typing import Iterator

import pytest
import requests
import trustme
import zeep
from lxml import etree
from zeep.exceptions import Fault
from zeep.transports import Transport

from emulator.clock import VirtualClock
from emulator.lifecycle import Status
from emulator.transports.soap import (ENV_NS, NCSOAP_NS, SCHEMA_FILES, reply_fault, server_hello,
                                      unwrap)
from tests.client import BASE10, BASE11, NC

NCM = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
SYS = "urn:ietf:params:xml:ns:yang:ietf-system"
NOTIFICATION = "urn:ietf:params:netconf:capability:notification:1.0"
X = {"nc": NC, "ncm": NCM, "env": ENV_NS, "sys": SYS, "ns": NCSOAP_NS}
TIMEOUT = 10

ENVELOPE = (f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{ENV_NS}">'
            "<soapenv:Body>{}</soapenv:Body></soapenv:Envelope>")


def envelope(body: str) -> str:
    return ENVELOPE.format(body)


def hello(namespace: str = NC, base: str = BASE11) -> str:
    return (f'<hello xmlns="{namespace}"><capabilities><capability>{base}</capability>'
            "</capabilities></hello>")


def rpc(body: str, message_id: str = "1") -> str:
    return f'<rpc message-id="{message_id}" xmlns="{NC}">{body}</rpc>'


GET_HOSTNAME = rpc(f'<get-config><source><running/></source><filter><system xmlns="{SYS}">'
                   "<hostname/></system></filter></get-config>")
LOCK_RUNNING = rpc("<lock><target><running/></target></lock>", "lock")
SESSIONS = rpc(f'<get><filter><netconf-state xmlns="{NCM}"><sessions/></netconf-state>'
               "</filter></get>", "sessions")


class Soap:
    """One persistent HTTP connection to a device's SOAP endpoint."""

    def __init__(self, running, device: str = "core-1", *, version: str = "HTTP/1.1",
                 headers: dict[str, str] | None = None, context: ssl.SSLContext | None = None):
        self.running = running
        self.path = f"/soap/{device}"
        if context is not None:
            self.http = http.client.HTTPSConnection("127.0.0.1", running.port, timeout=TIMEOUT,
                                                    context=context)
        else:
            self.http = http.client.HTTPConnection("127.0.0.1", running.port, timeout=TIMEOUT)
        if version == "HTTP/1.0":
            self.http._http_vsn, self.http._http_vsn_str = 10, "HTTP/1.0"
        self.headers = {"Content-Type": "text/xml; charset=utf-8", **(headers or {})}
        self.response: http.client.HTTPResponse | None = None

    def post_raw(self, body: bytes | str, headers: dict[str, str] | None = None
                 ) -> tuple[int, bytes]:
        self.http.request("POST", self.path, body, {**self.headers, **(headers or {})})
        self.response = self.http.getresponse()
        return self.response.status, self.response.read()

    def post(self, message: str, **kwargs) -> tuple[int, etree._Element]:
        """POST one NETCONF message in an envelope: the status and the Body's element."""
        status, data = self.post_raw(envelope(message), **kwargs)
        root = etree.fromstring(data)
        assert root.tag == f"{{{ENV_NS}}}Envelope", data
        return status, root.find("env:Body", X)[0]

    def hello(self, namespace: str = NC, base: str = BASE11) -> int:
        status, answer = self.post(hello(namespace, base))
        assert status == 200, etree.tostring(answer)
        return int(answer.findtext(f"{{{namespace}}}session-id"))

    def ok(self, message: str) -> etree._Element:
        status, reply = self.post(message)
        assert status == 200 and reply.tag == f"{{{NC}}}rpc-reply", etree.tostring(reply)
        return reply

    def fault(self, message: str, status: int = 500, **kwargs) -> etree._Element:
        got, answer = self.post(message, **kwargs)
        assert got == status and answer.tag == f"{{{ENV_NS}}}Fault", (got, etree.tostring(answer))
        return answer

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> "Soap":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def fault_parts(fault: etree._Element) -> tuple[str, str, list[etree._Element]]:
    detail = fault.find("detail")
    errors = detail.findall("nc:rpc-error", X) if detail is not None else []
    return fault.findtext("faultcode"), fault.findtext("faultstring"), errors


def sessions_of(running, device: str = "core-1") -> dict[int, tuple]:
    return running.call(lambda: {s.id: (s.username, s.transport, s.in_rpcs)
                                 for s in running.fleet.get(device).sessions.values()})


def wait_until(predicate, timeout: float = 15.0) -> None:
    """Wait for the server to act on what a client did (a socket's close, say)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


# -- a real SOAP toolkit, from the served WSDL ----------------------------------------------

class RecordingTransport(Transport):
    """zeep's transport, noting every document it loads."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loaded: list[str] = []

    def load(self, url):
        self.loaded.append(url)
        return super().load(url)


def zeep_client(running, device: str = "core-1", auth=None) -> tuple[zeep.Client, Transport]:
    session = requests.Session()
    session.auth = auth
    transport = RecordingTransport(session=session, timeout=TIMEOUT, operation_timeout=TIMEOUT)
    client = zeep.Client(f"http://127.0.0.1:{running.port}/soap/{device}?wsdl",
                         transport=transport)
    return client, transport


def hang_up(session: requests.Session) -> None:
    """Close the TCP connections of a requests Session now. ``Session.close()``
    alone does not: urllib3 2's ``PoolManager.clear()`` only lets go of its
    pools, whose sockets close when each pool is garbage-collected, and the
    responses that still refer to a pool sit in reference cycles until the
    cyclic collector happens to run (which made a test that waited for the
    server to see the close fail now and then)."""
    for adapter in session.adapters.values():
        pools = getattr(adapter, "poolmanager", None)   # (zeep's file:// adapter has none)
        for key in pools.pools.keys() if pools is not None else ():
            pool = pools.pools.get(key)
            if pool is not None:
                pool.close()     # closes the idle connections it holds: the session's
    session.close()


def operation(text: str) -> etree._Element:
    return etree.fromstring(text)


def test_zeep_loads_the_wsdl_from_this_server_alone(server):
    client, transport = zeep_client(server, "access-01")
    base = f"http://127.0.0.1:{server.port}/"
    assert transport.loaded and all(url.startswith(base) for url in transport.loaded), \
        transport.loaded
    assert any(url.endswith("netconf-base_1.0.xsd") for url in transport.loaded)
    [service] = client.wsdl.services.values()
    [port] = service.ports.values()
    assert port.binding_options["address"] == f"{base}soap/access-01"
    assert set(port.binding._operations) == {"hello", "rpc"}


@pytest.fixture
def no_cyclic_gc() -> Iterator[None]:
    """The cyclic garbage collector off for a test: what its clients leave in
    reference cycles stays there, so that nothing the test waits for can
    depend on when a collection happens to run."""
    collecting = gc.isenabled()
    gc.collect()
    gc.disable()
    yield
    if collecting:
        gc.enable()


def test_zeep_drives_hello_get_config_edit_config_commit_and_lock(make_server, no_cyclic_gc):
    running = make_server()
    client, transport = zeep_client(running)
    answer = client.service.hello(capabilities={"capability": [BASE10, BASE11]})
    session_id = answer["session-id"]
    capabilities = answer.capabilities.capability
    assert session_id > 0 and BASE11 in capabilities and NOTIFICATION not in capabilities
    assert any(c.startswith("urn:ietf:params:xml:ns:yang:ietf-interfaces?module=")
               for c in capabilities)

    reply = client.service.rpc(_value_1=operation(
        f'<get-config xmlns="{NC}"><source><running/></source><filter><system xmlns="{SYS}">'
        "<hostname/></system></filter></get-config>"), **{"message-id": "101"})
    assert reply["message-id"] == "101"
    [data] = reply._value_1
    assert data.findtext("sys:system/sys:hostname", namespaces=X) == "core-1"

    reply = client.service.rpc(_value_1=operation(f'<lock xmlns="{NC}"><target><candidate/>'
                                                  "</target></lock>"), **{"message-id": "102"})
    assert etree.QName(reply._value_1[0]).localname == "ok"
    client.service.rpc(_value_1=operation(
        f'<edit-config xmlns="{NC}"><target><candidate/></target><config>'
        f'<system xmlns="{SYS}"><hostname>edge-by-soap</hostname></system></config>'
        "</edit-config>"), **{"message-id": "103"})
    client.service.rpc(_value_1=operation(f'<commit xmlns="{NC}"/>'), **{"message-id": "104"})
    reply = client.service.rpc(_value_1=operation(
        f'<get-config xmlns="{NC}"><source><running/></source><filter><system xmlns="{SYS}">'
        "<hostname/></system></filter></get-config>"), **{"message-id": "105"})
    assert reply._value_1[0].findtext("sys:system/sys:hostname", namespaces=X) == "edge-by-soap"
    # every call was one session: the persistent connection of requests' session
    [(username, transport_id, in_rpcs)] = sessions_of(running).values()
    assert username == "netconf" and in_rpcs == 5
    assert transport_id[1] == "netconf-soap-over-http"

    # a second toolkit session finds the candidate locked ...
    other, _ = zeep_client(running)
    other.service.hello(capabilities={"capability": [BASE11]})
    with pytest.raises(Fault) as refused:
        other.service.rpc(_value_1=operation(f'<lock xmlns="{NC}"><target><candidate/>'
                                             "</target></lock>"), **{"message-id": "1"})
    assert refused.value.message == "lock-denied" and refused.value.code == "soapenv:Client"
    [error] = refused.value.detail
    assert error.tag == f"{{{NC}}}rpc-error"
    assert error.findtext("nc:error-info/nc:session-id", namespaces=X) == str(session_id)
    # ... until the first closes its connection: its session ends, its lock with it
    hang_up(transport.session)
    wait_until(lambda: session_id not in sessions_of(running))
    reply = other.service.rpc(_value_1=operation(f'<lock xmlns="{NC}"><target><candidate/>'
                                                 "</target></lock>"), **{"message-id": "2"})
    assert etree.QName(reply._value_1[0]).localname == "ok"


def test_zeep_gets_an_rpc_error_as_a_fault_with_the_error_tag_and_the_rpc_error(server):
    client, _ = zeep_client(server)
    client.service.hello(capabilities={"capability": [BASE11]})
    with pytest.raises(Fault) as fault:
        client.service.rpc(_value_1=operation(
            f'<get-config xmlns="{NC}"><source><nowhere/></source></get-config>'),
            **{"message-id": "7"})
    assert fault.value.message == "invalid-value"
    assert fault.value.code == "soapenv:Client"
    [error] = fault.value.detail
    assert error.findtext("nc:error-tag", namespaces=X) == "invalid-value"
    assert error.findtext("nc:error-type", namespaces=X) == "protocol"
    assert error.findtext("nc:error-path", namespaces=X) == "/nc:rpc/nc:get-config/nc:source"
    assert "nowhere" in error.findtext("nc:error-message", namespaces=X)


# -- the session is the HTTP connection -------------------------------------------------------

def test_the_first_message_on_a_connection_must_be_a_hello(server):
    with Soap(server) as soap:
        code, string, [error] = fault_parts(soap.fault(GET_HOSTNAME))
        assert (code, string) == ("soapenv:Client", "malformed-message")
        assert "before a <hello>" in error.findtext("nc:error-message", namespaces=X)
        # the connection is still good for a hello, and the session then answers
        session_id = soap.hello()
        reply = soap.ok(GET_HOSTNAME)
        assert reply.findtext("nc:data/sys:system/sys:hostname", namespaces=X) == "core-1"
        # a second hello on the same session is the session's protocol error
        code, string, [error] = fault_parts(soap.fault(hello()))
        assert string == "malformed-message" and "only once" in \
            error.findtext("nc:error-message", namespaces=X)
        assert session_id in sessions_of(server)


@pytest.mark.parametrize("namespace", [NC, NCSOAP_NS])
def test_the_server_answers_the_hello_in_the_clients_namespace_without_notifications(
        server, namespace):
    with Soap(server) as soap:
        status, answer = soap.post(hello(namespace))
        assert status == 200 and answer.tag == f"{{{namespace}}}hello"
        capabilities = [c.text for c in answer.iterfind(f"{{{namespace}}}capabilities/"
                                                        f"{{{namespace}}}capability")]
        assert BASE11 in capabilities and NOTIFICATION not in capabilities
        assert not [c for c in capabilities if "interleave" in c]
        assert int(answer.findtext(f"{{{namespace}}}session-id")) > 0
        code, string, [error] = fault_parts(soap.fault(rpc(
            '<create-subscription xmlns="urn:ietf:params:xml:ns:netconf:notification:1.0"/>')))
        assert string == "operation-not-supported"
        assert error.findtext("nc:error-info/nc:bad-element", namespaces=X) == \
            "create-subscription"


def test_a_persistent_connection_is_one_session_and_monitoring_names_its_transport(server):
    with Soap(server) as soap:
        session_id = soap.hello()
        for n in range(3):
            soap.ok(GET_HOSTNAME.replace('message-id="1"', f'message-id="{n}"'))
        reply = soap.ok(SESSIONS)
        [mine] = [s for s in reply.iterfind("nc:data/ncm:netconf-state/ncm:sessions/ncm:session",
                                            X) if s.findtext("ncm:session-id", namespaces=X)
                  == str(session_id)]
        assert mine.findtext("ncm:transport", namespaces=X) == "ncws:netconf-soap-over-http"
        assert mine.findtext("ncm:username", namespaces=X) == "netconf"
        assert mine.findtext("ncm:in-rpcs", namespaces=X) == "4"
        assert mine.findtext("ncm:source-host", namespaces=X) == "127.0.0.1"


def test_closing_the_connection_ends_the_session_and_releases_its_locks(make_server):
    running = make_server()
    first, second = Soap(running), Soap(running)
    first_id = first.hello()
    second.hello()
    first.ok(LOCK_RUNNING)
    code, string, [error] = fault_parts(second.fault(LOCK_RUNNING))
    assert string == "lock-denied"
    assert error.findtext("nc:error-info/nc:session-id", namespaces=X) == str(first_id)
    first.close()
    wait_until(lambda: first_id not in sessions_of(running))
    second.ok(LOCK_RUNNING)
    assert running.call(lambda: running.fleet.get("core-1").stats["dropped-sessions"]) >= 1
    second.close()


def test_close_session_answers_ok_then_closes_the_connection(server):
    soap = Soap(server)
    session_id = soap.hello()
    soap.ok(rpc("<close-session/>"))
    assert soap.response.getheader("Connection") == "close"
    wait_until(lambda: session_id not in sessions_of(server))
    # the server closed the connection (http.client opens another): hello first again
    code, string, [error] = fault_parts(soap.fault(GET_HOSTNAME))
    assert "before a <hello>" in error.findtext("nc:error-message", namespaces=X)
    soap.close()


def test_kill_session_from_another_session_closes_the_victims_connection(server):
    victim, killer = Soap(server), Soap(server)
    victim_id = victim.hello()
    killer.hello()
    killer.ok(rpc(f"<kill-session><session-id>{victim_id}</session-id></kill-session>"))
    wait_until(lambda: victim_id not in sessions_of(server))
    with pytest.raises((http.client.HTTPException, OSError)):
        victim.post_raw(envelope(GET_HOSTNAME))
    victim.close()
    killer.close()


def test_a_connection_per_request_gets_a_session_per_request(server):
    """HTTP/1.0 without keep-alive (or Connection: close): each request has a
    connection, so each hello a session that ends with its response, and an
    <rpc> alone finds no session."""
    seen = []
    for headers in ({}, {"Connection": "close"}):
        for version in ("HTTP/1.0", "HTTP/1.1"):
            if version == "HTTP/1.1" and not headers:
                continue
            with Soap(server, version=version, headers=headers) as soap:
                session_id = soap.hello()
                seen.append(session_id)
                wait_until(lambda: session_id not in sessions_of(server))
            with Soap(server, version=version, headers=headers) as soap:
                code, string, _ = fault_parts(soap.fault(GET_HOSTNAME))
                assert string == "malformed-message"
    assert len(set(seen)) == len(seen) == 3


def test_http_10_with_keep_alive_keeps_its_session(server):
    with Soap(server, version="HTTP/1.0", headers={"Connection": "keep-alive"}) as soap:
        session_id = soap.hello()
        assert soap.response.getheader("Connection", "").lower() == "keep-alive"
        soap.ok(GET_HOSTNAME)
        assert session_id in sessions_of(server)


def test_one_connection_serves_one_device(server):
    with Soap(server) as soap:
        soap.hello()
        soap.path = "/soap/access-01"
        code, string, [error] = fault_parts(soap.fault(GET_HOSTNAME))
        assert "device core-1" in error.findtext("nc:error-message", namespaces=X)


# -- headers and refusals ---------------------------------------------------------------------

def test_responses_carry_the_drafts_headers(server):
    with Soap(server) as soap:
        for message, status in ((hello(), 200), (GET_HOSTNAME, 200), ("<nonsense/>", 500)):
            got, _ = soap.post(message)
            assert got == status
            headers = soap.response
            assert headers.getheader("Content-Type") == "text/xml; charset=utf-8"
            assert headers.getheader("Cache-Control") == "no-cache"
            assert headers.getheader("Pragma") == "no-cache"


@pytest.mark.parametrize("body, code, status, says", [
    (b"this is not XML", "Client", 500, "not well-formed"),
    (b"", "Client", 500, "empty"),
    (GET_HOSTNAME.encode(), "Client", 500, "SOAP 1.1 <Envelope>"),
    (b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/></e:Envelope>',
     "VersionMismatch", 500, "SOAP 1.2"),
    (f'<e:Envelope xmlns:e="{ENV_NS}"/>'.encode(), "Client", 500, "no <Body>"),
    (envelope(hello() + hello()).encode(), "Client", 500, "carries 2 elements"),
    (envelope("").encode(), "Client", 500, "carries 0 elements"),
    (f'<e:Envelope xmlns:e="{ENV_NS}"><e:Header><t:tx xmlns:t="urn:x" e:mustUnderstand="1"/>'
     f"</e:Header><e:Body>{hello()}</e:Body></e:Envelope>".encode(), "MustUnderstand", 500,
     "must be understood"),
    (b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
     + envelope(hello()).split("?>", 1)[1].encode(), "Client", 500, "document type"),
    (envelope(hello()).encode("utf-16"), "Client", 500, "UTF-8"),
])
def test_what_is_not_a_soap_envelope_gets_a_fault_and_the_connection_goes_on(
        server, body, code, status, says):
    with Soap(server) as soap:
        got, data = soap.post_raw(body)
        assert got == status
        fault = etree.fromstring(data).find("env:Body/env:Fault", X)
        faultcode, string, [error] = fault_parts(fault)
        assert faultcode == f"soapenv:{code}"
        assert says in error.findtext("nc:error-message", namespaces=X)
        assert b"Traceback" not in data
        soap.hello()                       # the connection is still good


def test_a_header_that_need_not_be_understood_is_ignored(server):
    with Soap(server) as soap:
        got, data = soap.post_raw(f'<e:Envelope xmlns:e="{ENV_NS}"><e:Header><t:tx '
                                  f'xmlns:t="urn:x"/></e:Header><e:Body>{hello()}</e:Body>'
                                  "</e:Envelope>")
        assert got == 200 and b"session-id" in data


def test_a_body_that_is_not_xml_by_its_media_type_is_refused(server):
    with Soap(server) as soap:
        got, data = soap.post_raw(envelope(hello()), {"Content-Type": "text/plain"})
        assert got == 415 and b"text/plain" in data


def test_an_oversized_body_gets_413_with_a_too_big_fault_and_ends_the_session(make_server):
    running = make_server(max_message_size=4096)
    big = rpc(f"<get-config><source><running/></source><filter><x>{'y' * 8000}</x></filter>"
              "</get-config>")
    with Soap(running) as soap:        # no session yet
        code, string, [error] = fault_parts(soap.fault(big, status=413))
        assert string == "too-big" and error.findtext("nc:error-type", namespaces=X) == \
            "transport"
    with Soap(running) as soap:        # a session: it ends, as on every transport
        session_id = soap.hello()
        code, string, [error] = fault_parts(soap.fault(big, status=413))
        assert string == "too-big" and "4096" in error.findtext("nc:error-message",
                                                                 namespaces=X)
        assert soap.response.getheader("Connection") == "close"
        wait_until(lambda: session_id not in sessions_of(running))
        code, string, [error] = fault_parts(soap.fault(GET_HOSTNAME))   # (a new connection)
        assert "before a <hello>" in error.findtext("nc:error-message", namespaces=X)
    # a chunked body that grows past the limit, too
    with Soap(running) as soap:
        soap.http.putrequest("POST", soap.path)
        soap.http.putheader("Content-Type", "text/xml")
        soap.http.putheader("Transfer-Encoding", "chunked")
        soap.http.endheaders()
        payload = envelope(big).encode()
        for start in range(0, len(payload), 1000):
            chunk = payload[start:start + 1000]
            soap.http.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        soap.http.send(b"0\r\n\r\n")
        response = soap.http.getresponse()
        assert response.status == 413 and b"too-big" in response.read()
    # far more than the server would read and drop: answered before it is sent
    with socket.create_connection(("127.0.0.1", running.port), timeout=TIMEOUT) as raw:
        raw.sendall(b"POST /soap/core-1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml"
                    b"\r\nContent-Length: 900000000\r\n\r\n")
        answer = raw.recv(65536)
        assert answer.startswith(b"HTTP/1.1 413") and b"too-big" in answer


def test_unknown_devices_and_hosts_are_refused(server):
    with Soap(server, "nosuch") as soap:
        code, string, [error] = fault_parts(soap.fault(hello(), status=404))
        assert "nosuch" in error.findtext("nc:error-message", namespaces=X)
    with Soap(server, headers={"Host": "evil.example:80"}) as soap:
        soap.fault(hello(), status=403)
    with Soap(server, headers={"Origin": "http://evil.example"}) as soap:
        soap.fault(hello(), status=403)


# -- logins ---------------------------------------------------------------------------------

def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_with_a_password_a_login_is_asked_and_its_user_is_the_netconf_username(make_server):
    running = make_server(username="operator", password="s3cret", password_set=True)
    for headers in ({}, basic("operator", "wrong"), basic("intruder", "s3cret"),
                    {"Authorization": "Bearer x"}, {"Authorization": "Basic !!!"}):
        with Soap(running, headers=headers) as soap:
            code, string, _ = fault_parts(soap.fault(hello(), status=401))
            assert string == "access-denied"
            assert soap.response.getheader("WWW-Authenticate").startswith("Basic realm=")
    assert sessions_of(running) == {}
    client, _ = zeep_client(running, auth=("operator", "s3cret"))
    session_id = client.service.hello(capabilities={"capability": [BASE11]})["session-id"]
    assert sessions_of(running)[session_id][0] == "operator"


def test_without_a_password_of_its_own_every_session_gets_the_default_username(make_server):
    running = make_server(username="labuser")
    with Soap(running) as soap:
        session_id = soap.hello()
        assert sessions_of(running)[session_id][0] == "labuser"


def test_over_https_monitoring_names_rfc_6022s_soap_over_https(make_server, tmp_path):
    ca = trustme.CA()
    server_pem = tmp_path / "server.pem"
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(server_pem)
    running = make_server(tls_cert=server_pem)
    context = ssl.create_default_context()
    ca.configure_trust(context)
    with Soap(running, context=context) as soap:
        session_id = soap.hello()
        reply = soap.ok(SESSIONS)
        assert sessions_of(running)[session_id][1] == (NCM, "netconf-soap-over-https")
        transports = [t.text for t in reply.iterfind(".//ncm:transport", X)]
        assert "netconf-soap-over-https" in transports
    assert running.emulator.soap_url(running.fleet.get("core-1")).startswith("https://")


# -- the device's lifecycle -----------------------------------------------------------------

def test_a_rebooting_device_answers_503_and_its_sessions_end(make_server):
    running = make_server(clock=VirtualClock())
    soap = Soap(running)
    session_id = soap.hello()
    running.call(lambda: running.fleet.get("core-1").reboot(downtime=30))
    wait_until(lambda: session_id not in sessions_of(running))
    soap.close()
    with Soap(running) as fresh:
        code, string, [error] = fault_parts(fresh.fault(hello(), status=503))
        assert code == "soapenv:Server" and fresh.response.getheader("Retry-After")
        assert "rebooting" in error.findtext("nc:error-message", namespaces=X)
    running.advance(30)
    with Soap(running) as fresh:
        fresh.hello()


def test_an_unreachable_device_drops_the_connection_unanswered(make_server):
    running = make_server(clock=VirtualClock())
    soap = Soap(running)
    session_id = soap.hello()
    running.call(lambda: running.fleet.get("core-1").set_status(Status.UNREACHABLE, 60))
    wait_until(lambda: session_id not in sessions_of(running))
    with pytest.raises((http.client.HTTPException, OSError)):
        soap.post_raw(envelope(GET_HOSTNAME))
    soap.close()
    with Soap(running) as fresh, pytest.raises((http.client.HTTPException, OSError)):
        fresh.post_raw(envelope(hello()))


def test_a_hung_device_answers_nothing_until_it_is_back(make_server):
    running = make_server(clock=VirtualClock())
    device = running.fleet.get("core-1")
    with Soap(running) as soap:
        soap.hello()
        running.call(lambda: device.set_status(Status.HUNG, 120))
        soap.http.request("POST", soap.path, envelope(GET_HOSTNAME), soap.headers)
        journal = lambda: running.call(lambda: [e.text for e in device.journal()])  # noqa: E731
        wait_until(lambda: any("<get-config>" in text for text in journal()))
        # read, and left waiting: nothing is on its way to the client
        waiting = running.call(lambda: [s.pending is not None and not s.pending.done()
                                        for s in running.emulator.soap])
        assert waiting == [True]
        soap.http.sock.setblocking(False)
        with pytest.raises(BlockingIOError):
            soap.http.sock.recv(1, socket.MSG_PEEK)
        soap.http.sock.settimeout(TIMEOUT)
        running.advance(120)
        response = soap.http.getresponse()
        assert response.status == 200 and b"<hostname>core-1</hostname>" in response.read()


# -- the WSDL and schemas, and the pieces on their own -------------------------------------------

def test_the_wsdl_the_schemas_and_what_is_not_there(server):
    base = f"http://127.0.0.1:{server.port}"
    service = requests.get(f"{base}/soap/core-1?wsdl", timeout=TIMEOUT)
    assert service.status_code == 200
    root = etree.fromstring(service.content)
    address = root.find(".//{http://schemas.xmlsoap.org/wsdl/soap/}address")
    assert address.get("location") == f"{base}/soap/core-1"
    for name in SCHEMA_FILES:
        document = requests.get(f"{base}/soap-schema/{name}", timeout=TIMEOUT)
        assert document.status_code == 200
        for location in etree.fromstring(document.content).xpath("//@location|//@schemaLocation"):
            assert "://" not in location        # relative: beside it, on this server
    assert requests.get(f"{base}/soap-schema/other.xsd", timeout=TIMEOUT).status_code == 404
    assert requests.get(f"{base}/soap/nosuch?wsdl", timeout=TIMEOUT).status_code == 404
    plain = requests.get(f"{base}/soap/core-1", timeout=TIMEOUT)
    assert plain.status_code == 405 and "POST" in plain.headers["Allow"]


def test_the_binding_and_schema_are_valid_xsd():
    from emulator.paths import WSDL
    schema = etree.XMLSchema(etree.parse(str(WSDL / "netconf-base_1.0.xsd")))
    reply = etree.fromstring(f'<rpc-reply xmlns="{NC}" message-id="1"><rpc-error>'
                             "<error-type>rpc</error-type><error-tag>in-use</error-tag>"
                             "<error-severity>error</error-severity></rpc-error></rpc-reply>")
    assert schema.validate(reply), schema.error_log
    assert not schema.validate(etree.fromstring(f'<rpc xmlns="{NC}"><get/></rpc>'))  # message-id
    wsdl = etree.parse(str(WSDL / "netconf-soap_1.0.wsdl"))
    types = wsdl.find(".//{http://www.w3.org/2001/XMLSchema}schema")
    hello_schema = etree.XMLSchema(etree.fromstring(etree.tostring(types)))
    assert hello_schema.validate(etree.fromstring(hello(NCSOAP_NS)))


def test_faults_and_hellos_on_their_own():
    reply = etree.fromstring(f'<rpc-reply xmlns="{NC}" message-id="3"><rpc-error>'
                             "<error-type>application</error-type><error-tag>data-missing"
                             "</error-tag><error-severity>error</error-severity></rpc-error>"
                             "<rpc-error><error-type>application</error-type><error-tag>"
                             "data-exists</error-tag><error-severity>error</error-severity>"
                             "</rpc-error></rpc-reply>")
    fault = etree.fromstring(reply_fault(reply).encode()).find("env:Body/env:Fault", X)
    code, string, errors = fault_parts(fault)
    assert (code, string, len(errors)) == ("soapenv:Client", "data-missing", 2)
    assert reply_fault(etree.fromstring(f'<rpc-reply xmlns="{NC}"><ok/></rpc-reply>')) is None
    text = (f'<hello xmlns="{NC}"><capabilities><capability>{BASE11}</capability>'
            f"<capability>{NOTIFICATION}</capability></capabilities>"
            "<session-id>4</session-id></hello>")
    answer = etree.fromstring(server_hello(text, NCSOAP_NS))
    assert answer.findtext("ns:session-id", namespaces=X) == "4"
    assert [c.text for c in answer.iterfind("ns:capabilities/ns:capability", X)] == [BASE11]
    assert unwrap(envelope(hello()).encode()).tag == f"{{{NC}}}hello"


def test_the_soap_benchmark_runs():
    """(here rather than in test_bench.py, which other work edits; tiny sizes,
    the figures themselves are not checked)"""
    result = subprocess.run([sys.executable, "-m", "bench", "soap", "--seconds", "0.2", "--rounds", "1"],
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "SOAP/HTTP keep-alive" in result.stdout and "WebSocket" in result.stdout


IF = "urn:ietf:params:xml:ns:yang:ietf-interfaces"


def test_big_work_over_soap_is_answered_when_the_worker_is_done(make_server):
    # (the transport awaits the reply that the session writes later: an edit of more
    # elements than are worked on the loop, and its commit, checked whole off it)
    running = make_server(offload_elements=20, offload_bytes=2048)
    names = [f"soap{i}" for i in range(40)]
    interfaces = "".join(f"<interface><name>{n}</name><type>ianaift:ethernetCsmacd</type>"
                         "</interface>" for n in names)
    edit = rpc(f'<edit-config><target><candidate/></target><config><interfaces xmlns="{IF}" '
               f'xmlns:ianaift="urn:ietf:params:xml:ns:yang:iana-if-type">{interfaces}'
               "</interfaces></config></edit-config>", "big")
    assert len(edit) > 2048
    with Soap(running) as soap:
        soap.hello()
        assert soap.ok(edit).find(f"{{{NC}}}ok") is not None
        assert soap.ok(rpc("<commit/>", "c")).find(f"{{{NC}}}ok") is not None
        reply = soap.ok(rpc("<get-config><source><running/></source></get-config>", "r"))
        assert set(names) <= {n.text for n in reply.iter(f"{{{IF}}}name")}
