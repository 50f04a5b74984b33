"""The running emulator: one Tornado HTTP server for every device and the API."""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
import ssl
import time
import urllib.parse
from dataclasses import dataclass, field
from ipaddress import ip_address
from pathlib import Path

import tornado.httpserver
import tornado.ioloop
import tornado.netutil
import tornado.web

from emulator.api import handlers as api
from emulator.datastore.storage import Storage
from emulator.device import Device
from emulator.fleet import Fleet
from emulator.netconf.termination import Reason
from emulator.transports.websocket import NetconfWebSocket

log = logging.getLogger(__name__)

MiB = 1024 * 1024
DATA_DIR_MARKER = ".netconf-emulator-data"


@dataclass
class Options:
    host: str = "127.0.0.1"
    port: int = 8830
    data_dir: Path = Path(".netconf-emulator")
    fresh: bool = False
    max_message_size: int = 64 * MiB
    ping_interval: float = 30.0
    hello_timeout: float = 60.0
    allow_origins: list[str] = field(default_factory=list)
    allow_hosts: list[str] = field(default_factory=list)
    username: str = "netconf"
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    shutdown_grace: float = 5.0
    notification_queue: int = 1000      # unread notifications a session may have
    replay_size: int = 1000             # events kept per device for replay
    replay_age: float = 24 * 3600.0     # ... and for at most this long


class StartError(Exception):
    """The emulator cannot start; the message says why in one line."""


class Emulator:
    def __init__(self, fleet: Fleet, options: Options):
        self.fleet = fleet
        self.options = options
        self.started = time.monotonic()
        self.port: int | None = None
        self._server: tornado.httpserver.HTTPServer | None = None
        self.connections: set[NetconfWebSocket] = set()  # open WebSocket connections
        self.storage: Storage | None = None
        self._flusher: tornado.ioloop.PeriodicCallback | None = None

    @property
    def scheme(self) -> str:
        return "wss" if self.options.tls_cert else "ws"

    def device_url(self, device: Device, host: str | None = None) -> str:
        return f"{self.scheme}://{host or self.netloc}/netconf/{device.name}"

    @property
    def netloc(self) -> str:
        host = self.options.host
        if ":" in host:
            host = f"[{host}]"
        return f"{host}:{self.port}"

    def host_allowed(self, host_header: str) -> bool:
        """DNS-rebinding guard: may a request name this server by ``host_header``?

        IP literals and localhost cannot be rebound; names are accepted only
        when the operator gave them (--host, --allow-host, --allow-origin).
        """
        host = urllib.parse.urlsplit("//" + host_header).hostname
        if not host:
            return False
        if host == "localhost" or "*" in self.options.allow_origins:
            return True
        try:
            ip_address(host)
            return True
        except ValueError:
            pass
        named = {self.options.host.lower(), *(h.lower() for h in self.options.allow_hosts)}
        named.update((urllib.parse.urlsplit(o).hostname or "") for o in self.options.allow_origins)
        return host in named

    def uptime(self) -> float:
        return time.monotonic() - self.started

    def application(self) -> tornado.web.Application:
        ctx = {"emulator": self}
        opts = self.options
        return tornado.web.Application(
            [
                (r"/netconf/([^/]+)", NetconfWebSocket, ctx),
                (r"/api/?", api.IndexHandler, ctx),
                (r"/api/health", api.HealthHandler, ctx),
                (r"/api/devices", api.DeviceListHandler, ctx),
                (r"/api/devices/([^/]+)", api.DeviceHandler, ctx),
                (r"/api/devices/([^/]+)/journal", api.JournalHandler, ctx),
                (r"/api/devices/([^/]+)/events", api.DeviceEventHandler, ctx),
                (r"/api/events", api.FleetEventHandler, ctx),
                (r"/api(/.*)?", api.NotFoundHandler, ctx),
            ],
            websocket_max_message_size=opts.max_message_size,
            websocket_ping_interval=opts.ping_interval or None,
            websocket_ping_timeout=opts.ping_interval or None,
        )

    def _ssl_context(self) -> ssl.SSLContext | None:
        opts = self.options
        if not opts.tls_cert:
            if opts.tls_key or opts.tls_client_ca:
                raise StartError("--tls-key and --tls-client-ca need --tls-cert")
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            context.load_cert_chain(opts.tls_cert, opts.tls_key)
            if opts.tls_client_ca:
                context.load_verify_locations(opts.tls_client_ca)
                context.verify_mode = ssl.CERT_REQUIRED
        except (OSError, ssl.SSLError) as exc:
            raise StartError(f"cannot load TLS files: {exc}") from None
        return context

    def _prepare_data_dir(self) -> None:
        """Create the data dir; with --fresh, empty it first.

        A marker file says the folder is ours: --fresh never empties a folder
        that holds anything without it (a mistyped --data-dir loses nothing).
        """
        data_dir = self.options.data_dir
        marker = data_dir / DATA_DIR_MARKER
        try:
            entries = [p for p in data_dir.iterdir() if p != marker] if data_dir.is_dir() else []
            ours = marker.exists() or not entries
            if self.options.fresh and entries:
                if not ours:
                    raise StartError(f"--fresh would delete {len(entries)} file(s) in {data_dir}, "
                                     f"which is not a netconf-emulator data dir (no {DATA_DIR_MARKER})")
                for entry in entries:
                    if entry.is_dir() and not entry.is_symlink():
                        shutil.rmtree(entry)
                    else:
                        entry.unlink()
            data_dir.mkdir(parents=True, exist_ok=True)
            if ours:  # never claim a folder that already held files of others
                marker.touch()
        except OSError as exc:
            raise StartError(f"cannot use data directory {data_dir}: {exc.strerror or exc}") from None

    async def start(self) -> None:
        """Listen; when this returns, every device accepts sessions."""
        context = self._ssl_context()
        self._prepare_data_dir()
        try:
            sockets = tornado.netutil.bind_sockets(self.options.port, self.options.host,
                                                   family=socket.AF_UNSPEC)
        except OSError as exc:
            raise StartError(f"cannot listen on {self.options.host}:{self.options.port}: "
                             f"{exc.strerror}") from None
        self.port = sockets[0].getsockname()[1]
        self.storage = Storage.in_dir(self.options.data_dir)
        for device in self.fleet:
            device.storage = self.storage
        Device.replay_size = self.options.replay_size
        Device.replay_age = self.options.replay_age
        # Event logs are written behind, a burst of events in one transaction.
        self._flusher = tornado.ioloop.PeriodicCallback(self.storage.flush, 100)
        self._flusher.start()
        self._server = tornado.httpserver.HTTPServer(
            self.application(), ssl_options=context,
            max_body_size=self.options.max_message_size,
            max_buffer_size=self.options.max_message_size)
        self._server.add_sockets(sockets)

    async def stop(self) -> None:
        """Stop listening and end every session cleanly."""
        if self._server is not None:
            self._server.stop()
        for device in self.fleet:
            device.close_all_sessions(Reason.OTHER, "server shutting down")
        # Give clients a moment to answer our close frames, then hang up.
        deadline = time.monotonic() + self.options.shutdown_grace
        while self.connections and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for handler in list(self.connections):
            handler.abort()
        if self._server is not None:
            await self._server.close_all_connections()
        if self._flusher is not None:
            self._flusher.stop()
        if self.storage is not None:
            self.storage.close()
            self.storage = None
