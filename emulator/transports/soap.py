"""NETCONF over SOAP 1.1 and HTTP, as RFC 4743 (draft-ietf-netconf-soap-04) has it.

``POST /soap/{device}`` on the server's HTTP(S) port carries one SOAP envelope
whose Body holds one NETCONF message; the response's Body holds the answer.
The NETCONF session is the HTTP connection (sections 3.4, 3.5): the client's
first message on a connection is its ``<hello>`` (section 3.3), answered with
the server's; every later POST on that persistent connection is an ``<rpc>``
of that session; the connection's end is the session's end. An
``<rpc-error>`` travels as a SOAP Fault (section 2.7.3), with HTTP status 500
(SOAP 1.1 section 6.2). ``GET /soap/{device}?wsdl`` is the service definition
(section 3.8); the binding and the schemas it imports are served from
``/soap-schema/``, so a toolkit needs no other host.

HTTP cannot push: notifications are not offered (the hello leaves them out,
and ``<create-subscription>`` is refused). Everything NETCONF is the
sessions layer's; this module maps requests, responses and the TCP
connection's lifetime onto a :class:`~emulator.sessions.Connection`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import logging
from functools import lru_cache
from typing import Any, Iterator
from xml.sax.saxutils import escape, quoteattr

import tornado.web
from lxml import etree
from tornado.iostream import IOStream

from emulator.device import Device
from emulator.errors import RpcError
from emulator.fleet import Fleet
from emulator.lifecycle import Admit
from emulator.namespaces import (INTERLEAVE_CAPABILITY, NC_NS, NCM_NS, NCWS_NS,
                                 NOTIFICATION_CAPABILITY, NOTIFICATION_NS, qn)
from emulator.netconf.session import MAX_DECLARATIONS, declared_prefixes, message_elements
from emulator.netconf.termination import Termination
from emulator.netconf.xml import XMLRejected, describe, parse_message, to_text
from emulator.paths import WSDL
from emulator.sessions import Connection, admission
from emulator.settings import Options, host_allowed, origin_allowed

log = logging.getLogger(__name__)

ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"         # SOAP 1.1 section 4.1.2
SOAP12_ENV_NS = "http://www.w3.org/2003/05/soap-envelope"    # what SOAP 1.2 would send
# The SOAP binding's own namespace: the draft's WSDL declares <hello> in it.
NCSOAP_NS = "urn:ietf:params:xml:ns:netconf:soap:1.0"

# ietf-netconf-monitoring's identity for SOAP over HTTPS (RFC 6022), and ours
# for plain HTTP (yang/netconf-websocket.yang: no standard module has one).
TRANSPORT_HTTPS = (NCM_NS, "netconf-soap-over-https")
TRANSPORT_HTTP = (NCWS_NS, "netconf-soap-over-http")

CONTENT_TYPE = "text/xml; charset=utf-8"                     # SOAP 1.1 section 6.1.1
# Media types a SOAP 1.1 request may arrive as (text/xml is the rule; the
# others are XML too, and the envelope's namespace says the rest).
XML_MEDIA_TYPES = ("text/xml", "application/xml", "application/soap+xml")
# Capabilities HTTP cannot honour: nothing is pushed to a SOAP client.
NOT_OFFERED = frozenset({NOTIFICATION_CAPABILITY, INTERLEAVE_CAPABILITY})
REALM = "netconf-emulator"

# A body over the size limit is read to its end and dropped (so that the
# client, still sending, reads our 413 rather than a reset), up to this many
# bytes beyond the limit; past that the connection is simply closed.
DRAIN_BYTES = 16 * 1024 * 1024

SCHEMA_FILES = ("netconf-soap_1.0.wsdl", "netconf-base_1.0.xsd", "xml.xsd")
SCHEMA_PATH = "/soap-schema/"

_ENVELOPE_START = (f'<?xml version="1.0" encoding="UTF-8"?>\n'
                   f'<soapenv:Envelope xmlns:soapenv="{ENV_NS}"><soapenv:Body>')
_ENVELOPE_END = "</soapenv:Body></soapenv:Envelope>"


def envelope(body: str) -> str:
    return _ENVELOPE_START + body + _ENVELOPE_END


def fault(code: str, string: str, detail: str = "") -> str:
    """A SOAP 1.1 Fault (section 4.4): faultcode in the envelope's namespace."""
    detail = f"<detail>{detail}</detail>" if detail else ""
    return envelope(f"<soapenv:Fault><faultcode>soapenv:{code}</faultcode>"
                    f"<faultstring>{escape(string)}</faultstring>{detail}</soapenv:Fault>")


def error_fault(errors: list[RpcError], code: str = "Client") -> str:
    """RFC 4743 section 2.7.3: faultstring the (first) error-tag, detail the rpc-errors."""
    holder = etree.Element(qn("rpc-reply"), nsmap={None: NC_NS})
    for error in errors:
        error.to_element(holder)
    return fault(code, errors[0].tag, "".join(to_text(child) for child in holder))


def reply_fault(reply: etree._Element) -> str | None:
    """The Fault for an ``<rpc-reply>`` that carries ``<rpc-error>``s, else None."""
    errors = reply.findall(qn("rpc-error"))
    if not errors:
        return None
    tag = errors[0].findtext(qn("error-tag")) or "operation-failed"
    return fault("Client", tag.strip(), "".join(to_text(error) for error in errors))


def _renamed(element: etree._Element, old: str, new: str) -> etree._Element:
    """A copy of ``element`` with every element of namespace ``old`` moved to ``new``."""
    copy = etree.Element(f"{{{new}}}{etree.QName(element).localname}", nsmap={None: new})
    copy.text = element.text
    for child in element:
        if not isinstance(child.tag, str):
            continue
        if etree.QName(child).namespace == old:
            sub = _renamed(child, old, new)
        else:
            sub = child.__copy__()
        sub.tail = child.tail
        copy.append(sub)
    return copy


def server_hello(text: str, namespace: str) -> str:
    """The server's hello as a SOAP client gets it: in the namespace its own
    hello used, without what HTTP cannot do (notifications)."""
    hello = etree.fromstring(text)
    capabilities = hello.find(qn("capabilities"))
    if capabilities is not None:
        for capability in list(capabilities):
            if (capability.text or "").strip() in NOT_OFFERED:
                capabilities.remove(capability)
    if namespace != NC_NS:
        hello = _renamed(hello, NC_NS, namespace)
    return to_text(hello)


@lru_cache(maxsize=None)
def schema_file(name: str) -> bytes:
    return (WSDL / name).read_bytes()


def service_definition(base: str, device: Device) -> str:
    """RFC 4743 section 3.8: the device's service, its address the device's URL."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<definitions
  xmlns="http://schemas.xmlsoap.org/wsdl/"
  xmlns:SOAP="http://schemas.xmlsoap.org/wsdl/soap/"
  xmlns:nets="{NCSOAP_NS}"
  targetNamespace="urn:netconf-emulator:soap:{escape(device.name)}"
  name={quoteattr(f"{device.name}.wsdl")}>

  <import namespace="{NCSOAP_NS}"
          location={quoteattr(f"{base}{SCHEMA_PATH}netconf-soap_1.0.wsdl")}/>

  <service name="netconf">
    <documentation>NETCONF over SOAP to device {escape(device.name)} (profile {escape(device.profile.name)})</documentation>
    <port name="netconfPort" binding="nets:netconfBinding">
      <SOAP:address location={quoteattr(f"{base}/soap/{device.name}")}/>
    </port>
  </service>

</definitions>
"""


class SoapSessions:
    """The SOAP sessions of a server, by the TCP connection (Tornado's IOStream,
    the same across keep-alive requests) that carries each."""

    def __init__(self) -> None:
        self._by_stream: dict[IOStream, SoapSession] = {}

    def get(self, stream: IOStream) -> SoapSession | None:
        return self._by_stream.get(stream)

    def add(self, session: SoapSession) -> None:
        self._by_stream[session.stream] = session

    def connection_closed(self, stream: IOStream) -> None:
        """The HTTP server saw a TCP connection end: so does its session."""
        session = self._by_stream.pop(stream, None)
        if session is not None:
            session.lost()

    def __len__(self) -> int:
        return len(self._by_stream)

    def __iter__(self) -> Iterator[SoapSession]:
        return iter(list(self._by_stream.values()))


class SoapSession:
    """One HTTP connection carrying one NETCONF session: the Wire its
    Connection writes to. What the session writes while a request waits
    becomes that request's response; nothing else can reach an HTTP client."""

    def __init__(self, stream: IOStream, device: Device, namespace: str):
        self.stream = stream
        self.device = device
        self.hello_namespace = namespace  # the client's hello's: the server answers in it
        self.connection: Connection | None = None
        self.in_request = False           # a request is being answered on the connection
        self.pending: asyncio.Future | None = None  # what answers it, once written
        self.ending: Termination | None = None    # the session ended: close after the answer
        self.dropped = 0                          # messages written with no request waiting

    def expect_reply(self) -> asyncio.Future:
        self.pending = asyncio.get_running_loop().create_future()
        return self.pending

    def _settle(self, value: Any) -> None:
        pending = self.pending
        if pending is not None and not pending.done():
            pending.set_result(value)

    # -- the Wire ----------------------------------------------------------------

    def write(self, text: str) -> Any:
        pending = self.pending
        if pending is not None and not pending.done():
            pending.set_result(text)
        else:
            self.dropped += 1     # (a notification, say: HTTP has no way to push it)
        return None

    def close(self, termination: Termination) -> None:
        """The session ended: the request in hand (if any) is answered, with a
        Fault that says why if nothing else answered it, and the connection closes."""
        self.ending = termination
        if self.in_request:
            self._settle(termination)
        else:
            self.stream.close()

    def abort(self) -> None:
        """Hang up: no answer to the request in hand."""
        self._settle(None)
        self.stream.close()

    # -- the connection's end --------------------------------------------------------

    def lost(self) -> None:
        self._settle(None)
        if self.connection is not None:
            self.connection.lost()


class SoapFault(Exception):
    """A request answered with a Fault that no session wrote: the HTTP status,
    the faultcode, and the rpc-errors for its detail."""

    def __init__(self, status: int, code: str, error: RpcError):
        super().__init__(error.message)
        self.status = status
        self.code = code
        self.error = error

    def body(self) -> str:
        return error_fault([self.error], self.code)


def _malformed(message: str) -> SoapFault:
    return SoapFault(500, "Client", RpcError.malformed(message))


def unwrap(body: bytes) -> etree._Element:
    """The one NETCONF message in a SOAP 1.1 envelope (SOAP 1.1 section 4),
    parsed by the hardened parser; a :class:`SoapFault` says what is wrong."""
    try:
        root = parse_message(body)
    except XMLRejected as exc:
        raise _malformed(f"the request is not a SOAP envelope: {exc}") from None
    if root.tag == f"{{{SOAP12_ENV_NS}}}Envelope":
        # SOAP 1.1 section 4.4.1: an envelope of another version
        raise SoapFault(500, "VersionMismatch", RpcError.malformed(
            "this is a SOAP 1.2 envelope; NETCONF over SOAP (RFC 4743) speaks SOAP 1.1: "
            f"use the envelope namespace {ENV_NS}"))
    if root.tag != f"{{{ENV_NS}}}Envelope":
        raise _malformed(f"expected a SOAP 1.1 <Envelope> in namespace {ENV_NS}, got "
                         f"{describe(root)}")
    header = root.find(f"{{{ENV_NS}}}Header")
    if header is not None:
        for block in header:
            # RFC 4743 section 2.7.2: the binding uses no header, and one the
            # client says must be understood cannot be ignored (SOAP 1.1 4.2.3)
            if isinstance(block.tag, str) and \
                    block.get(f"{{{ENV_NS}}}mustUnderstand", "").strip() in ("1", "true"):
                raise SoapFault(500, "MustUnderstand", RpcError(
                    "unknown-element", "protocol",
                    f"the header block {describe(block)} must be understood, and NETCONF over "
                    "SOAP uses no header (RFC 4743 section 2.7.2)",
                    info=[("bad-element", etree.QName(block).localname)]))
    body_element = root.find(f"{{{ENV_NS}}}Body")
    if body_element is None:
        raise _malformed("the envelope has no <Body>")
    messages = [child for child in body_element if isinstance(child.tag, str)]
    if len(messages) != 1:
        raise _malformed(f"the <Body> carries {len(messages)} elements; it carries exactly one "
                         "NETCONF message (<hello> first, then <rpc>s)")
    return messages[0]


def is_hello(message: etree._Element) -> bool:
    return message.tag in (qn("hello"), f"{{{NCSOAP_NS}}}hello")


def as_netconf(message: etree._Element) -> str:
    """The message as the session core reads it (a hello in the SOAP binding's
    namespace is the base namespace's hello)."""
    if message.tag == f"{{{NCSOAP_NS}}}hello":
        message = _renamed(message, NCSOAP_NS, NC_NS)
    return to_text(message)


def _wants_notifications(message: etree._Element) -> bool:
    operation = next((child for child in message if isinstance(child.tag, str)), None)
    return message.tag == qn("rpc") and operation is not None and \
        operation.tag == f"{{{NOTIFICATION_NS}}}create-subscription"


@tornado.web.stream_request_body
class SoapHandler(tornado.web.RequestHandler):
    """``/soap/{device}``: POST an envelope; GET ``?wsdl`` for the service."""

    def initialize(self, fleet: Fleet, options: Options, sessions: SoapSessions) -> None:
        self.fleet = fleet
        self.options = options
        self.sessions = sessions
        self.limit = fleet.runtime.limits.max_message_size
        self.client_fault = False        # a 500 that is the client's doing (logged as info)
        self._body = bytearray()
        self._oversize = False           # the body is over the limit: the rest is dropped
        self._flushed: Any = None

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", CONTENT_TYPE)
        # RFC 4743 section 2.4: no cache may stand between manager and agent
        self.set_header("Cache-Control", "no-cache")
        self.set_header("Pragma", "no-cache")

    # -- the body, bounded ---------------------------------------------------------

    def prepare(self) -> None:
        if self.request.method != "POST":
            return
        length = self.request.headers.get("Content-Length")
        declared = int(length) if length and length.isascii() and length.isdigit() else None
        if declared is not None and declared > self.limit:
            self._oversize = True
            if declared > self.limit + DRAIN_BYTES:
                # too much to read and drop: answer now, and close (what Tornado
                # reads meanwhile goes to data_received and is dropped)
                self.request.connection.set_max_body_size(declared)
                self._too_big_without_session()
                return
        # (Tornado would refuse a body over the server's limit with a bare 400:
        # this handler reads what is over it, and answers 413 with a Fault)
        self.request.connection.set_max_body_size(self.limit + DRAIN_BYTES)

    def data_received(self, chunk: bytes) -> None:
        if self._oversize:
            return
        self._body += chunk
        if len(self._body) > self.limit:
            self._oversize = True
            self._body = bytearray()

    # -- GET ?wsdl -------------------------------------------------------------------

    def get(self, name: str) -> None:
        if not host_allowed(self.options, self.request.host):
            return self._plain(403, f"this server is not served as {self.request.host!r} "
                                    "(name it with --allow-host)")
        device = self.fleet.get(name)
        if device is None:
            return self._plain(404, f"no device named {name!r} in this fleet")
        if "wsdl" not in self.request.query_arguments:
            self.set_header("Allow", "POST, GET")
            return self._plain(405, "POST SOAP envelopes here (NETCONF over SOAP, RFC 4743); "
                                    "GET ?wsdl for the service description")
        base = f"{self.request.protocol}://{self.request.host}"
        self.finish(service_definition(base, device))

    def _plain(self, status: int, message: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(message + "\n")

    # -- POST ------------------------------------------------------------------------

    async def post(self, name: str) -> None:
        stream = self.request.connection.stream
        soap = self.sessions.get(stream)
        try:
            device = self._device(name, soap)
            username = self._login()
            if soap is None:
                admit = admission(device)
                if admit is Admit.IGNORE:
                    return self._hang_up()      # gone from the network: no answer at all
                if admit is Admit.REFUSE:
                    self.set_header("Retry-After", "1")
                    raise SoapFault(503, "Server", RpcError(
                        "resource-denied", "transport", device.refusal()))
            if self._oversize:
                if soap is not None:
                    return await self._exchange(soap, None, status=413)
                return self._too_big_without_session()
            self._check_media_type()
            body, self._body = bytes(self._body), bytearray()
            self._check_elements(body)
            message = unwrap(body)
            if soap is None:
                if not is_hello(message):
                    raise _malformed(
                        f"got {describe(message)} before a <hello> on this connection: a "
                        "NETCONF session over SOAP is the HTTP connection, and its first "
                        "message is the client's <hello> (RFC 4743 section 3.3)")
                soap = self._open(stream, device, username, etree.QName(message).namespace)
                return await self._exchange(soap, as_netconf(message), hello=True)
            if _wants_notifications(message):
                raise SoapFault(500, "Client", RpcError(
                    "operation-not-supported", "protocol",
                    "notifications are not offered over SOAP: HTTP cannot push them (RFC 4743 "
                    "section 2.2); subscribe over WebSocket or SSH",
                    info=[("bad-element", "create-subscription")]))
            await self._exchange(soap, as_netconf(message))
        except SoapFault as exc:
            self.client_fault = exc.code != "Server"
            self.set_status(exc.status)
            self.finish(exc.body())
            if exc.status == 413:
                self._close_after()
        except Exception:   # a bug of ours: a Server fault, never a traceback on the wire
            log.exception("SOAP request to %s failed", name)
            if not self._finished:
                self.clear()
                self.set_status(500)
                self.finish(error_fault([RpcError(
                    "operation-failed", "application",
                    "internal error while handling the request; see the server log")], "Server"))

    def _device(self, name: str, soap: SoapSession | None) -> Device:
        if not host_allowed(self.options, self.request.host):
            raise SoapFault(403, "Client", RpcError(
                "access-denied", "protocol", f"this server is not served as "
                f"{self.request.host!r} (name it with --allow-host)"))
        origin = self.request.headers.get("Origin")
        if not origin_allowed(self.options, origin, self.request.host):
            raise SoapFault(403, "Client", RpcError(
                "access-denied", "protocol", f"origin {origin!r} may not open NETCONF "
                "sessions here (allow it with --allow-origin)"))
        device = self.fleet.get(name)
        if device is None:
            raise SoapFault(404, "Client", RpcError(
                "invalid-value", "protocol", f"no device named {name!r} in this fleet"))
        if soap is not None and soap.device is not device:
            session = soap.connection.session.id if soap.connection else "?"
            raise _malformed(f"this connection carries session {session} of device "
                             f"{soap.device.name}; open another connection for {name}")
        return device

    def _login(self) -> str:
        """The NETCONF username: HTTP Basic's user when the server has a password
        of its own (--password), else the default username; credentials that
        are sent are checked either way."""
        options = self.options
        header = self.request.headers.get("Authorization")
        if header is None:
            if not options.password_set:     # the lab default: no login asked
                return options.username
            raise self._challenge("this server asks for a login (HTTP Basic)")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            raise self._challenge(f"authentication scheme {scheme!r} is not offered; use Basic")
        try:
            user, colon, password = base64.b64decode(value.strip(), validate=True) \
                .decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise self._challenge("the Basic credentials are not base64 of user:password") \
                from None
        ok_user = hmac.compare_digest(user.encode(), options.username.encode())
        ok_password = hmac.compare_digest(password.encode(), options.password.encode())
        if not (colon and ok_user and ok_password):
            raise self._challenge("wrong username or password")
        return user

    def _challenge(self, message: str) -> SoapFault:
        self.set_header("WWW-Authenticate", f'Basic realm="{REALM}", charset="UTF-8"')
        return SoapFault(401, "Client", RpcError("access-denied", "protocol", message))

    def _check_elements(self, body: bytes) -> None:
        """Not parsed (on the loop) when it holds more elements than any request
        needs: the same bound as a NETCONF message's (see netconf.session)."""
        prefixes = declared_prefixes(body)
        if prefixes > MAX_DECLARATIONS:
            raise SoapFault(500, "Client", RpcError(
                "resource-denied", "rpc", f"the request declares {prefixes:,} namespace "
                f"prefixes; at most {MAX_DECLARATIONS:,} are accepted"))
        most = message_elements(self.fleet.runtime.limits)
        if most and len(body) > 4 * most:
            count = body.count(b"<") - body.count(b"</")
            if count > most:
                raise SoapFault(413, "Client", RpcError(
                    "too-big", "rpc", f"the request holds about {count:,} elements; this "
                    f"server parses at most {most:,} (--max-datastore-elements)"))

    def _check_media_type(self) -> None:
        content_type = self.request.headers.get("Content-Type")
        if content_type is None:
            return
        media_type = content_type.split(";")[0].strip().lower()
        if media_type not in XML_MEDIA_TYPES:
            raise SoapFault(415, "Client", RpcError.malformed(
                f"a SOAP 1.1 request is text/xml, not {media_type or 'empty'}"))

    def _open(self, stream: IOStream, device: Device, username: str,
              namespace: str) -> SoapSession:
        """A new NETCONF session on this HTTP connection."""
        soap = SoapSession(stream, device, namespace)
        self.sessions.add(soap)
        transport = TRANSPORT_HTTPS if self.request.protocol == "https" else TRANSPORT_HTTP
        soap.connection = Connection(self.fleet.runtime, device, soap, username=username,
                                     source_host=self.request.remote_ip, transport=transport)
        # (replies are small and awaited: send each at once, no Nagle delay)
        stream.set_nodelay(True)
        return soap

    async def _exchange(self, soap: SoapSession, text: str | None, *, hello: bool = False,
                        status: int = 200) -> None:
        """Hand one message to the session and answer with what it writes (a
        hung device writes nothing: the request waits, as it would on a real one)."""
        connection = soap.connection
        assert connection is not None
        soap.in_request = True
        answer = soap.expect_reply()
        try:
            if hello:
                connection.open()            # the server's hello, into ``answer``
                connection.receive(text)
            elif text is None:
                connection.too_big(self.limit)
            else:
                connection.receive(text)
            result = await answer
        finally:
            soap.in_request = False
            soap.pending = None
        if result is None or self.request.connection.stream.closed():
            return self._hang_up()
        if soap.ending is not None:
            self.set_header("Connection", "close")     # the session, and so the connection, end
            if hello or isinstance(result, Termination):
                result = soap.ending      # the session ended instead of answering
        if isinstance(result, Termination):
            self.set_status(500)
            self.client_fault = result.reason.value == "bad-hello"
            self.finish(_ended_fault(result))
        elif hello:
            self.finish(envelope(server_hello(result, soap.hello_namespace)))
        else:
            self._answer(result, status)
        if soap.ending is not None:
            self._close_after()

    def _answer(self, reply_text: str, status: int) -> None:
        body = None
        if "rpc-error" in reply_text:
            body = reply_fault(etree.fromstring(reply_text))
        if body is None:
            self.finish(envelope(reply_text))
            return
        # SOAP 1.1 section 6.2: a Fault goes back with status 500
        self.client_fault = True
        self.set_status(500 if status == 200 else status)
        self.finish(body)

    def _too_big_without_session(self) -> None:
        self.client_fault = True
        self.set_status(413)
        self.set_header("Connection", "close")
        self.finish(error_fault([RpcError(
            "too-big", "transport",
            f"a message may hold at most {self.limit} bytes (--max-message-size)")]))
        self._close_after()

    def _close_after(self) -> None:
        """Close the connection once the response is out (the session is over)."""
        stream = self.request.connection.stream
        flushed = self._flushed
        if flushed is None or flushed.done():
            stream.close()
        else:
            flushed.add_done_callback(lambda _: stream.close())

    def finish(self, chunk: Any = None) -> Any:
        self._flushed = super().finish(chunk)
        return self._flushed

    def _hang_up(self) -> None:
        self.request.connection.stream.close()
        self._finished = True


def _ended_fault(termination: Termination) -> str:
    if termination.reason.value == "bad-hello":
        return error_fault([RpcError.malformed(termination.detail or "bad hello")])
    detail = f": {termination.detail}" if termination.detail else ""
    return error_fault([RpcError(
        "operation-failed", "protocol",
        f"the session ended ({termination.reason.value}{detail})")], code="Server")


class SoapSchemaHandler(tornado.web.RequestHandler):
    """``/soap-schema/{file}``: the binding's WSDL and the schemas it imports."""

    def get(self, name: str) -> None:
        if name not in SCHEMA_FILES:
            self.set_status(404)
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            return self.finish(f"no schema {name!r} here; there are {', '.join(SCHEMA_FILES)}\n")
        self.set_header("Content-Type", CONTENT_TYPE)
        self.finish(schema_file(name))
