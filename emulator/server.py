"""The running emulator: one Tornado HTTP server for every device and the API."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import time

import tornado.httpserver
import tornado.ioloop
import tornado.netutil
import tornado.web
from lxml import etree

from emulator.api import console, drills
from emulator.api import handlers as api
from emulator.clock import rfc3339
from emulator.datadir import DataDir, DataDirError
from emulator.datastore.storage import FILE_NAME, Storage, StorageError
from emulator.device import Device
from emulator.fleet import Fleet
from emulator.monitoring import content_id
from emulator.netconf.termination import Cause, Reason
from emulator.scenarios.runs import Runs
from emulator.schema.validate import validate
from emulator.settings import Options
from emulator.transports.soap import SoapHandler, SoapSchemaHandler, SoapSessions
from emulator.transports.ssh import SshError, SshServer, new_host_key
from emulator.transports.websocket import NetconfWebSocket

log = logging.getLogger(__name__)

# Event logs are written behind, a burst of events in one transaction, this
# often (real milliseconds: it batches disk writes, it models nothing).
FLUSH_INTERVAL_MS = 100
READ_HEADROOM = 2 * 65536 + 1024


class _HTTPServer(tornado.httpserver.HTTPServer):
    """Tornado's server, telling the SOAP transport when a TCP connection ends
    (its NETCONF session ends with it: RFC 4743 section 3.5)."""

    def initialize(self, *args, soap: SoapSessions, **kwargs) -> None:  # type: ignore[override]
        super().initialize(*args, **kwargs)
        self.soap = soap

    def on_close(self, server_conn: object) -> None:
        super().on_close(server_conn)
        self.soap.connection_closed(server_conn.stream)  # type: ignore[attr-defined]


class StartError(Exception):
    """The emulator cannot start; the message says why in one line."""


def profile_key(device: Device) -> str:
    """What a device's stored rows were written under: its profile and the
    exact set of modules (a change of either asks for a new check)."""
    return f"{device.profile.name}:{content_id(device.profile.schema)}"


class Emulator:
    def __init__(self, fleet: Fleet, options: Options):
        self.fleet = fleet
        self.runtime = fleet.runtime
        self.options = options
        self.started = time.monotonic()
        self.port: int | None = None
        self.notices: list[str] = []    # what the start found worth telling (one line each)
        self._server: tornado.httpserver.HTTPServer | None = None
        self._data_dir = DataDir(options.data_dir)
        self._flusher: tornado.ioloop.PeriodicCallback | None = None
        self.ssh: SshServer | None = None
        self.runs = Runs(fleet, self.runtime)
        self.soap = SoapSessions()

    @property
    def scheme(self) -> str:
        return "wss" if self.options.tls_cert else "ws"

    def device_url(self, device: Device, host: str | None = None) -> str:
        return f"{self.scheme}://{host or self.netloc}/netconf/{device.name}"

    def soap_url(self, device: Device, host: str | None = None) -> str:
        """Where the device answers NETCONF over SOAP (its WSDL: this, plus ?wsdl)."""
        scheme = "https" if self.options.tls_cert else "http"
        return f"{scheme}://{host or self.netloc}/soap/{device.name}"

    def ssh_url(self, device: Device, host: str | None = None) -> str | None:
        """The device's ssh:// URL, or None when SSH is not served."""
        if self.ssh is None:
            return None
        if host is not None:      # the host the client named, without its port
            host = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            host = host.strip("[]")
        return self.ssh.url(device, host)

    @property
    def netloc(self) -> str:
        host = self.options.host
        if ":" in host:
            host = f"[{host}]"
        return f"{host}:{self.port}"

    def uptime(self) -> float:
        return time.monotonic() - self.started

    def application(self) -> tornado.web.Application:
        ctx = {"emulator": self}
        ws = {"fleet": self.fleet, "options": self.options}
        opts = self.options
        return tornado.web.Application(
            [
                (r"/netconf/([^/]+)", NetconfWebSocket, ws),
                (r"/soap/([^/]+)", SoapHandler, {**ws, "sessions": self.soap}),
                (r"/soap-schema/([^/]+)", SoapSchemaHandler),
                (r"/api/?", api.IndexHandler, ctx),
                (r"/api/health", api.HealthHandler, ctx),
                (r"/api/devices", api.DeviceListHandler, ctx),
                (r"/api/devices/([^/]+)", api.DeviceHandler, ctx),
                (r"/api/devices/([^/]+)/journal", api.JournalHandler, ctx),
                (r"/api/devices/([^/]+)/events", api.DeviceEventHandler, ctx),
                (r"/api/devices/([^/]+)/reset", api.DeviceResetHandler, ctx),
                (r"/api/events", api.FleetEventHandler, ctx),
                (r"/api/reset", api.FleetResetHandler, ctx),
                (r"/api/clock", api.ClockHandler, ctx),
                (r"/api/scenarios", drills.ScenarioListHandler, ctx),
                (r"/api/scenarios/runs", drills.RunsHandler, ctx),
                (r"/api/scenarios/([^/]+)", drills.ScenarioHandler, ctx),
                (r"/api/scenarios/runs/([^/]+)", drills.RunHandler, ctx),
                (r"/api/scenarios/runs/([^/]+)/timeline", drills.RunTimelineHandler, ctx),
                (r"/api/scenarios/runs/([^/]+)/stream", drills.RunStreamHandler, ctx),
                (r"/api/scenarios/runs/([^/]+)/stop", drills.RunStopHandler, ctx),
                (r"/api(/.*)?", api.NotFoundHandler, ctx),
                *console.routes(self),          # the browser console: / and /console/...
            ],
            websocket_max_message_size=self.runtime.limits.max_message_size,
            websocket_ping_interval=opts.ping_interval or None,
            websocket_ping_timeout=opts.ping_interval or None,
            log_function=_log_request,
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

    async def start(self) -> None:
        """Listen; when this returns, every device accepts sessions."""
        context = self._ssl_context()
        try:
            self._data_dir.acquire(fresh=self.options.fresh)
        except DataDirError as exc:
            raise StartError(str(exc)) from None
        try:
            sockets = tornado.netutil.bind_sockets(self.options.port, self.options.host,
                                                   family=socket.AF_UNSPEC)
        except OSError as exc:
            self._data_dir.release()
            raise StartError(f"cannot listen on {self.options.host}:{self.options.port}: "
                             f"{exc.strerror}") from None
        try:
            storage = Storage.in_dir(self.options.data_dir, self.runtime.clock.now)
            self._check_stored(storage)
        except StorageError as exc:
            for sock in sockets:
                sock.close()
            self._data_dir.release()
            raise StartError(str(exc)) from None
        try:
            await self._start_ssh()
        except StartError:
            for sock in sockets:
                sock.close()
            storage.close()
            self._data_dir.release()
            raise
        self.runtime.storage = storage
        self._start_clock(storage)
        self.port = sockets[0].getsockname()[1]
        self._flusher = tornado.ioloop.PeriodicCallback(storage.flush, FLUSH_INTERVAL_MS)
        self._flusher.start()
        limit = self.runtime.limits.max_message_size
        self._server = _HTTPServer(
            self.application(), ssl_options=context, max_body_size=limit, soap=self.soap,
            # room for a message of the largest size, the next frame's header, and
            # one read of the socket beyond it (Tornado reads in chunks of 64 KiB)
            max_buffer_size=limit + READ_HEADROOM)
        self._server.add_sockets(sockets)

    def _start_clock(self, storage: Storage) -> None:
        """A virtual clock never starts before what the data dir already holds
        (eventTime must not go backwards across a restart); every device boots now."""
        clock = self.runtime.clock
        latest = storage.latest_time()
        if clock.virtual and latest is not None and latest > clock.now():
            clock.advance_to(latest)
            self.notices.append(f"the virtual clock starts at {rfc3339(clock.now())}, the "
                                f"latest time in {self.options.data_dir / FILE_NAME}")
        for device in self.fleet:
            device.started = clock.now()

    async def _start_ssh(self) -> None:
        """With --ssh-port BASE: device i listens for SSH on BASE+i (or on the port
        its fleet entry pins; 0 picks a free port for each)."""
        base = self.options.ssh_port
        if base is None:
            return
        ports: dict[str, int] = {}
        taken: dict[int, str] = {}
        for device in self.fleet:
            port = self.fleet.ssh_ports.get(device.name, base + device.index if base else 0)
            if port > 65535:
                raise StartError(f"device {device.name} would listen for SSH on port {port}: "
                                 "past 65535 (choose a lower --ssh-port)")
            if port and port in taken:
                raise StartError(f"devices {taken[port]} and {device.name} would both listen "
                                 f"for SSH on port {port}")
            taken[port] = device.name
            ports[device.name] = port
        try:
            ssh = SshServer(self.fleet, self.runtime, host=self.options.host, ports=ports,
                            host_key=self._data_dir.host_key(new_host_key),
                            username=self.options.username, password=self.options.password,
                            authorized_keys=self.options.authorized_keys)
            await ssh.start()
        except (DataDirError, SshError, OSError) as exc:
            raise StartError(str(exc)) from None
        self.ssh = ssh

    def _check_stored(self, storage: Storage) -> None:
        """Stored configuration written under another profile (the fleet file
        changed a device's profile) must still be valid for the device's
        profile now; if it is not, the device starts from its fixture and the
        old rows are kept aside in the same file."""
        keys = {device.name: profile_key(device) for device in self.fleet}
        storage.profile_keys = keys
        for name in storage.written_under_another(keys):
            device = self.fleet.get(name)
            stored_key = storage.profile_written(name)
            problem = _first_problem(device, storage.rows(name))
            if problem is None:
                storage.record_profile(name, keys[name])
                continue
            was = stored_key.split(":")[0] if stored_key else "an earlier version"
            storage.set_aside(name, problem)
            self.notices.append(
                f"device {name}: its stored configuration (written under {was}) is not valid "
                f"for profile {device.profile.name!r}: {problem}; it starts from its fixture, "
                f"and the old rows are kept in table set_aside of "
                f"{self.options.data_dir / FILE_NAME}")

    async def stop(self) -> None:
        """Stop listening and end every session cleanly."""
        self.runs.stop_all()
        if self._server is not None:
            self._server.stop()
        if self.ssh is not None:
            self.ssh.stop_listening()
        connections = self.runtime.connections
        for connection in list(connections):
            connection.end(Reason.OTHER, "server shutting down", Cause.SHUTDOWN)
        # Give clients a moment to answer our close frames, then hang up.
        deadline = time.monotonic() + self.options.shutdown_grace
        while connections and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for connection in list(connections):
            connection.abort()
        if self._server is not None:
            # (a connection stuck mid-way, say in a TLS handshake, must not hold
            # the stop for ever: after the grace it is left to the process's end)
            try:
                await asyncio.wait_for(self._server.close_all_connections(),
                                       self.options.shutdown_grace)
            except asyncio.TimeoutError:
                log.warning("some HTTP connections did not close within %g s",
                            self.options.shutdown_grace)
            self._server = None
        if self.ssh is not None:
            self.ssh.close()
            self.ssh = None
        if self._flusher is not None:
            self._flusher.stop()
            self._flusher = None
        self.fleet.unload()
        if self.runtime.storage is not None:
            self.runtime.storage.close()
            self.runtime.storage = None
        self._data_dir.release()


def _log_request(handler: tornado.web.RequestHandler) -> None:
    """Tornado logs a client's 4xx as a warning; it is the client's mistake, and
    each one was answered with its reason: info, as any request is."""
    status = handler.get_status()
    # (a SOAP Fault goes back as 500 even when it is the client's mistake)
    level = logging.ERROR if status >= 500 and not getattr(handler, "client_fault", False) \
        else logging.INFO
    request = handler.request
    logging.getLogger("tornado.access").log(
        level, "%d %s %s (%s) %.2fms", status, request.method, request.uri, request.remote_ip,
        1000.0 * request.request_time())


def _first_problem(device: Device, rows: dict[str, str]) -> str | None:
    """The first reason the device's profile refuses its stored rows, or None."""
    for name in ("running", "startup", "rollback"):
        text = rows.get(name)
        if text is None:
            continue
        try:
            tree = etree.fromstring(text.encode())
        except etree.XMLSyntaxError as exc:
            return f"{name} is not XML: {exc}"
        errors = validate(device.profile.schema, tree)
        if errors:
            return f"{name}: {errors[0].path}: {errors[0].message}"
    return None
