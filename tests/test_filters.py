"""Filters without sockets: the keys of list entries on the way to what a
filter selects (RFC 6241 6.2.5), and the key-lookup fast path against the
plain scan on a seeded corpus of filters, so that it can never answer
differently."""

from __future__ import annotations

import random
from copy import deepcopy

import pytest
from lxml import etree

from bench.netconf import big_profile
from emulator.errors import RpcError
from emulator.fleet import load_fleet
from emulator.netconf import filters
from emulator.netconf.filters import KeyIndex
from tests.client import NC

IF = "urn:ietf:params:xml:ns:yang:ietf-interfaces"
IP = "urn:ietf:params:xml:ns:yang:ietf-ip"
RT = "urn:ietf:params:xml:ns:yang:ietf-routing"
V4 = "urn:ietf:params:xml:ns:yang:ietf-ipv4-unicast-routing"
NS = {"if": IF, "ip": IP, "rt": RT, "v4": V4}
ENTRIES = 60   # more than filters.INDEX_MIN_CHILDREN: the fast path is taken


@pytest.fixture(scope="module")
def device(tmp_path_factory):
    fleet = load_fleet(big_profile(tmp_path_factory.mktemp("filters"), ENTRIES))
    return fleet.get("big-1")


@pytest.fixture(scope="module")
def state(device):
    """Configuration and state together, as <get> sees them."""
    return device.state()


def subtree(data, body: str, schema, index=None):
    element = etree.fromstring(f'<filter xmlns="{NC}" type="subtree">{body}</filter>')
    return filters.apply(data, element, "/nc:rpc/nc:get/nc:filter", schema=schema, index=index)


def xpath(data, select: str, schema, index=None):
    namespaces = " ".join(f'xmlns:{p}="{ns}"' for p, ns in NS.items())
    element = etree.fromstring(f'<filter xmlns="{NC}" type="xpath" {namespaces} '
                               f'select="{select}"/>')
    return filters.apply(data, element, "/nc:rpc/nc:get/nc:filter", schema=schema, index=index)


def entries(data) -> list[list[str]]:
    """Each interface entry as the local names of its children."""
    return [[etree.QName(c).localname for c in e]
            for e in data.iterfind(f"{{{IF}}}interfaces/{{{IF}}}interface")]


# -- key inclusion ------------------------------------------------------------------

@pytest.mark.parametrize("how", ["subtree", "xpath"])
def test_a_selected_leaf_of_a_list_entry_comes_with_the_entry_key(device, state, how):
    schema = device.profile.schema
    if how == "subtree":
        data = subtree(state, f'<interfaces xmlns="{IF}"><interface><oper-status/></interface>'
                              "</interfaces>", schema)
    else:
        data = xpath(state, "/if:interfaces/if:interface/if:oper-status", schema)
    assert entries(data) == [["name", "oper-status"]] * ENTRIES
    assert data.xpath("if:interfaces/if:interface/if:name/text()", namespaces=NS) == \
        [f"eth{i}" for i in range(ENTRIES)]


@pytest.mark.parametrize("how", ["subtree", "xpath"])
def test_nested_lists_carry_the_keys_of_every_level(device, state, how):
    schema = device.profile.schema
    if how == "subtree":
        data = subtree(state, f'<interfaces xmlns="{IF}"><interface><ipv4 xmlns="{IP}"><address>'
                              "<prefix-length/></address></ipv4></interface></interfaces>", schema)
    else:
        data = xpath(state, "/if:interfaces/if:interface/ip:ipv4/ip:address/ip:prefix-length",
                     schema)
    [entry] = [e for e in data.iterfind("if:interfaces/if:interface", NS)
               if e.findtext("if:name", namespaces=NS) == "eth3"]
    assert [etree.QName(c).localname for c in entry] == ["name", "ipv4"]
    [address] = entry.iterfind("ip:ipv4/ip:address", NS)
    assert [(etree.QName(c).localname, c.text) for c in address] == \
        [("ip", "10.0.3.1"), ("prefix-length", "24")]


@pytest.mark.parametrize("how", ["subtree", "xpath"])
def test_a_list_with_two_keys_carries_both(device, how):
    """ietf-routing's control-plane-protocol (keys type and name) around a static route."""
    schema = device.profile.schema
    running = load_fleet(None).get("core-1").running()
    if how == "subtree":
        data = subtree(running, f'<routing xmlns="{RT}"><control-plane-protocols>'
                                "<control-plane-protocol><static-routes>"
                                f'<ipv4 xmlns="{V4}"><route><next-hop/></route></ipv4>'
                                "</static-routes></control-plane-protocol>"
                                "</control-plane-protocols></routing>", schema)
    else:
        data = xpath(running, "/rt:routing/rt:control-plane-protocols/rt:control-plane-protocol/"
                              "rt:static-routes/v4:ipv4/v4:route/v4:next-hop", schema)
    [protocol] = data.iterfind("rt:routing/rt:control-plane-protocols/rt:control-plane-protocol",
                               NS)
    assert [etree.QName(c).localname for c in protocol] == ["type", "name", "static-routes"]
    [route] = protocol.iterfind("rt:static-routes/v4:ipv4/v4:route", NS)
    assert [etree.QName(c).localname for c in route] == ["destination-prefix", "next-hop"]


def test_a_key_selected_explicitly_comes_once(device, state):
    data = subtree(state, f'<interfaces xmlns="{IF}"><interface><name/><oper-status/>'
                          "</interface></interfaces>", device.profile.schema)
    assert entries(data) == [["name", "oper-status"]] * ENTRIES


@pytest.mark.parametrize("how", ["subtree", "xpath"])
def test_a_content_match_on_the_key_selects_that_entry_with_its_key(device, state, how):
    schema = device.profile.schema
    for index in (None, KeyIndex(), KeyIndex(persistent=True)):
        if how == "subtree":
            data = subtree(state, f'<interfaces xmlns="{IF}"><interface><name>eth7</name>'
                                  "<oper-status/></interface></interfaces>", schema, index)
        else:
            data = xpath(state, "/if:interfaces/if:interface[if:name='eth7']/if:oper-status",
                         schema, index)
        assert entries(data) == [["name", "oper-status"]]
        assert data.findtext("if:interfaces/if:interface/if:name", namespaces=NS) == "eth7"


def test_without_the_schema_nothing_is_added(state):
    """(Notification filters have no data schema: they select exactly.)"""
    data = subtree(state, f'<interfaces xmlns="{IF}"><interface><oper-status/></interface>'
                          "</interfaces>", None)
    assert entries(data) == [["oper-status"]] * ENTRIES


# -- the key-lookup fast path against the scan ------------------------------------------

def irregular(state):
    """The state tree with entries no datastore should hold, but a filter must
    treat as the scan does: padded and commented keys, a duplicate, an entry
    without its key, and a comment among the entries."""
    tree = deepcopy(state)
    interfaces = tree.find("if:interfaces", NS)
    items = interfaces.findall("if:interface", NS)
    items[5].find("if:name", NS).text = "  eth5\n"
    name = items[6].find("if:name", NS)
    name.text = "et"
    name.append(etree.Comment("x"))
    name[-1].tail = "h6"
    interfaces.append(deepcopy(items[9]))
    items[11].remove(items[11].find("if:name", NS))
    items[12].addprevious(etree.Comment("between"))
    return tree


def random_subtree(rng: random.Random) -> str:
    def name() -> str:
        return rng.choice([f"eth{rng.randrange(ENTRIES + 5)}", "eth5", " eth5 ", "eth6",
                           "et", "eth9", "eth11", "", "nope"])

    def leaf() -> str:
        return rng.choice(["<oper-status/>", "<type/>", "<enabled/>", "<name/>",
                           "<statistics><in-octets/></statistics>", "<oper-status>up</oper-status>",
                           "<admin-status>down</admin-status>", "<type>ianaift:ethernetCsmacd</type>",
                           f'<ipv4 xmlns="{IP}"><address><ip/></address></ipv4>',
                           f'<ipv4 xmlns="{IP}"><address><ip>10.0.2.1</ip></address></ipv4>',
                           f'<ipv4 xmlns="{IP}"><mtu/></ipv4>', '<name xmlns="">eth3</name>'])

    def interface() -> str:
        attrs = ' xmlns=""' if rng.random() < 0.1 else ""
        attrs += ' a="b"' if rng.random() < 0.05 else ""
        parts = []
        if rng.random() < 0.8:
            parts.append(f"<name>{name()}</name>")
        for _ in range(rng.randrange(3)):
            parts.append(leaf())
        if rng.random() < 0.15:
            parts.append(f"<name>{name()}</name>")
        rng.shuffle(parts)
        return f"<interface{attrs}>{''.join(parts)}</interface>" if parts else \
            f"<interface{attrs}/>"

    body = "".join(interface() for _ in range(rng.randrange(1, 4)))
    if rng.random() < 0.1:
        body += "<interface/>"
    top = f'<interfaces xmlns="{IF}">{body}</interfaces>'
    if rng.random() < 0.2:
        top += f'<routing xmlns="{RT}"><ribs/></routing>'
    return top


def random_xpath(rng: random.Random) -> str:
    value = rng.choice([f"eth{rng.randrange(ENTRIES + 5)}", "eth5", "  eth5\n", "eth6", "et",
                        "eth9", ""])
    quote = rng.choice(["'", '"'])
    literal = f"{quote}{value}{quote}".replace('"', "&quot;").replace("\n", "&#10;")
    predicate = f"[if:name = {literal}]" if rng.random() < 0.9 else f"[if:type={literal}]"
    if rng.random() < 0.2:
        predicate += "[if:enabled='true']"
    tail = rng.choice(["", "/if:oper-status", "/if:name", "/ip:ipv4/ip:address",
                       "/ip:ipv4/ip:address[ip:ip='10.0.3.1']/ip:prefix-length",
                       "/if:statistics/if:in-octets", "/if:nothing"])
    return f"/if:interfaces/if:interface{predicate}{tail}"


def canonical(element) -> bytes:
    return etree.tostring(element, method="c14n")


def outcome(select: str, *args) -> bytes | str:
    """What the XPath filter gives, or the error it is refused with."""
    try:
        return canonical(xpath(*args[:1], select, *args[1:]))
    except RpcError as exc:
        return exc.message


def test_the_fast_path_answers_as_the_scan_does(device, state):
    schema = device.profile.schema
    tree = irregular(state)
    rng = random.Random(20261129)
    persistent = KeyIndex(persistent=True)   # kept across the corpus, as a datastore keeps it
    for _ in range(400):
        body = random_subtree(rng)
        scanned = canonical(subtree(tree, body, schema))
        assert canonical(subtree(tree, body, schema, KeyIndex())) == scanned, body
        assert canonical(subtree(tree, body, schema, persistent)) == scanned, body
    for _ in range(200):
        select = random_xpath(rng)
        plain = outcome(select, tree, schema)
        assert outcome(select, tree, schema, KeyIndex()) == plain, select
        assert outcome(select, tree, schema, persistent) == plain, select


def test_the_corpus_exercises_the_fast_path(device, state, monkeypatch):
    """(The comparison above means something only if lookups happen and find entries.)"""
    looked_up = []
    original = KeyIndex.candidates

    def spy(self, *args):
        found = original(self, *args)
        looked_up.append(len(found))
        return found

    monkeypatch.setattr(KeyIndex, "candidates", spy)
    schema = device.profile.schema
    rng = random.Random(20261129)
    for _ in range(50):
        subtree(state, random_subtree(rng), schema, KeyIndex(persistent=True))
        outcome(random_xpath(rng), state, schema, KeyIndex())
    assert len(looked_up) > 50 and sum(1 for n in looked_up if n) > 20


def test_selects_says_whether_apply_would_select_anything(device, state):
    """(A subscription asks only that, for each event: nothing is copied.)"""
    tree = irregular(state)
    rng = random.Random(511)
    namespaces = " ".join(f'xmlns:{p}="{ns}"' for p, ns in NS.items())
    for _ in range(150):
        for text in (f'<filter xmlns="{NC}" type="subtree">{random_subtree(rng)}</filter>',
                     f'<filter xmlns="{NC}" type="xpath" {namespaces} '
                     f'select="{random_xpath(rng)}"/>'):
            element = etree.fromstring(text)
            try:
                selected = len(filters.apply(tree, element, "/f")) > 0
            except RpcError:
                continue
            assert filters.selects(tree, element, "/f") == selected, text


# -- what an XPath filter may cost ---------------------------------------------------------

@pytest.mark.parametrize("select", [
    "//*[count(//*[count(//*)])]",
    "//*[count(//*)]",
    "/a:x[descendant::*[preceding::*]]",
    "/a:x" + "[a:y" * 9 + "]" * 9,
    "/a:x[" + "a:y or " * 800 + "a:z]",
])
def test_filters_that_would_hold_the_loop_are_refused_before_they_run(select):
    data = etree.fromstring(f'<data xmlns="{NC}"/>')
    spec = etree.fromstring(f'<filter xmlns="{NC}" xmlns:a="urn:a" type="xpath"/>')
    spec.set("select", select)
    with pytest.raises(RpcError) as refused:
        filters.apply(data, spec, "/nc:rpc/nc:get/nc:filter")
    assert refused.value.tag == "resource-denied" and "refused" in refused.value.message


@pytest.mark.parametrize("select", [
    "//a:interface[a:oper-status='down']",
    "/a:interfaces/a:interface[a:name='eth0']/a:oper-status",
    "/a:x[.//a:y]",
    "/a:x/a:y[a:z='1'] | //a:w",
])
def test_ordinary_filters_still_run(select):
    data = etree.fromstring(f'<data xmlns="{NC}"/>')
    spec = etree.fromstring(f'<filter xmlns="{NC}" xmlns:a="urn:a" type="xpath"/>')
    spec.set("select", select)
    assert len(filters.apply(data, spec, "/nc:rpc/nc:get/nc:filter")) == 0


def test_a_filter_bomb_is_answered_at_once_and_others_never_notice(server):
    import time
    bomb = '<get><filter type="xpath" select="//*[count(//*[count(//*[count(//*)])])]"/></get>'
    with server.connect("core-1") as attacker, server.connect("edge-01") as bystander:
        began = time.perf_counter()
        reply = attacker.rpc(bomb)
        assert time.perf_counter() - began < 1.0
        assert "resource-denied" in etree.tostring(reply).decode()
        assert bystander.rpc("<get-config><source><running/></source></get-config>") \
            .find(f"{{{NC}}}data") is not None
