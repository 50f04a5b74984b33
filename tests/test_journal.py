"""Datastores are edited in place through a journal (emulator/datastore/journal.py):
every refused, test-only or discarded change is undone exactly, a commit makes
the candidate's steps again on running, and running is stored as its changes'
steps. A seeded corpus of operations holds all of it to the plain way (a deep
copy of the tree per edit, as the datastores did before), with the storage's
replay and the kept lookups by key checked after every step; and the undo
paths are checked at 10,000 entries. Sans-IO, with a real SQLite file."""

from __future__ import annotations

import random
from copy import deepcopy

import pytest
from lxml import etree

from bench.netconf import big_profile
from emulator.clock import VirtualClock
from emulator.datastore import datastores as datastores_module
from emulator.datastore.edit import apply_edit
from emulator.datastore.journal import Journal, apply_ops
from emulator.datastore.storage import Storage, StorageError
from emulator.fleet import load_fleet
from emulator.runtime import Runtime
from emulator.schema.validate import validate, validate_change
from tests.client import NC
from tests.memory import connect

IF = "urn:ietf:params:xml:ns:yang:ietf-interfaces"
IP = "urn:ietf:params:xml:ns:yang:ietf-ip"
IANAIFT = "urn:ietf:params:xml:ns:yang:iana-if-type"
ENTRIES = 40


def c14n(tree: etree._Element) -> bytes:
    return etree.tostring(tree, method="c14n")


class Device:
    """A device of ``entries`` interfaces on a real SQLite file, one session."""

    def __init__(self, directory, entries: int):
        self.directory = directory
        self.clock = VirtualClock()
        self.storage = Storage(directory / "datastores.sqlite", self.clock.now)
        runtime = Runtime(clock=self.clock, storage=self.storage)
        self.device = load_fleet(big_profile(directory, entries), runtime).get("big-1")
        self.session, self.wire = connect(self.device)
        self.n = 0

    def ask(self, body: str) -> etree._Element:
        self.n += 1
        self.session.receive(f'<rpc message-id="{self.n}" xmlns="{NC}">{body}</rpc>')
        return etree.fromstring(self.wire.sent[-1].encode())

    def tree(self, name: str) -> etree._Element:
        return self.device.datastores.tree(name)

    def stored(self, name: str = "running") -> bytes:
        """The datastore as a restarted server reads it (a new Storage on the file)."""
        again = Storage(self.directory / "datastores.sqlite", self.clock.now)
        try:
            tree = again.load_tree("big-1", name)
            text = again.rows("big-1").get(name)
        finally:
            again.close()
        if tree is None:   # nothing stored: the fixture
            assert name == "running" and text is None
            return c14n(etree.fromstring(self.device.initial("config").encode(),
                                         etree.XMLParser(remove_blank_text=True)))
        assert c14n(etree.fromstring(text.encode())) == c14n(tree)
        return c14n(tree)


def ok(reply: etree._Element) -> bool:
    return reply.find(f"{{{NC}}}ok") is not None


def error_tags(reply: etree._Element) -> list[str]:
    return [e.findtext(f"{{{NC}}}error-tag") for e in reply.iter(f"{{{NC}}}rpc-error")]


def random_config(rng: random.Random, entries: int) -> str:
    items = []
    for _ in range(rng.randrange(1, 6)):
        name = rng.choice([f"eth{rng.randrange(entries + 5)}", "eth3", "new", "new2"])
        operation = rng.choice(["", "", "", ' nc:operation="merge"', ' nc:operation="replace"',
                                ' nc:operation="delete"', ' nc:operation="remove"',
                                ' nc:operation="create"'])
        body = rng.choice(["", f'<ipv4 xmlns="{IP}"><mtu>{rng.randrange(1280, 9000)}</mtu></ipv4>',
                           f"<description>d{rng.randrange(9)}</description>",
                           "<enabled>false</enabled>", "<type>ianaift:ethernetCsmacd</type>",
                           "<type>ianaift:ethernetCsmacd</type><description>x</description>",
                           f'<ipv4 xmlns="{IP}"><mtu>99999999</mtu></ipv4>'])  # (out of range)
        items.append(f"<interface{operation}><name>{name}</name>{body}</interface>")
    return (f'<config xmlns="{NC}" xmlns:nc="{NC}"><interfaces xmlns="{IF}" '
            f'xmlns:ianaift="{IANAIFT}">{"".join(items)}</interfaces></config>')


class Plain:
    """The datastores the plain way: a deep copy per edit, kept when accepted."""

    def __init__(self, schema, running: etree._Element):
        self.schema = schema
        self.running = deepcopy(running)
        self.candidate: etree._Element | None = None   # None: as running

    def edit(self, target: str, config: etree._Element, default: str, error_option: str,
             test_option: str) -> bool:
        base = self.running if target == "running" else \
            (self.candidate if self.candidate is not None else self.running)
        work = deepcopy(base)
        result = apply_edit(self.schema, work, config, default, error_option)
        if result.errors and error_option != "continue-on-error":
            return False
        if validate_change(self.schema, work, result.touched, removed=result.removed,
                           structural=target == "candidate"):
            return False
        if test_option != "test-only" and (result.touched or result.removed or result.changes):
            if target == "running":
                self.running = work
            else:
                self.candidate = work
        return not result.errors

    def commit(self) -> bool:
        if self.candidate is None:
            return True
        if validate(self.schema, self.candidate):
            return False
        self.running, self.candidate = self.candidate, None
        return True


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_corpus_of_operations_gives_what_copies_give(tmp_path, seed, monkeypatch):
    # few rows before running is stored whole again: the corpus crosses that often
    monkeypatch.setattr(datastores_module, "STORED_STEPS_ROWS", 5)
    if seed == 3:   # and a candidate's journal soon too long: commits hand the tree over
        monkeypatch.setattr(datastores_module, "REPLAY_STEPS_MAX", 4)
    rng = random.Random(seed)
    ours = Device(tmp_path, ENTRIES)
    schema = ours.device.profile.schema
    plain = Plain(schema, ours.tree("running"))
    for step in range(120):
        choice = rng.random()
        if choice < 0.6:
            target = rng.choice(["candidate", "candidate", "running"])
            default = rng.choice(["merge", "merge", "merge", "none", "replace"])
            error_option = rng.choice(["stop-on-error", "rollback-on-error", "continue-on-error"])
            test_option = rng.choice(["test-then-set", "test-then-set", "set", "test-only"])
            text = random_config(rng, ENTRIES)
            reply = ours.ask(f"<edit-config><target><{target}/></target>"
                             f"<default-operation>{default}</default-operation>"
                             f"<error-option>{error_option}</error-option>"
                             f"<test-option>{test_option}</test-option>{text}</edit-config>")
            expected = plain.edit(target, etree.fromstring(text), default, error_option,
                                  test_option)
            assert ok(reply) == expected, (step, text, etree.tostring(reply))
        elif choice < 0.8:
            reply = ours.ask("<commit/>")
            assert ok(reply) == plain.commit(), (step, etree.tostring(reply))
        elif choice < 0.9:
            assert ok(ours.ask("<discard-changes/>"))
            plain.candidate = None
        else:   # a filtered read of one entry of each: the kept lookups by key
            name = f"eth{rng.randrange(ENTRIES + 2)}"
            for source in ("running", "candidate"):
                reply = ours.ask(f"<get-config><source><{source}/></source><filter>"
                                 f'<interfaces xmlns="{IF}"><interface><name>{name}</name>'
                                 "</interface></interfaces></filter></get-config>")
                tree = plain.running if source == "running" or plain.candidate is None \
                    else plain.candidate
                expected = tree.xpath("//i:interface[i:name=$n]", namespaces={"i": IF}, n=name)
                got = reply.xpath("//i:interface", namespaces={"i": IF})
                assert [c14n(e) for e in got] == [c14n(e) for e in expected], (step, name)
        assert c14n(ours.tree("running")) == c14n(plain.running), step
        candidate = plain.candidate if plain.candidate is not None else plain.running
        assert c14n(ours.tree("candidate")) == c14n(candidate), step
        if step % 10 == 0:
            assert ours.stored() == c14n(plain.running), step
    assert ours.stored() == c14n(plain.running)


def test_a_journal_undoes_exactly_and_its_steps_make_the_same_tree_again():
    rng = random.Random(7)
    root = etree.fromstring("<r>" + "".join(f"<e><k>{i}</k><v>{i}</v></e>" for i in range(50))
                            + "</r>")
    before, other = c14n(root), deepcopy(root)
    journal = Journal(root)
    for n in range(300):
        entries = list(root)
        kind = rng.choice("ird")
        if kind == "i" or not entries:
            parent = rng.choice([root, *entries]) if entries else root
            element = etree.fromstring(f"<n>{n}</n>")
            parent.insert(rng.randrange(len(parent) + 1), element)
            journal.inserted(parent, element)
        elif kind == "r":
            old = rng.choice(entries)
            journal.replace(root, old, etree.fromstring(f"<e><k>x{n}</k></e>"))
        else:
            journal.remove(root, rng.choice(entries))
    after = c14n(root)
    apply_ops(other, journal.ops())
    assert c14n(other) == after
    journal.undo()
    assert c14n(root) == before


# -- the undo paths at size ----------------------------------------------------------

BIG = 10_000


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    return Device(tmp_path_factory.mktemp("big"), BIG)


def mtu_edit(name: str, mtu: int, extra: str = "", target: str = "candidate",
             options: str = "") -> str:
    return (f"<edit-config><target><{target}/></target>{options}<config>"
            f'<interfaces xmlns="{IF}" xmlns:ianaift="{IANAIFT}"><interface><name>{name}</name>'
            f'<ipv4 xmlns="{IP}"><mtu>{mtu}</mtu></ipv4></interface>{extra}</interfaces>'
            "</config></edit-config>")


def mtu(tree: etree._Element, name: str) -> str:
    [value] = tree.xpath("i:interfaces/i:interface[i:name=$n]/ip:ipv4/ip:mtu/text()",
                         namespaces={"i": IF, "ip": IP}, n=name)
    return value


def test_at_10000_entries_refused_and_test_only_edits_change_nothing(big):
    for target in ("running", "candidate"):
        before = c14n(big.tree(target))
        # the first change made, then the second refused: rollback-on-error undoes both
        reply = big.ask(mtu_edit("eth5000", 1234, target=target, extra=(
            '<interface xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" nc:operation="create">'
            "<name>eth1</name></interface>"), options="<error-option>rollback-on-error"
            "</error-option>"))
        assert error_tags(reply) == ["data-exists"]
        assert c14n(big.tree(target)) == before
        reply = big.ask(mtu_edit("eth5000", 99999999, target=target))   # invalid: undone
        assert error_tags(reply) and c14n(big.tree(target)) == before
        reply = big.ask(mtu_edit("eth5000", 1234, target=target,
                                 options="<test-option>test-only</test-option>"))
        assert ok(reply) and c14n(big.tree(target)) == before
    assert big.stored() == c14n(big.tree("running"))


def test_at_10000_entries_discard_changes_and_commit(big):
    running = c14n(big.tree("running"))
    for n in range(5):
        assert ok(big.ask(mtu_edit(f"eth{n * 2000}", 1300 + n)))
    assert ok(big.ask(mtu_edit("eth9999", 1400, extra=(
        "<interface><name>eth-new</name><type>ianaift:ethernetCsmacd</type></interface>"))))
    assert big.device.datastores.candidate_dirty
    assert ok(big.ask("<discard-changes/>"))
    assert c14n(big.tree("candidate")) == c14n(big.tree("running")) == running
    # the candidate's own tree is kept, equal to running, for the next edit
    assert big.device.datastores._candidate is not None
    assert c14n(big.device.datastores._candidate) == running
    assert ok(big.ask(mtu_edit("eth7", 1500 + 7)))
    staged = c14n(big.tree("candidate"))
    assert ok(big.ask("<commit/>"))
    assert c14n(big.tree("running")) == staged == c14n(big.tree("candidate"))
    assert big.stored() == staged
    names = big.ask(f'<get-config><source><running/></source><filter><interfaces xmlns="{IF}">'
                    "<interface><name>eth7</name></interface></interfaces></filter></get-config>")
    assert names.xpath("//i:mtu/text()", namespaces={"i": IP}) == ["1507"]


def test_at_10000_entries_a_confirmed_commit_rolls_back(big):
    before = c14n(big.tree("running"))
    assert ok(big.ask(mtu_edit("eth4242", 1442)))
    assert ok(big.ask("<commit><confirmed/><confirm-timeout>60</confirm-timeout></commit>"))
    assert mtu(big.tree("running"), "eth4242") == "1442"
    assert big.stored("rollback") == before      # the rollback point, stored
    big.clock.advance(61)
    assert c14n(big.tree("running")) == before
    assert big.stored() == before
    # and a commit after the rollback (running was replaced, not edited: the
    # candidate's tree is made again from it)
    assert ok(big.ask(mtu_edit("eth4242", 1443)))
    assert ok(big.ask("<commit/>"))
    assert mtu(etree.fromstring(big.stored()), "eth4242") == "1443"


def test_running_changed_under_a_candidate_with_changes_commits_the_candidate(big):
    assert ok(big.ask(mtu_edit("eth10", 1310)))
    assert ok(big.ask(mtu_edit("eth11", 1311, target="running")))
    staged = c14n(big.tree("candidate"))
    assert mtu(big.tree("candidate"), "eth11") == "1500"
    assert mtu(big.tree("running"), "eth11") == "1311"
    assert ok(big.ask("<commit/>"))   # (the candidate as it is wins, RFC 6241 8.3.4.1)
    assert c14n(big.tree("running")) == staged == big.stored()


def test_big_subtrees_moved_child_by_child_come_out_as_moved_whole(tmp_path, monkeypatch):
    """A replace of a list of more than MOVED_WHOLE_AT_MOST entries, each declaring
    a namespace of its own, and its undo: the same text as the plain way gives."""
    from emulator.schema import tree as tree_module
    ours = Device(tmp_path, 300)
    schema = ours.device.profile.schema
    plain = deepcopy(ours.tree("running"))
    bulk = (f'<config xmlns="{NC}" xmlns:nc="{NC}"><interfaces xmlns="{IF}" '
            f'xmlns:ianaift="{IANAIFT}" nc:operation="replace">' + "".join(
                f"<interface><name>eth{i}</name><type>ianaift:ethernetCsmacd</type>"
                f'<ipv4 xmlns="{IP}"><mtu>{1400 + i}</mtu></ipv4></interface>' for i in range(200))
            + "</interfaces></config>")
    before = etree.tostring(ours.tree("running"))
    failing = bulk.replace("</interfaces>", '</interfaces><system nc:operation="create" '
                           'xmlns="urn:ietf:params:xml:ns:yang:ietf-system"/>')   # (it exists)
    reply = ours.ask("<edit-config><target><candidate/></target><error-option>rollback-on-error"
                     f"</error-option>{failing}</edit-config>")
    assert error_tags(reply) == ["data-exists"]
    assert etree.tostring(ours.tree("candidate")) == before
    assert ok(ours.ask(f"<edit-config><target><candidate/></target>{bulk}</edit-config>"))
    apply_edit(schema, plain, etree.fromstring(bulk))
    assert etree.tostring(ours.tree("candidate")) == etree.tostring(plain)
    assert ok(ours.ask("<commit/>"))
    assert etree.tostring(ours.tree("running")) == etree.tostring(plain)
    assert ours.stored() == c14n(plain)
    # and with every subtree moved whole, the same
    monkeypatch.setattr(tree_module, "MOVED_WHOLE_AT_MOST", 10**9)
    (tmp_path / "whole").mkdir()
    again = Device(tmp_path / "whole", 300)
    assert ok(again.ask(f"<edit-config><target><candidate/></target>{bulk}</edit-config>"))
    assert etree.tostring(again.tree("candidate")) == etree.tostring(plain)


def test_stored_steps_are_made_when_rows_are_read_set_aside_or_forgotten(tmp_path):
    """Storage without a schema: rows() and set_aside() give a datastore with its
    stored steps made; forget() and a whole write drop the steps."""
    clock = VirtualClock()
    storage = Storage(tmp_path / "datastores.sqlite", clock.now)
    base = etree.fromstring("<data><a><e>1</e><e>2</e></a></data>")
    storage.save("d", {"running": etree.tostring(base, encoding="unicode")})
    journal = Journal(base)
    journal.replace(base[0], base[0][0], etree.fromstring("<e>one</e>"))
    new = etree.SubElement(base[0], "e")
    new.text = "3"
    journal.inserted(base[0], new)
    journal.remove(base[0], base[0][1])
    assert storage.may_append("d", "running", 64, 10_000)
    storage.append("d", "running", journal.ops())
    expected = "<data><a><e>one</e><e>3</e></a></data>"
    assert etree.tostring(base, encoding="unicode") == expected
    assert storage.rows("d") == {"running": expected}
    assert c14n(storage.load_tree("d", "running")) == c14n(base)
    storage.set_aside("d", "a test")
    kept = storage.db.execute("SELECT name, xml FROM set_aside WHERE device = 'd'").fetchall()
    assert kept == [("running", expected)]
    assert storage.rows("d") == {} and storage.load_tree("d", "running") is None
    assert storage.db.execute("SELECT count(*) FROM changes").fetchone()[0] == 0
    storage.save("e", {"running": "<data/>"})
    storage.append("e", "running", [("i", [], 0, "<x/>")])
    storage.forget(["e"])
    assert storage.db.execute("SELECT count(*) FROM changes").fetchone()[0] == 0
    assert not storage.may_append("e", "running", 64, 10_000)   # (nothing stored to follow)
    storage.save("f", {"running": "<data/>"})
    storage.append("f", "running", [("d", [], 5, None)])   # (no such child: a damaged row)
    with pytest.raises(StorageError, match="--fresh"):
        storage.load_tree("f", "running")
    storage.close()


@pytest.mark.parametrize("error_option", ["continue-on-error", "stop-on-error"])
def test_a_new_entry_with_a_bad_insert_anchor_is_refused_not_an_internal_error(error_option):
    device = load_fleet(None, Runtime(clock=VirtualClock())).get("core-1")
    connection, wire = connect(device)
    connection.receive(
        f'<rpc message-id="1" xmlns="{NC}"><edit-config><target><running/></target>'
        f"<error-option>{error_option}</error-option><config>"
        '<system xmlns="urn:ietf:params:xml:ns:yang:ietf-system" '
        'xmlns:yang="urn:ietf:params:xml:ns:yang:1"><dns-resolver>'
        "<server yang:insert=\"before\" yang:key=\"[name='nope']\"><name>s0</name>"
        "<udp-and-tcp><address>10.0.0.3</address></udp-and-tcp></server>"
        "</dns-resolver></system></config></edit-config></rpc>")
    reply = wire.last()
    tags = [e.findtext(f"{{{NC}}}error-tag") for e in reply.iter(f"{{{NC}}}rpc-error")]
    assert tags == ["bad-attribute"], etree.tostring(reply)
    assert not device.running().xpath("//*[local-name()='server'][*[local-name()='name']='s0']")
