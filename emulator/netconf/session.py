"""One NETCONF session as a sans-IO state machine, as h11 is for HTTP.

Whoever carries the session (the sessions layer, for any transport) calls
:meth:`Session.start` once the connection is up (the server speaks first),
hands every whole message it receives to :meth:`Session.receive`, and calls
:meth:`Session.terminate` when the connection drops. Each call returns what
the session wants done, as values: :class:`Send` a message, :class:`Notify`
with an event notification, :class:`Close` the connection. Output that
arises between calls (a notification, a kill-session from another session)
waits in the session's outbox and ``on_output`` is called so that the
carrier collects it with :meth:`Session.take_output`. The session never
touches a socket or a clock: its device tells the time.
"""

from __future__ import annotations

import enum
import logging
import re
from dataclasses import dataclass
from typing import Any, Callable, Union

from lxml import etree

from emulator.errors import RpcError, RpcErrors
from emulator.namespaces import BASE_1_0, BASE_1_1, NC_NS, qn
from emulator.netconf.operations import Offload, Rpc, Serialized
from emulator.netconf.termination import Cause, Reason, Termination
from emulator.netconf.xml import XMLRejected, describe, localname, parse_message, to_text

log = logging.getLogger(__name__)

MAX_RPC_ATTRIBUTES = 64
_REPLY_NSMAP = {None: NC_NS}

_SPLICE_NS = "urn:netconf-emulator:internal"
_SPLICE_PREFIX = "emulator-splice"
_SPLICE = f"{{{_SPLICE_NS}}}splice"
_SPLICE_TEXT = f'<{_SPLICE_PREFIX}:splice xmlns:{_SPLICE_PREFIX}="{_SPLICE_NS}"/>'

_MEMO_SLOT = "\x00"   # never in XML text, so never in a real reply
_MESSAGE_ID = re.compile(r"""message-id=(?:"([^"'<&\x00-\x1f]*)"|'([^"'<&\x00-\x1f]*)')""")
_LEADING_SPACE = re.compile(r"\s*")
# What an attribute's value may hold to be written as it is (lxml escapes these).
_ESCAPED_IN_ATTRIBUTE = re.compile(r'[&<>"\n\r\t]')
_REPLY_HEAD = f'<rpc-reply xmlns="{NC_NS}" message-id="'
_RPC = qn("rpc")


def _memo_key(data: str) -> tuple[str | None, str]:
    """The request without its message-id, and the message-id; (None, "") unless
    the message-id is a plain attribute of the first element's start tag."""
    match = _MESSAGE_ID.search(data, 0, 4096)
    if match is None:
        return None, ""
    start = _LEADING_SPACE.match(data).end()     # (lstrip() would copy the whole text)
    if data.startswith("<?", start):             # an XML declaration first
        start = data.find("?>", start)
        if start < 0:
            return None, ""
        start += 2
    found = match.start()
    # inside the first start tag: one '<' (the tag's), no '>' (a comment or
    # instruction before the root element has both)
    if data.find(">", start, found) >= 0 or data.count("<", start, found) != 1:
        return None, ""
    value = match.group(1) if match.group(1) is not None else match.group(2)
    return data[:found] + data[match.end():], value


@dataclass(frozen=True)
class Send:
    """Send this message (the hello, or a reply)."""

    text: str


@dataclass(frozen=True)
class Notify:
    """Send this event notification (the carrier may refuse a reader that lags)."""

    text: str


@dataclass(frozen=True)
class Close:
    """End the connection, as the termination says."""

    termination: Termination


@dataclass(frozen=True)
class Defer:
    """Run ``work()`` off the event loop, then give what it returned (or raised)
    to ``resume`` on the loop and act on what that returns; read nothing more
    of the client's meanwhile."""

    work: Callable[[], Any]
    resume: Callable[[Any], list]


Output = Union[Send, Notify, Close, Defer]


class State(enum.Enum):
    AWAIT_HELLO = "await-hello"
    OPEN = "open"
    CLOSED = "closed"


class Session:
    """``device`` is the session's host (emulator.device.Device): the protocol
    layer sits below the device and asks it for what a session needs (its
    capabilities, operations, memo, counters, clock, and the session's end).
    ``transport`` names the carrier for monitoring: (namespace, identity)."""

    def __init__(self, device: Any, session_id: int, username: str, source_host: str | None,
                 transport: tuple[str, str]):
        self.device = device
        self.id = session_id
        self.username = username
        self.source_host = source_host
        self.transport = transport
        self.login_time = device.clock.now()
        self.state = State.AWAIT_HELLO
        self.started = False              # the server's hello has gone out
        self.base_version: str | None = None
        self.client_capabilities: list[str] = []
        self.termination: Termination | None = None
        # ietf-netconf-monitoring's per-session counters (the device sums them too).
        self.in_rpcs = 0
        self.in_bad_rpcs = 0
        self.out_rpc_errors = 0
        self.out_notifications = 0        # (the carrier counts these two)
        self.queued_notifications = 0     # written but not yet taken by the client
        self.subscription: Any = None     # a notifications.Subscription, at most one
        self.on_output: Callable[[], None] | None = None
        self._outbox: list[Output] = []
        self._calls = 0                   # > 0 while the carrier is in a call
        # Notifications an rpc causes go out after its reply: held meanwhile.
        self._held: list[str] | None = None

    # -- the carrier's side -------------------------------------------------

    def start(self) -> list[Output]:
        """The server's hello; the carrier calls this once the connection is up
        (and not at all while the device says nothing: see greet)."""
        with self._call():
            self.greet()
        return self.take_output()

    def greet(self) -> None:
        """Send the server's hello, once (the device calls it for a session
        whose hello it held while it was hung)."""
        if self.started or self.state is State.CLOSED:
            return
        self.started = True
        hello = etree.Element(qn("hello"), nsmap={None: NC_NS})
        caps = etree.SubElement(hello, qn("capabilities"))
        for uri in self.device.capabilities():
            etree.SubElement(caps, qn("capability")).text = uri
        etree.SubElement(hello, qn("session-id")).text = str(self.id)
        self._send(hello)
        self.device.stats["in-sessions"] += 1

    def wake(self) -> None:
        """Tell the carrier to look again (the device is up after a hang: what
        its client sent meanwhile can be handled now)."""
        if self._calls == 0 and self.on_output is not None:
            self.on_output()

    def receive(self, data: str | bytes) -> list[Output]:
        """One whole NETCONF message from the client: counted, answered from
        the memo if it may be, else parsed and dispatched."""
        with self._call():
            if self.state is State.AWAIT_HELLO:
                self._receive_hello(data)
            elif self.state is State.OPEN:
                self._receive_rpc(data)
        return self.take_output()

    def terminate(self, reason: Reason, detail: str = "", killed_by: int | None = None,
                  cause: Cause = Cause.NONE) -> list[Output]:
        """The carrier ends the session (its connection went, or it refuses it)."""
        with self._call():
            self.end(reason, detail, killed_by, cause)
        return self.take_output()

    def take_output(self) -> list[Output]:
        """What the session wants done; empty within a call (the outermost call
        returns it all)."""
        if self._calls:
            return []
        outbox, self._outbox = self._outbox, []
        return outbox

    @property
    def closed(self) -> bool:
        return self.state is State.CLOSED

    @property
    def base11(self) -> bool:
        return self.base_version != BASE_1_0

    def _call(self) -> "_InCall":
        return _InCall(self)

    def _emit(self, output: Output) -> None:
        self._outbox.append(output)
        if self._calls == 0 and self.on_output is not None:
            self.on_output()

    def end(self, reason: Reason, detail: str = "", killed_by: int | None = None,
            cause: Cause = Cause.NONE) -> None:
        """End the session from inside (an operation, the device, another session):
        the device releases what it held, and the carrier is told to close."""
        if self.state is State.CLOSED:
            return
        self.state = State.CLOSED
        self.termination = Termination(reason, detail, killed_by, cause)
        if self.subscription is not None:
            self.subscription.cancel()
        self.device.session_ended(self)
        self._emit(Close(self.termination))

    # -- hello ----------------------------------------------------------

    def _receive_hello(self, data: str | bytes) -> None:
        if len(data) > HELLO_LIMIT:   # (parsed on the loop: a hello is a few KiB)
            return self.end(Reason.BAD_HELLO, f"a client <hello> of more than {HELLO_LIMIT:,} "
                            "characters")
        try:
            root = parse_message(data)
        except XMLRejected as exc:
            return self.end(Reason.BAD_HELLO, f"client hello rejected: {exc}")
        if root.tag != qn("hello"):
            return self.end(Reason.BAD_HELLO,
                                  f"expected <hello> in the base namespace first, got {describe(root)}")
        if root.find(qn("session-id")) is not None:
            # RFC 6241 section 8.1: a client hello with a session-id ends the session.
            return self.end(Reason.BAD_HELLO, "a client <hello> must not carry a <session-id>")
        caps = [(c.text or "").strip() for c in root.iterfind(f"{qn('capabilities')}/{qn('capability')}")]
        if BASE_1_1 in caps:
            self.base_version = BASE_1_1
        elif BASE_1_0 in caps:
            self.base_version = BASE_1_0
        else:
            return self.end(Reason.BAD_HELLO,
                                  "no common base version: the server speaks base:1.0 and base:1.1")
        self.client_capabilities = caps
        self.state = State.OPEN
        self.device.session_started(self)

    # -- rpc --------------------------------------------------------------

    def _receive_rpc(self, data: str | bytes) -> None:
        self._holding(lambda: self._answer_rpc(data))

    def _holding(self, answer: Callable[[], None]) -> None:
        """``answer()``, with the notifications it causes sent after its reply."""
        if self.subscription is None:
            # (no subscription, no notification to hold back; one made by this
            # rpc begins after the reply)
            return answer()
        self._held = []
        try:
            answer()
        finally:
            held, self._held = self._held, None
            for text in held:
                self.send_notification(text)

    def _answer_rpc(self, data: str | bytes) -> None:
        self.in_rpcs += 1
        self.device.stats["in-rpcs"] += 1
        key, message_id = _memo_key(data) if isinstance(data, str) else (None, "")
        if key is not None and self._answer_again(key, message_id):
            return
        limits = self.device.runtime.limits
        if len(data) > limits.offload_bytes:
            # (checked and parsed on the worker thread: the text is this message's alone)
            most = message_elements(limits)
            return self._later(lambda: _parse_within(data, most),
                               lambda root: self._answer_parsed(root, key, message_id))
        try:
            root = _parse_within(data, 0)
        except (XMLRejected, RpcError) as exc:
            root = exc
        self._answer_parsed(root, key, message_id)

    def _later(self, work: Callable[[], Any], then: Callable[[Any], None]) -> None:
        """``work()`` off the event loop (see Defer), then ``then(what it gave)``
        in a call of this session, if it is still open."""
        def resume(value: Any) -> list[Output]:
            with self._call():
                if self.state is State.OPEN:
                    self._holding(lambda: then(value))
            return self.take_output()
        self._emit(Defer(work, resume))

    def _answer_parsed(self, root: etree._Element | Exception, key: str | None,
                       message_id: str) -> None:
        if isinstance(root, RpcError):     # (refused before it was parsed)
            return self._reply_errors(None, [root], message_id=message_id or None)
        if isinstance(root, XMLRejected):
            return self._reply_errors(None, [RpcError.malformed(str(root), base11=self.base11)])
        if isinstance(root, Exception):   # (a bug of ours: said, not raised in a callback)
            log.error("parsing a message for %s failed", self.device.name, exc_info=root)
            return self._reply_errors(None, [RpcError(
                "operation-failed", "application", "internal error while reading the "
                "message; see the server log")], message_id=message_id or None)
        tag = root.tag
        if tag != _RPC:
            what = "a session sends <hello> only once" if tag == qn("hello") \
                else f"expected <rpc> in the base namespace, got {describe(root)}"
            return self._reply_errors(root, [RpcError.malformed(what, base11=self.base11)],
                                      echo=False)
        if root.get("message-id") is None:
            return self._reply_errors(root, [RpcError(
                "missing-attribute", "rpc", "the <rpc> has no message-id attribute",
                info=[("bad-attribute", "message-id"), ("bad-element", "rpc")])])
        if len(root.attrib) > MAX_RPC_ATTRIBUTES:
            # Echoing them costs lxml time quadratic in their number; real clients
            # send one to three.
            return self._reply_errors(root, [RpcError(
                "resource-denied", "rpc",
                f"the <rpc> carries {len(root.attrib)} attributes; at most "
                f"{MAX_RPC_ATTRIBUTES} are accepted")], echo=False, message_id=root.get("message-id"))
        ops = [child for child in root if type(child.tag) is str]
        if not ops:
            return self._reply_errors(root, [RpcError.missing_element(
                "operation", "/nc:rpc", "the <rpc> carries no operation")])
        if len(ops) > 1:
            extra = ops[1]
            return self._reply_errors(root, [RpcError(
                "unknown-element", "protocol",
                f"an <rpc> carries exactly one operation; <{localname(extra)}> is one too many",
                path="/nc:rpc", path_ns={"nc": NC_NS},
                info=[("bad-element", localname(extra))])])
        self._dispatch(root, ops[0], key, message_id)

    # -- answering the same question again ------------------------------------------------
    #
    # An NMS polls: it sends the same <get-config> again and again, the
    # message-id aside. A reply that says it may be reused (Serialized with
    # still_valid) is kept, by the request's text without its message-id;
    # the same text gets the same reply, with its own message-id, without
    # being parsed, for as long as the answer holds (the datastore is the
    # same tree). Only a message-id of plain characters qualifies.

    def _answer_again(self, key: str, message_id: str) -> bool:
        memo = self.device.memo
        if not memo:
            return False
        entry = memo.get(key)
        if entry is None:
            return False
        template, still_valid = entry
        if not still_valid():
            self.device.forget_reply(key)
            return False
        self._send_text(template.replace(_MEMO_SLOT, message_id, 1))
        return True

    def _remember(self, key: str | None, message_id: str, root: etree._Element,
                  reply_text: str, still_valid: Callable[[], bool]) -> None:
        if key is None or len(root.attrib) != 1:
            return
        slot = f'message-id="{message_id}"'
        if reply_text.count(slot) != 1:
            return
        self.device.remember(key, (reply_text.replace(slot, f'message-id="{_MEMO_SLOT}"'),
                                   still_valid))

    def _dispatch(self, root: etree._Element, op: etree._Element,
                  key: str | None = None, message_id: str = "") -> None:
        """Run the operation and send its reply; ``key`` and ``message_id``: the
        request's as the memo knows it (see _memo_key), None when it cannot."""
        handler = self.device.operations.get(op.tag)
        if handler is None:
            return self._reply_errors(root, [RpcError(
                "operation-not-supported", "protocol",
                f"operation <{localname(op)}> is not supported by this device",
                info=[("bad-element", localname(op))])])
        rpc = Rpc(session=self, device=self.device, element=root, operation=op)
        self._conclude(rpc, handler, rpc, key, message_id)

    def _conclude(self, rpc: Rpc, call: Callable[[Any], Any], argument: Any,
                  key: str | None, message_id: str) -> None:
        """``call(argument)`` (the operation, or the end of an offloaded one), and
        its reply."""
        root, op = rpc.element, rpc.operation
        try:
            if isinstance(argument, BaseException):
                raise argument      # (what the offloaded work raised)
            result = call(argument)
        except RpcError as exc:
            return self._reply_errors(root, [exc], bad_rpc=False)
        except RpcErrors as exc:
            return self._reply_errors(root, exc.errors, bad_rpc=False)
        except Exception:  # a bug of ours must not reach the wire as a traceback
            log.exception("operation <%s> failed on %s", localname(op), self.device.name)
            return self._reply_errors(root, [RpcError(
                "operation-failed", "application",
                f"internal error while running <{localname(op)}>; see the server log")],
                bad_rpc=False)
        if isinstance(result, Offload):
            return self._later(result.work,
                               lambda value: self._conclude(rpc, result.finish, value, None, ""))
        if isinstance(result, Serialized):
            self._send_serialized(root, result, key, message_id)
        else:
            reply = self._reply_element(root)
            if result is None:
                etree.SubElement(reply, qn("ok"))
            elif isinstance(result, list):
                reply.extend(result)
            else:
                reply.append(result)
            self._send(reply)
        for action in rpc.after_reply:
            action()

    def _send_serialized(self, root: etree._Element, result: Serialized, key: str | None,
                         message_id: str) -> None:
        """A reply whose content is already text (a cached <data>), and the memo's
        template of it where it may be given again."""
        attributes = root.attrib
        if len(attributes) == 1 and root.prefix is None:
            # The usual <rpc message-id=".." xmlns=base>: the reply is written here,
            # as lxml would write it, when the message-id needs no escaping.
            value = attributes.get("message-id")
            if value is not None and _ESCAPED_IN_ATTRIBUTE.search(value) is None:
                tail = f'">{result.text}</rpc-reply>'
                self._send_text(f"{_REPLY_HEAD}{value}{tail}")
                if result.still_valid is not None and key is not None and value == message_id:
                    self.device.remember(key, (f"{_REPLY_HEAD}{_MEMO_SLOT}{tail}",
                                               result.still_valid))
                return
        # Else lxml writes the reply around a placeholder, and the content is spliced in.
        reply = self._reply_element(root)
        etree.SubElement(reply, _SPLICE, nsmap={_SPLICE_PREFIX: _SPLICE_NS})
        text = to_text(reply).replace(_SPLICE_TEXT, result.text, 1)
        self._send_text(text)
        if result.still_valid is not None:
            self._remember(key, message_id, root, text, result.still_valid)

    def _reply_element(self, rpc: etree._Element | None, echo: bool = True,
                       message_id: str | None = None) -> etree._Element:
        # RFC 6241 section 4.2: the reply carries every attribute of the rpc,
        # message-id included, unmodified (with the namespaces they need).
        if rpc is None or not echo:
            reply = etree.Element(qn("rpc-reply"), nsmap=_REPLY_NSMAP)
            if message_id is not None:
                reply.set("message-id", message_id)
            return reply
        attributes = rpc.attrib
        if len(attributes) == 1 and rpc.prefix is None:
            # the usual <rpc message-id=".." xmlns=base>: nothing else to carry over
            return etree.Element(qn("rpc-reply"), attrib=dict(attributes), nsmap=_REPLY_NSMAP)
        # Only the namespaces the reply uses: its own (under the request's prefix)
        # and those of the attributes it carries. (Copying every declaration of
        # the request costs lxml time quadratic in their number.)
        nsmap: dict[str | None, str] = {rpc.prefix: NC_NS}
        qualified = {name[1:].partition("}")[0] for name in attributes if name[0] == "{"}
        if qualified:
            for prefix, uri in rpc.nsmap.items():
                if uri in qualified and prefix is not None and prefix not in nsmap:
                    nsmap[prefix] = uri
                    qualified.discard(uri)
        reply = etree.Element(qn("rpc-reply"), nsmap=nsmap)
        for name, value in rpc.attrib.items():
            reply.set(name, value)
        return reply

    def _reply_errors(self, rpc: etree._Element | None, errors: list[RpcError],
                      echo: bool = True, bad_rpc: bool = True,
                      message_id: str | None = None) -> None:
        # in-bad-rpcs counts messages that never became an operation;
        # out-rpc-errors counts every reply that carries an error (RFC 6022).
        self.in_bad_rpcs += bad_rpc
        self.out_rpc_errors += 1
        stats = self.device.stats
        stats["in-bad-rpcs"] += bad_rpc
        stats["out-rpc-errors"] += 1
        reply = self._reply_element(rpc, echo, message_id)
        for err in errors:
            err.to_element(reply)
        self._send(reply)

    def send_error_without_rpc(self, error: RpcError) -> list[Output]:
        """An error about a message the transport could not even hand over."""
        with self._call():
            if self.state is State.OPEN:
                self._reply_errors(None, [error])
        return self.take_output()

    def send_notification(self, text: str) -> None:
        """An event notification for this session's subscription."""
        if self.state is State.CLOSED:
            return
        if self._held is not None:
            self._held.append(text)
            return
        self._emit(Notify(text))   # (counted by the carrier once it is written)

    def _send(self, element: etree._Element) -> None:
        self._send_text(to_text(element))

    def _send_text(self, text: str) -> None:
        self._emit(Send(text))


# The most namespace prefixes a message may declare (a client declares a few,
# perhaps again and again; lxml copies every one in scope wherever an element
# is copied: 50,000 of them on an <rpc> made each copy cost seconds).
MAX_DECLARATIONS = 1_000
_PREFIXED = re.compile(r"xmlns:([^\s=]+)\s*=")
_PREFIXED_BYTES = re.compile(rb"xmlns:([^\s=]+)\s*=")


def declared_prefixes(data: str | bytes) -> int:
    """How many distinct prefixes ``data`` declares (counted only when it declares
    more than MAX_DECLARATIONS times: a default namespace, or a prefix declared
    again, adds nothing in scope)."""
    if isinstance(data, str):
        if data.count("xmlns:") <= MAX_DECLARATIONS:
            return 0
        return len(set(_PREFIXED.findall(data)))
    if data.count(b"xmlns:") <= MAX_DECLARATIONS:
        return 0
    return len(set(_PREFIXED_BYTES.findall(data)))
# The longest client <hello> accepted (hundreds of capabilities fit in a tenth of it).
HELLO_LIMIT = 1024 * 1024
# A message may hold this many elements more than a datastore may (what a whole
# configuration and its envelope need): parsing costs about 300 bytes of memory
# an element, and is not begun for more.
MESSAGE_ELEMENTS_BEYOND = 10_000


def message_elements(limits: Any) -> int:
    """The most elements a message may hold (0: any number)."""
    return limits.max_datastore_elements and \
        limits.max_datastore_elements + MESSAGE_ELEMENTS_BEYOND


def _parse_within(data: str | bytes, most: int) -> etree._Element:
    """parse_message(), unless ``data`` declares more than MAX_DECLARATIONS
    prefixes or holds more than ``most`` elements (0: any number), counted
    without parsing (its tags less its end tags): then an RpcError is raised."""
    prefixes = declared_prefixes(data)
    if prefixes > MAX_DECLARATIONS:
        raise RpcError("resource-denied", "rpc", f"the message declares {prefixes:,} namespace "
                       f"prefixes; at most {MAX_DECLARATIONS:,} are accepted (every prefix in "
                       "scope is copied wherever an element of the message is)")
    if most:
        count = data.count("<") - data.count("</") if isinstance(data, str) \
            else data.count(b"<") - data.count(b"</")
        if count > most:
            raise RpcError("too-big", "rpc", f"the message holds about {count:,} elements; this "
                           f"server parses at most {most:,} (--max-datastore-elements, plus "
                           f"{MESSAGE_ELEMENTS_BEYOND:,})")
    return parse_message(data)


class _InCall:
    """While the carrier is in a call, output is returned, not announced."""

    __slots__ = ("session",)

    def __init__(self, session: Session):
        self.session = session

    def __enter__(self) -> None:
        self.session._calls += 1

    def __exit__(self, *exc: object) -> None:
        self.session._calls -= 1
