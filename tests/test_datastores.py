"""Datastores end to end over WebSocket: RFC 6241 sections 6.4 and 7.2 with the
RFC's own data, every edit-config option, candidate and commit, confirmed
commit, locks, copy/delete/validate, with-defaults, persistence."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from lxml import etree

from emulator.clock import VirtualClock
from tests.client import NC, NS, rpc_errors

T = "http://example.com/schema/1.2/config"
X = {"t": T, "nc": NC}
RFC_PROFILE = Path(__file__).parent / "profiles" / "rfc-example"
XC = f'xmlns:xc="{NC}"'


@pytest.fixture
def rfc(make_server, tmp_path):
    fleet = tmp_path / "rfc-fleet.yaml"
    fleet.write_text(f"profiles:\n  rfc: {RFC_PROFILE}\n"
                     "devices:\n  - name: rfc-{n}\n    count: 2\n    profile: rfc\n")
    return make_server(fleet, clock=VirtualClock())


def ok(reply: etree._Element) -> None:
    assert reply.find("nc:ok", NS) is not None, etree.tostring(reply).decode()


def one_error(reply: etree._Element) -> dict:
    errors = rpc_errors(reply)
    assert len(errors) == 1, etree.tostring(reply).decode()
    return errors[0]


def get_config(client, source: str = "running", filter_body: str = "", extra: str = "") -> etree._Element:
    filter_xml = f'<filter type="subtree">{filter_body}</filter>' if filter_body else ""
    reply = client.rpc(f"<get-config><source><{source}/></source>{filter_xml}{extra}</get-config>")
    data = reply.find("nc:data", NS)
    assert data is not None, etree.tostring(reply).decode()
    return data


def edit(client, config: str, target: str = "running", options: str = "") -> etree._Element:
    return client.rpc(f"<edit-config><target><{target}/></target>{options}"
                      f"<config {XC}>{config}</config></edit-config>")


def top(body: str) -> str:
    return f'<top xmlns="{T}">{body}</top>'


def names(data: etree._Element, path: str) -> list[str]:
    return data.xpath(path, namespaces=X)


# -- RFC 6241 section 6.4: subtree filtering, with the RFC's data ----------------------------

def test_6_4_2_one_subtree(rfc):
    with rfc.connect("rfc-1") as client:
        data = get_config(client, filter_body=top("<users/>"))
    assert names(data, "t:top/t:users/t:user/t:name/text()") == ["root", "fred", "barney"]
    assert names(data, "t:top/t:interface") == []


def test_6_4_3_all_user_names(rfc):
    with rfc.connect("rfc-1") as client:
        data = get_config(client, filter_body=top("<users><user><name/></user></users>"))
    users = data.xpath("t:top/t:users/t:user", namespaces=X)
    assert [[etree.QName(c).localname for c in u] for u in users] == [["name"]] * 3


def test_6_4_4_one_specific_user(rfc):
    with rfc.connect("rfc-1") as client:
        data = get_config(client, filter_body=top("<users><user><name>fred</name></user></users>"))
    [fred] = data.xpath("t:top/t:users/t:user", namespaces=X)
    assert fred.findtext("t:full-name", namespaces=X) == "Fred Flintstone"
    assert fred.findtext("t:company-info/t:dept", namespaces=X) == "2"


def test_6_4_5_specific_elements_of_one_user(rfc):
    with rfc.connect("rfc-1") as client:
        data = get_config(client, filter_body=top(
            "<users><user><name>fred</name><type/><full-name/></user></users>"))
    [fred] = data.xpath("t:top/t:users/t:user", namespaces=X)
    assert [(etree.QName(c).localname, c.text) for c in fred] == [
        ("name", "fred"), ("type", "admin"), ("full-name", "Fred Flintstone")]


def test_6_4_6_several_subtrees(rfc):
    with rfc.connect("rfc-1") as client:
        data = get_config(client, filter_body=top(
            "<users><user><name>root</name><company-info/></user>"
            "<user><name>fred</name><company-info><id/></company-info></user>"
            "<user><name>barney</name><type>superuser</type><company-info><dept/></company-info>"
            "</user></users>"))
    users = {u.findtext("t:name", namespaces=X): u
             for u in data.xpath("t:top/t:users/t:user", namespaces=X)}
    assert set(users) == {"root", "fred"}      # barney is not a superuser
    assert users["root"].findtext("t:company-info/t:dept", namespaces=X) == "1"
    assert users["fred"].find("t:company-info/t:dept", X) is None
    assert users["fred"].findtext("t:company-info/t:id", namespaces=X) == "2"


def test_6_4_1_no_match_and_namespace_wildcard(rfc):
    with rfc.connect("rfc-1") as client:
        empty = get_config(client, filter_body='<top xmlns="urn:nothing"><users/></top>')
        assert len(empty) == 0
        wildcard = get_config(client, filter_body='<top xmlns=""><users><user><name>fred</name>'
                                                  "</user></users></top>")
        assert names(wildcard, "t:top/t:users/t:user/t:name/text()") == ["fred"]


# -- RFC 6241 section 7.2: edit-config examples ----------------------------------------------

def test_7_2_merge_the_mtu(rfc):
    with rfc.connect("rfc-1") as client:
        ok(edit(client, top("<interface><name>Ethernet0/0</name><mtu>1500</mtu></interface>")))
        ok(edit(client, top("<interface><name>Ethernet0/0</name><mtu>9000</mtu></interface>")))
        data = get_config(client)
    assert names(data, "t:top/t:interface/t:mtu/text()") == ["9000"]


def test_7_2_replace_an_interface(rfc):
    with rfc.connect("rfc-1") as client:
        ok(edit(client, top('<interface xc:operation="replace"><name>Ethernet0/0</name>'
                            "<mtu>1500</mtu><address><name>192.0.2.4</name>"
                            "<prefix-length>24</prefix-length></address></interface>")))
        data = get_config(client)
    [interface] = data.xpath("t:top/t:interface", namespaces=X)
    assert interface.findtext("t:address/t:prefix-length", namespaces=X) == "24"


def test_7_2_delete_an_interface(rfc):
    with rfc.connect("rfc-1") as client:
        ok(edit(client, top('<interface xc:operation="delete"><name>Ethernet0/0</name></interface>'),
                options="<default-operation>none</default-operation>"))
        assert names(get_config(client), "t:top/t:interface") == []


def test_7_2_delete_one_interface_of_an_ospf_area(rfc):
    with rfc.connect("rfc-1") as client:
        ok(edit(client, top('<protocols><ospf><area><name>0.0.0.0</name><interfaces>'
                            '<interface xc:operation="delete"><name>192.0.2.4</name></interface>'
                            "</interfaces></area></ospf></protocols>"),
                options="<default-operation>none</default-operation>"))
        data = get_config(client)
    assert names(data, "//t:area/t:interfaces/t:interface/t:name/text()") == ["192.0.2.1"]


# -- operations and options -------------------------------------------------------------------

def test_create_delete_remove_and_their_refusals(rfc):
    with rfc.connect("rfc-1") as client:
        err = one_error(edit(client, top('<interface xc:operation="create"><name>Ethernet0/0</name>'
                                         "</interface>")))
        assert err["tag"] == "data-exists" and err["path"] == "/t:top/t:interface[t:name='Ethernet0/0']"
        err = one_error(edit(client, top('<interface xc:operation="delete"><name>nope</name>'
                                         "</interface>")))
        assert err["tag"] == "data-missing" and err["path"] == "/t:top/t:interface[t:name='nope']"
        ok(edit(client, top('<interface xc:operation="remove"><name>nope</name></interface>')))
        ok(edit(client, top('<interface xc:operation="create"><name>e1</name><mtu>1</mtu></interface>')))
        assert names(get_config(client), "t:top/t:interface/t:name/text()") == ["Ethernet0/0", "e1"]


def test_default_operation_replace_and_none(rfc):
    with rfc.connect("rfc-1") as client:
        err = one_error(edit(client, top("<interface><name>e9</name><mtu>5</mtu></interface>"),
                             options="<default-operation>none</default-operation>"))
        assert err["tag"] == "data-missing"
        ok(edit(client, top("<interface><name>only</name></interface>"),
                options="<default-operation>replace</default-operation>"))
        data = get_config(client)
    assert names(data, "t:top/t:interface/t:name/text()") == ["only"]
    assert names(data, "t:top/t:users") == [] and names(data, "t:ordered") == []


def test_test_only_changes_nothing(rfc):
    with rfc.connect("rfc-1") as client:
        ok(edit(client, top("<interface><name>Ethernet0/0</name><mtu>7</mtu></interface>"),
                options="<test-option>test-only</test-option>"))
        err = one_error(edit(client, top("<interface><name>Ethernet0/0</name><mtu>x</mtu></interface>"),
                             options="<test-option>test-only</test-option>"))
        assert err["tag"] == "invalid-value"
        assert names(get_config(client), "t:top/t:interface/t:mtu/text()") == ["1500"]


@pytest.mark.parametrize("option, applied", [("stop-on-error", False), ("rollback-on-error", False),
                                             ("continue-on-error", True)])
def test_error_options(rfc, option, applied):
    with rfc.connect("rfc-1") as client:
        reply = edit(client, top('<interface xc:operation="create"><name>new</name></interface>'
                                 '<interface xc:operation="delete"><name>missing</name></interface>'),
                     options=f"<error-option>{option}</error-option>")
        assert [e["tag"] for e in rpc_errors(reply)] == ["data-missing"]
        created = "new" in names(get_config(client), "t:top/t:interface/t:name/text()")
    assert created is applied


def test_a_refused_edit_leaves_the_target_exactly_as_it_was(rfc):
    with rfc.connect("rfc-1") as client:
        before = etree.tostring(get_config(client))
        reply = edit(client, top("<interface><name>Ethernet0/0</name><mtu>1</mtu></interface>"
                                 "<interface><name>x</name><mtu>-5</mtu></interface>"))
        assert rpc_errors(reply)[0]["tag"] == "invalid-value"
        assert etree.tostring(get_config(client)) == before


@pytest.mark.parametrize("options, tag", [
    ("<default-operation>merge-ish</default-operation>", "invalid-value"),
    ("<test-option>maybe</test-option>", "invalid-value"),
    ("<error-option>ignore</error-option>", "invalid-value"),
])
def test_bad_option_values(rfc, options, tag):
    with rfc.connect("rfc-1") as client:
        assert one_error(edit(client, top("<interface><name>a</name></interface>"),
                              options=options))["tag"] == tag


def test_bad_edit_requests(rfc):
    with rfc.connect("rfc-1") as client:
        err = one_error(client.rpc("<edit-config><target><running/></target></edit-config>"))
        assert err["tag"] == "missing-element" and err["info"]["bad-element"] == "config"
        err = one_error(edit(client, top('<interface xc:operation="frob"><name>a</name></interface>')))
        assert err["tag"] == "bad-attribute" and err["info"]["bad-attribute"] == "operation"
        err = one_error(edit(client, top("<interface><mtu>5</mtu></interface>")))
        assert err["tag"] == "missing-element" and err["info"]["bad-element"] == "name"
        err = one_error(edit(client, top("<nonsense/>")))
        assert err["tag"] == "unknown-element" and err["path"] == "/t:top/t:nonsense"
        err = one_error(edit(client, "<top/>", target="startup"))
        assert err["tag"] == "invalid-value" and err["path"] == "/nc:rpc/nc:edit-config/nc:target"
        err = one_error(client.rpc("<edit-config><target><running/></target>"
                                   "<url>file:///etc/passwd</url></edit-config>"))
        assert err["tag"] == "operation-not-supported"


def test_a_new_case_replaces_the_other_case(rfc):
    with rfc.connect("rfc-1") as client:
        ok(edit(client, f'<ordered xmlns="{T}"><a1>x</a1></ordered>'))
        ok(edit(client, f'<ordered xmlns="{T}"><b1>y</b1></ordered>'))
        data = get_config(client)
    assert names(data, "t:ordered/t:a1") == [] and names(data, "t:ordered/t:b1/text()") == ["y"]


# -- ordered-by user: insert ------------------------------------------------------------------

YANG = "urn:ietf:params:xml:ns:yang:1"


def steps(client) -> list[str]:
    return names(get_config(client), "t:ordered/t:step/t:id/text()")


def colors(client) -> list[str]:
    return names(get_config(client), "t:ordered/t:color/text()")


def ordered(body: str) -> str:
    return f'<ordered xmlns="{T}" xmlns:yang="{YANG}" xmlns:t="{T}">{body}</ordered>'


def test_insert_into_user_ordered_lists_and_leaf_lists(rfc):
    with rfc.connect("rfc-1") as client:
        ok(edit(client, ordered('<step yang:insert="first"><id>zero</id></step>')))
        assert steps(client) == ["zero", "one", "two"]
        ok(edit(client, ordered('<step yang:insert="after" yang:key="[t:id=\'one\']"><id>1.5</id></step>')))
        assert steps(client) == ["zero", "one", "1.5", "two"]
        ok(edit(client, ordered('<step yang:insert="before" yang:key="[t:id=\'zero\']"><id>two</id></step>')))
        assert steps(client) == ["two", "zero", "one", "1.5"]   # an existing entry moves
        ok(edit(client, ordered('<color yang:insert="before" yang:value="red">green</color>')))
        ok(edit(client, ordered('<color yang:insert="last">red</color>')))
        assert colors(client) == ["green", "blue", "red"]


def test_insert_refusals(rfc):
    with rfc.connect("rfc-1") as client:
        err = one_error(edit(client, ordered(
            '<step yang:insert="after" yang:key="[t:id=\'nope\']"><id>x</id></step>')))
        assert (err["tag"], err["app-tag"]) == ("bad-attribute", "missing-instance")
        err = one_error(edit(client, ordered('<step yang:insert="sideways"><id>x</id></step>')))
        assert err["tag"] == "bad-attribute"
        err = one_error(edit(client, top('<interface xmlns:yang="urn:ietf:params:xml:ns:yang:1" '
                                         'yang:insert="first"><name>q</name></interface>')))
        assert err["tag"] == "unknown-attribute"
        assert steps(client) == ["one", "two"]


# -- candidate, commit, discard ---------------------------------------------------------------

def test_candidate_commit_and_discard(rfc):
    with rfc.connect("rfc-1") as client:
        ok(edit(client, top("<interface><name>cand</name></interface>"), target="candidate"))
        assert "cand" in names(get_config(client, "candidate"), "t:top/t:interface/t:name/text()")
        assert "cand" not in names(get_config(client), "t:top/t:interface/t:name/text()")
        ok(client.rpc("<discard-changes/>"))
        assert "cand" not in names(get_config(client, "candidate"), "t:top/t:interface/t:name/text()")
        ok(edit(client, top("<interface><name>cand</name></interface>"), target="candidate"))
        ok(client.rpc("<commit/>"))
        assert "cand" in names(get_config(client), "t:top/t:interface/t:name/text()")


VLAN = "urn:netconf-emulator:yang:vlans"
IF = "urn:ietf:params:xml:ns:yang:ietf-interfaces"


def test_the_candidate_may_be_incomplete_until_commit(server):
    port = (f'<interfaces xmlns="{IF}"><interface><name>ge-0/0/1</name><switchport xmlns="{VLAN}">'
            "<access-vlan>77</access-vlan></switchport></interface></interfaces>")
    vlan = f'<vlans xmlns="{VLAN}"><vlan><id>77</id><name>lab</name></vlan></vlans>'
    with server.connect("access-03") as client:
        ok(edit(client, port, target="candidate"))          # VLAN 77 does not exist yet
        err = one_error(client.rpc("<validate><source><candidate/></source></validate>"))
        assert (err["tag"], err["app-tag"]) == ("data-missing", "instance-required")
        err = one_error(client.rpc("<commit/>"))
        assert err["app-tag"] == "instance-required"
        assert err["path"].endswith("vlan:switchport/vlan:access-vlan")
        ok(edit(client, vlan, target="candidate"))
        ok(client.rpc("<commit/>"))
        data = get_config(client, extra="")
        assert data.xpath("//v:vlan[v:id=77]/v:name/text()", namespaces={"v": VLAN}) == ["lab"]
        # running is edited directly too, and stays valid
        err = one_error(edit(client, f'<vlans xmlns="{VLAN}" {XC}><vlan xc:operation="delete">'
                                     "<id>77</id></vlan></vlans>"))
        assert (err["tag"], err["app-tag"]) == ("data-missing", "instance-required")


# -- confirmed commit -------------------------------------------------------------------------

def interface_names(client) -> list[str]:
    return names(get_config(client), "t:top/t:interface/t:name/text()")


def test_confirmed_commit_rolls_back_after_the_timeout(rfc):
    with rfc.connect("rfc-1") as client:
        ok(edit(client, top("<interface><name>trial</name></interface>"), target="candidate"))
        ok(client.rpc("<commit><confirmed/><confirm-timeout>1</confirm-timeout></commit>"))
        assert "trial" in interface_names(client)
        rfc.advance(1)
        assert "trial" not in interface_names(client)


def test_confirmed_commit_rolls_back_after_the_default_600_seconds(rfc):
    with rfc.connect("rfc-1") as client:
        ok(edit(client, top("<interface><name>trial</name></interface>"), target="candidate"))
        ok(client.rpc("<commit><confirmed/></commit>"))
        rfc.advance(599.9)
        assert "trial" in interface_names(client)
        rfc.advance(0.1)
        assert "trial" not in interface_names(client)


def test_confirming_commit_keeps_the_change(rfc):
    with rfc.connect("rfc-1") as client:
        ok(edit(client, top("<interface><name>kept</name></interface>"), target="candidate"))
        ok(client.rpc("<commit><confirmed/><confirm-timeout>1</confirm-timeout></commit>"))
        ok(client.rpc("<commit/>"))
        rfc.advance(3600)
        assert "kept" in interface_names(client)


def test_without_persist_the_rollback_happens_when_the_session_ends(rfc):
    with rfc.connect("rfc-1") as client:
        ok(edit(client, top("<interface><name>brief</name></interface>"), target="candidate"))
        ok(client.rpc("<commit><confirmed/></commit>"))
        ok(client.rpc("<close-session/>"))
    with rfc.connect("rfc-1") as other:
        assert "brief" not in interface_names(other)


def test_persist_survives_the_session_and_another_confirms(rfc):
    with rfc.connect("rfc-1") as client:
        ok(edit(client, top("<interface><name>lasting</name></interface>"), target="candidate"))
        ok(client.rpc("<commit><confirmed/><persist>p-1</persist></commit>"))
    with rfc.connect("rfc-1") as other:
        assert "lasting" in interface_names(other)
        err = one_error(other.rpc("<commit><persist-id>wrong</persist-id></commit>"))
        assert err["tag"] == "invalid-value"
        ok(other.rpc("<commit><persist-id>p-1</persist-id></commit>"))
        assert "lasting" in interface_names(other)


def test_cancel_commit(rfc):
    with rfc.connect("rfc-1") as client, rfc.connect("rfc-1") as other:
        err = one_error(client.rpc("<cancel-commit/>"))
        assert err["tag"] == "operation-failed"
        ok(edit(client, top("<interface><name>undo</name></interface>"), target="candidate"))
        ok(client.rpc("<commit><confirmed/></commit>"))
        assert one_error(other.rpc("<cancel-commit/>"))["tag"] == "in-use"
        assert one_error(other.rpc("<commit/>"))["tag"] == "in-use"
        ok(client.rpc("<cancel-commit/>"))
        assert "undo" not in interface_names(client)


# -- locks ----------------------------------------------------------------------------------

def test_locks(rfc):
    with rfc.connect("rfc-1") as owner, rfc.connect("rfc-1") as other:
        ok(owner.rpc("<lock><target><running/></target></lock>"))
        err = one_error(other.rpc("<lock><target><running/></target></lock>"))
        assert err["tag"] == "lock-denied" and err["info"]["session-id"] == str(owner.session_id)
        err = one_error(owner.rpc("<lock><target><running/></target></lock>"))
        assert err["tag"] == "lock-denied"
        err = one_error(edit(other, top("<interface><name>x</name></interface>")))
        assert err["tag"] == "in-use"
        assert one_error(other.rpc("<unlock><target><running/></target></unlock>"))["tag"] == \
            "operation-failed"
        ok(edit(owner, top("<interface><name>mine</name></interface>")))
        ok(owner.rpc("<unlock><target><running/></target></unlock>"))
        assert one_error(owner.rpc("<unlock><target><running/></target></unlock>"))["tag"] == \
            "operation-failed"
        ok(edit(other, top("<interface><name>x</name></interface>")))


def test_a_dirty_candidate_cannot_be_locked(rfc):
    with rfc.connect("rfc-1") as client, rfc.connect("rfc-1") as other:
        ok(edit(client, top("<interface><name>d</name></interface>"), target="candidate"))
        err = one_error(other.rpc("<lock><target><candidate/></target></lock>"))
        assert err["tag"] == "lock-denied" and err["info"]["session-id"] == "0"


@pytest.mark.parametrize("ending", ["close", "kill", "drop"])
def test_locks_go_when_the_session_ends(rfc, ending):
    owner = rfc.connect("rfc-2")
    with rfc.connect("rfc-2") as other:
        ok(owner.rpc("<lock><target><candidate/></target></lock>"))
        ok(edit(owner, top("<interface><name>tmp</name></interface>"), target="candidate"))
        if ending == "close":
            ok(owner.rpc("<close-session/>"))
        elif ending == "kill":
            ok(other.rpc(f"<kill-session><session-id>{owner.session_id}</session-id></kill-session>"))
        if ending == "drop":
            owner.ws.socket.close()  # no close frame: a dropped TCP connection
        else:
            owner.wait_closed()
        # (a dropped TCP connection is noticed when the server's loop reads the
        # reset: no clock says when, so this retries briefly, with a deadline)
        deadline = time.monotonic() + 5
        while True:
            reply = other.rpc("<lock><target><candidate/></target></lock>")
            if reply.find("nc:ok", NS) is not None or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        ok(reply)
        # the lock holder's uncommitted changes went with it
        assert "tmp" not in names(get_config(other, "candidate"), "t:top/t:interface/t:name/text()")


def test_monitoring_shows_the_lock(rfc):
    ncm = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
    with rfc.connect("rfc-1") as client:
        ok(client.rpc("<lock><target><startup/></target></lock>"))
        reply = client.rpc(f'<get><filter type="subtree"><netconf-state xmlns="{ncm}"><datastores/>'
                           "</netconf-state></filter></get>")
        held = reply.xpath("//m:datastore[m:name='startup']/m:locks/m:global-lock/"
                           "m:locked-by-session/text()", namespaces={"m": ncm})
        assert held == [str(client.session_id)]


# -- copy, delete, validate ---------------------------------------------------------------------

def test_copy_config_delete_config_and_startup(rfc):
    with rfc.connect("rfc-1") as client:
        ok(edit(client, top("<interface><name>saved</name></interface>")))
        ok(client.rpc("<copy-config><target><startup/></target><source><running/></source>"
                      "</copy-config>"))
        assert "saved" in names(get_config(client, "startup"), "t:top/t:interface/t:name/text()")
        ok(client.rpc(f"<copy-config><target><running/></target><source><config>"
                      f"{top('<interface><name>inline</name></interface>')}</config></source>"
                      "</copy-config>"))
        assert interface_names(client) == ["inline"]
        err = one_error(client.rpc("<copy-config><target><running/></target><source><running/>"
                                   "</source></copy-config>"))
        assert err["tag"] == "invalid-value"
        err = one_error(client.rpc(f"<copy-config><target><running/></target><source><config>"
                                   f"{top('<interface><name>a</name><mtu>no</mtu></interface>')}"
                                   "</config></source></copy-config>"))
        assert err["tag"] == "invalid-value" and interface_names(client) == ["inline"]
        err = one_error(client.rpc("<delete-config><target><running/></target></delete-config>"))
        assert err["tag"] == "invalid-value"
        ok(client.rpc("<delete-config><target><startup/></target></delete-config>"))
        assert len(get_config(client, "startup")) == 0


def test_validate(rfc):
    with rfc.connect("rfc-1") as client:
        ok(client.rpc("<validate><source><running/></source></validate>"))
        ok(client.rpc(f"<validate><source><config>{top('<interface><name>v</name></interface>')}"
                      "</config></source></validate>"))
        err = one_error(client.rpc(f"<validate><source><config>"
                                   f"{top('<interface><name>v</name><mtu>-1</mtu></interface>')}"
                                   "</config></source></validate>"))
        assert err["tag"] == "invalid-value" and err["path"] == "/t:top/t:interface[t:name='v']/t:mtu"


# -- with-defaults (RFC 6243) -----------------------------------------------------------------

WD = "urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults"


def plain(client, mode: str | None) -> list[tuple[str, str | None]]:
    extra = f'<with-defaults xmlns="{WD}">{mode}</with-defaults>' if mode else ""
    data = get_config(client, filter_body=f'<ordered xmlns="{T}"><plain/></ordered>', extra=extra)
    return [(e.text, e.get("{urn:ietf:params:xml:ns:netconf:default:1.0}default"))
            for e in data.xpath("//t:plain", namespaces=X)]


def test_with_defaults_modes(rfc):
    with rfc.connect("rfc-1") as client:
        assert plain(client, None) == [] and plain(client, "explicit") == []
        assert plain(client, "report-all") == [("dflt", None)]
        assert plain(client, "report-all-tagged") == [("dflt", "true")]
        ok(edit(client, f'<ordered xmlns="{T}"><plain>dflt</plain></ordered>'))
        assert plain(client, "explicit") == [("dflt", None)]
        assert plain(client, "trim") == []
        assert plain(client, "report-all-tagged") == [("dflt", "true")]
        err = one_error(client.rpc(f'<get-config><source><running/></source><with-defaults '
                                   f'xmlns="{WD}">everything</with-defaults></get-config>'))
        assert err["tag"] == "invalid-value"


# -- capabilities --------------------------------------------------------------------------------

def test_hello_lists_the_datastore_capabilities(server):
    with server.connect() as client:
        caps = {c.text.split("?")[0] for c in client.server_hello.iterfind("nc:capabilities/nc:capability", NS)}
    for name in ("writable-running:1.0", "candidate:1.0", "confirmed-commit:1.1",
                 "rollback-on-error:1.0", "validate:1.1", "startup:1.0", "with-defaults:1.0",
                 "xpath:1.0"):
        assert f"urn:ietf:params:netconf:capability:{name}" in caps
    assert "urn:ietf:params:netconf:capability:url:1.0" not in caps


# -- found in review ------------------------------------------------------------------------

def areas(client) -> dict[str, list[str]]:
    data = get_config(client)
    return {a.findtext("t:name", namespaces=X): a.xpath("t:interfaces/t:interface/t:name/text()",
                                                        namespaces=X)
            for a in data.xpath("//t:ospf/t:area", namespaces=X)}


def test_one_edit_into_lists_under_many_parents_lands_in_each(rfc):
    with rfc.connect("rfc-2") as client:
        many = "".join(f"<area><name>a{i}</name><interfaces><interface><name>i0</name></interface>"
                       "</interfaces></area>" for i in range(20))
        ok(edit(client, top(f"<protocols><ospf>{many}</ospf></protocols>")))
        mixed = "".join(
            f"<area><name>a{i}</name><interfaces>"
            + ("<interface><name>i0</name></interface>" if i % 2 else
               f'<interface xc:operation="create"><name>new{i}</name></interface>')
            + "</interfaces></area>" for i in range(20))
        ok(edit(client, top(f"<protocols><ospf>{mixed}</ospf></protocols>")))
        found = areas(client)
    for i in range(20):
        assert found[f"a{i}"] == (["i0"] if i % 2 else ["i0", f"new{i}"]), (i, found[f"a{i}"])


@pytest.mark.parametrize("body", [
    f'<ordered xmlns="{T}"><a1>x</a1><b1>y</b1></ordered>',
    f'<ordered xmlns="{T}"><plain>3</plain><plain>4</plain></ordered>',
    top('<interface xc:operation="create"><name>z</name></interface>'
        '<interface xc:operation="delete"><name>z</name></interface>'
        '<interface xc:operation="create"><name>z</name></interface>'),
])
def test_one_edit_touching_a_node_twice_gets_a_proper_answer(rfc, body):
    with rfc.connect("rfc-1") as client:
        reply = edit(client, body)
        errors = rpc_errors(reply)
        assert reply.find("nc:ok", NS) is not None or errors
        assert all("internal error" not in (e.get("message") or "") for e in errors)


def test_continue_on_error_never_applies_what_it_refused(rfc):
    with rfc.connect("rfc-1") as client:
        reply = edit(client, top('<interface xc:operation="create"><name>p</name>'
                                 '<address xc:operation="delete"><name>x</name></address></interface>'
                                 "<interface><name>q</name></interface>"),
                     options="<error-option>continue-on-error</error-option>")
        assert [e["tag"] for e in rpc_errors(reply)] == ["bad-attribute"]
        names_now = interface_names(client)
        assert "p" not in names_now and "q" in names_now


def test_commit_by_another_session_while_the_candidate_is_locked(rfc):
    with rfc.connect("rfc-1") as owner, rfc.connect("rfc-1") as other:
        ok(owner.rpc("<lock><target><candidate/></target></lock>"))
        ok(edit(owner, top("<interface><name>unfinished</name></interface>"), target="candidate"))
        assert one_error(other.rpc("<commit/>"))["tag"] == "in-use"
        assert "unfinished" not in interface_names(other)


def test_wd_default_in_an_edit(rfc):
    wd = 'xmlns:wd="urn:ietf:params:xml:ns:netconf:default:1.0"'
    with rfc.connect("rfc-1") as client:
        ok(edit(client, f'<ordered xmlns="{T}"><plain>custom</plain></ordered>'))
        err = one_error(edit(client, f'<ordered xmlns="{T}" {wd}><plain wd:default="true">zz</plain>'
                                     "</ordered>"))
        assert err["tag"] == "invalid-value"
        ok(edit(client, f'<ordered xmlns="{T}" {wd}><plain wd:default="true">dflt</plain></ordered>'))
        assert plain(client, None) == []            # back to its default
        assert plain(client, "report-all") == [("dflt", None)]


def test_with_defaults_respects_the_filter(rfc):
    with rfc.connect("rfc-1") as client:
        data = get_config(client, filter_body=top("<users><user><name>fred</name><type/></user></users>"),
                          extra=f'<with-defaults xmlns="{WD}">report-all</with-defaults>')
        assert names(data, "t:ordered") == []
        assert b"urn:netconf-emulator:internal" not in etree.tostring(data)


def test_the_memo_ignores_a_message_id_in_a_comment(rfc):
    with rfc.connect("rfc-1") as client:
        body = "<get-config><source><running/></source></get-config>"
        for n in ("7", "8"):
            client.send(f'<!-- message-id="{n}" --><rpc message-id="7{n}" xmlns="{NC}">{body}</rpc>')
            assert client.recv_xml().get("message-id") == f"7{n}"


def test_large_edits_stay_fast(rfc):
    with rfc.connect("rfc-2") as client:
        values = "".join(f"<color>c{i}</color>" for i in range(4000))
        started = time.monotonic()
        ok(edit(client, f'<ordered xmlns="{T}">{values}</ordered>'))
        assert time.monotonic() - started < 10   # (quadratic, this took minutes)


def test_default_operation_replace_honours_explicit_operations_on_the_old_content(rfc):
    with rfc.connect("rfc-1") as client:
        # ordered exists: deleting it is fine; top is replaced by what is given
        ok(edit(client, f'<ordered xmlns="{T}" xc:operation="delete"/>'
                        + top("<interface><name>only</name></interface>"),
                options="<default-operation>replace</default-operation>"))
        data = get_config(client)
        assert names(data, "t:ordered") == []
        assert names(data, "t:top/t:interface/t:name/text()") == ["only"]
        err = one_error(edit(client, f'<ordered xmlns="{T}" xc:operation="delete"/>',
                             options="<default-operation>replace</default-operation>"))
        assert err["tag"] == "data-missing"   # it is gone now
        assert names(get_config(client), "t:top/t:interface/t:name/text()") == ["only"]


@pytest.mark.parametrize("body, tag, path", [
    ("<commit><confirmed/><confirm-timeout>soon</confirm-timeout></commit>", "invalid-value",
     "/nc:rpc/nc:commit/nc:confirm-timeout"),
    ("<commit><confirmed/><confirm-timeout>0</confirm-timeout></commit>", "invalid-value",
     "/nc:rpc/nc:commit/nc:confirm-timeout"),
    ("<commit><persist>p</persist></commit>", "invalid-value", "/nc:rpc/nc:commit"),
    ("<commit><persist-id>p</persist-id></commit>", "invalid-value", "/nc:rpc/nc:commit/nc:persist-id"),
    ("<lock><target><nonsense/></target></lock>", "invalid-value", "/nc:rpc/nc:lock/nc:target"),
    ("<unlock/>", "missing-element", "/nc:rpc/nc:unlock"),
    ("<copy-config><target><url>file:///x</url></target><source><running/></source></copy-config>",
     "operation-not-supported", "/nc:rpc/nc:copy-config/nc:target"),
    ("<copy-config><target><startup/></target></copy-config>", "missing-element",
     "/nc:rpc/nc:copy-config"),
    ("<validate/>", "missing-element", "/nc:rpc/nc:validate"),
    ("<delete-config><target><candidate/></target></delete-config>", "invalid-value",
     "/nc:rpc/nc:delete-config/nc:target"),
])
def test_datastore_refusals(rfc, body, tag, path):
    with rfc.connect("rfc-2") as client:
        err = one_error(client.rpc(body))
    assert (err["tag"], err["path"]) == (tag, path)


@pytest.mark.parametrize("target, body", [
    ("candidate", "<discard-changes/>"),
    ("startup", "<delete-config><target><startup/></target></delete-config>"),
    ("startup", "<copy-config><target><startup/></target><source><running/></source></copy-config>"),
])
def test_writes_to_a_datastore_locked_by_another_session_are_in_use(rfc, target, body):
    with rfc.connect("rfc-2") as owner, rfc.connect("rfc-2") as other:
        ok(owner.rpc(f"<lock><target><{target}/></target></lock>"))
        assert one_error(other.rpc(body))["tag"] == "in-use"
