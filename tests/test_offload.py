"""Big work off the event loop: an <edit-config>, <copy-config> or <commit> of
many elements, and the parsing of a long message, are done on the worker
thread (on trees of their own), while every other session is answered; the
session that asked waits, and its next messages are answered after, in order.
And the limit on what a datastore may hold. Real server, real sockets; the
worker is held at a gate so that "meanwhile" is certain, not a race."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from lxml import etree

from emulator.clock import VirtualClock
from emulator.datastore.journal import Journal
from emulator.fleet import load_fleet
from emulator.runtime import Limits, Runtime
from tests.client import NC, rpc_errors
from tests.memory import connect
from tests.test_wire import HELLO, RawClient, frame

IF = "urn:ietf:params:xml:ns:yang:ietf-interfaces"
IP = "urn:ietf:params:xml:ns:yang:ietf-ip"
IANAIFT = "urn:ietf:params:xml:ns:yang:iana-if-type"
NS = {"nc": NC, "if": IF}


class Gate(ThreadPoolExecutor):
    """The worker thread, holding each job until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.entered = threading.Event()
        self.opened = threading.Event()
        self.ran = 0

    def submit(self, fn, /, *args, **kwargs):
        def held():
            self.ran += 1
            self.entered.set()
            assert self.opened.wait(10), "the test never opened the gate"
            return fn(*args, **kwargs)
        return super().submit(held)


@pytest.fixture
def gate(monkeypatch):
    from emulator import sessions
    worker = Gate()
    monkeypatch.setattr(sessions, "_WORKER", worker)
    yield worker
    worker.opened.set()
    worker.shutdown(wait=True)


def interfaces(names, mtu: int = 1500) -> str:
    return "".join(f"<interface><name>{name}</name><type>ianaift:ethernetCsmacd</type>"
                   f'<ipv4 xmlns="{IP}"><mtu>{mtu}</mtu></ipv4></interface>' for name in names)


def edit(names, target: str = "candidate", message_id: str = "big") -> str:
    return (f'<rpc message-id="{message_id}" xmlns="{NC}"><edit-config><target><{target}/>'
            f'</target><config><interfaces xmlns="{IF}" xmlns:ianaift="{IANAIFT}">'
            f"{interfaces(names)}</interfaces></config></edit-config></rpc>")


def names_in(reply: etree._Element) -> set[str]:
    return {n.text for n in reply.iterfind(".//if:interface/if:name", NS)}


GET_CANDIDATE = "<get-config><source><candidate/></source></get-config>"
NEW = [f"new{i}" for i in range(30)]


def test_a_big_edit_is_made_off_the_loop_while_every_other_session_is_answered(make_server,
                                                                                gate):
    running = make_server(offload_elements=50)
    with running.connect("core-1") as asker, running.connect("core-1") as same_device, \
            running.connect("edge-01") as other_device:
        asker.send(edit(NEW))
        asker.send(f'<rpc message-id="next" xmlns="{NC}">{GET_CANDIDATE}</rpc>')
        assert gate.entered.wait(10)
        # meanwhile: another device, and another session of the same device, are answered
        assert other_device.rpc(GET_CANDIDATE).find("nc:data", NS) is not None
        before = same_device.rpc(GET_CANDIDATE)
        assert not names_in(before) & set(NEW)       # (the edit is not made yet)
        gate.opened.set()
        first, second = asker.recv_xml(), asker.recv_xml()
        assert first.get("message-id") == "big" and first.find("nc:ok", NS) is not None
        assert second.get("message-id") == "next" and set(NEW) <= names_in(second)
        assert set(NEW) <= names_in(same_device.rpc(GET_CANDIDATE))


def test_a_datastore_changed_meanwhile_refuses_the_big_edit(make_server, gate):
    running = make_server(offload_elements=50)
    with running.connect("core-1") as asker, running.connect("core-1") as other:
        asker.send(edit(NEW))
        assert gate.entered.wait(10)
        other.send(edit(["eth9"], message_id="small"))
        assert other.recv_xml().find("nc:ok", NS) is not None
        gate.opened.set()
        [error] = rpc_errors(asker.recv_xml())
        assert error["tag"] == "in-use" and "changed while" in error["message"]
        assert not names_in(asker.rpc(GET_CANDIDATE)) & set(NEW)


def test_a_lock_taken_meanwhile_refuses_the_big_edit(make_server, gate):
    running = make_server(offload_elements=50)
    with running.connect("core-1") as asker, running.connect("core-1") as other:
        asker.send(edit(NEW, target="running"))
        assert gate.entered.wait(10)
        assert other.rpc("<lock><target><running/></target></lock>").find("nc:ok", NS) \
            is not None
        gate.opened.set()
        assert rpc_errors(asker.recv_xml())[0]["tag"] == "in-use"


def test_a_session_that_ends_meanwhile_is_let_go(make_server, gate):
    running = make_server(offload_elements=50)
    device = running.fleet.get("core-1")
    asker = RawClient(running.port, "core-1")
    asker.send(frame(0x1, HELLO.encode()) + frame(0x1, edit(NEW, target="running").encode()))
    assert gate.entered.wait(10)
    asker.close()                      # (gone without a word: its socket closes)
    gate.opened.set()
    with running.connect("core-1") as later:
        # (the edit was received whole: made, as a device would, or not; never in part)
        reply = later.rpc("<get-config><source><running/></source></get-config>")
        assert len(names_in(reply) & set(NEW)) in (0, len(NEW))
        assert later.rpc("<lock><target><running/></target></lock>").find("nc:ok", NS) \
            is not None
    import time
    deadline = time.monotonic() + 10      # (the server sees the closes when the sockets say so)
    while running.call(lambda: len(device.sessions)):
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_a_big_edit_is_refused_as_a_small_one_is(make_server):
    running = make_server(offload_elements=50)
    with running.connect("core-1") as client:
        bad = edit(NEW[:-1] + ["eth0"]).replace("<mtu>1500</mtu>", "<mtu>99999999</mtu>", 1)
        client.send(bad)
        [error] = rpc_errors(client.recv_xml())
        assert error["tag"] == "invalid-value" and error["path"].endswith("ip:mtu")
        assert not names_in(client.rpc(GET_CANDIDATE)) & set(NEW)


def test_a_big_candidate_is_checked_off_the_loop_at_commit(make_server, gate):
    running = make_server(offload_elements=50)
    with running.connect("core-1") as asker, running.connect("edge-01") as other:
        asker.send(edit(NEW))
        assert gate.entered.wait(10)
        gate.opened.set()
        assert asker.recv_xml().find("nc:ok", NS) is not None
        gate.entered.clear()
        gate.opened.clear()
        asker.send(f'<rpc message-id="c" xmlns="{NC}"><commit/></rpc>')
        assert gate.entered.wait(10)            # the check waits at the gate
        assert other.rpc(GET_CANDIDATE).find("nc:data", NS) is not None
        gate.opened.set()
        assert asker.recv_xml().find("nc:ok", NS) is not None
        committed = asker.rpc("<get-config><source><running/></source></get-config>")
        assert set(NEW) <= names_in(committed)


def test_a_big_candidate_that_is_not_valid_is_not_committed(make_server):
    running = make_server(offload_elements=50)
    with running.connect("core-1") as client:
        # (the candidate may lack a mandatory leaf until <commit>)
        missing = edit(NEW).replace("<type>ianaift:ethernetCsmacd</type>", "", 1)
        assert client.rpc(missing[missing.index("<edit-config>"):-len("</rpc>")]) \
            .find("nc:ok", NS) is not None
        errors = rpc_errors(client.rpc("<commit/>"))
        assert errors and errors[0]["tag"] == "missing-element" and "new0" in errors[0]["path"]
        running_now = client.rpc("<get-config><source><running/></source></get-config>")
        assert not names_in(running_now) & set(NEW)


def test_a_big_copy_config_is_checked_off_the_loop(make_server, gate):
    running = make_server(offload_elements=50)
    with running.connect("core-1") as asker, running.connect("edge-01") as other:
        asker.send(f'<rpc message-id="cc" xmlns="{NC}"><copy-config><target><candidate/></target>'
                   f'<source><config><interfaces xmlns="{IF}" xmlns:ianaift="{IANAIFT}">'
                   f"{interfaces(NEW)}</interfaces></config></source></copy-config></rpc>")
        assert gate.entered.wait(10)
        assert other.rpc(GET_CANDIDATE).find("nc:data", NS) is not None
        gate.opened.set()
        assert asker.recv_xml().find("nc:ok", NS) is not None
        assert names_in(asker.rpc(GET_CANDIDATE)) == set(NEW)


def test_a_long_message_is_parsed_off_the_loop(make_server, gate):
    running = make_server(offload_bytes=4096)
    padding = "<!--" + "x" * 8000 + "-->"
    with running.connect("core-1") as asker, running.connect("edge-01") as other:
        asker.send(f'<rpc message-id="p" xmlns="{NC}">{padding}{GET_CANDIDATE}</rpc>')
        assert gate.entered.wait(10)
        assert other.rpc(GET_CANDIDATE).find("nc:data", NS) is not None
        gate.opened.set()
        assert asker.recv_xml().find("nc:data", NS) is not None
        gate.entered.clear()
        asker.send(f'<rpc message-id="q" xmlns="{NC}">{padding}<get-config>')   # not well-formed
        [error] = rpc_errors(asker.recv_xml())
        assert error["tag"] == "malformed-message"


def test_without_an_event_loop_the_work_is_done_in_the_call():
    limits = Limits(offload_elements=50, offload_bytes=4096)
    device = load_fleet(None, Runtime(clock=VirtualClock(), limits=limits)).get("core-1")
    connection, wire = connect(device)
    connection.receive(edit(NEW))
    assert wire.last().find("nc:ok", NS) is not None
    connection.receive(f'<rpc message-id="c" xmlns="{NC}"><commit/></rpc>')
    assert wire.last().find("nc:ok", NS) is not None
    assert set(NEW) <= names_in(etree.fromstring(etree.tostring(
        device.datastores.tree("running"))))


# -- what a datastore may hold -----------------------------------------------------------

def test_an_edit_that_would_outgrow_the_datastore_is_refused(make_server):
    running = make_server(max_datastore_elements=2_000, offload_elements=10**9)
    many = [f"n{i}" for i in range(400)]          # about 2,000 elements, 80 KiB of text
    with running.connect("core-1") as client:
        errors = rpc_errors(client.rpc(edit(many)[edit(many).index("<edit-config>"):-6]))
        assert errors[0]["tag"] == "resource-denied"
        assert "--max-datastore-elements" in errors[0]["message"]
        assert not names_in(client.rpc(GET_CANDIDATE)) & set(many)
        few = many[:40]
        assert client.rpc(edit(few)[edit(few).index("<edit-config>"):-6]) \
            .find("nc:ok", NS) is not None


def test_a_big_edit_and_a_copy_config_are_held_to_the_same_limit(make_server):
    running = make_server(max_datastore_elements=2_000, offload_elements=50)
    many = [f"n{i}" for i in range(400)]
    with running.connect("core-1") as client:
        assert rpc_errors(client.rpc(edit(many)[edit(many).index("<edit-config>"):-6]))[0][
            "tag"] == "resource-denied"
        copy = (f'<copy-config><target><candidate/></target><source><config>'
                f'<interfaces xmlns="{IF}" xmlns:ianaift="{IANAIFT}">{interfaces(many)}'
                "</interfaces></config></source></copy-config>")
        assert rpc_errors(client.rpc(copy))[0]["tag"] == "resource-denied"


def test_many_small_edits_cannot_grow_a_datastore_past_the_limit(make_server):
    running = make_server(max_datastore_elements=2_000, offload_elements=10**9)
    with running.connect("core-1") as client:
        refused = None
        for n in range(200):
            batch = [f"m{n}-{i}" for i in range(10)]
            reply = client.rpc(edit(batch)[edit(batch).index("<edit-config>"):-6])
            if rpc_errors(reply):
                refused = n
                break
        assert refused is not None and rpc_errors(reply)[0]["tag"] == "resource-denied"
        held = len(etree.fromstring(etree.tostring(
            running.call(lambda: running.fleet.get("core-1").datastores.tree("candidate"))))
                   .xpath("//*"))
        assert held <= 2_000 + 64 * 1024 // 20     # (counted again every 64 KiB of text)


# -- a merge that creates entries ----------------------------------------------------------

def test_a_merge_that_creates_entries_makes_one_step_each():
    device = load_fleet(None, Runtime(clock=VirtualClock())).get("core-1")
    tree = device.datastores.copy("running")
    journal = Journal(tree)
    from emulator.datastore.edit import apply_edit
    config = etree.fromstring(edit(NEW)).find(".//nc:config", NS)
    result = apply_edit(device.profile.schema, tree, config, journal=journal)
    assert not result.errors
    assert len(journal) == len(NEW)               # (a step for every leaf took minutes at 50,000)
    assert len(result.changes) == len(NEW) and len(result.touched) == len(NEW)
    journal.undo()
    assert not names_in(tree) & set(NEW)


def test_what_a_new_entry_lost_while_it_was_built_is_not_found_again():
    # a new container's entry removed while it was built, then merged again
    device = load_fleet(None, Runtime(clock=VirtualClock())).get("core-1")
    connection, wire = connect(device)
    connection.receive(
        f'<rpc message-id="m" xmlns="{NC}" xmlns:nc="{NC}"><edit-config><target><candidate/>'
        f'</target><error-option>continue-on-error</error-option><config>'
        f'<interfaces xmlns="{IF}"><interface><name>eth1</name><ipv4 xmlns="{IP}">'
        "<address><ip>10.0.0.1</ip><prefix-length>24</prefix-length></address>"
        '<address nc:operation="remove"><ip>10.0.0.1</ip></address></ipv4>'
        f'<ipv4 xmlns="{IP}"><address><ip>10.0.0.1</ip><prefix-length>16</prefix-length>'
        "</address></ipv4></interface></interfaces></config></edit-config></rpc>")
    assert rpc_errors(wire.last()) == []
    addresses = device.datastores.tree("candidate").xpath(
        "//if:interface[if:name='eth1']/ip:ipv4/ip:address/ip:prefix-length/text()",
        namespaces={"if": IF, "ip": IP})
    assert addresses == ["16"]


# -- reads that cost more than the loop's budget ---------------------------------------------

def test_a_filter_that_costs_more_than_the_loops_budget_is_applied_off_it(make_server, gate,
                                                                           monkeypatch):
    from emulator.datastore import operations
    monkeypatch.setattr(operations, "FILTER_STEPS", 20)
    running = make_server()
    every_name = (f"<get-config><source><running/></source><filter><interfaces xmlns='{IF}'>"
                  "<interface><name/></interface></interfaces></filter></get-config>")
    with running.connect("core-1") as asker, running.connect("edge-01") as other:
        many = [f"many{i}" for i in range(30)]
        asker.send(edit(many, target="running", message_id="e"))
        assert asker.recv_xml().find("nc:ok", NS) is not None
        gate.opened.set()                # (the edit itself is small: no gate for it)
        expected = running.call(lambda: etree.tostring(operations.filters.apply(
            running.fleet.get("core-1").datastores.tree("running"),
            etree.fromstring(f'<filter xmlns="{NC}"><interfaces xmlns="{IF}"><interface>'
                             "<name/></interface></interfaces></filter>"), "/nc:rpc")))
        gate.opened.clear()
        asker.send(f'<rpc message-id="r" xmlns="{NC}">{every_name}</rpc>')
        assert gate.entered.wait(10)
        assert other.rpc(GET_CANDIDATE).find("nc:data", NS) is not None   # meanwhile
        gate.opened.set()
        reply = asker.recv_xml()
        assert names_in(reply) >= set(many) | {"eth0"}
        # (what the loop would have answered without a budget, in the same order)
        assert [n.text for n in reply.iter(f"{{{IF}}}name")] == \
            [n.text for n in etree.fromstring(expected).iter(f"{{{IF}}}name")]
        # the same question again is answered from the cache, on the loop
        gate.entered.clear()
        again = asker.rpc(every_name)
        assert names_in(again) == names_in(reply) and not gate.entered.is_set()


def test_a_get_whose_filter_costs_more_than_the_budget_is_answered_the_same(make_server,
                                                                            monkeypatch):
    from emulator.datastore import operations
    request = (f"<get><filter><interfaces xmlns='{IF}'><interface><name/><oper-status/>"
               "</interface></interfaces></filter></get>")
    running = make_server()
    with running.connect("core-1") as client:
        inline = client.rpc(request)
        monkeypatch.setattr(operations, "FILTER_STEPS", 5)
        apart = client.rpc(request)
    assert [n.text for n in inline.iter(f"{{{IF}}}name")] == \
        [n.text for n in apart.iter(f"{{{IF}}}name")] and names_in(inline)
    assert [s.text for s in inline.iter(f"{{{IF}}}oper-status")] == \
        [s.text for s in apart.iter(f"{{{IF}}}oper-status")]


def test_a_big_devices_state_is_built_off_the_loop_and_is_the_same(make_server, gate):
    running = make_server(offload_interfaces=8)       # core-1 has 5: edge-01 fewer
    many = [f"n{i}" for i in range(6)]
    request = (f"<get><filter><interfaces xmlns='{IF}'/><hardware xmlns='"
               "urn:ietf:params:xml:ns:yang:ietf-hardware'/></filter></get>")
    with running.connect("core-1") as asker, running.connect("edge-01") as other:
        asker.send(edit(many, target="running", message_id="e"))
        assert asker.recv_xml().find("nc:ok", NS) is not None
        gate.opened.set()
        runtime = running.runtime
        limits = runtime.limits
        running.call(lambda: setattr(runtime, "limits", replace(limits, offload_interfaces=10**6)))
        inline = asker.rpc(request)
        everything_inline = asker.rpc("<get/>")
        running.call(lambda: setattr(runtime, "limits", limits))
        gate.opened.clear()
        gate.entered.clear()
        asker.send(f'<rpc message-id="a" xmlns="{NC}">{request}</rpc>')
        assert gate.entered.wait(10)
        assert other.rpc("<get/>").find("nc:data", NS) is not None     # meanwhile
        gate.opened.set()
        apart = asker.recv_xml()
        everything_apart = asker.rpc("<get/>")
    # (the same answer, counters aside: they move with the clock)
    def shape(reply):
        return [(etree.QName(e).localname, e.text if not etree.QName(e).localname.endswith(
            ("octets", "pkts", "discards", "errors", "protos", "datetime")) else None)
            for e in reply.iter() if type(e.tag) is str]
    assert shape(apart) == shape(inline) and set(many) <= names_in(apart)
    assert [etree.QName(c).localname for c in everything_apart.find("nc:data", NS)] == \
        [etree.QName(c).localname for c in everything_inline.find("nc:data", NS)]


def test_work_of_a_session_that_ended_is_called_off(make_server, gate):
    running = make_server(offload_elements=50)
    device = running.fleet.get("core-1")
    first = running.connect("core-1")
    first.send(edit(NEW, message_id="first"))
    assert gate.entered.wait(10)                 # the worker is held by the first one
    others = [RawClient(running.port, "core-1") for _ in range(3)]
    for n, client in enumerate(others):
        client.send(frame(0x1, HELLO.encode()) +
                    frame(0x1, edit([f"gone{n}-{i}" for i in range(30)], message_id="x").encode()))
    import time
    deadline = time.monotonic() + 10             # (until all three wait for the worker)
    while running.call(lambda: sum(1 for c in running.runtime.connections
                                   if c.device is device and c._busy is not None)) < 4:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    from emulator.netconf.termination import Reason

    # (ended by the server, as a kill-session or a reset would: over WebSocket a client's
    # hang-up is read only after the work, as its transport reads nothing meanwhile)
    running.call(lambda: [c.end(Reason.KILLED, "killed") for c in list(running.runtime.connections)
                          if c.device is device and c.session.id != first.session_id])
    assert running.call(lambda: len(device.sessions)) == 1
    gate.opened.set()
    assert first.recv_xml().find("nc:ok", NS) is not None
    gate.submit(lambda: None).result(10)         # (after the called-off ones, in turn)
    assert gate.ran == 2                         # the first, and that one: theirs never ran
    reply = first.rpc(GET_CANDIDATE)
    assert set(NEW) <= names_in(reply) and not any(n.startswith("gone") for n in names_in(reply))
    first.close()
    for client in others:
        client.close()


def test_an_answer_made_while_the_device_hung_comes_when_it_is_up(make_server, gate):
    from emulator.lifecycle import Status
    running = make_server(offload_elements=50)
    device = running.fleet.get("core-1")
    with running.connect("core-1") as asker:
        asker.send(edit(NEW, target="running", message_id="before"))
        assert gate.entered.wait(10)
        running.call(lambda: device.set_status(Status.HUNG))
        asker.send(f'<rpc message-id="after" xmlns="{NC}">{GET_CANDIDATE}</rpc>')
        gate.opened.set()
        gate.submit(lambda: None).result(10)       # (the work is done, while it hangs)
        import time
        deadline = time.monotonic() + 10           # (until its answer waits, parked)
        while not running.call(lambda: any(c._parked for c in running.runtime.connections
                                           if c.device is device)):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        running.call(lambda: device.set_status(Status.UP))
        first, second = asker.recv_xml(), asker.recv_xml()
        assert first.get("message-id") == "before" and first.find("nc:ok", NS) is not None
        assert second.get("message-id") == "after" and set(NEW) <= names_in(second)


def test_a_big_edit_that_adds_no_interface_leaves_the_next_one_followed():
    # (what the worker prepared for one change must not stand for the next one)
    limits = Limits(offload_elements=50)
    device = load_fleet(None, Runtime(clock=VirtualClock(), limits=limits)).get("core-1")
    connection, wire = connect(device)
    addresses = "".join(f"<address><ip>10.9.{i // 250}.{i % 250}</ip><prefix-length>32"
                        "</prefix-length></address>" for i in range(60))
    connection.receive(f'<rpc message-id="a" xmlns="{NC}" xmlns:nc="{NC}"><edit-config><target>'
                       f'<running/></target><config><interfaces xmlns="{IF}"><interface>'
                       f'<name>eth0</name><ipv4 xmlns="{IP}" nc:operation="replace">{addresses}'
                       "</ipv4></interface></interfaces></config></edit-config></rpc>")
    assert wire.last().find("nc:ok", NS) is not None
    connection.receive(edit(["newif"], target="running", message_id="b"))
    assert wire.last().find("nc:ok", NS) is not None
    assert device.has_interface("newif")


def test_a_small_device_with_a_big_configuration_is_read_off_the_loop(make_server, gate):
    running = make_server(offload_elements=10)          # (core-1's running: about 60 elements)
    with running.connect("core-1") as asker, running.connect("edge-01") as other:
        asker.send(f'<rpc message-id="g" xmlns="{NC}"><get/></rpc>')
        assert gate.entered.wait(10)
        assert other.rpc(GET_CANDIDATE).find("nc:data", NS) is not None
        gate.opened.set()
        assert names_in(asker.recv_xml()) >= {"eth0", "eth1"}


def test_a_commit_whose_datastores_changed_while_it_was_checked_is_refused(make_server, gate):
    running = make_server(offload_elements=50)
    with running.connect("core-1") as asker, running.connect("core-1") as other:
        asker.send(f'<rpc message-id="cc" xmlns="{NC}"><copy-config><target><candidate/>'
                   f'</target><source><config><interfaces xmlns="{IF}" xmlns:ianaift="{IANAIFT}">'
                   f"{interfaces(NEW)}</interfaces></config></source></copy-config></rpc>")
        assert gate.entered.wait(10)
        gate.opened.set()
        assert asker.recv_xml().find("nc:ok", NS) is not None     # (a candidate checked whole)
        gate.entered.clear()
        gate.opened.clear()
        asker.send(f'<rpc message-id="c" xmlns="{NC}"><commit/></rpc>')
        assert gate.entered.wait(10)
        other.send(edit(["eth9"], target="running", message_id="meanwhile"))
        assert other.recv_xml().find("nc:ok", NS) is not None
        gate.opened.set()
        [error] = rpc_errors(asker.recv_xml())
        assert error["tag"] == "in-use" and "<commit> again" in error["message"]
        running_now = asker.rpc("<get-config><source><running/></source></get-config>")
        assert not names_in(running_now) & set(NEW) and "eth9" in names_in(running_now)


def test_a_copy_config_whose_datastores_changed_meanwhile_is_refused(make_server, gate):
    running = make_server(offload_elements=50)
    with running.connect("core-1") as asker, running.connect("core-1") as other:
        asker.send(f'<rpc message-id="cc" xmlns="{NC}"><copy-config><target><candidate/>'
                   f'</target><source><config><interfaces xmlns="{IF}" xmlns:ianaift="{IANAIFT}">'
                   f"{interfaces(NEW)}</interfaces></config></source></copy-config></rpc>")
        assert gate.entered.wait(10)
        other.send(edit(["eth9"], message_id="meanwhile"))
        assert other.recv_xml().find("nc:ok", NS) is not None
        gate.opened.set()
        [error] = rpc_errors(asker.recv_xml())
        assert error["tag"] == "in-use" and "changed" in error["message"]
        assert not names_in(asker.rpc(GET_CANDIDATE)) & set(NEW)
