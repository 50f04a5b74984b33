"""A device's operational state: the ``config false`` data, alive.

Interfaces have an oper-status that events change, a last-change time,
counters that advance with time while the link is up, a MAC address and an
if-index; the hardware inventory lists a chassis, its power supplies, fans
and one port per Ethernet interface; the system reports its platform, boot
time and clock. The profile's ``state`` template seeds it (speeds, initial
oper-status, platform); the rest is derived from the device's configuration.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import ipaddress
from dataclasses import dataclass, field
from typing import Callable

from lxml import etree

from emulator.clock import rfc3339
from emulator.namespaces import (AL_NS, EMEV_NS, HW_NS, IANAHW_NS, IF_NS, IP_NS, NC_NS, RT_NS,
                                 SYS_NS, V4UR_NS, V6UR_NS)
from emulator.schema.compiled import PerThreadXPath
from emulator.schema.tree import instance_steps

_INTERFACE_NAMES = PerThreadXPath("if:interfaces/if:interface/if:name/text()",
                               namespaces={"if": IF_NS}, smart_strings=False)
_COUNTERS = ("in-octets", "in-unicast-pkts", "in-broadcast-pkts", "in-multicast-pkts",
             "in-discards", "in-errors", "in-unknown-protos", "out-octets", "out-unicast-pkts",
             "out-broadcast-pkts", "out-multicast-pkts", "out-discards", "out-errors")
# Per second of link-up time, as a share of the link speed in bytes and packets.
_AVERAGE_PACKET = 700


_INTERFACE = f"{{{IF_NS}}}interface"


def _interface_count(config: etree._Element) -> int:
    """The children of the interfaces container (its entries, and any comment):
    what changes when entries are added or removed, counted in C."""
    interfaces = config.find(f"{{{IF_NS}}}interfaces")
    return 0 if interfaces is None else len(interfaces)


@functools.lru_cache(maxsize=65536)
def _network(ip: str, length: str) -> str:
    """The network of an address (parsed once: 30 us each, for every route of every <get>)."""
    return str(ipaddress.ip_interface(f"{ip}/{length}").network)


def summary(config: etree._Element) -> list[tuple[str | None, bool, bool]]:
    """(name, enabled, is Ethernet) of each configured interface, in order."""
    rows = []
    for interface in config.iterfind(f"{{{IF_NS}}}interfaces/{{{IF_NS}}}interface"):
        enabled = interface.findtext(f"{{{IF_NS}}}enabled", "true").strip() != "false"
        if_type = interface.findtext(f"{{{IF_NS}}}type") or ""
        rows.append((interface.findtext(f"{{{IF_NS}}}name"), enabled,
                     if_type.endswith("ethernetCsmacd")))
    return rows


def utilisation(device: str, name: str) -> float:
    """A link's share of its speed in use: its own, the same at every start."""
    return 0.01 + (_seed(device, name) % 100) / 1000


def _seed(*parts: str) -> int:
    return int.from_bytes(hashlib.blake2b("/".join(parts).encode(), digest_size=4).digest(), "big")


@dataclass
class Link:
    """One interface's live state."""

    name: str
    if_index: int
    oper_up: bool
    speed: int | None
    last_change: float
    up_seconds: float = 0.0     # accumulated link-up time before the current period
    utilisation: float = 0.05   # share of the speed in use, in and out
    # the state text that changes only with the configuration: (leaves, ethernet, text)
    fixed_text: tuple | None = field(default=None, repr=False, compare=False)

    def uptime(self, now: float) -> float:
        return self.up_seconds + (now - self.last_change if self.oper_up else 0.0)

    def set_oper(self, up: bool, now: float) -> bool:
        """Change oper-status; False when it already was so."""
        if up == self.oper_up:
            return False
        self.up_seconds = self.uptime(now)
        self.oper_up = up
        self.last_change = now
        return True

    def counters(self, now: float) -> dict[str, int]:
        return dict(zip(_COUNTERS, self.counter_values(now)))

    def counter_values(self, now: float) -> tuple[int, ...]:
        """The statistics counters, in the order of _COUNTERS."""
        seconds = self.uptime(now)
        rate = (self.speed or 1_000_000_000) / 8 * self.utilisation
        octets = int(rate * seconds)
        packets = octets // _AVERAGE_PACKET
        return (octets, packets * 95 // 100, packets // 100, packets * 4 // 100,
                packets // 100_000, packets // 1_000_000, 0,
                octets * 7 // 10, packets * 7 * 96 // 1000, packets // 200, packets * 3 // 100,
                packets // 200_000, 0)


# An alarm type: (prefix, namespace, identity name), written prefix:name with
# the prefix declared where it is used.
AlarmType = tuple[str, str, str]
LINK_ALARM: AlarmType = ("emev", EMEV_NS, "link-alarm")
HARDWARE_ALARM: AlarmType = ("emev", EMEV_NS, "hardware-alarm")
# What the alarm inventory says of the types the device model raises itself.
_INVENTORY = {
    LINK_ALARM: ("major", "An interface's link is down."),
    HARDWARE_ALARM: ("major", "A hardware component (a fan, a power supply, a port) failed."),
}


@dataclass
class Alarm:
    """One entry of ietf-alarms' alarm list."""

    resource: str
    text: str
    severity: str
    created: float
    raised: float
    changed: float
    cleared: bool = False
    type_id: AlarmType = LINK_ALARM
    qualifier: str = ""


@dataclass
class Component:
    """One hardware component's state (ietf-hardware's ``state``, RFC 4268's
    Entity State MIB): its oper-state and alarm-state, and when they changed."""

    name: str
    enabled: bool = True
    alarm_state: str = ""        # the bits of alarm-state: "" (none), "critical", "major"...
    changed: float = 0.0


def component_resource(name: str) -> str:
    """The ietf-alarms resource of a hardware component (the hw prefix is
    declared on the alarm elements)."""
    quote = "'" if "'" not in name else '"'
    return f"/hw:hardware/hw:component[hw:name={quote}{name}{quote}]"


class OperationalState:
    """Owned by its device; built lazily on first use."""

    def __init__(self, device_name: str, device_index: int, seed_state: etree._Element,
                 clock: Callable[[], float], boot_time: float):
        self.clock = clock
        self.device_name = device_name
        self.device_index = device_index
        self.boot_time = boot_time
        self.seed = seed_state
        self._seed_index: dict[str, etree._Element] | None = None
        self.links: dict[str, Link] = {}
        # by (resource, alarm type, qualifier): ietf-alarms' key
        self.alarms: dict[tuple[str, AlarmType, str], Alarm] = {}
        self.alarms_changed = self.boot_time
        self.alarm_types: dict[AlarmType, tuple[str, str]] = dict(_INVENTORY)
        self.components: dict[str, Component] = {}     # those whose state changed
        # the configuration last followed, and (name, enabled, ethernet) of its interfaces
        self._synced: etree._Element | None = None
        self._entries = 0   # interface entries in the configuration last followed
        self._summarised: etree._Element | None = None
        self._configured: list[tuple[str | None, bool, bool]] = []
        self._prepared: tuple[etree._Element, list, dict] | None = None   # (see prepare)

    def snapshot(self, now: float) -> "OperationalState":
        """A copy to build state from on another thread (see Device.state_apart):
        links, components and alarms of its own, and its time standing at ``now``."""
        other = copy.copy(self)
        other.links = {name: copy.copy(link) for name, link in self.links.items()}
        other.components = {name: copy.copy(c) for name, c in self.components.items()}
        other.alarms = {key: copy.copy(alarm) for key, alarm in self.alarms.items()}
        other.alarm_types = dict(self.alarm_types)
        other.clock = lambda: now
        other._summarised, other._configured, other._prepared = None, [], None
        return other

    def summarised(self, config: etree._Element) -> list:
        """summary(config), as followed (kept once made)."""
        return self._summary(config)

    def follow(self, config: etree._Element, summary: list) -> None:
        """A snapshot's: ``config`` is a copy of the configuration it was taken
        following, and this its summary (nothing to be done again)."""
        self._synced = self._summarised = config
        self._configured = summary

    def set_link(self, name: str, up: bool) -> bool:
        """A link event; False when the link already was so."""
        return self.links[name].set_oper(up, self.clock())

    def set_alarm(self, resource: str, raised: bool, text: str, now: float,
                  type_id: AlarmType = LINK_ALARM, qualifier: str = "",
                  severity: str = "major") -> Alarm:
        """Raise (or clear) the alarm of ``resource``, ``type_id`` and ``qualifier``."""
        key = (resource, type_id, qualifier)
        alarm = self.alarms.get(key)
        if alarm is None:
            alarm = self.alarms[key] = Alarm(resource, text, severity, now, now, now,
                                             type_id=type_id, qualifier=qualifier)
        if type_id not in self.alarm_types:
            self.alarm_types[type_id] = (severity, "An alarm raised through the event "
                                                   "catalogue (alarm-raise).")
        alarm.cleared = not raised
        alarm.changed = now
        if raised:
            alarm.raised = now
            alarm.text = text
            alarm.severity = severity
        self.alarms_changed = now
        return alarm

    def alarm(self, resource: str, type_id: AlarmType = LINK_ALARM,
              qualifier: str = "") -> Alarm | None:
        return self.alarms.get((resource, type_id, qualifier))

    # -- hardware --------------------------------------------------------------

    def component_names(self) -> list[str]:
        """The hardware inventory's components, in its order."""
        return ["chassis", "psu-1", "fan-1", "psu-2", "fan-2",
                *(f"port-{name}" for name in self.links)]

    def component(self, name: str) -> Component:
        """A component's state (made on first use: unchanged, it costs nothing)."""
        state = self.components.get(name)
        if state is None:
            state = self.components[name] = Component(name, changed=self.boot_time)
        return state

    def set_component(self, name: str, enabled: bool, alarm_state: str, now: float) -> bool:
        """A component fails or recovers; False when it already was so."""
        state = self.component(name)
        if state.enabled == enabled and state.alarm_state == alarm_state:
            return False
        state.enabled = enabled
        state.alarm_state = alarm_state
        state.changed = now
        return True

    def link(self, name: str) -> Link | None:
        return self.links.get(name)

    def sync(self, config: etree._Element, edits: list | None = None) -> None:
        """Follow the configuration: a link for every configured interface.
        (Every change of the configuration is followed with its ``edits``: the
        same tree again without them costs nothing, and a changed one with the
        same interfaces one C-level query.)

        ``edits``: how ``config`` differs from the configuration last followed
        ((operation, instance-identifier or None, its prefixes), as the
        config-change event has them); none of them able to add or remove an
        interface, nothing is to be done."""
        prepared, self._prepared = self._prepared, None   # (for this change only)
        fresh = prepared is not None and prepared[0] is config
        made: dict[str, Link] = prepared[2] if fresh else {}
        if edits is None:
            if fresh:
                self._summarised, self._configured = config, prepared[1]
            if config is self._synced:
                return
        else:
            # (the configuration may be the same tree, edited in place; the
            # count: a default-operation replace removes top-level nodes it
            # does not name without an edit saying so)
            count = _interface_count(config)
            if count != self._entries or any(_may_touch_interfaces(path, prefixes)
                                             for _, path, prefixes in edits):
                self._summarised = None
            if fresh:
                self._summarised, self._configured = config, prepared[1]
            if self._synced is not None and count == self._entries and not any(
                    _may_add_or_remove_interfaces(path, prefixes) for _, path, prefixes in edits):
                self._synced = config
                return
        names = _INTERFACE_NAMES(config)
        self._entries = _interface_count(config)
        if len(names) == len(self.links) and self.links.keys() == set(names):
            self._synced = config
            return
        summary = self._summary(config)
        links, seed_index, boot = self.links, self._seed_index, self.boot_time
        if seed_index is None:
            self._seeded("")
            seed_index = self._seed_index
        for name, enabled, _ in summary:
            if name is None or name in links:
                continue
            link = made.get(name)
            if link is not None:    # (made off the loop: only its place is given here)
                link.if_index = len(links) + 1
                links[name] = link
                continue
            seeded = seed_index.get(name)
            if seeded is None:      # (most: a link of a configuration's own)
                links[name] = Link(name, len(links) + 1, enabled, None, boot,
                                   utilisation=utilisation(self.device_name, name))
                continue
            oper = seeded.findtext(f"{{{IF_NS}}}oper-status")
            speed = seeded.findtext(f"{{{IF_NS}}}speed")
            links[name] = Link(
                name=name, if_index=len(links) + 1,
                oper_up=(oper == "up") if oper else enabled,
                speed=int(speed) if speed else None, last_change=boot,
                utilisation=utilisation(self.device_name, name))
        names = {name for name, _, _ in summary}
        for name in list(self.links):
            if name not in names:
                del self.links[name]
        self._synced = self._summarised = config
        self._configured = summary

    def admin_up(self, config: etree._Element, name: str) -> bool:
        """Is the interface enabled in ``config``? (True when it is not configured.)"""
        for configured, enabled, _ in self._summary(config):   # (kept per configuration)
            if configured == name:
                return enabled
        return True

    def prepare(self, config: etree._Element, summary: list,
                made: dict[str, "Link"] | None = None) -> None:
        """``config`` is about to be followed (it becomes running), and this is
        its summary(), and links made for its interfaces (new_links), made where
        they cost the event loop nothing."""
        self._prepared = (config, summary, made or {})

    def new_links(self, summary: list) -> dict[str, "Link"]:
        """Links for the interfaces of ``summary`` that the seed state says nothing
        of (most), as sync() would make them, their if-index still to be given.
        Reads only what does not change: to be called on the worker thread."""
        boot, device = self.boot_time, self.device_name
        seeded = {interface.findtext(f"{{{IF_NS}}}name") for interface in
                  self.seed.iterfind(f"{{{IF_NS}}}interfaces/{{{IF_NS}}}interface")}
        return {name: Link(name, 0, enabled, None, boot, utilisation=utilisation(device, name))
                for name, enabled, _ in summary if name is not None and name not in seeded}

    def _summary(self, config: etree._Element) -> list[tuple[str | None, bool, bool]]:
        """summary(config), once per tree (or as prepared)."""
        if self._summarised is not config:
            self._summarised, self._configured = config, summary(config)
        return self._configured

    def _seeded(self, name: str) -> etree._Element | None:
        if self._seed_index is None:
            self._seed_index = {
                interface.findtext(f"{{{IF_NS}}}name"): interface
                for interface in self.seed.iterfind(f"{{{IF_NS}}}interfaces/{{{IF_NS}}}interface")}
        return self._seed_index.get(name)

    def mac(self, if_index: int) -> str:
        value = (0x02_00_5E_00_00_00 | (self.device_index & 0xFFFF) << 8 | if_index & 0xFF)
        text = f"{value:012x}"
        return ":".join(text[i:i + 2] for i in range(0, 12, 2))

    def build(self, config: etree._Element,
              reaches: Callable[[str], bool] | None = None,
              interfaces: bool = True) -> etree._Element:
        """The state tree now, under a ``<data>`` wrapper: only the top-level
        nodes ``reaches`` accepts (None: all), and the interfaces only with
        ``interfaces`` (see :meth:`interfaces_with_state`)."""
        self.sync(config)
        now = self.clock()
        data = etree.Element(f"{{{NC_NS}}}data", nsmap={None: NC_NS})
        for tag, build in ((f"{{{IF_NS}}}interfaces",
                            lambda: interfaces and self._interfaces(data, config, now)),
                           (f"{{{HW_NS}}}hardware", lambda: self._hardware(data, config, now)),
                           (f"{{{SYS_NS}}}system-state", lambda: self._system(data, now)),
                           (f"{{{RT_NS}}}routing", lambda: self._routing(data, config)),
                           (f"{{{AL_NS}}}alarms", lambda: self._alarms(data))):
            if reaches is None or reaches(tag):
                build()
        return data

    def interfaces_text(self, config: etree._Element, known: "InterfaceLeaves") -> str | None:
        """The configuration's ``interfaces`` container, as text, with each entry's
        state added (what merging :meth:`build`'s interfaces into it gives):
        built as text, because element by element from Python costs ten times as
        much. None when the container is missing or not in the one shape this
        handles (entries in the default namespace, as a parse leaves them)."""
        self.sync(config)
        configured = config.find(f"{{{IF_NS}}}interfaces")
        if configured is None or configured.prefix is not None:
            return None
        text = etree.tostring(configured, encoding="unicode")
        parts = text.split("</interface>")
        summary = self._summary(config)
        if len(parts) != len(summary) + 1:
            return None   # an entry holds another element named interface: the slow way
        now = self.clock()
        boot = rfc3339(self.boot_time)
        pieces = []
        for part, (name, enabled, ethernet) in zip(parts, summary):
            pieces.append(part)
            link = self.links.get(name)
            if link is not None:
                pieces.append(self._entry_state(link, enabled, ethernet, now, boot, known))
            pieces.append("</interface>")
        pieces.append(parts[-1])
        return "".join(pieces)

    def entries_text(self, config: etree._Element, entries: list[etree._Element],
                     known: "InterfaceLeaves") -> str | None:
        """Some entries of the configuration's interface list, as text, each
        with its state (as :meth:`interfaces_text` writes them): what a
        ``<get>`` of interfaces by name needs, costing those entries only.
        None when an entry is not in the shape this handles."""
        self.sync(config)
        now = self.clock()
        boot = rfc3339(self.boot_time)
        pieces = []
        for entry in entries:
            if entry.prefix is not None or entry.tag != _INTERFACE:
                return None
            text = etree.tostring(entry, encoding="unicode", with_tail=False)
            if not text.endswith("</interface>"):
                return None
            link = self.links.get(entry.findtext(f"{{{IF_NS}}}name"))
            if link is not None:
                enabled = entry.findtext(f"{{{IF_NS}}}enabled", "true").strip() != "false"
                ethernet = (entry.findtext(f"{{{IF_NS}}}type") or "").endswith("ethernetCsmacd")
                text = "".join((text[:-len("</interface>")], self._entry_state(
                    link, enabled, ethernet, now, boot, known), "</interface>"))
            pieces.append(text)
        return "".join(pieces)

    def _entry_state(self, link: "Link", enabled: bool, ethernet: bool, now: float, boot: str,
                     known: "InterfaceLeaves") -> str:
        """One entry's state leaves as text, in the order _interfaces() gives them
        (what does not change between two <get>s is kept with the link)."""
        leaves = known.leaves
        text = []
        if "admin-status" in leaves:
            text.append("<admin-status>up</admin-status>" if enabled
                        else "<admin-status>down</admin-status>")
        if "oper-status" in leaves:
            text.append("<oper-status>up</oper-status>" if link.oper_up and enabled
                        else "<oper-status>down</oper-status>")
        if "last-change" in leaves:
            text.append(f"<last-change>{rfc3339(link.last_change)}</last-change>")
        fixed = link.fixed_text
        if fixed is None or fixed[0] is not known or fixed[1] != ethernet:
            link.fixed_text = fixed = (known, ethernet, self._fixed_state(link, ethernet, known))
        text.append(fixed[2])
        if known.statistics is not None:
            if known.counters_format is not None:   # (every counter: one format)
                text.append(known.counters_format % (boot, *link.counter_values(now)))
            else:
                statistics = known.statistics
                text.append("<statistics>")
                if "discontinuity-time" in statistics:
                    text.append(f"<discontinuity-time>{boot}</discontinuity-time>")
                text.extend(f"<{counter}>{value}</{counter}>" for counter, value
                            in zip(_COUNTERS, link.counter_values(now)) if counter in statistics)
                text.append("</statistics>")
        return "".join(text)

    def _fixed_state(self, link: "Link", ethernet: bool, known: "InterfaceLeaves") -> str:
        leaves = known.leaves
        text = []
        if "if-index" in leaves:
            text.append(f"<if-index>{link.if_index}</if-index>")
        if ethernet and "phys-address" in leaves:
            text.append(f"<phys-address>{self.mac(link.if_index)}</phys-address>")
        if link.speed and "speed" in leaves:
            text.append(f"<speed>{link.speed}</speed>")
        return "".join(text)

    def _alarms(self, data: etree._Element) -> None:
        """ietf-alarms: the inventory (the types this device raises) and the alarm list."""
        alarms = etree.SubElement(data, f"{{{AL_NS}}}alarms",
                                  nsmap={None: AL_NS, "emev": EMEV_NS, "if": IF_NS, "hw": HW_NS})
        inventory = etree.SubElement(alarms, f"{{{AL_NS}}}alarm-inventory")
        for type_id, (severity, description) in self.alarm_types.items():
            alarm_type = etree.SubElement(inventory, f"{{{AL_NS}}}alarm-type")
            _type_leaf(alarm_type, type_id)
            _leaf(alarm_type, AL_NS, "alarm-type-qualifier", "")
            _leaf(alarm_type, AL_NS, "will-clear", "true")
            _leaf(alarm_type, AL_NS, "severity-level", severity)
            _leaf(alarm_type, AL_NS, "description", description)
        alarm_list = etree.SubElement(alarms, f"{{{AL_NS}}}alarm-list")
        _leaf(alarm_list, AL_NS, "number-of-alarms", str(len(self.alarms)))
        _leaf(alarm_list, AL_NS, "last-changed", rfc3339(self.alarms_changed))
        for alarm in self.alarms.values():
            entry = etree.SubElement(alarm_list, f"{{{AL_NS}}}alarm")
            _leaf(entry, AL_NS, "resource", alarm.resource)
            _type_leaf(entry, alarm.type_id)
            _leaf(entry, AL_NS, "alarm-type-qualifier", alarm.qualifier)
            _leaf(entry, AL_NS, "time-created", rfc3339(alarm.created))
            _leaf(entry, AL_NS, "is-cleared", "true" if alarm.cleared else "false")
            _leaf(entry, AL_NS, "last-raised", rfc3339(alarm.raised))
            _leaf(entry, AL_NS, "last-changed", rfc3339(alarm.changed))
            _leaf(entry, AL_NS, "perceived-severity", alarm.severity)
            _leaf(entry, AL_NS, "alarm-text", alarm.text)

    def _interfaces(self, data: etree._Element, config: etree._Element, now: float) -> None:
        interfaces = etree.SubElement(data, f"{{{IF_NS}}}interfaces", nsmap={None: IF_NS})
        for interface in config.iterfind(f"{{{IF_NS}}}interfaces/{{{IF_NS}}}interface"):
            name = interface.findtext(f"{{{IF_NS}}}name")
            link = self.links.get(name)
            if link is None:
                continue
            enabled = interface.findtext(f"{{{IF_NS}}}enabled", "true").strip() != "false"
            entry = etree.SubElement(interfaces, f"{{{IF_NS}}}interface")
            _leaf(entry, IF_NS, "name", name)
            _leaf(entry, IF_NS, "admin-status", "up" if enabled else "down")
            _leaf(entry, IF_NS, "oper-status", "up" if link.oper_up and enabled else "down")
            _leaf(entry, IF_NS, "last-change", rfc3339(link.last_change))
            _leaf(entry, IF_NS, "if-index", str(link.if_index))
            if_type = interface.findtext(f"{{{IF_NS}}}type") or ""
            if if_type.endswith("ethernetCsmacd"):
                _leaf(entry, IF_NS, "phys-address", self.mac(link.if_index))
            if link.speed:
                _leaf(entry, IF_NS, "speed", str(link.speed))
            statistics = etree.SubElement(entry, f"{{{IF_NS}}}statistics")
            _leaf(statistics, IF_NS, "discontinuity-time", rfc3339(self.boot_time))
            for counter, value in link.counters(now).items():
                _leaf(statistics, IF_NS, counter, str(value))

    def _hardware(self, data: etree._Element, config: etree._Element, now: float) -> None:
        hardware = etree.SubElement(data, f"{{{HW_NS}}}hardware",
                                    nsmap={None: HW_NS, "ianahw": IANAHW_NS})
        _leaf(hardware, HW_NS, "last-change", rfc3339(self.boot_time))
        serial = f"EMU{_seed(self.device_name) % 10**8:08d}"
        components = [("chassis", "chassis", None, f"{serial}")]
        for slot in (1, 2):
            components.append((f"psu-{slot}", "power-supply", "chassis", f"{serial}P{slot}"))
            components.append((f"fan-{slot}", "fan", "chassis", f"{serial}F{slot}"))
        for name in self.links:
            components.append((f"port-{name}", "port", "chassis", None))
        boot = rfc3339(self.boot_time)
        for index, (name, kind, parent, serial_num) in enumerate(components, start=1):
            component = etree.SubElement(hardware, f"{{{HW_NS}}}component")
            _leaf(component, HW_NS, "name", name)
            _leaf(component, HW_NS, "class", f"ianahw:{kind}")
            _leaf(component, HW_NS, "physical-index", str(index))
            _leaf(component, HW_NS, "description", f"{kind.replace('-', ' ')} {name}")
            if parent:
                _leaf(component, HW_NS, "parent", parent)
                _leaf(component, HW_NS, "parent-rel-pos", str(index))
            if kind == "chassis":
                for child in components[1:]:
                    _leaf(component, HW_NS, "contains-child", child[0])
            if serial_num:
                _leaf(component, HW_NS, "serial-num", serial_num)
            _leaf(component, HW_NS, "mfg-name", "netconf-emulator")
            _leaf(component, HW_NS, "is-fru", "true" if kind in ("power-supply", "fan") else "false")
            # (pruned where the profile lacks the hardware-state feature)
            changed = self.components.get(name)
            state = etree.SubElement(component, f"{{{HW_NS}}}state")
            _leaf(state, HW_NS, "state-last-changed",
                  rfc3339(changed.changed) if changed else boot)
            _leaf(state, HW_NS, "oper-state",
                  "disabled" if changed and not changed.enabled else "enabled")
            _leaf(state, HW_NS, "alarm-state", changed.alarm_state if changed else "")

    def _system(self, data: etree._Element, now: float) -> None:
        system = etree.SubElement(data, f"{{{SYS_NS}}}system-state", nsmap={None: SYS_NS})
        platform = self.seed.find(f"{{{SYS_NS}}}system-state/{{{SYS_NS}}}platform")
        if platform is not None:
            system.append(etree.fromstring(etree.tostring(platform)))
        clock = etree.SubElement(system, f"{{{SYS_NS}}}clock")
        _leaf(clock, SYS_NS, "current-datetime", rfc3339(now))
        _leaf(clock, SYS_NS, "boot-datetime", rfc3339(self.boot_time))


    def _routing(self, data: etree._Element, config: etree._Element) -> None:
        """The RIBs: a connected route per address of a link that is up, and the
        configured static routes (a profile without ietf-routing prunes them)."""
        routing = etree.SubElement(data, f"{{{RT_NS}}}routing", nsmap={None: RT_NS})
        ribs = etree.SubElement(routing, f"{{{RT_NS}}}ribs")
        for family, ns, version in (("ipv4-unicast", V4UR_NS, "ipv4"),
                                    ("ipv6-unicast", V6UR_NS, "ipv6")):
            rib = etree.SubElement(ribs, f"{{{RT_NS}}}rib")
            _leaf(rib, RT_NS, "name", f"{version}-master")
            # (the prefix is declared on the leaf itself: a copy keeps it even when
            # nothing else in the RIB uses it)
            prefix = "v4ur" if version == "ipv4" else "v6ur"
            family_leaf = etree.SubElement(rib, f"{{{RT_NS}}}address-family", nsmap={prefix: ns})
            family_leaf.text = f"{prefix}:{family}"
            routes = etree.SubElement(rib, f"{{{RT_NS}}}routes")
            for interface in config.iterfind(f"{{{IF_NS}}}interfaces/{{{IF_NS}}}interface"):
                name = interface.findtext(f"{{{IF_NS}}}name")
                link = self.links.get(name)
                if link is None or not link.oper_up:
                    continue
                for address in interface.iterfind(f"{{{IP_NS}}}{version}/{{{IP_NS}}}address"):
                    ip = address.findtext(f"{{{IP_NS}}}ip")
                    length = address.findtext(f"{{{IP_NS}}}prefix-length")
                    if not ip or not length:
                        continue
                    route = etree.SubElement(routes, f"{{{RT_NS}}}route")
                    _leaf(route, ns, "destination-prefix", _network(ip.strip(), length.strip()))
                    next_hop = etree.SubElement(route, f"{{{RT_NS}}}next-hop")
                    _leaf(next_hop, RT_NS, "outgoing-interface", name)
                    etree.SubElement(route, f"{{{RT_NS}}}source-protocol", nsmap={"rt": RT_NS}).text = "rt:direct"
                    etree.SubElement(route, f"{{{RT_NS}}}active")
                    _leaf(route, RT_NS, "last-updated", rfc3339(link.last_change))
            static = f"{{{RT_NS}}}control-plane-protocols/{{{RT_NS}}}control-plane-protocol/" \
                     f"{{{RT_NS}}}static-routes/{{{ns}}}{version}/{{{ns}}}route"
            for configured in config.iterfind(f"{{{RT_NS}}}routing/{static}"):
                prefix = configured.findtext(f"{{{ns}}}destination-prefix")
                gateway = configured.findtext(f"{{{ns}}}next-hop/{{{ns}}}next-hop-address")
                if not prefix:
                    continue
                route = etree.SubElement(routes, f"{{{RT_NS}}}route")
                _leaf(route, ns, "destination-prefix", prefix.strip())
                _leaf(route, RT_NS, "route-preference", "1")
                next_hop = etree.SubElement(route, f"{{{RT_NS}}}next-hop")
                if gateway:
                    _leaf(next_hop, ns, "next-hop-address", gateway.strip())
                else:
                    _leaf(next_hop, RT_NS, "special-next-hop", "blackhole")
                etree.SubElement(route, f"{{{RT_NS}}}source-protocol", nsmap={"rt": RT_NS}).text = "rt:static"
                etree.SubElement(route, f"{{{RT_NS}}}active")
                _leaf(route, RT_NS, "last-updated", rfc3339(self.boot_time))


def _may_add_or_remove_interfaces(path: str | None, prefixes: dict[str, str]) -> bool:
    """Can an edit at this instance-identifier add or remove an interface entry?
    Only at the whole datastore, /interfaces, or an /interfaces/interface entry
    itself, not below one (and not elsewhere)."""
    if not path:
        return True
    steps = instance_steps(path)
    if not steps:
        return True

    def names(step: str, local: str) -> bool:
        prefix, _, name = step.partition("[")[0].rpartition(":")
        return name == local and prefixes.get(prefix) == IF_NS

    if not names(steps[0], "interfaces"):
        return False
    return len(steps) <= 2 or not names(steps[1], "interface")


def _may_touch_interfaces(path: str | None, prefixes: dict[str, str]) -> bool:
    """Can an edit at this instance-identifier change an interface entry?"""
    steps = instance_steps(path) if path else []
    if not steps:
        return True
    prefix, _, name = steps[0].partition("[")[0].rpartition(":")
    return name == "interfaces" and prefixes.get(prefix) == IF_NS


@dataclass(frozen=True)
class InterfaceLeaves:
    """The state leaves a profile's schema has under an interface entry and its
    statistics (None: no statistics), by local name: a feature such as if-mib
    may be off, and what the schema lacks is not sent."""

    leaves: frozenset[str]
    statistics: frozenset[str] | None

    @functools.cached_property
    def counters_format(self) -> str | None:
        """The statistics as one %-format of (discontinuity-time, *counters), when
        the schema has every one of them."""
        if self.statistics is None or not self.statistics >= {"discontinuity-time", *_COUNTERS}:
            return None
        return ("<statistics><discontinuity-time>%s</discontinuity-time>"
                + "".join(f"<{c}>%d</{c}>" for c in _COUNTERS) + "</statistics>")


@functools.lru_cache(maxsize=64)
def interface_leaves(schema) -> InterfaceLeaves | None:
    """None when the schema has no interface list (nothing to add state to)."""
    interfaces = schema.root.by_tag.get(f"{{{IF_NS}}}interfaces")
    entry = interfaces.by_tag.get(f"{{{IF_NS}}}interface") if interfaces is not None else None
    if entry is None:
        return None
    names = frozenset(tag.rpartition("}")[2] for tag in entry.by_tag
                      if tag.startswith(f"{{{IF_NS}}}"))
    statistics = entry.by_tag.get(f"{{{IF_NS}}}statistics")
    return InterfaceLeaves(names, frozenset(tag.rpartition("}")[2] for tag in statistics.by_tag)
                           if statistics is not None else None)


def _type_leaf(parent: etree._Element, type_id: AlarmType) -> etree._Element:
    """An alarm-type-id, with its prefix declared on the leaf itself."""
    prefix, ns, name = type_id
    element = etree.SubElement(parent, f"{{{AL_NS}}}alarm-type-id", nsmap={prefix: ns})
    element.text = f"{prefix}:{name}"
    return element


def _leaf(parent: etree._Element, ns: str, name: str, text: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ns}}}{name}")
    element.text = text
    return element
