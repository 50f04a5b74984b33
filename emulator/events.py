"""What a device announces: RFC 6470's base notifications, and the events of
the device model (link-down, link-up, hardware state, alarms, a restart, a
storm's filler). Each builder returns the event element that the event log
wraps in ``<notification>``. Which events can be raised, with what, is the
event catalogue's (emulator.scenarios.catalogue)."""

from __future__ import annotations

from typing import Any

from lxml import etree

from emulator.namespaces import AL_NS, EMEV_NS, HW_NS, IF_NS, NCN_NS
from emulator.netconf.session import Session
from emulator.operational import LINK_ALARM, AlarmType


def _leaf(parent: etree._Element, ns: str, name: str, text: Any) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ns}}}{name}")
    element.text = str(text)
    return element


def _session_parameters(parent: etree._Element, username: str, session_id: int,
                        source_host: str | None) -> None:
    _leaf(parent, NCN_NS, "username", username)
    _leaf(parent, NCN_NS, "session-id", session_id)
    if source_host:
        _leaf(parent, NCN_NS, "source-host", source_host)


def session_start(session: Session) -> etree._Element:
    event = etree.Element(f"{{{NCN_NS}}}netconf-session-start", nsmap={None: NCN_NS})
    _session_parameters(event, session.username, session.id, session.source_host)
    return event


def session_end(session: Session) -> etree._Element:
    event = etree.Element(f"{{{NCN_NS}}}netconf-session-end", nsmap={None: NCN_NS})
    _session_parameters(event, session.username, session.id, session.source_host)
    termination = session.termination
    if termination is not None and termination.killed_by is not None:
        _leaf(event, NCN_NS, "killed-by", termination.killed_by)
    _leaf(event, NCN_NS, "termination-reason", termination.reason.value if termination else "other")
    return event


def config_change(datastore: str, edits: list, session: Session | None) -> etree._Element:
    """``edits``: (operation, instance-identifier or None, the prefixes it uses)."""
    event = etree.Element(f"{{{NCN_NS}}}netconf-config-change", nsmap={None: NCN_NS})
    changed_by = etree.SubElement(event, f"{{{NCN_NS}}}changed-by")
    if session is None:
        etree.SubElement(changed_by, f"{{{NCN_NS}}}server")   # the server itself (a rollback)
    else:
        _session_parameters(changed_by, session.username, session.id, session.source_host)
    _leaf(event, NCN_NS, "datastore", datastore)
    for operation, target, prefixes in edits:
        edit = etree.SubElement(event, f"{{{NCN_NS}}}edit")
        if target:
            # the target's prefixes are declared on it (built in place: lxml keeps them)
            element = etree.SubElement(edit, f"{{{NCN_NS}}}target", nsmap=dict(prefixes))
            element.text = target
        _leaf(edit, NCN_NS, "operation", operation)
    return event


def confirmed_commit(confirm_event: str, username: str, session_id: int,
                     source_host: str | None, timeout: int | None) -> etree._Element:
    event = etree.Element(f"{{{NCN_NS}}}netconf-confirmed-commit", nsmap={None: NCN_NS})
    if confirm_event != "timeout":   # (when "confirm-event != 'timeout'" in the module)
        _session_parameters(event, username, session_id, source_host)
    _leaf(event, NCN_NS, "confirm-event", confirm_event)
    if timeout is not None and confirm_event in ("start", "extend"):
        _leaf(event, NCN_NS, "timeout", timeout)
    return event


def link(kind: str, name: str, if_index: int, admin_up: bool, oper_up: bool) -> etree._Element:
    event = etree.Element(f"{{{EMEV_NS}}}{kind}", nsmap={None: EMEV_NS})
    _leaf(event, EMEV_NS, "if-name", name)
    _leaf(event, EMEV_NS, "if-index", if_index)
    _leaf(event, EMEV_NS, "admin-status", "up" if admin_up else "down")
    _leaf(event, EMEV_NS, "oper-status", "up" if oper_up else "down")
    return event


def interface_resource(name: str) -> str:
    quote = "'" if "'" not in name else '"'
    return f"/if:interfaces/if:interface[if:name={quote}{name}{quote}]"


def alarm_notification(resource: str, when: str, severity: str, text: str,
                       type_id: AlarmType = LINK_ALARM, qualifier: str = "") -> etree._Element:
    """ietf-alarms' alarm-notification (severity ``cleared`` when it clears)."""
    prefix, ns, name = type_id
    event = etree.Element(f"{{{AL_NS}}}alarm-notification",
                          nsmap={None: AL_NS, "if": IF_NS, "hw": HW_NS, "emev": EMEV_NS})
    _leaf(event, AL_NS, "resource", resource)
    etree.SubElement(event, f"{{{AL_NS}}}alarm-type-id", nsmap={prefix: ns}).text = \
        f"{prefix}:{name}"
    _leaf(event, AL_NS, "alarm-type-qualifier", qualifier)
    _leaf(event, AL_NS, "time", when)
    _leaf(event, AL_NS, "perceived-severity", severity)
    _leaf(event, AL_NS, "alarm-text", text)
    return event


def hardware_oper(enabled: bool, name: str, alarm_state: str) -> etree._Element:
    """ietf-hardware's hardware-state-oper-enabled / -disabled (RFC 8348)."""
    kind = "hardware-state-oper-enabled" if enabled else "hardware-state-oper-disabled"
    event = etree.Element(f"{{{HW_NS}}}{kind}", nsmap={None: HW_NS})
    _leaf(event, HW_NS, "name", name)
    _leaf(event, HW_NS, "alarm-state", alarm_state)
    return event


def device_restarted(boot_time: str, downtime: float) -> etree._Element:
    event = etree.Element(f"{{{EMEV_NS}}}device-restarted", nsmap={None: EMEV_NS})
    _leaf(event, EMEV_NS, "boot-time", boot_time)
    _leaf(event, EMEV_NS, "downtime", f"{downtime:.3f}")
    return event


def storm_event(storm: int, sequence: int) -> etree._Element:
    event = etree.Element(f"{{{EMEV_NS}}}storm-event", nsmap={None: EMEV_NS})
    _leaf(event, EMEV_NS, "storm", storm)
    _leaf(event, EMEV_NS, "sequence", sequence)
    return event
