"""Event notifications (RFC 5277): the replay log, subscriptions, delivery.

A device publishes an event (an element such as RFC 6470's
``<netconf-session-start>`` or our ``<link-down>``); the device's
:class:`EventLog` stamps it with an eventTime that never goes backwards,
keeps it for replay (bounded by count and age, in SQLite when the server
has a data dir) and hands it to every subscribed session of the device.
A :class:`Subscription` filters, replays, and ends at its stopTime.
Everything here is sans-IO: times come from the device's clock.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from lxml import etree

from emulator.clock import parse_rfc3339, rfc3339
from emulator.datastore.storage import Storage
from emulator.errors import RpcError
from emulator.namespaces import NC_NS, NETMOD_NOTIFICATION_NS, NOTIFICATION_NS
from emulator.netconf import filters
from emulator.netconf.operations import BASE_OPERATIONS, Rpc

log = logging.getLogger(__name__)

STREAM = "NETCONF"


@dataclass
class Event:
    seq: int
    time: float
    xml: str      # the event element itself (without the <notification> envelope)

    def envelope(self) -> str:
        return (f'<notification xmlns="{NOTIFICATION_NS}"><eventTime>{rfc3339(self.time)}'
                f"</eventTime>{self.xml}</notification>")


# The replay log keeps at most this many characters of events a device (besides
# --replay-size and --replay-age): the oldest go first.
REPLAY_CHARS = 16 * 1024 * 1024


class EventLog:
    """One device's events: the replay log and the fan-out to subscribers."""

    def __init__(self, device_name: str, storage: Storage | None, clock: Callable[[], float],
                 size: int, age: float):
        self.device_name = device_name
        self.storage = storage
        self.clock = clock
        self.size = size
        self.age = age
        self.events: deque[Event] = deque()
        self.chars = 0            # of the events' text in the log
        self.subscribers: list[Subscription] = []
        self.created = clock()
        self._last_time = 0.0
        self._seq = 0
        self._queue: deque[Event] = deque()
        self._delivering = False
        if storage is not None:
            self.created = storage.log_created(device_name, self.created)
            for seq, moment, xml in storage.load_events(device_name):
                self.events.append(Event(seq, moment, xml))
                self.chars += len(xml)
            if self.events:
                self._seq = self.events[-1].seq
                self._last_time = self.events[-1].time
            self._trim()

    def now(self) -> float:
        """The time of the next event: whole microseconds (as eventTime shows them),
        never earlier than the last one."""
        moment = max(round(self.clock(), 6), round(self._last_time + 1e-6, 6))
        self._last_time = moment
        return moment

    def publish(self, element: etree._Element) -> Event:
        now = self.now()
        self._seq += 1
        event = Event(self._seq, now, etree.tostring(element, encoding="unicode"))
        self.events.append(event)
        self.chars += len(event.xml)
        self._trim()
        if self.storage is not None:
            self.storage.add_event(self.device_name, event.seq, event.time, event.xml,
                                   keep=self.size, since=now - self.age)
        # An event published while another is being delivered (a session that
        # ends during a delivery announces it) waits for its turn: order holds.
        self._queue.append(event)
        if not self._delivering:
            self._delivering = True
            try:
                while self._queue:
                    queued = self._queue.popleft()
                    for subscription in list(self.subscribers):
                        subscription.offer(queued)
            finally:
                self._delivering = False
        return event

    def _trim(self) -> None:
        horizon = self.clock() - self.age
        while self.events and (len(self.events) > self.size or self.events[0].time < horizon
                               or self.chars > REPLAY_CHARS):
            self.chars -= len(self.events.popleft().xml)

    def since(self, start: float, stop: float | None) -> list[Event]:
        self._trim()
        return [e for e in self.events if e.time >= start and (stop is None or e.time <= stop)]


@dataclass
class Subscription:
    """One session's subscription to the NETCONF stream."""

    session: Any                  # the subscribed netconf.session.Session
    log: EventLog
    filter_element: etree._Element | None
    start: float | None
    stop: float | None
    timer: Any = None
    ended: bool = False
    delivered: int = field(default=0)

    def begin(self, clock: Any) -> None:
        """After the <ok/>: replay, then live events until stopTime."""
        if self.start is not None:
            for event in self.log.since(self.start, self.stop):
                self.offer(event)
            self.session.send_notification(_complete("replayComplete", self.log.now()))
        now = self.log.clock()
        if self.stop is not None:
            if self.stop <= now:
                return self.finish()
            self.timer = clock.call_at(self.stop, self.finish)
        self.log.subscribers.append(self)

    def offer(self, event: Event) -> None:
        if self.ended or (self.stop is not None and event.time > self.stop):
            return
        try:
            wanted = self.wants(event)
        except Exception:   # a filter that cannot be evaluated ends its own subscription only
            log.warning("session %s: its notification filter failed; subscription ended",
                        self.session.id, exc_info=True)
            self.cancel()
            return
        if wanted:
            self.delivered += 1
            self.session.send_notification(event.envelope())

    def wants(self, event: Event) -> bool:
        """Does the filter select anything of the event? (Then the whole event goes:
        RFC 5277's filter chooses events; a part of one would not be valid.)"""
        if self.filter_element is None:
            return True
        wrapper = etree.fromstring(f'<data xmlns="{NC_NS}">{event.xml}</data>')
        return filters.selects(wrapper, self.filter_element, "/nc:rpc/create-subscription")

    def finish(self) -> None:
        """stopTime reached: <notificationComplete> and the end of the subscription."""
        if self.ended:
            return
        self.session.send_notification(_complete("notificationComplete", self.log.now()))
        self.cancel()

    def cancel(self) -> None:
        self.ended = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self in self.log.subscribers:
            self.log.subscribers.remove(self)
        if self.session.subscription is self:
            self.session.subscription = None


def _complete(name: str, moment: float) -> str:
    return (f'<notification xmlns="{NOTIFICATION_NS}"><eventTime>{rfc3339(moment)}</eventTime>'
            f'<{name} xmlns="{NETMOD_NOTIFICATION_NS}"/></notification>')


# -- <create-subscription> (RFC 5277 section 2.1.1) -----------------------------------------

def _time_param(rpc: Rpc, name: str) -> float | None:
    element = rpc.param(name, NOTIFICATION_NS)
    if element is None:
        return None
    moment = parse_rfc3339(element.text or "")
    if moment is None:
        raise RpcError("bad-element", "protocol",
                       f"<{name}> must be an RFC 3339 date and time with a time zone",
                       path=rpc.path(name), path_ns=rpc.path_ns, info=[("bad-element", name)])
    return moment


@BASE_OPERATIONS.operation("create-subscription", NOTIFICATION_NS)
def create_subscription(rpc: Rpc) -> None:
    session = rpc.session
    device = rpc.device
    if session.subscription is not None:
        raise RpcError("in-use", "protocol", "this session already has a subscription; a "
                       "session has at most one (RFC 5277 section 6)",
                       path=rpc.path(), path_ns=rpc.path_ns)
    stream_element = rpc.param("stream", NOTIFICATION_NS)
    stream = (stream_element.text or "").strip() if stream_element is not None else STREAM
    if stream != STREAM:
        raise RpcError("invalid-value", "protocol", f"no stream {stream!r} (streams: {STREAM})",
                       path=rpc.path("stream"), path_ns=rpc.path_ns,
                       info=[("bad-element", "stream")])
    start = _time_param(rpc, "startTime")
    stop = _time_param(rpc, "stopTime")
    now = device.clock.now()
    if stop is not None and start is None:
        raise RpcError("missing-element", "protocol", "<stopTime> needs a <startTime>",
                       path=rpc.path(), path_ns=rpc.path_ns, info=[("bad-element", "startTime")])
    if start is not None and start > now:
        raise RpcError("bad-element", "protocol", "<startTime> is in the future",
                       path=rpc.path("startTime"), path_ns=rpc.path_ns,
                       info=[("bad-element", "startTime")])
    if stop is not None and start is not None and stop < start:
        raise RpcError("bad-element", "protocol", "<stopTime> is earlier than <startTime>",
                       path=rpc.path("stopTime"), path_ns=rpc.path_ns,
                       info=[("bad-element", "stopTime")])
    filter_element = rpc.param("filter", NOTIFICATION_NS)
    if filter_element is None:
        filter_element = rpc.param("filter")   # (some clients put it in the base namespace)
    if filter_element is not None:
        # checked now, so that a bad filter is refused rather than silently matching nothing
        probe = etree.fromstring(f'<data xmlns="{NC_NS}"/>')
        filters.apply(probe, filter_element, rpc.path("filter"))
    subscription = Subscription(session, device.events, filter_element, start, stop)
    session.subscription = subscription
    rpc.after_reply.append(lambda: subscription.begin(device.clock))
