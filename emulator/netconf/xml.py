"""XML in and out of NETCONF messages, with a parser that trusts nothing.

The parser never loads a DTD, never expands an entity, never touches the
network; a document that declares a DOCTYPE at all is refused, which
closes the door on XXE and billion-laughs payloads before they can cost
anything (RFC 6241 section 3: NETCONF messages carry no DTD).
"""

from __future__ import annotations

import threading

from lxml import etree

from emulator.namespaces import NC_NS

# What RFC 6242-minded clients append to every message; tolerated.
EOM = "]]>]]>"

_SETTINGS = dict(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                 huge_tree=False, remove_comments=True, remove_pis=True)
# A parser per thread: one shared by the event loop and the worker thread would
# make the loop wait for the worker's parse of a long message (lxml locks it).
_PARSERS = threading.local()


def _parser() -> etree.XMLParser:
    parser = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = _PARSERS.parser = etree.XMLParser(**_SETTINGS)
    return parser


class XMLRejected(ValueError):
    """The text is not a well-formed NETCONF message; the message says why."""


def parse_message(data: str | bytes) -> etree._Element:
    """Parse one NETCONF message and return its root element.

    Raises :class:`XMLRejected` for anything that is not one well-formed,
    UTF-8, DTD-free XML document.
    """
    if isinstance(data, str):
        raw = data.encode("utf-8", "surrogatepass")
    else:
        raw = data
        try:
            # RFC 6241 section 3: UTF-8 only (lxml would follow a UTF-16 BOM, and
            # a DOCTYPE in UTF-16 would slip past the byte check below)
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise XMLRejected(f"NETCONF messages are UTF-8; this one is not (byte {exc.start})") \
                from None
    raw = raw.strip()
    if raw.endswith(EOM.encode()):
        raw = raw[: -len(EOM)].rstrip()
    if not raw:
        raise XMLRejected("empty message")
    try:
        root = etree.fromstring(raw, _parser())
    except etree.XMLSyntaxError as exc:
        raise XMLRejected(f"not well-formed XML: {exc.msg}") from None
    if b"<!" not in raw and not raw.startswith(b"<?"):
        return root   # no declaration and no DTD: nothing more to check
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise XMLRejected("document type declarations are not allowed in NETCONF messages")
    encoding = (docinfo.encoding or "UTF-8").upper().replace("_", "-")
    if encoding not in ("UTF-8", "UTF8"):
        raise XMLRejected(f"NETCONF messages are UTF-8, not {docinfo.encoding}")
    return root


def to_text(element: etree._Element) -> str:
    return etree.tostring(element, encoding="unicode")


def localname(element: etree._Element) -> str:
    return etree.QName(element).localname


def describe(element: etree._Element) -> str:
    """``<rpc>`` for the base namespace, else the namespace too, for messages."""
    qname = etree.QName(element)
    if qname.namespace == NC_NS:
        return f"<{qname.localname}>"
    where = f"namespace {qname.namespace}" if qname.namespace else "no namespace"
    return f"<{qname.localname}> in {where}"


def namespace(element: etree._Element) -> str | None:
    return etree.QName(element).namespace
