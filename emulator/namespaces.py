"""Every XML namespace and capability URI the emulator speaks, in one place."""

# RFC 6241: the base protocol, and the capabilities of its two versions.
NC_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"
BASE_1_0 = "urn:ietf:params:netconf:base:1.0"
BASE_1_1 = "urn:ietf:params:netconf:base:1.1"
CAPABILITY = "urn:ietf:params:netconf:capability:"
XPATH_CAPABILITY = CAPABILITY + "xpath:1.0"

# RFC 5277: event notifications.
NOTIFICATION_NS = "urn:ietf:params:xml:ns:netconf:notification:1.0"
NETMOD_NOTIFICATION_NS = "urn:ietf:params:xml:ns:netmod:notification"
NOTIFICATION_CAPABILITY = CAPABILITY + "notification:1.0"
INTERLEAVE_CAPABILITY = CAPABILITY + "interleave:1.0"

# RFC 6243: with-defaults (the attribute's namespace and the module's).
WD_ATTR_NS = "urn:ietf:params:xml:ns:netconf:default:1.0"
WD_NS = "urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults"

# YANG (RFC 7950) attributes such as insert= and key=.
YANG_NS = "urn:ietf:params:xml:ns:yang:1"

# RFC 6022 monitoring, RFC 8525 / RFC 7895 YANG library, RFC 8342 datastores.
NCM_NS = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
YANGLIB_NS = "urn:ietf:params:xml:ns:yang:ietf-yang-library"
DS_NS = "urn:ietf:params:xml:ns:yang:ietf-datastores"
YANG_LIBRARY_1_0 = CAPABILITY + "yang-library:1.0"
YANG_LIBRARY_1_1 = CAPABILITY + "yang-library:1.1"

# RFC 6470 base notifications.
NCN_NS = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"

# The device model's modules.
IF_NS = "urn:ietf:params:xml:ns:yang:ietf-interfaces"
IP_NS = "urn:ietf:params:xml:ns:yang:ietf-ip"
SYS_NS = "urn:ietf:params:xml:ns:yang:ietf-system"
HW_NS = "urn:ietf:params:xml:ns:yang:ietf-hardware"
IANAHW_NS = "urn:ietf:params:xml:ns:yang:iana-hardware"
RT_NS = "urn:ietf:params:xml:ns:yang:ietf-routing"
V4UR_NS = "urn:ietf:params:xml:ns:yang:ietf-ipv4-unicast-routing"
V6UR_NS = "urn:ietf:params:xml:ns:yang:ietf-ipv6-unicast-routing"
AL_NS = "urn:ietf:params:xml:ns:yang:ietf-alarms"

# Our own modules (yang/).
EMEV_NS = "urn:netconf-emulator:yang:events"
NCWS_NS = "urn:netconf-emulator:yang:netconf-websocket"


def qn(name: str, ns: str = NC_NS) -> str:
    """Clark notation for ``name`` in ``ns`` (the base namespace by default)."""
    return f"{{{ns}}}{name}"
