"""NETCONF over SSH (RFC 6242) on asyncssh, in the server's own event loop.

Each device listens on a port of its own (``--ssh-port BASE``: device i on
BASE+i), as netsim and OpenDaylight's testtool do, so NMS software points at
``ssh://HOST:PORT`` unchanged. The ``netconf`` subsystem is the only thing
served: a shell, exec, another subsystem, port forwarding, agents and X11
are refused. The SSH user is the NETCONF username. Framing is
emulator.transports.framing's; everything NETCONF is the sessions layer's.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import resource
import socket
from pathlib import Path
from typing import Any, Iterable

import asyncssh

from emulator.datadir import HOST_KEY
from emulator.device import Device
from emulator.lifecycle import Admit
from emulator.namespaces import BASE_1_1, NCM_NS
from emulator.netconf.session import State
from emulator.netconf.termination import Reason, Termination
from emulator.sessions import Connection, admission
from emulator.transports.framing import Framer, Framing, FramingError, MessageTooBig, frame

log = logging.getLogger(__name__)

SUBSYSTEM = "netconf"             # RFC 6242 section 3
# ietf-netconf-monitoring's own identity for this transport (RFC 6022).
TRANSPORT = (NCM_NS, "netconf-ssh")
# Listening sockets wait in the kernel's queue; a fleet of thousands is
# usually connected to a few devices at a time, so a short backlog is enough.
BACKLOG = 64
# Open files the process wants besides one listening socket per device: the
# HTTP port, SQLite, clients' connections; and the fewest it can start with.
SPARE_FILES = 1024
MIN_SPARE_FILES = 64
# The SSH window: large enough that a 1 MiB <get> reply is not held up by
# window adjustments (asyncssh's default is 2 MiB too).
WINDOW = 2 * 1024 * 1024
SERVER_VERSION = "netconf-emulator"


class SshError(Exception):
    """SSH cannot be served; the message says why in one line."""


def load_host_key(data: bytes) -> asyncssh.SSHKey:
    try:
        return asyncssh.import_private_key(data)
    except (ValueError, asyncssh.KeyImportError) as exc:
        raise SshError(f"the SSH host key in the data dir is not one ({exc}); delete "
                       f"{HOST_KEY} to make a new one, or start with --fresh") from None


def new_host_key() -> bytes:
    """A fresh ed25519 host key, in OpenSSH's format."""
    return asyncssh.generate_private_key("ssh-ed25519").export_private_key()


def raise_open_files_limit(devices: int) -> None:
    """Make room for one listening socket per device and spare files, or say
    in one line what to do."""
    wanted, needed = devices + SPARE_FILES, devices + MIN_SPARE_FILES
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target < needed:
        raise SshError(f"serving SSH needs {wanted} open files (one listening socket per "
                       f"device), and this process may open at most {hard}: raise the limit "
                       f"(`ulimit -n {wanted}` as root, or nofile in "
                       f"/etc/security/limits.conf) or serve fewer devices over SSH")
    if target <= soft:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError) as exc:
        if soft < needed:
            raise SshError(f"serving SSH needs {wanted} open files and the limit is {soft}; "
                           f"raising it failed ({exc}): run `ulimit -n {wanted}` first") from None


class SshServer:
    """Every device's SSH listener, sharing one set of asyncssh options."""

    def __init__(self, devices: Iterable[Device], runtime: Any, *, host: str,
                 ports: dict[str, int], host_key: bytes, username: str, password: str,
                 authorized_keys: Path | None = None):
        self.devices = list(devices)
        self.runtime = runtime
        self.host = host
        self.wanted_ports = ports             # device name -> port (0: any free one)
        self.ports: dict[str, int] = {}       # device name -> the port it listens on
        self.by_port: dict[int, Device] = {}
        self.username = username
        self.password = password
        self._host_key = load_host_key(host_key)
        self._authorized_keys = authorized_keys
        self._servers: list[asyncio.AbstractServer] = []
        self.connections: set[asyncssh.SSHServerConnection] = set()

    async def start(self) -> None:
        raise_open_files_limit(len(self.devices))
        try:
            keys = (asyncssh.read_authorized_keys(str(self._authorized_keys))
                    if self._authorized_keys else None)
        except (OSError, ValueError, asyncssh.KeyImportError) as exc:
            raise SshError(f"cannot read --authorized-keys {self._authorized_keys}: {exc}") \
                from None
        options = await asyncssh.SSHServerConnectionOptions.construct(
            server_factory=lambda: _DeviceServer(self),
            server_host_keys=[self._host_key],
            authorized_client_keys=keys,
            server_version=SERVER_VERSION,
            allow_scp=False, agent_forwarding=False, x11_forwarding=False,
            encoding=None, window=WINDOW,
            # The fleet's own hello timeout is the session's; this bounds the
            # SSH handshake and login (real time: it protects the socket).
            login_timeout=60)
        loop = asyncio.get_running_loop()
        family, address = self._address()
        sockets: list[socket.socket] = []
        try:
            for device in self.devices:
                port = self.wanted_ports[device.name]
                sock = socket.socket(family, socket.SOCK_STREAM)
                sockets.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind((address, port))
                except OSError as exc:
                    raise SshError(f"cannot listen for SSH on {self.host}:{port} (device "
                                   f"{device.name}): {exc.strerror}") from None
                sock.listen(BACKLOG)
                sock.setblocking(False)
                port = sock.getsockname()[1]
                self.ports[device.name] = port
                self.by_port[port] = device
        except BaseException:
            for sock in sockets:
                sock.close()
            raise
        for sock in sockets:
            self._servers.append(await loop.create_server(
                lambda: asyncssh.SSHServerConnection(loop, options), sock=sock))

    def _address(self) -> tuple[int, str]:
        try:
            info = socket.getaddrinfo(self.host, None, socket.AF_UNSPEC, socket.SOCK_STREAM, 0,
                                      socket.AI_PASSIVE)
        except socket.gaierror as exc:
            raise SshError(f"cannot listen for SSH on {self.host}: {exc}") from None
        family, _, _, _, sockaddr = info[0]
        return family, sockaddr[0]

    def url(self, device: Device, host: str | None = None) -> str | None:
        port = self.ports.get(device.name)
        if port is None:
            return None
        host = host or self.host
        if ":" in host:
            host = f"[{host}]"
        return f"ssh://{host}:{port}"

    def stop_listening(self) -> None:
        for server in self._servers:
            server.close()
        self._servers.clear()

    def close(self) -> None:
        """Stop listening and drop every SSH connection still open."""
        self.stop_listening()
        for conn in list(self.connections):
            conn.abort()
        self.connections.clear()


class _DeviceServer(asyncssh.SSHServer):
    """One SSH connection to one device (known by the port it came in on)."""

    def __init__(self, ssh: SshServer):
        self.ssh = ssh
        self.conn: asyncssh.SSHServerConnection | None = None
        self.device: Device | None = None
        self.channels: set[_NetconfChannel] = set()

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.conn = conn
        self.device = self.ssh.by_port.get(conn.get_extra_info("sockname")[1])
        if self.device is None or admission(self.device) is Admit.IGNORE:
            conn.abort()         # a device gone from the network answers nothing
            return
        self.ssh.connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.conn is not None:
            self.ssh.connections.discard(self.conn)
        for channel in list(self.channels):
            channel.lost()

    # -- who may log in ---------------------------------------------------------

    def begin_auth(self, username: str) -> bool:
        return True              # every login is authenticated

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        ok_user = hmac.compare_digest(username.encode(), self.ssh.username.encode())
        ok_password = hmac.compare_digest(password.encode(), self.ssh.password.encode())
        return ok_user and ok_password

    def kbdint_auth_supported(self) -> bool:
        return False

    # -- what it may open -----------------------------------------------------

    def session_requested(self) -> Any:
        device = self.device
        assert device is not None and self.conn is not None
        admit = admission(device)
        if admit is Admit.IGNORE:
            self.conn.abort()
            return False
        if admit is Admit.REFUSE:
            raise asyncssh.ChannelOpenError(asyncssh.OPEN_CONNECT_FAILED, device.refusal())
        chan = self.conn.create_server_channel(encoding=None, window=WINDOW)
        return chan, _NetconfChannel(self, device)

    def connection_requested(self, *args: Any) -> bool:
        return False             # no port forwarding

    def server_requested(self, *args: Any) -> bool:
        return False

    def unix_connection_requested(self, *args: Any) -> bool:
        return False

    def unix_server_requested(self, *args: Any) -> bool:
        return False


# Real-time limits (wire housekeeping, as asyncssh's login timeout is): how long
# a channel may stay without asking for the netconf subsystem, how many channels
# one SSH connection may open, and how long an ended session's channel may wait
# for a client that does not read before it is dropped.
SUBSYSTEM_SECONDS = 60.0
MAX_CHANNELS = 64
CLOSE_GRACE_SECONDS = 5.0

# (keeps the tasks that go on with a channel's next message alive until they run)
_TURNS: set[asyncio.Task] = set()


class _NetconfChannel(asyncssh.SSHServerSession):
    """One SSH channel running the netconf subsystem: one NETCONF session."""

    def __init__(self, server: _DeviceServer, device: Device):
        self.server = server
        self.device = device
        self.chan: Any = None
        self.connection: Connection | None = None
        self.framer = Framer(server.ssh.runtime.limits.max_message_size)
        self.chunked_out = False
        self.paused = False
        self.waiting: list[asyncio.Future] = []
        self._done = False
        self._turn_pending = False      # a message was handled; the next waits its turn
        self._eof = False

    def connection_made(self, chan: Any) -> None:
        self.chan = chan
        self.server.channels.add(self)
        if len(self.server.channels) > MAX_CHANNELS:
            chan.write_stderr(f"at most {MAX_CHANNELS} channels a connection\n".encode())
            asyncio.get_running_loop().call_soon(chan.close)
            return
        # a channel that never asks for the netconf subsystem holds nothing for long
        asyncio.get_running_loop().call_later(SUBSYSTEM_SECONDS, self._no_subsystem)

    def _no_subsystem(self) -> None:
        if self.connection is None and not self._done and not self.chan.is_closing():
            self.chan.write_stderr(f"no subsystem requested within {SUBSYSTEM_SECONDS:g} s\n"
                                   .encode())
            self.chan.close()

    # -- what the client asks for -------------------------------------------

    def subsystem_requested(self, subsystem: str) -> bool:
        if subsystem != SUBSYSTEM:
            return self._refuse(f"subsystem {subsystem!r}")
        return True

    def shell_requested(self) -> bool:
        return self._refuse("a shell")

    def exec_requested(self, command: str) -> bool:
        return self._refuse("exec")

    def pty_requested(self, *args: Any) -> bool:
        return False

    def _refuse(self, what: str) -> bool:
        chan = self.chan
        chan.write_stderr(f"{what} is not served here: request subsystem "
                          f"'{SUBSYSTEM}' (RFC 6242)\n".encode())
        asyncio.get_running_loop().call_soon(chan.close)
        return False

    def session_started(self) -> None:
        ssh = self.server.ssh
        conn = self.server.conn
        peer = conn.get_extra_info("peername") if conn is not None else None
        username = conn.get_extra_info("username") if conn is not None else ssh.username
        self.connection = Connection(ssh.runtime, self.device, _Wire(self),
                                     username=username or ssh.username,
                                     source_host=peer[0] if peer else None, transport=TRANSPORT)
        self.connection.open()

    # -- bytes in ------------------------------------------------------------

    def data_received(self, data: bytes, datatype: Any) -> None:
        connection = self.connection
        if connection is None or datatype is not None or connection.session.closed:
            return               # (what comes after the end is not kept)
        self.framer.feed(data)
        if not self._turn_pending:
            self._pump()

    def _pump(self) -> None:
        """Handle one whole message, if one is in; then, if it was one, take turns:
        stop reading, and go on once the loop has gone round (and the client has
        read enough of its replies: Connection.ready_for_more)."""
        connection = self.connection
        session = connection.session
        if session.closed:
            return
        framer = self.framer
        try:
            message = framer.next_message()
        except MessageTooBig as exc:
            connection.too_big(exc.limit)
            return
        except FramingError as exc:
            # a client's bug, which its author wants to see at the default level
            log.warning("device %s, session %s: framing error: %s", self.device.name,
                        session.id, exc)
            connection.end(Reason.OTHER, f"framing error: {exc}")
            return
        if message is None:
            return
        try:
            text: str | bytes = message.decode("utf-8")
        except UnicodeDecodeError:
            text = message               # the parser says what is wrong with it
        connection.receive(text)
        if framer.framing is Framing.END_OF_MESSAGE and session.state is State.OPEN \
                and session.base_version == BASE_1_1:
            framer.use_chunks()          # RFC 6242 section 4.1
        self._turn_pending = True
        self.chan.pause_reading()
        task = asyncio.ensure_future(self._next_turn())
        _TURNS.add(task)
        task.add_done_callback(_TURNS.discard)

    async def _next_turn(self) -> None:
        try:
            await self.connection.ready_for_more()
        finally:
            self._turn_pending = False
        if self._done or self.connection.session.closed:
            return
        self._pump()                     # what is already in, before reading more
        if self._turn_pending or self._done:
            return
        if self._eof:
            self.chan.close()
        else:
            self.chan.resume_reading()

    def eof_received(self) -> bool:
        # the client is done: close the channel, once what it sent is handled
        self._eof = True
        return self._turn_pending

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost()
        conn = self.server.conn
        self.server.channels.discard(self)
        # the last NETCONF session of this SSH connection: hang up
        if conn is not None and not self.server.channels:
            conn.close()

    def lost(self) -> None:
        if not self._done:
            self._done = True
            self._wake()
            if self.connection is not None:
                self.connection.lost()

    # -- flow control ------------------------------------------------------------

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self._wake()

    def _wake(self) -> None:
        waiting, self.waiting = self.waiting, []
        for future in waiting:
            if not future.done():
                future.set_result(None)


class _Wire:
    """Messages out, framed: end-of-message until both hellos said base:1.1."""

    __slots__ = ("channel",)

    def __init__(self, channel: _NetconfChannel):
        self.channel = channel

    def write(self, text: str) -> Any:
        channel = self.channel
        chan = channel.chan
        if channel._done or chan.is_closing():
            return None
        session = channel.connection.session if channel.connection is not None else None
        chunked = session is not None and session.base_version == BASE_1_1
        chan.write(frame(text.encode("utf-8"),
                         Framing.CHUNKED if chunked else Framing.END_OF_MESSAGE))
        if channel.paused:
            future = asyncio.get_running_loop().create_future()
            channel.waiting.append(future)
            return future
        return None

    def close(self, termination: Termination) -> None:
        chan = self.channel.chan
        if chan.is_closing():
            return
        if termination.reason is not Reason.CLOSED:
            # why, for a person reading the client's log (NETCONF has no place for it)
            chan.write_stderr(f"netconf-emulator: "
                              f"{termination.detail or termination.reason.value}\n".encode())
        chan.write_eof()
        # an exit status, as a subsystem process would leave (OpenSSH's client
        # exits 255 without one): 0 after <close-session>, 1 otherwise
        chan.exit(0 if termination.reason is Reason.CLOSED else 1)
        # a client that does not read would keep these behind its unread replies,
        # and the channel with them: after a grace, it is let go regardless
        asyncio.get_running_loop().call_later(CLOSE_GRACE_SECONDS, self._let_go)

    def _let_go(self) -> None:
        if not self.channel._done:
            self.channel.chan.abort()

    def abort(self) -> None:
        conn = self.channel.server.conn
        if conn is not None:
            conn.abort()
