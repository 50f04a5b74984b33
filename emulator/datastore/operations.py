"""Reading: ``<get>`` and ``<get-config>`` (RFC 6241 sections 7.1 and 7.7)."""

from __future__ import annotations

from copy import deepcopy

from lxml import etree

from emulator.netconf import filters
from emulator.netconf.errors import RpcError
from emulator.netconf.operations import BASE_OPERATIONS, Rpc
from emulator.netconf.xml import NC_NS, localname, qn


def _datastore_name(rpc: Rpc, param: str) -> str:
    """The datastore a <source> or <target> parameter names."""
    element = rpc.param(param)
    if element is None:
        raise RpcError.missing_element(param, rpc.path(), f"<{rpc.operation_name}> needs a <{param}>")
    names = [c for c in element if isinstance(c.tag, str)]
    if len(names) != 1:
        raise RpcError("bad-element", "protocol", f"<{param}> names exactly one datastore",
                       path=rpc.path(param), path_ns=rpc.path_ns, info=[("bad-element", param)])
    name = localname(names[0])
    if names[0].tag != qn(name) or name not in rpc.device.datastore_names():
        raise RpcError("invalid-value", "protocol",
                       f"this device has no <{name}> datastore (it has "
                       f"{', '.join(rpc.device.datastore_names())})",
                       path=rpc.path(param), path_ns=rpc.path_ns, info=[("bad-element", name)])
    return name


def _reply(rpc: Rpc, data: etree._Element) -> etree._Element:
    filtered = filters.apply(data, filters.find_filter(rpc.operation), rpc.path("filter"))
    filtered.tag = qn("data")
    return filtered


@BASE_OPERATIONS.operation("get-config")
def get_config(rpc: Rpc) -> etree._Element:
    _datastore_name(rpc, "source")
    data = etree.Element(qn("data"), nsmap={None: NC_NS})
    for child in rpc.device.running():
        data.append(deepcopy(child))
    return _reply(rpc, data)


@BASE_OPERATIONS.operation("get")
def get(rpc: Rpc) -> etree._Element:
    return _reply(rpc, rpc.device.state())
