"""A NETCONF client over WebSocket: ncclient's ``Manager`` on a WebSocket session.

::

    from emulator.client import connect

    with connect("ws://127.0.0.1:8830/netconf/core-1") as m:
        print(m.get_config("running").data_xml)
        m.create_subscription()
        print(m.take_notification(timeout=5))

Code written for ncclient works unchanged: every operation of its ``Manager``
(``get``, ``get_config``, ``edit_config``, ``lock``, ``commit``,
``create_subscription``, ``take_notification``, ...) goes over one WebSocket
session, as draft-iijima-netconf-websocket-ps-04 frames it: subprotocol
``netconf``, one NETCONF message per WebSocket message (no ``]]>]]>`` and no
RFC 6242 chunks: the WebSocket frames the messages).

Stock ncclient sessions queue what they send and a reader thread sends it
between reads that wait up to 100 ms (``TICK``), so a request can wait that
long before it leaves; this session sends from the caller's thread at once,
and hands each reply to ncclient from the thread that reads the socket.

ncclient and websockets are the ``client`` extra:
``pip install 'netconf-emulator[client]'``.
"""

from __future__ import annotations

import logging
import re
import ssl as _ssl
import threading
from typing import Any, Callable

from lxml import etree

try:
    from ncclient import manager as _manager
    from ncclient.capabilities import Capabilities
    from ncclient.transport.errors import SessionCloseError, TransportError
    from ncclient.transport.session import Session
    from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
    from websockets.frames import DATA_OPCODES, Frame
    from websockets.sync.client import ClientConnection
    from websockets.sync.client import connect as _ws_connect
except ImportError as exc:  # pragma: no cover (the extra is installed for the tests)
    raise ImportError(f"emulator.client needs ncclient and websockets ({exc}): "
                      "pip install 'netconf-emulator[client]'") from None

log = logging.getLogger(__name__)

# How much of a message is read at a time to find its root element's start tag.
_PEEK = 4096

# The WebSocket subprotocol of NETCONF (draft-iijima-netconf-websocket-ps-04, section 4).
SUBPROTOCOL = "netconf"
# Seconds to open the connection, to get the server's <hello>, and for each
# RPC's reply: a CI test that hangs for minutes helps nobody.
DEFAULT_TIMEOUT = 30.0


class WebSocketError(TransportError):
    """The WebSocket could not be opened (refused, 404, no subprotocol, ...)."""


# The root element's start tag, when it is plain: an optional XML declaration,
# then <name or <prefix:name with attributes whose values hold no '&' or '<'.
_START_TAG = re.compile(r"""\s*(?:<\?xml[^>]*\?>\s*)?<([A-Za-z_][\w.-]*(?::[A-Za-z_][\w.-]*)?)"""
                        r"""((?:\s+[A-Za-z_][\w.:-]*\s*=\s*(?:"[^"&<]*"|'[^'&<]*'))*)\s*/?>""")
_ATTRIBUTE = re.compile(r"""([A-Za-z_][\w.:-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def root_of(raw: str) -> tuple[str, dict[str, str]]:
    """(qualified tag, attributes) of a document's root element, read no
    further than its start tag; what ncclient's ``parse_root`` returns, for
    less: a small reply costs that a quarter of its time on this thread."""
    match = _START_TAG.match(raw)
    if match is not None:
        namespaces: dict[str, str] = {}
        attributes: dict[str, str] = {}
        plain = True
        for name, double, single in _ATTRIBUTE.findall(match.group(2)):
            value = double or single
            if name == "xmlns":
                namespaces[""] = value
            elif name.startswith("xmlns:"):
                namespaces[name[6:]] = value
            elif ":" in name:
                plain = False      # a namespaced attribute: let lxml name it
            else:
                attributes[name] = value
        prefix, _, local = match.group(1).rpartition(":")
        if plain and (prefix in namespaces or not prefix):
            uri = namespaces.get(prefix)
            return (f"{{{uri}}}{local}" if uri else local), attributes
    parser = etree.XMLPullParser(events=("start",), resolve_entities=False, no_network=True)
    data = raw.encode("utf-8")
    for offset in range(0, len(data), _PEEK):
        parser.feed(data[offset:offset + _PEEK])
        for _, element in parser.read_events():
            return element.tag, dict(element.attrib)
    parser.close()   # raises XMLSyntaxError for a document with no element
    raise etree.XMLSyntaxError("no root element", None, 0, 0)


class _Connection(ClientConnection):
    """websockets' client connection, handing each whole message to the
    session from the thread that reads the socket (websockets' own), rather
    than through ``recv()`` and a second thread: one thread hop fewer per reply."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._parts: list[bytes] = []
        self._held: list[str] = []          # messages that came before a receiver
        self._receiver: Callable[[str], None] | None = None
        self._receiver_lock = threading.Lock()

    def deliver_to(self, receiver: Callable[[str], None]) -> None:
        """From now on, every message goes to ``receiver`` (those held first)."""
        with self._receiver_lock:
            held, self._held = self._held, []
            for message in held:
                receiver(message)
            self._receiver = receiver

    def process_event(self, event: Any) -> None:
        if self.response is None or not isinstance(event, Frame) \
                or event.opcode not in DATA_OPCODES:
            super().process_event(event)    # the handshake, pings and pongs, closing
            return
        if not event.fin or self._parts:
            self._parts.append(bytes(event.data))
            if not event.fin:
                return
            data, self._parts = b"".join(self._parts), []
        else:
            data = event.data
        message = bytes(data).decode("utf-8", "replace")
        receiver = self._receiver      # (only this thread reads it; set once, under the lock)
        if receiver is None:
            with self._receiver_lock:
                if self._receiver is None:
                    self._held.append(message)
                    return
                receiver = self._receiver
        receiver(message)


class WebSocketSession(Session):
    """An ncclient transport session over one WebSocket connection."""

    def __init__(self, device_handler: Any):
        super().__init__(Capabilities(device_handler.get_capabilities()))
        self.name = "netconf-websocket"    # the session thread's name
        self._device_handler = device_handler
        self._ws: _Connection | None = None
        self._closing = threading.Event()
        self._send_lock = threading.Lock()
        self.url: str | None = None

    def connect(self, url: str, timeout: float = DEFAULT_TIMEOUT,
                ssl: _ssl.SSLContext | None = None, **websocket_options: Any) -> None:
        """Open the WebSocket and exchange hellos (ncclient's ``_post_connect``)."""
        self.url = url
        try:
            self._ws = _ws_connect(url, subprotocols=[SUBPROTOCOL], open_timeout=timeout,
                                   close_timeout=min(timeout, 5.0), max_size=None, ssl=ssl,
                                   create_connection=_Connection, **websocket_options)
        except (InvalidHandshake, InvalidURI, OSError, TimeoutError) as exc:
            raise WebSocketError(f"cannot open {url}: {exc}") from None
        self._ws.__enter__()   # what `with connect(...)` does (websockets 17 asks for it); close() ends it
        if self._ws.subprotocol != SUBPROTOCOL:
            self._ws.close()
            raise WebSocketError(f"{url} did not select the WebSocket subprotocol "
                                 f"{SUBPROTOCOL!r}")
        self._connected = True
        try:
            self._post_connect(timeout)   # sends our hello, starts run(), waits for theirs
        except Exception:
            self.close()
            raise

    def send(self, message: str) -> None:
        """Send one NETCONF message now, from the caller's thread."""
        if not self.connected or self._ws is None:
            raise TransportError("Not connected to NETCONF server")
        try:
            with self._send_lock:
                self._ws.send(message)
        except ConnectionClosed as exc:
            raise SessionCloseError("", message) from exc

    def _dispatch_message(self, raw: str) -> None:
        """ncclient's, with a cheaper look at the root element (its
        ``parse_root`` costs a small reply twice as much as this)."""
        try:
            root = root_of(raw)
        except etree.XMLSyntaxError:
            super()._dispatch_message(raw)   # ncclient's device handlers decide
            return
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener.callback(root, raw)

    def _receive(self, message: str) -> None:
        """One NETCONF message, on websockets' reading thread."""
        try:
            self._dispatch_message(message)
        except Exception as exc:     # a listener refused it: end the session, as ncclient does
            log.debug("NETCONF message refused: %r", exc)
            self._dispatch_error(exc)
            self.close()

    def run(self) -> None:
        """The session thread: messages are delivered from the thread that reads
        the socket; this one waits for the end, and tells pending requests."""
        assert self._ws is not None
        self._ws.deliver_to(self._receive)   # (the listeners are in place by now)
        try:
            while True:
                self._ws.recv()              # nothing arrives here but the close
        except ConnectionClosed as exc:
            if not self._closing.is_set():
                self._connected = False
                self._dispatch_error(SessionCloseError(
                    f"the server closed the WebSocket: {exc}"))
        except Exception as exc:  # pragma: no cover (defensive)
            self._dispatch_error(exc)
        finally:
            self._connected = False

    def close(self) -> None:
        self._closing.set()
        self._connected = False
        if self._ws is not None:
            self._ws.close()


def connect(url: str, *, timeout: float = DEFAULT_TIMEOUT, ssl: _ssl.SSLContext | None = None,
            device_params: dict[str, Any] | None = None,
            manager_params: dict[str, Any] | None = None,
            errors_params: dict[str, Any] | None = None,
            **websocket_options: Any) -> "_manager.Manager":
    """An ncclient ``Manager`` on a NETCONF-over-WebSocket session to ``url``
    (``ws://`` or ``wss://``; for ``wss://`` give an ``ssl`` context to trust
    the server).

    ``timeout`` (seconds) bounds the opening, the hello exchange and, unless
    ``manager_params`` says otherwise, each RPC. ``device_params``,
    ``manager_params`` and ``errors_params`` mean what they mean to
    ``ncclient.manager.connect``; other keywords go to
    ``websockets.sync.client.connect`` (``additional_headers``, ``origin``, ...).
    """
    if not isinstance(url, str) or not url.startswith(("ws://", "wss://")):
        raise ValueError(f"{url!r} is not a ws:// or wss:// URL")
    if ssl is not None and not url.startswith("wss://"):
        raise ValueError("an ssl context needs a wss:// URL")
    manager_params = {"timeout": timeout, **(manager_params or {})}
    errors_params = errors_params or {}
    manager_params.setdefault("raise_mode", errors_params.get("raise_mode",
                                                              _manager.operations.RaiseMode.ALL))
    handler = _manager.make_device_handler(device_params, errors_params.get("ignore_errors", []))
    session = WebSocketSession(handler)
    session.connect(url, timeout=timeout, ssl=ssl, **websocket_options)
    return _manager.Manager(session, handler, **manager_params)
