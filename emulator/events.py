"""What a device announces: RFC 6470's base notifications, and the events of
the device model (link-down, link-up, with ietf-alarms where the profile has
it). Each builder returns the event element that the event log wraps in
``<notification>``."""

from __future__ import annotations

from typing import Any

from lxml import etree

from emulator.namespaces import AL_NS, EMEV_NS, IF_NS, NCN_NS
from emulator.netconf.session import Session

# The events that POST /api/devices/{device}/events raises, and what they need.
CATALOGUE = {
    "link-down": {"interface": "the name of the interface whose link goes down"},
    "link-up": {"interface": "the name of the interface whose link comes back"},
}


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


def alarm_notification(resource: str, when: str, severity: str, text: str) -> etree._Element:
    event = etree.Element(f"{{{AL_NS}}}alarm-notification",
                          nsmap={None: AL_NS, "if": IF_NS, "emev": EMEV_NS})
    _leaf(event, AL_NS, "resource", resource)
    _leaf(event, AL_NS, "alarm-type-id", "emev:link-alarm")
    _leaf(event, AL_NS, "alarm-type-qualifier", "")
    _leaf(event, AL_NS, "time", when)
    _leaf(event, AL_NS, "perceived-severity", severity)
    _leaf(event, AL_NS, "alarm-text", text)
    return event
