"""The protocol core without sockets: text in, text out."""

from __future__ import annotations

import time

import pytest
from lxml import etree

from emulator.errors import RpcError
from emulator.fleet import load_fleet
from emulator.netconf.operations import BASE_OPERATIONS, OperationRegistry
from emulator.netconf.session import Close, Defer, Notify, Send, Session, State
from emulator.netconf.termination import Reason, Termination
from emulator.sessions import _outcome
from emulator.transports.websocket import TRANSPORT
from tests.client import BASE10, BASE11, NC, NS, hello, rpc_errors


class MemoryTransport:
    """Carries a session for the core's tests: hands it messages, keeps what it
    returns (and what it announces between calls)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.sent: list[str] = []
        self.outputs: list = []
        self.termination: Termination | None = None
        session.on_output = lambda: self.take(session.take_output())

    def take(self, outputs: list) -> list:
        for output in outputs:
            self.outputs.append(output)
            if isinstance(output, (Send, Notify)):
                self.sent.append(output.text)
            elif isinstance(output, Close):
                self.termination = output.termination
            elif isinstance(output, Defer):    # (work meant for a thread: done here)
                self.take(output.resume(_outcome(output.work)))
        return outputs

    def receive(self, data) -> list:
        return self.take(self.session.receive(data))

    def terminate(self, reason, detail="") -> list:
        return self.take(self.session.terminate(reason, detail))

    def last(self) -> etree._Element:
        return etree.fromstring(self.sent[-1].encode())


@pytest.fixture
def device():
    return load_fleet().get("core-1")


def open_session(device, caps=(BASE10, BASE11)):
    session = device.open_session("alice", "192.0.2.7", TRANSPORT)
    transport = MemoryTransport(session)
    transport.take(session.start())
    if caps is not None:
        transport.receive(hello(*caps))
    return session, transport


def rpc(session, transport, body, attrs='message-id="1"'):
    transport.receive(f'<rpc {attrs} xmlns="{NC}">{body}</rpc>')
    return transport.last()


# -- hello --------------------------------------------------------------------

def test_server_hello_comes_first_with_session_id_and_both_bases(device):
    session, transport = open_session(device, caps=None)
    assert len(transport.sent) == 1
    hello_ = transport.last()
    assert hello_.tag == f"{{{NC}}}hello"
    caps = [c.text for c in hello_.iterfind("nc:capabilities/nc:capability", NS)]
    assert BASE10 in caps and BASE11 in caps
    assert int(hello_.findtext("nc:session-id", namespaces=NS)) == session.id


def test_session_ids_are_unique(device):
    ids = {open_session(device)[0].id for _ in range(20)}
    assert len(ids) == 20


@pytest.mark.parametrize("caps, base", [((BASE10, BASE11), BASE11), ((BASE10,), BASE10),
                                        ((BASE11, "urn:x:other"), BASE11)])
def test_hello_negotiates_the_highest_common_base(device, caps, base):
    session, _ = open_session(device, caps)
    assert session.state is State.OPEN
    assert session.base_version == base


def test_hello_without_a_common_base_ends_the_session(device):
    session, transport = open_session(device, caps=("urn:ietf:params:netconf:base:2.0",))
    assert session.closed
    assert transport.termination.reason is Reason.BAD_HELLO
    assert "no common base" in transport.termination.detail
    assert session.id not in device.sessions


def test_client_hello_with_session_id_ends_the_session(device):
    session, transport = open_session(device, caps=None)
    transport.receive(f'<hello xmlns="{NC}"><capabilities><capability>{BASE11}</capability>'
                    '</capabilities><session-id>4</session-id></hello>')
    assert transport.termination.reason is Reason.BAD_HELLO
    assert "session-id" in transport.termination.detail


@pytest.mark.parametrize("first", ["<hello", f'<rpc message-id="1" xmlns="{NC}"><get/></rpc>',
                                   "<hello xmlns='urn:other'/>"])
def test_anything_but_a_well_formed_hello_first_ends_the_session(device, first):
    session, transport = open_session(device, caps=None)
    transport.receive(first)
    assert session.closed and transport.termination.reason is Reason.BAD_HELLO
    assert len(transport.sent) == 1  # only the server's hello: no rpc-reply before a hello


def test_messages_after_the_end_are_ignored(device):
    session, transport = open_session(device)
    transport.terminate(Reason.OTHER, "test")
    sent = len(transport.sent)
    transport.receive(f'<rpc message-id="1" xmlns="{NC}"><close-session/></rpc>')
    assert len(transport.sent) == sent


# -- rpc framing --------------------------------------------------------------

def test_reply_echoes_message_id_and_every_other_attribute(device):
    # RFC 6241 section 4.2, with the example's namespaced attribute.
    session, transport = open_session(device)
    reply = rpc(session, transport, "<kill-session><session-id>999999</session-id></kill-session>",
                attrs='message-id="101" xmlns:ex="http://example.net/content/1.0" '
                      'ex:user-id="fred" plain="x"')
    assert reply.tag == f"{{{NC}}}rpc-reply"
    assert reply.get("message-id") == "101"
    assert reply.get("{http://example.net/content/1.0}user-id") == "fred"
    assert reply.get("plain") == "x"


def test_missing_message_id_is_missing_attribute(device):
    session, transport = open_session(device)
    reply = rpc(session, transport, "<close-session/>", attrs="")
    [err] = rpc_errors(reply)
    assert err["tag"] == "missing-attribute" and err["type"] == "rpc"
    assert err["info"] == {"bad-attribute": "message-id", "bad-element": "rpc"}
    assert session.state is State.OPEN  # nothing was run
    assert session.in_bad_rpcs == 1


@pytest.mark.parametrize("text", ["<rpc message-id='1'", "not xml at all", "",
                                  "<rpc message-id='1' xmlns='%s'><a></b></rpc>" % NC])
def test_malformed_xml_is_malformed_message(device, text):
    session, transport = open_session(device)
    transport.receive(text)
    [err] = rpc_errors(transport.last())
    assert err["tag"] == "malformed-message" and err["type"] == "rpc"
    assert session.state is State.OPEN


def test_base10_sessions_get_operation_failed_instead_of_malformed_message(device):
    # malformed-message is new in base:1.1 and must not be sent to 1.0 peers.
    session, transport = open_session(device, caps=(BASE10,))
    transport.receive("<rpc")
    [err] = rpc_errors(transport.last())
    assert err["tag"] == "operation-failed" and err["type"] == "rpc"


def test_trailing_end_of_message_marker_is_tolerated(device):
    session, transport = open_session(device)
    transport.receive(f'<rpc message-id="7" xmlns="{NC}"><close-session/></rpc>]]>]]>')
    assert transport.last().find("nc:ok", NS) is not None


def test_binary_utf8_messages_are_accepted(device):
    session, transport = open_session(device)
    transport.receive(f'<rpc message-id="é" xmlns="{NC}"><close-session/></rpc>'.encode())
    assert transport.last().get("message-id") == "é"


def test_xml_declaration_in_another_encoding_is_refused(device):
    session, transport = open_session(device)
    transport.receive(b'<?xml version="1.0" encoding="ISO-8859-1"?>'
                    b'<rpc message-id="1" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
                    b'<close-session/></rpc>')
    [err] = rpc_errors(transport.last())
    assert err["tag"] == "malformed-message" and "UTF-8" in err["message"]


def test_xxe_payload_never_reads_a_file(device, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    session, transport = open_session(device)
    transport.receive(f'<?xml version="1.0"?><!DOCTYPE rpc [<!ENTITY x SYSTEM "file://{secret}">]>'
                    f'<rpc message-id="1" xmlns="{NC}"><kill-session><session-id>&x;</session-id>'
                    '</kill-session></rpc>')
    assert "TOP-SECRET" not in transport.sent[-1]
    [err] = rpc_errors(transport.last())
    assert err["tag"] == "malformed-message"
    assert "document type" in err["message"]


def test_billion_laughs_is_refused_quickly(device):
    entities = ['<!ENTITY lol0 "lololololololololol">']
    entities += [f'<!ENTITY lol{i} "{("&lol%d;" % (i - 1)) * 10}">' for i in range(1, 10)]
    payload = (f'<?xml version="1.0"?><!DOCTYPE rpc [{"".join(entities)}]>'
               f'<rpc message-id="1" xmlns="{NC}"><get>&lol9;</get></rpc>')
    session, transport = open_session(device)
    started = time.perf_counter()
    transport.receive(payload)
    assert time.perf_counter() - started < 1.0  # 10^9 laughs would take far longer
    [err] = rpc_errors(transport.last())
    assert err["tag"] == "malformed-message"
    assert len(transport.sent[-1]) < 2000


def test_non_rpc_message_gets_an_error_and_the_session_goes_on(device):
    session, transport = open_session(device)
    transport.receive(f'<notification xmlns="{NC}"/>')
    [err] = rpc_errors(transport.last())
    assert err["tag"] == "malformed-message" and "<rpc>" in err["message"]
    transport.receive('<rpc message-id="1"><close-session/></rpc>')
    [err] = rpc_errors(transport.last())
    assert err["message"] == "expected <rpc> in the base namespace, got <rpc> in no namespace"
    transport.receive(hello(BASE11))
    [err] = rpc_errors(transport.last())
    assert "only once" in err["message"]
    assert session.state is State.OPEN


def test_rpc_without_operation_is_missing_element(device):
    session, transport = open_session(device)
    [err] = rpc_errors(rpc(session, transport, ""))
    assert err["tag"] == "missing-element" and err["type"] == "protocol"
    assert err["path"] == "/nc:rpc" and err["path_ns"]["nc"] == NC


def test_rpc_with_two_operations_is_unknown_element(device):
    session, transport = open_session(device)
    [err] = rpc_errors(rpc(session, transport, "<close-session/><kill-session/>"))
    assert err["tag"] == "unknown-element"
    assert err["info"] == {"bad-element": "kill-session"}
    assert session.state is State.OPEN


@pytest.mark.parametrize("op, name", [("<get-bulk/>", "get-bulk"),
                                      ("<close-session xmlns='urn:example:other'/>", "close-session")])
def test_unknown_operation_is_operation_not_supported(device, op, name):
    session, transport = open_session(device)
    [err] = rpc_errors(rpc(session, transport, op))
    assert err["tag"] == "operation-not-supported" and err["type"] == "protocol"
    assert err["info"]["bad-element"] == name
    assert not session.closed


def test_a_bug_in_an_operation_is_operation_failed_not_a_traceback(device):
    registry = OperationRegistry(parent=BASE_OPERATIONS)

    @registry.operation("explode", "urn:example:test")
    def explode(rpc):
        raise ZeroDivisionError("boom")

    device.runtime.operations = registry
    session, transport = open_session(device)
    [err] = rpc_errors(rpc(session, transport, "<explode xmlns='urn:example:test'/>"))
    assert err["tag"] == "operation-failed"
    assert "Traceback" not in transport.sent[-1] and "boom" not in transport.sent[-1]


def test_an_added_operation_gets_its_reply_and_errors(device):
    registry = OperationRegistry(parent=BASE_OPERATIONS)

    @registry.operation("echo", "urn:example:test")
    def echo(rpc):
        text = rpc.operation.findtext("{urn:example:test}say")
        if not text:
            raise RpcError.missing_element("say", rpc.path(), path_ns=rpc.path_ns)
        data = etree.Element(f"{{{NC}}}data")
        data.text = text
        return data

    device.runtime.operations = registry
    session, transport = open_session(device)
    reply = rpc(session, transport, "<echo xmlns='urn:example:test'><say>hi</say></echo>")
    assert reply.findtext("nc:data", namespaces=NS) == "hi"
    [err] = rpc_errors(rpc(session, transport, "<echo xmlns='urn:example:test'/>"))
    assert err["tag"] == "missing-element" and err["path"] == "/nc:rpc/op:echo"
    assert err["path_ns"]["op"] == "urn:example:test"


# -- close-session and kill-session ------------------------------------------

def test_close_session_replies_ok_then_ends(device):
    session, transport = open_session(device)
    reply = rpc(session, transport, "<close-session/>")
    assert reply.find("nc:ok", NS) is not None
    assert session.closed and transport.termination.reason is Reason.CLOSED
    assert session.id not in device.sessions


def test_kill_session_ends_the_other_session(device):
    victim, victim_transport = open_session(device)
    killer, transport = open_session(device)
    reply = rpc(killer, transport, f"<kill-session><session-id>{victim.id}</session-id></kill-session>")
    assert reply.find("nc:ok", NS) is not None
    assert victim.closed
    assert victim_transport.termination == Termination(Reason.KILLED, f"killed by session {killer.id}",
                                                       killed_by=killer.id)
    assert not killer.closed


def test_kill_session_refuses_its_own_id(device):
    session, transport = open_session(device)
    [err] = rpc_errors(rpc(session, transport,
                           f"<kill-session><session-id>{session.id}</session-id></kill-session>"))
    assert err["tag"] == "invalid-value" and err["type"] == "protocol"
    assert err["path"] == "/nc:rpc/nc:kill-session/nc:session-id"
    assert not session.closed


@pytest.mark.parametrize("body, tag", [
    ("<kill-session/>", "missing-element"),
    ("<kill-session><session-id>\u0663</session-id></kill-session>", "invalid-value"),
    ("<kill-session><session-id>\u00b2</session-id></kill-session>", "invalid-value"),
    ("<kill-session><session-id>%s</session-id></kill-session>" % ("9" * 5000), "invalid-value"),
    ("<kill-session><session-id>4294967296</session-id></kill-session>", "invalid-value"),
    ("<kill-session><session-id>abc</session-id></kill-session>", "invalid-value"),
    ("<kill-session><session-id>0</session-id></kill-session>", "invalid-value"),
    ("<kill-session><session-id>987654321</session-id></kill-session>", "invalid-value"),
])
def test_kill_session_bad_inputs(device, body, tag):
    session, transport = open_session(device)
    [err] = rpc_errors(rpc(session, transport, body))
    assert err["tag"] == tag
    assert err["path"].startswith("/nc:rpc/nc:kill-session")


def test_kill_session_cannot_reach_another_devices_session():
    fleet = load_fleet()
    other, _ = open_session(fleet.get("edge-01"))
    session, transport = open_session(fleet.get("core-1"))
    [err] = rpc_errors(rpc(session, transport,
                           f"<kill-session><session-id>{other.id}</session-id></kill-session>"))
    assert err["tag"] == "invalid-value"
    assert not other.closed


# -- errors ---------------------------------------------------------------------

def test_rpc_error_refuses_a_tag_with_the_wrong_type():
    with pytest.raises(ValueError):
        RpcError("lock-denied", "application")
    with pytest.raises(ValueError):
        RpcError("no-such-tag", "protocol")


def test_rpc_error_carries_every_appendix_a_field():
    err = RpcError("data-exists", "application", "already there", severity="error",
                   app_tag="example-tag", path="/t:top/t:name", path_ns={"t": "urn:t"},
                   info=[("bad-element", "name"), ("session-id", "4")]).to_element()
    assert [etree.QName(c).localname for c in err] == [
        "error-type", "error-tag", "error-severity", "error-app-tag", "error-path",
        "error-message", "error-info"]
    assert err.find("nc:error-path", NS).nsmap["t"] == "urn:t"
    assert err.find("nc:error-message", NS).get("{http://www.w3.org/XML/1998/namespace}lang") == "en"


# -- the same request again -------------------------------------------------------------------

GET_HOSTNAME = ('<get-config><source><running/></source><filter type="subtree">'
                '<system xmlns="urn:ietf:params:xml:ns:yang:ietf-system"><hostname/></system>'
                "</filter></get-config>")
SYS = "urn:ietf:params:xml:ns:yang:ietf-system"


def hostname_of(reply) -> str:
    return reply.findtext(f"nc:data/{{{SYS}}}system/{{{SYS}}}hostname", namespaces=NS)


def test_a_repeated_get_config_gets_its_own_message_id_and_current_data(device):
    session, transport = open_session(device)
    first = rpc(session, transport, GET_HOSTNAME, attrs='message-id="a-1"')
    again = rpc(session, transport, GET_HOSTNAME, attrs='message-id="a-2"')
    assert again.get("message-id") == "a-2" and hostname_of(again) == hostname_of(first) == "core-1"
    assert device.memo, "the second request was answered from the memo"
    # an edit changes the answer at once
    edit = (f'<edit-config><target><running/></target><config><system xmlns="{SYS}">'
            "<hostname>renamed</hostname></system></config></edit-config>")
    assert rpc(session, transport, edit).find("nc:ok", NS) is not None
    after = rpc(session, transport, GET_HOSTNAME, attrs='message-id="a-3"')
    assert after.get("message-id") == "a-3" and hostname_of(after) == "renamed"
    assert session.in_rpcs == 4


@pytest.mark.parametrize("message_id", ['x&amp;y', "x&lt;y", "it's", 'say "hi"'])
def test_unusual_message_ids_are_echoed_exactly(device, message_id):
    session, transport = open_session(device)
    quote = "'" if '"' in message_id else '"'
    for _ in range(2):
        transport.receive(f"<rpc message-id={quote}{message_id}{quote} xmlns=\"{NC}\">{GET_HOSTNAME}</rpc>")
        reply = transport.last()
        expected = etree.fromstring(f"<x a={quote}{message_id}{quote}/>").get("a")
        assert reply.get("message-id") == expected and hostname_of(reply) == "core-1"


def test_a_declaration_first_and_other_requests_are_not_confused(device):
    session, transport = open_session(device)
    text = f'<?xml version="1.0" encoding="UTF-8"?><rpc message-id="d1" xmlns="{NC}">{GET_HOSTNAME}</rpc>'
    transport.receive(text)
    transport.receive(text.replace('"d1"', '"d2"'))
    assert transport.last().get("message-id") == "d2" and hostname_of(transport.last()) == "core-1"
    other = GET_HOSTNAME.replace("<hostname/>", "<contact/>")
    reply = rpc(session, transport, other, attrs='message-id="d3"')
    assert reply.get("message-id") == "d3" and hostname_of(reply) is None


def test_a_request_with_50000_namespace_declarations_is_refused_at_once(device):
    import time

    from emulator.netconf.session import MAX_DECLARATIONS
    session, transport = open_session(device)
    declarations = " ".join(f'xmlns:p{i}="urn:x:{i}"' for i in range(50_000))
    began = time.perf_counter()
    transport.receive(f'<nc:rpc xmlns:nc="{NC}" message-id="1" {declarations} xmlns:q="urn:q" '
                      'q:tag="v"><nc:get-config><nc:source><nc:running/></nc:source>'
                      "</nc:get-config></nc:rpc>")
    assert time.perf_counter() - began < 0.5            # (it took 18 s, then 0.09 s parsed)
    reply = transport.last()
    assert reply.get("message-id") == "1"
    error = reply.find("nc:rpc-error", NS)
    assert error.findtext("nc:error-tag", namespaces=NS) == "resource-denied"
    assert f"{MAX_DECLARATIONS:,}" in error.findtext("nc:error-message", namespaces=NS)
    # and as many as a client may declare are answered as ever
    some = " ".join(f'xmlns:p{i}="urn:x:{i}"' for i in range(MAX_DECLARATIONS - 10))
    transport.receive(f'<nc:rpc xmlns:nc="{NC}" message-id="2" {some} xmlns:q="urn:q" '
                      'q:tag="v"><nc:get-config><nc:source><nc:running/></nc:source>'
                      "</nc:get-config></nc:rpc>")
    reply = transport.last()
    assert reply.get("message-id") == "2" and reply.get("{urn:q}tag") == "v"
    assert len(reply.nsmap) == 2 and reply.find("nc:data", NS) is not None


