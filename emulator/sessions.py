"""What every transport shares: one :class:`Connection` per NETCONF session.

A transport (WebSocket today; SSH and SOAP next) only turns bytes into whole
messages and back. It asks :func:`admission` whether a device takes a new
connection, makes a :class:`Connection` with a :class:`Wire` of its own, and
then hands over whole messages (``receive``), an oversized one
(``too_big``) and the connection's loss (``lost``). Everything else is here:

- the hello timeout, on the fleet's clock;
- the bound on notifications written but not yet read by the client;
- the request pipeline, in this order: the journal records what arrived;
  the device's lifecycle decides whether it is answered at all; the rpc
  faults in force may drop the session or delay the rpc (on the fleet's
  clock, replies staying in order); the session core counts it, answers it
  from the memo or parses and dispatches it (where an injected error meets
  it: see emulator.faults);
- what each way of ending means for the wire: a closing handshake with a
  reason, or (a device that vanished) hanging up without one;
- the registry of open connections (the runtime's), for shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Protocol

from emulator.device import Device
from emulator.errors import RpcError
from emulator.lifecycle import Admit
from emulator.netconf.session import Close, Defer, Notify, Output, Send, State
from emulator.netconf.termination import Cause, Reason, Termination
from emulator.runtime import Runtime

log = logging.getLogger(__name__)


class Wire(Protocol):
    """What a transport gives its connection."""

    def write(self, text: str) -> Any:
        """Send one whole message; return None once it is flushed, or a future
        that resolves when it is (the queue bound counts those not yet done)."""
        ...

    def close(self, termination: Termination) -> None:
        """End the connection with a closing handshake that says why."""
        ...

    def abort(self) -> None:
        """Hang up at once."""
        ...


# Where operations do their heavy work (Offload): one thread, so that two big
# edits never compete with each other and the event loop for the interpreter.
_WORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="netconf-work")


def _outcome(work: Callable[[], Any]) -> Any:
    """What ``work()`` returns, or what it raises (given to the operation's finish)."""
    try:
        return work()
    except Exception as exc:
        return exc


def _outcome_of(work: list[Callable[[], Any]]) -> Any:
    """_outcome(work[0]), or None when the work was called off (emptied) meanwhile."""
    return _outcome(work[0]) if work else None


def admission(device: Device) -> Admit:
    """What a new connection to ``device`` gets now (see emulator.lifecycle)."""
    return device.behaviour.new_connections


# Replies written but not yet taken by a client, in bytes, past which the
# transport stops reading that client's requests until it catches up (one
# reply may be larger: it is written whole, and then reading waits).
REPLY_BACKLOG = 4 * 1024 * 1024
# How long (real seconds) a client may leave that backlog unread before its
# session is ended: its memory is bounded meanwhile, this frees the session.
REPLY_STALL_SECONDS = 60.0

# Characters of notifications a session may leave unread (besides their number,
# --notification-queue) before it is let go.
NOTIFICATION_BACKLOG = 16 * 1024 * 1024
# What a hung device keeps of what its clients send (as a real one's socket
# buffers would), to handle once it is up again; more is read and dropped.
HUNG_BACKLOG = 64
HUNG_BACKLOG_BYTES = 4 * 1024 * 1024
# What a session may have waiting behind an injected latency before its
# transport stops reading it (as a slow device's socket buffers would fill).
DELAYED_BACKLOG = HUNG_BACKLOG
DELAYED_BACKLOG_BYTES = HUNG_BACKLOG_BYTES

# An rpc's operation, told from its text without parsing it (for the faults
# that strike one operation; the dispatch sees the parsed one).
_OPERATION = re.compile(r"<(?:[\w.-]+:)?rpc\b[^>]*>(?:\s|<!--.*?-->)*<(?:[\w.-]+:)?([\w.-]+)",
                        re.S)


def operation_of(data: str | bytes) -> str | None:
    """The local name of the operation an rpc carries, or None."""
    head = data[:4096]
    if isinstance(head, bytes):
        head = head.decode("utf-8", "replace")
    match = _OPERATION.search(head)
    return match.group(1) if match else None


class Connection:
    """One transport connection carrying one NETCONF session."""

    def __init__(self, runtime: Runtime, device: Device, wire: Wire, *, username: str,
                 source_host: str | None, transport: tuple[str, str]):
        self.runtime = runtime
        self.device = device
        self.wire = wire
        self.unread = 0          # notifications written but not yet flushed to the client
        self.unread_chars = 0    # and their characters
        self.unflushed = 0       # bytes of replies written but not yet flushed
        self._caught_up: asyncio.Future | None = None
        self._hello_timer: Any = None
        self._gone = False       # the transport is closed: nothing more to write
        self._overflowing = False
        self._backlog: list[str | bytes] = []    # received while the device was hung
        self._delayed: deque[tuple[float, str | bytes]] = deque()   # (due, rpc): latency
        self._delayed_bytes = 0
        self._delay_timer: Any = None
        self._drained: asyncio.Future | None = None
        self._busy: asyncio.Future | None = None    # an operation's work off the loop
        self._work: list[Callable[[], Any]] = []       # (what it runs, until called off)
        self._waiting: deque[str | bytes] = deque()  # received meanwhile (see _defer)
        self._parked: list[Callable[[], None]] = []   # answers made while the device hung
        self.session = device.open_session(username, source_host, transport)
        self.session.on_output = self._collect
        runtime.connections.add(self)

    # -- what the transport calls ------------------------------------------------

    def open(self) -> None:
        """The connection is up: the server's hello (unless the device says
        nothing now) and the hello timeout."""
        self._touch()
        session = self.session
        log.info("%s: session %d opened by %s from %s", self.device.name, session.id,
                 session.username, session.source_host)
        if self.device.behaviour.speaks:
            self._act(session.start())
            self._await_hello()

    def receive(self, data: str | bytes) -> None:
        """One whole message from the client, through the pipeline."""
        session = self.session
        if session.closed:
            return
        self._touch()
        self.device.record("in", session.id, data)
        if not self.device.behaviour.answers:
            return self._keep_for_later(data)
        if self.device.rpc_faults and session.state is State.OPEN:
            verdict = self.device.faults.on_message(session.id, operation_of(data))
            if verdict.drop:
                log.info("%s: session %d dropped by an injected fault", self.device.name,
                         session.id)
                self._act(session.terminate(Reason.DROPPED, "dropped by an injected fault",
                                            cause=Cause.UNREACHABLE))
                return
            if verdict.delay:
                return self._delay(data, verdict.delay)
        if self._delayed:
            return self._delay(data, 0.0)   # behind what waits: replies stay in order
        self._handle(data)

    def _keep_for_later(self, data: str | bytes) -> None:
        if len(self._backlog) < HUNG_BACKLOG and \
                sum(map(len, self._backlog)) + len(data) <= HUNG_BACKLOG_BYTES:
            self._backlog.append(data)   # handled when the device is up again

    # -- injected latency: rpcs wait on the fleet's clock, in order ------------------

    def _delay(self, data: str | bytes, delay: float) -> None:
        clock = self.runtime.clock
        due = clock.now() + delay
        if self._delayed:
            due = max(due, self._delayed[-1][0])
        self._delayed.append((due, data))
        self._delayed_bytes += len(data)
        if self._delay_timer is None:
            self._delay_timer = clock.call_at(self._delayed[0][0], self._release)

    def _release(self) -> None:
        self._delay_timer = None
        now = self.runtime.clock.now()
        while self._delayed and self._delayed[0][0] <= now and not self.session.closed:
            _, data = self._delayed.popleft()
            self._delayed_bytes -= len(data)
            if self.device.behaviour.answers:
                self._handle(data)
            else:
                self._keep_for_later(data)
        if self._delayed and not self.session.closed:
            self._delay_timer = self.runtime.clock.call_at(self._delayed[0][0], self._release)
        self._wake_reader()

    def _stop_delays(self) -> None:
        if self._delay_timer is not None:
            self._delay_timer.cancel()
            self._delay_timer = None
        self._delayed.clear()
        self._delayed_bytes = 0
        self._wake_reader()

    def _wake_reader(self) -> None:
        if self._drained is not None and not self._drained.done() and \
                len(self._delayed) < DELAYED_BACKLOG and \
                self._delayed_bytes <= DELAYED_BACKLOG_BYTES:
            self._drained.set_result(None)
            self._drained = None

    def _handle(self, data: str | bytes) -> None:
        if self._busy is not None:
            self._waiting.append(data)   # (a backlog let go at once; the transports wait)
            return
        session = self.session
        self._act(session.receive(data))
        if session.state is not State.AWAIT_HELLO:
            self._stop_timer()

    def too_big(self, limit: int) -> None:
        """A message over the size limit arrived: say so, and end the session."""
        session = self.session
        if session.closed:
            return
        self._act(session.send_error_without_rpc(RpcError(
            "too-big", "transport",
            f"a message may hold at most {limit} bytes (--max-message-size)")))
        self._act(session.terminate(Reason.OTHER, "message too big", cause=Cause.TOO_BIG))

    def lost(self) -> None:
        """The transport went away (the client closed, or the network did)."""
        self._gone = True
        self._stop_timer()
        self._stop_delays()
        self._cancel_work()
        self.runtime.connections.discard(self)
        self._act(self.session.terminate(Reason.DROPPED, "connection closed"))

    def end(self, reason: Reason, detail: str, cause: Cause = Cause.NONE) -> None:
        """The server ends the session (for example, as it shuts down)."""
        self._act(self.session.terminate(reason, detail, cause=cause))

    def abort(self) -> None:
        self._gone = True
        self._stop_timer()
        self._stop_delays()
        self.runtime.connections.discard(self)
        self.wire.abort()

    # -- what the session asked for -----------------------------------------------

    def _collect(self) -> None:
        """Output that arose between calls (a notification, a kill-session, the
        hello of a device that was hung), and what waited while it was hung."""
        self._act(self.session.take_output())
        self._await_hello()
        if self._parked and self.device.behaviour.answers:
            parked, self._parked = self._parked, []
            for answer in parked:
                answer()
        if self._backlog and self.device.behaviour.answers:
            backlog, self._backlog = self._backlog, []
            for data in backlog:
                if not self.session.closed:
                    self._handle(data)

    def _act(self, outputs: list[Output]) -> None:
        for output in outputs:
            if isinstance(output, Send):
                self._write(output.text)
            elif isinstance(output, Notify):
                self._notify(output.text)
            elif isinstance(output, Close):
                self._close(output.termination)
            elif isinstance(output, Defer):
                self._defer(output)

    def _defer(self, job: Defer) -> None:
        """An operation's heavy work, on the worker thread (one for the whole
        process: other devices' sessions go on meanwhile; this one waits)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:          # (no loop: in-process, sans-IO use)
            return self._act(job.resume(_outcome(job.work)))
        work = self._work = [job.work]
        busy = self._busy = loop.run_in_executor(_WORKER, _outcome_of, work)
        busy.add_done_callback(
            lambda done: None if done.cancelled() else self._resume(job, done.result()))

    def _cancel_work(self) -> None:
        """The session is over: work not begun is not done, and what it held (the
        message, a datastore's text) is let go at once, though its turn on the
        worker stays queued (a client that sends big messages and hangs up must
        not hold the server's memory, nor the worker's time)."""
        busy, self._busy = self._busy, None
        if busy is not None:
            busy.cancel()
            self._work.clear()
        self._waiting.clear()

    def _resume(self, job: Defer, value: Any) -> None:
        self._busy = None
        if self.session.closed:
            self._waiting.clear()
            return
        if not self.device.behaviour.answers:
            # (hung meanwhile: the answer, and what came after, wait for it to be up)
            self._parked.append(lambda: self._act(job.resume(value)))
            # (what came meanwhile goes before what came while it hung: in order)
            self._backlog[:0] = self._waiting
            self._waiting.clear()
            return
        self._act(job.resume(value))
        while self._waiting and self._busy is None and not self.session.closed:
            self._handle(self._waiting.popleft())

    def _write(self, text: str) -> None:
        if self._gone or not self.device.behaviour.speaks:
            return
        self.device.record("out", self.session.id, text)
        future = self.wire.write(text)
        if future is not None and not future.done():
            size = len(text)
            self.unflushed += size
            future.add_done_callback(lambda _: self._reply_flushed(size))

    def _reply_flushed(self, size: int) -> None:
        self.unflushed -= size
        if self.unflushed <= REPLY_BACKLOG and self._caught_up is not None:
            if not self._caught_up.done():
                self._caught_up.set_result(None)
            self._caught_up = None

    async def ready_for_more(self) -> None:
        """What a transport awaits, in a task of its own, before it reads the
        client's next message: so sessions take turns on the event loop, one
        message each, and a client that does not read its replies is not read
        either (then ended, if it stays so); nor is one whose rpcs wait
        behind an injected latency, past DELAYED_BACKLOG of them."""
        while self._busy is not None and not self._gone:
            await asyncio.wait((self._busy,))
        while not self._gone and (len(self._delayed) >= DELAYED_BACKLOG or
                                  self._delayed_bytes > DELAYED_BACKLOG_BYTES):
            if self._drained is None:
                self._drained = asyncio.get_running_loop().create_future()
            await self._drained
        if self.unflushed <= REPLY_BACKLOG or self._gone:
            return
        self._caught_up = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(asyncio.shield(self._caught_up), REPLY_STALL_SECONDS)
        except asyncio.TimeoutError:
            self.end(Reason.OTHER, "the client did not read its replies", Cause.OVERFLOW)

    def _notify(self, text: str) -> None:
        if self._gone or self._overflowing or not self.device.behaviour.speaks:
            return
        if self.unread >= self.runtime.limits.notification_queue or \
                self.unread_chars > NOTIFICATION_BACKLOG:
            return self._overflow()
        session = self.session
        session.out_notifications += 1
        self.device.stats["out-notifications"] += 1
        self.device.record("out", session.id, text)
        future = self.wire.write(text)
        if future is not None and not future.done():
            self.unread += 1
            size = len(text)
            self.unread_chars += size
            session.queued_notifications = self.unread
            future.add_done_callback(lambda _: self._flushed(size))

    def _flushed(self, size: int) -> None:
        self.unread -= 1
        self.unread_chars -= size
        self.session.queued_notifications = self.unread

    def _overflow(self) -> None:
        # A subscriber that does not read must not hold the server's memory: it
        # is let go at once, and may come back with a replay (startTime). (Its
        # session-end waits in the event log's queue until the event being
        # delivered has reached every other subscriber: their order holds.)
        self._overflowing = True
        self.device.stats["notification-overflows"] += 1
        self.end(Reason.OTHER, "notification queue overflow: the client did not read its "
                               "notifications", Cause.OVERFLOW)

    def _close(self, termination: Termination) -> None:
        log.info("%s: session %d ended (%s%s)", self.device.name, self.session.id,
                 termination.reason.value, f": {termination.detail}" if termination.detail else "")
        self._stop_timer()
        self._stop_delays()
        self._cancel_work()
        if self._gone:
            return
        if termination.abrupt:
            self.abort()
        else:
            self.wire.close(termination)

    # -- time ---------------------------------------------------------------------

    def _await_hello(self) -> None:
        """Once the server's hello is out, the client has hello_timeout to answer
        (and an autojumping clock waits for it, a little)."""
        timeout = self.runtime.limits.hello_timeout
        if self.session.started and self.session.state is State.AWAIT_HELLO \
                and self._hello_timer is None and not self._gone:
            self.runtime.clock.hold(self)
            if timeout:
                self._hello_timer = self.runtime.clock.call_later(timeout,
                                                                  self._hello_timed_out)

    def _hello_timed_out(self) -> None:
        self._hello_timer = None
        if self.session.state is not State.AWAIT_HELLO:
            return
        if not self.device.behaviour.answers:
            # the device is hung: the client's hello may be waiting in the backlog
            self._hello_timer = self.runtime.clock.call_later(
                self.runtime.limits.hello_timeout, self._hello_timed_out)
            return
        timeout = self.runtime.limits.hello_timeout
        self._act(self.session.terminate(Reason.TIMEOUT, f"no <hello> within {timeout:g} s"))

    def _stop_timer(self) -> None:
        self.runtime.clock.release(self)
        if self._hello_timer is not None:
            self._hello_timer.cancel()
            self._hello_timer = None

    def _touch(self) -> None:
        self.runtime.clock.touch()   # a virtual clock that autojumps waits while clients talk
