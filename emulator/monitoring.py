"""What a device says about itself: its capabilities, NETCONF monitoring
(RFC 6022) and YANG library (RFC 8525, and RFC 7895 for older clients).

The functions take the device (emulator.device.Device) and read what it
owns; they sit below it, so it is typed loosely here.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

from lxml import etree
from pyang.translators import yin

from emulator.clock import rfc3339
from emulator.errors import RpcError
from emulator.namespaces import (BASE_1_0, BASE_1_1, DS_NS, EMEV_NS, NCM_NS, NCWS_NS,
                                 NETMOD_NOTIFICATION_NS, XPATH_CAPABILITY, YANG_LIBRARY_1_0,
                                 YANG_LIBRARY_1_1, YANGLIB_NS)
from emulator.netconf.operations import BASE_OPERATIONS, Rpc
from emulator.notifications import STREAM
from emulator.schema.model import Schema


def content_id(schema: Schema) -> str:
    """Changes whenever the set of modules, features or deviations changes."""
    text = ";".join(f"{m.name}@{m.revision}:{','.join(m.features)}:{','.join(m.deviations)}"
                    for m in sorted(schema.modules.values(), key=lambda m: m.name))
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def module_capabilities(schema: Schema) -> list[str]:
    """RFC 6020 section 5.6.4 capability URIs, one per implemented module."""
    uris = []
    for module in sorted(schema.modules.values(), key=lambda m: m.name):
        if not module.implemented:
            continue
        uri = f"{module.namespace}?module={module.name}"
        if module.revision:
            uri += f"&revision={module.revision}"
        if module.features:
            uri += f"&features={','.join(module.features)}"
        if module.deviations:
            uri += f"&deviations={','.join(module.deviations)}"
        uris.append(uri)
    return uris


def capabilities(schema: Schema, protocol: list[str]) -> list[str]:
    cid = content_id(schema)
    return [BASE_1_0, BASE_1_1, *protocol, XPATH_CAPABILITY,
            f"{YANG_LIBRARY_1_0}?revision=2016-06-21&module-set-id={cid}",
            f"{YANG_LIBRARY_1_1}?revision=2019-01-04&content-id={cid}",
            *module_capabilities(schema)]


def _leaf(parent: etree._Element, ns: str, name: str, text: object) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ns}}}{name}")
    element.text = str(text)
    return element


def netconf_state(device: Any) -> etree._Element:
    state = etree.Element(f"{{{NCM_NS}}}netconf-state",
                          nsmap={None: NCM_NS, "ncws": NCWS_NS})
    caps = etree.SubElement(state, f"{{{NCM_NS}}}capabilities")
    for uri in device.capabilities():
        _leaf(caps, NCM_NS, "capability", uri)
    datastores = etree.SubElement(state, f"{{{NCM_NS}}}datastores")
    for name in device.datastore_names():
        datastore = etree.SubElement(datastores, f"{{{NCM_NS}}}datastore")
        _leaf(datastore, NCM_NS, "name", name)
        lock = device.lock_info(name)
        if lock is not None:
            locks = etree.SubElement(datastore, f"{{{NCM_NS}}}locks")
            global_lock = etree.SubElement(locks, f"{{{NCM_NS}}}global-lock")
            _leaf(global_lock, NCM_NS, "locked-by-session", lock[0])
            _leaf(global_lock, NCM_NS, "locked-time", rfc3339(lock[1]))
    schemas = etree.SubElement(state, f"{{{NCM_NS}}}schemas")
    for module in sorted(device.profile.schema.modules.values(), key=lambda m: m.name):
        for identifier, revision in [(module.name, module.revision),
                                     *((s[0], s[1]) for s in module.submodules)]:
            for fmt in ("yang", "yin"):
                entry = etree.SubElement(schemas, f"{{{NCM_NS}}}schema")
                _leaf(entry, NCM_NS, "identifier", identifier)
                _leaf(entry, NCM_NS, "version", revision or "")
                _leaf(entry, NCM_NS, "format", fmt)
                _leaf(entry, NCM_NS, "namespace", module.namespace)
                _leaf(entry, NCM_NS, "location", "NETCONF")
    sessions = etree.SubElement(state, f"{{{NCM_NS}}}sessions")
    for session in device.sessions.values():
        entry = etree.SubElement(sessions, f"{{{NCM_NS}}}session")
        _leaf(entry, NCM_NS, "session-id", session.id)
        transport_ns, transport = session.transport
        if transport_ns == NCM_NS:      # one of RFC 6022's own identities
            _leaf(entry, NCM_NS, "transport", transport)
        else:
            prefix = state.nsmap.get("ncws") == transport_ns and "ncws" or "tr"
            element = etree.SubElement(entry, f"{{{NCM_NS}}}transport",
                                       nsmap=None if prefix == "ncws" else {prefix: transport_ns})
            element.text = f"{prefix}:{transport}"
        _leaf(entry, NCM_NS, "username", session.username)
        if session.source_host:
            _leaf(entry, NCM_NS, "source-host", session.source_host)
        _leaf(entry, NCM_NS, "login-time", rfc3339(session.login_time))
        _leaf(entry, NCM_NS, "in-rpcs", session.in_rpcs)
        _leaf(entry, NCM_NS, "in-bad-rpcs", session.in_bad_rpcs)
        _leaf(entry, NCM_NS, "out-rpc-errors", session.out_rpc_errors)
        _leaf(entry, NCM_NS, "out-notifications", session.out_notifications)
        _leaf(entry, EMEV_NS, "queued-notifications", session.queued_notifications)
    statistics = etree.SubElement(state, f"{{{NCM_NS}}}statistics")
    _leaf(statistics, NCM_NS, "netconf-start-time", rfc3339(device.started))
    for counter in ("in-bad-hellos", "in-sessions", "dropped-sessions", "in-rpcs", "in-bad-rpcs",
                    "out-rpc-errors", "out-notifications"):
        _leaf(statistics, NCM_NS, counter, device.stats[counter])
    _leaf(statistics, EMEV_NS, "notification-overflows", device.stats["notification-overflows"])
    return state


def streams(device: Any) -> etree._Element:
    """RFC 5277 section 3.4: /netconf/streams."""
    netconf = etree.Element(f"{{{NETMOD_NOTIFICATION_NS}}}netconf",
                            nsmap={None: NETMOD_NOTIFICATION_NS})
    stream = etree.SubElement(etree.SubElement(netconf, f"{{{NETMOD_NOTIFICATION_NS}}}streams"),
                              f"{{{NETMOD_NOTIFICATION_NS}}}stream")
    _leaf(stream, NETMOD_NOTIFICATION_NS, "name", STREAM)
    _leaf(stream, NETMOD_NOTIFICATION_NS, "description",
          "every event of the device: RFC 6470 base events, link events, alarms")
    _leaf(stream, NETMOD_NOTIFICATION_NS, "replaySupport", "true")
    _leaf(stream, NETMOD_NOTIFICATION_NS, "replayLogCreationTime",
          rfc3339(device.events.created))
    return netconf


def yang_library(device: Any) -> list[etree._Element]:
    """``/yang-library`` (RFC 8525) and the older ``/modules-state`` (RFC 7895)."""
    return [library_of(device), modules_state(device)]


def _modules(schema: Schema) -> list:
    return sorted(schema.modules.values(), key=lambda m: m.name)


def library_of(device: Any) -> etree._Element:
    """``/yang-library`` (RFC 8525)."""
    schema = device.profile.schema
    modules = _modules(schema)
    library = etree.Element(f"{{{YANGLIB_NS}}}yang-library", nsmap={None: YANGLIB_NS, "ds": DS_NS})
    module_set = etree.SubElement(library, f"{{{YANGLIB_NS}}}module-set")
    _leaf(module_set, YANGLIB_NS, "name", "all")
    for module in modules:
        tag = "module" if module.implemented else "import-only-module"
        entry = etree.SubElement(module_set, f"{{{YANGLIB_NS}}}{tag}")
        _leaf(entry, YANGLIB_NS, "name", module.name)
        if module.revision or not module.implemented:
            _leaf(entry, YANGLIB_NS, "revision", module.revision or "")
        _leaf(entry, YANGLIB_NS, "namespace", module.namespace)
        for sub_name, sub_rev, _path in module.submodules:
            submodule = etree.SubElement(entry, f"{{{YANGLIB_NS}}}submodule")
            _leaf(submodule, YANGLIB_NS, "name", sub_name)
            if sub_rev:
                _leaf(submodule, YANGLIB_NS, "revision", sub_rev)
        if module.implemented:
            for feature in module.features:
                _leaf(entry, YANGLIB_NS, "feature", feature)
            for deviation in module.deviations:
                _leaf(entry, YANGLIB_NS, "deviation", deviation)
    schema_entry = etree.SubElement(library, f"{{{YANGLIB_NS}}}schema")
    _leaf(schema_entry, YANGLIB_NS, "name", "complete")
    _leaf(schema_entry, YANGLIB_NS, "module-set", "all")
    for name in [*device.datastore_names(), "operational"]:
        datastore = etree.SubElement(library, f"{{{YANGLIB_NS}}}datastore")
        _leaf(datastore, YANGLIB_NS, "name", f"ds:{name}")
        _leaf(datastore, YANGLIB_NS, "schema", "complete")
    _leaf(library, YANGLIB_NS, "content-id", content_id(schema))
    return library


def modules_state(device: Any) -> etree._Element:
    """``/modules-state`` (RFC 7895)."""
    schema = device.profile.schema
    cid = content_id(schema)
    modules = _modules(schema)
    state = etree.Element(f"{{{YANGLIB_NS}}}modules-state", nsmap={None: YANGLIB_NS})
    _leaf(state, YANGLIB_NS, "module-set-id", cid)
    for module in modules:
        entry = etree.SubElement(state, f"{{{YANGLIB_NS}}}module")
        _leaf(entry, YANGLIB_NS, "name", module.name)
        _leaf(entry, YANGLIB_NS, "revision", module.revision or "")
        _leaf(entry, YANGLIB_NS, "namespace", module.namespace)
        if module.implemented:
            for feature in module.features:
                _leaf(entry, YANGLIB_NS, "feature", feature)
            for deviation in module.deviations:
                dev_module = schema.modules.get(deviation)
                item = etree.SubElement(entry, f"{{{YANGLIB_NS}}}deviation")
                _leaf(item, YANGLIB_NS, "name", deviation)
                _leaf(item, YANGLIB_NS, "revision", (dev_module.revision if dev_module else "") or "")
        _leaf(entry, YANGLIB_NS, "conformance-type",
              "implement" if module.implemented else "import")
        for sub_name, sub_rev, _path in module.submodules:
            submodule = etree.SubElement(entry, f"{{{YANGLIB_NS}}}submodule")
            _leaf(submodule, YANGLIB_NS, "name", sub_name)
            _leaf(submodule, YANGLIB_NS, "revision", sub_rev or "")
    return state


# What a device adds to <get>, by the top-level node each one builds (so that
# a filter that cannot reach a node does not pay for it).
STATE = ((f"{{{NCM_NS}}}netconf-state", netconf_state),
         (f"{{{YANGLIB_NS}}}yang-library", library_of),      # (each built only when asked)
         (f"{{{YANGLIB_NS}}}modules-state", modules_state),
         (f"{{{NETMOD_NOTIFICATION_NS}}}netconf", streams))


# -- <get-schema> (RFC 6022 section 3.1) -------------------------------------------

@BASE_OPERATIONS.operation("get-schema", NCM_NS)
def get_schema(rpc: Rpc) -> etree._Element:
    schema = rpc.device.profile.schema
    identifier = rpc.param("identifier", NCM_NS)
    if identifier is None or not (identifier.text or "").strip():
        raise RpcError.missing_element("identifier", rpc.path(), "<get-schema> needs an "
                                       "<identifier>", rpc.path_ns)
    name = identifier.text.strip()
    version_element = rpc.param("version", NCM_NS)
    version = (version_element.text or "").strip() if version_element is not None else None
    fmt = _format(rpc)
    found = [(n, rev) for module in schema.modules.values()
             for n, rev in [(module.name, module.revision),
                            *((sub[0], sub[1]) for sub in module.submodules)]
             if n == name and (not version or rev == version)]
    if not found:
        raise RpcError("invalid-value", "application",
                       f"no schema {name!r}{f' version {version}' if version else ''} on this "
                       "device", path=rpc.path("identifier"), path_ns=rpc.path_ns)
    statement = schema.pyang.get_module(name, found[0][1])
    data = etree.Element(f"{{{NCM_NS}}}data", nsmap={None: NCM_NS})
    if fmt == "yang":
        data.text = Path(statement.pos.ref).read_text(encoding="utf-8")
    else:
        out = io.StringIO()
        yin.emit_yin(schema.pyang, statement, out)
        data.append(etree.fromstring(out.getvalue().encode()))
    return data


def _format(rpc: Rpc) -> str:
    element = rpc.param("format", NCM_NS)
    if element is None:
        return "yang"
    text = (element.text or "").strip()
    prefix, _, name = text.rpartition(":")
    if element.nsmap.get(prefix or None) != NCM_NS or name not in ("yang", "yin"):
        raise RpcError("invalid-value", "application",
                       f"schema format {text!r} is not offered (yang or yin)",
                       path=rpc.path("format"), path_ns=rpc.path_ns)
    return name
