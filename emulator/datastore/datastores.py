"""A device's running, candidate and startup datastores, their locks, and
confirmed commits (RFC 6241 sections 7 and 8).

Trees are edited in place, every step through a journal: a refused edit
is undone, an accepted one is stored as its steps (and, when the candidate
is committed, made again on running), so that an edit costs what it
touches, not the size of the configuration. Running and startup are written
to SQLite before the reply goes out.
"""

from __future__ import annotations

import itertools
import logging
from collections import OrderedDict
from copy import deepcopy
from dataclasses import dataclass, field
from typing import Any, Callable

from lxml import etree

from emulator.datastore.journal import Journal
from emulator.datastore.storage import Storage
from emulator.errors import RpcError, RpcErrors
from emulator.netconf.filters import KeyIndex
from emulator.schema.compiled import PerThreadXPath
from emulator.schema.tree import instance_steps
from emulator.schema.validate import validate_change

log = logging.getLogger(__name__)

NAMES = ("running", "candidate", "startup")
ROLLBACK = "rollback"   # the stored row of a pending confirmed commit's rollback point
DEFAULT_CONFIRM_TIMEOUT = 600
REPLY_CACHE_SIZE = 8
# A commit makes the candidate's steps again on running when they are at most
# so many and so big (a bulk load is cheaper to hand over whole); undoing a
# candidate's steps (discard-changes) too.
REPLAY_STEPS_MAX = 10_000
REPLAY_CHARS = 1024 * 1024
# Running is stored as its changes' steps, a row a change, until the rows
# since its last whole text are this many or this long; then whole again.
STORED_STEPS_MAX = 1_000
STORED_STEPS_ROWS = 64
STORED_STEPS_CHARS = 256 * 1024
REPLY_CACHE_BYTES = 2 * 1024 * 1024     # (characters, per device)
_COMPACT = etree.XMLParser(remove_blank_text=True)


@dataclass
class PendingCommit:
    """A confirmed commit waiting for its confirmation (RFC 6241 8.4)."""

    rollback: etree._Element          # running as it was before the confirmed commit
    session_id: int
    persist: str | None
    timer: Any = None
    username: str = ""                # of the session that started or last extended it
    source_host: str | None = None


@dataclass
class _CandidateChanges:
    """What edits did to the candidate since it last equalled running: the
    nodes to check at <commit> (elements of the candidate tree; a later edit
    may have removed some again), and the config-change event's edits."""

    touched: list[etree._Element] = field(default_factory=list)
    removed: list[tuple[etree._Element, str]] = field(default_factory=list)
    edits: list[tuple[str, str | None, dict]] = field(default_factory=list)


# The candidate's changes kept to check at <commit> (past this many, the whole
# candidate is checked), and the edits a config-change event lists (past this
# many, one for each top-level node they are under).
CHANGES_KEPT = 10_000
EDITS_LISTED = 100
EDITS_CHARS = 16 * 1024     # (and of their paths: a key value may be long)


def _within(edits: list) -> bool:
    return len(edits) <= EDITS_LISTED and \
        sum(len(path or "") for _, path, _ in edits) <= EDITS_CHARS


def top_level_edits(edits: list[tuple[str, str | None, dict]]) -> list:
    """``edits`` (operation, instance-identifier, its prefixes), or, when there
    are more than EDITS_LISTED (or their paths are longer than EDITS_CHARS), one
    for each top-level node they change (its operation when they agree, else
    merge), or one for the whole datastore if these are still too many."""
    if _within(edits):
        return edits
    tops: dict[str | None, tuple[str, str | None, dict]] = {}
    for operation, path, prefixes in edits:
        top = None if path is None else _first_step(path)
        kept = tops.get(top)
        if top != path or (kept is not None and kept[0] != operation):
            operation = "merge"   # (a node that stands for changes below it was merged into)
        tops[top] = (operation, top, {**(kept[2] if kept else {}), **prefixes})
    if None in tops or not _within(list(tops.values())):   # (the whole datastore)
        whole = tops.get(None)
        return [(whole[0] if whole is not None and len(tops) == 1 else "merge", None, {})]
    return list(tops.values())


def _first_step(path: str) -> str:
    """``/a:x[k='v']/b:y`` -> ``/a:x[k='v']`` (a '/' in a quoted key value is no step)."""
    steps = instance_steps(path)
    return "/" + steps[0] if steps else path


RECOUNT_CHARS = 64 * 1024
# A datastore may hold this many characters of text for each element it may hold.
TEXT_PER_ELEMENT = 256
_COUNT = PerThreadXPath("count(.//*)")
_TEXT = PerThreadXPath("string-length(string(.))")


def elements(tree: etree._Element) -> int:
    """How many elements ``tree`` holds below it (one C-level count)."""
    return int(_COUNT(tree))


def oversize(tree: etree._Element, limit: int) -> str | None:
    """What ``tree`` holds beyond ``limit`` elements (and TEXT_PER_ELEMENT times
    as many characters of text), said for a message; None when within it."""
    if not limit:
        return None
    count = elements(tree)
    if count > limit:
        return f"{count:,} elements; this server allows {limit:,}"
    text = int(_TEXT(tree))
    if text > limit * TEXT_PER_ELEMENT:
        return f"{text:,} characters of text; this server allows {limit * TEXT_PER_ELEMENT:,}"
    return None


def _key_size(key: tuple) -> int:
    return sum(len(part) for part in key if isinstance(part, (str, bytes)))


class Datastores:
    """``device``: the name rows are stored under; ``schema``: the profile's;
    ``initial``: the fixture configuration's text, read when nothing is stored.

    Each datastore's tree is its own (running, startup and a candidate with
    changes never share one; a candidate without changes reads as running)
    and is edited in place through a :class:`Journal`. Every change gives the
    datastore a new *stamp*: what is kept about a tree (a serialised reply,
    lookups by key) is kept under the stamp it was made for.
    """

    def __init__(self, device: str, schema: Any, initial: Callable[[], str],
                 storage: Storage | None, clock: Any):
        self.device = device
        self.schema = schema
        self.initial = initial
        self.storage = storage
        self.clock = clock
        self._trees: dict[str, etree._Element] = {}
        self._stamps: dict[str, int] = {}
        self._counter = itertools.count(1)
        self.candidate_changes: _CandidateChanges | None = None   # None: candidate == running
        # The candidate's own tree (kept after a commit, equal to running, so
        # that the next edit need not copy running), the stamp of running it
        # was equal to, and the journal of its edits since then (None: it is
        # not running plus those steps, e.g. after <copy-config>).
        self._candidate: etree._Element | None = None
        self._candidate_base: int | None = None
        self._candidate_journal: Journal | None = None
        self.locks: dict[str, tuple[int, float]] = {}
        self.pending: PendingCommit | None = None
        # called with (datastore, edits, session id) after a change of running
        self.listeners: list[Callable[[str, list, int | None], None]] = []
        # called with (confirm-event, pending commit, timeout) for netconf-confirmed-commit
        self.confirm_listeners: list[Callable[[str, PendingCommit, int | None], None]] = []
        # serialised <get-config> answers, by the stamp of the tree they came from
        self._replies: OrderedDict[tuple, str] = OrderedDict()
        self._reply_chars = 0
        # lookups by key in each tree (running's, the candidate's own, startup's),
        # for filters and the edit engine; told which lists each change changed
        self._key_indexes: dict[str, KeyIndex] = {}
        # characters of text edits have added to each datastore since it was
        # last counted (see outgrows)
        self._grown: dict[str, int] = {}
        self._counted: dict[str, tuple[int, int]] = {}   # (stamp, elements) (see elements_in)

    # -- the trees ----------------------------------------------------------------

    def tree(self, name: str) -> etree._Element:
        """The datastore's tree: only to read (edits go through begin_edit)."""
        if name == "candidate":
            if self.candidate_changes is None:
                return self.tree("running")
            return self._candidate
        tree = self._trees.get(name)
        if tree is None:
            if name == "running":
                self.restore_after_restart()
                tree = self._trees.get(name)
            if tree is None:
                tree = self.storage.load_tree(self.device, name) if self.storage else None
                if tree is None:
                    tree = etree.fromstring(self.initial().encode(), _COMPACT)
                self._set(name, tree)
        return tree

    def stamp(self, name: str) -> int:
        """Changes whenever the datastore's content may have changed."""
        if name == "candidate" and self.candidate_changes is None:
            name = "running"
        if name not in self._stamps:
            self.tree(name)
        return self._stamps[name]

    def _set(self, name: str, tree: etree._Element) -> None:
        """``tree`` is the datastore's now (another tree, or the same changed)."""
        if self._trees.get(name) is not tree:
            self._key_indexes.pop(name, None)
        self._trees[name] = tree
        self._stamps[name] = next(self._counter)

    def copy(self, name: str) -> etree._Element:
        """A copy of the datastore's tree, for another datastore (copy-config)."""
        return deepcopy(self.tree(name))

    @property
    def candidate_dirty(self) -> bool:
        return self.candidate_changes is not None

    def cached_reply(self, stamp: int, key: tuple) -> str | None:
        full = (stamp, *key)
        text = self._replies.get(full)
        if text is not None:
            self._replies.move_to_end(full)
        return text

    def cache_reply(self, stamp: int, key: tuple, text: str) -> str:
        """Keep ``text`` as the answer to ``key`` (the question's own text: the
        filter's, which counts against the bound as the answer does)."""
        size = len(text) + _key_size(key)
        if size > REPLY_CACHE_BYTES:
            return text                      # (answered, not kept)
        replies = self._replies
        full = (stamp, *key)
        old = replies.pop(full, None)
        if old is not None:
            self._reply_chars -= len(old) + _key_size(key)
        self._reply_chars += size
        replies[full] = text
        while len(replies) > REPLY_CACHE_SIZE or self._reply_chars > REPLY_CACHE_BYTES:
            dropped, answer = replies.popitem(last=False)
            self._reply_chars -= len(answer) + _key_size(dropped[1:])
        return text

    def key_index(self, name: str) -> KeyIndex:
        """Lookups by key in the datastore's tree: built as asked, kept with the
        tree (each change forgets the lists it changed)."""
        if name == "candidate" and self.candidate_changes is None:
            name = "running"
        return self._index_of(name)

    def _index_of(self, tree_name: str) -> KeyIndex:
        index = self._key_indexes.get(tree_name)
        if index is None:
            index = self._key_indexes[tree_name] = KeyIndex(persistent=True)
        return index

    def _changed(self, tree_name: str, parents: list[etree._Element]) -> None:
        """Steps under ``parents`` changed the tree: lookups in the lists they
        changed are made again when asked."""
        index = self._key_indexes.get(tree_name)
        if index is not None:
            index.forget(parents, self._candidate if tree_name == "candidate"
                         else self._trees.get(tree_name))

    # -- writing ------------------------------------------------------------------

    def _persist(self, **trees: etree._Element | str) -> None:
        """Store these trees whole (or their text, already written)."""
        if self.storage is not None:
            self.storage.save(self.device, {
                name: tree if isinstance(tree, str) else etree.tostring(tree, encoding="unicode")
                for name, tree in trees.items()})

    def _persist_running_steps(self, journal: Journal, mark: int) -> None:
        """Store running after ``journal``'s steps from ``mark`` (already made):
        as the steps alone, or, when they are many or big (or enough have
        gathered since the last whole text), as the whole text again."""
        if self.storage is None:
            return
        if len(journal) - mark > STORED_STEPS_MAX or journal.size(mark) > STORED_STEPS_CHARS or \
                not self.storage.may_append(self.device, "running", STORED_STEPS_ROWS,
                                            STORED_STEPS_CHARS):
            self._persist(running=journal.root)
        else:
            self.storage.append(self.device, "running", journal.ops(mark))

    def _persist_rollback(self, tree: etree._Element | None) -> None:
        """Where a pending confirmed commit would roll back to, kept across restarts
        (RFC 6241 8.4.1: after a reboot the earlier configuration comes back)."""
        if self.storage is not None:
            self.storage.save(self.device, {
                ROLLBACK: None if tree is None else etree.tostring(tree, encoding="unicode")})

    def restore_after_restart(self) -> None:
        """A confirmed commit was pending when the server stopped: undo it."""
        if self.storage is None:
            return
        text = self.storage.load(self.device, ROLLBACK)
        if text is not None:
            log.info("%s: a confirmed commit was pending at the last stop; rolled back",
                     self.device)
            tree = etree.fromstring(text.encode(), _COMPACT)
            self.storage.save(self.device, {"running": text, ROLLBACK: None})
            self._set("running", tree)

    def reload_from_startup(self) -> None:
        """A reboot: running becomes startup; the candidate and a pending
        confirmed commit are gone (the rollback point is moot: RFC 6241 8.4.1
        restores the configuration from before it, and startup is that or older)."""
        self.cancel_pending()
        self.discard_changes()
        running = deepcopy(self.tree("startup"))   # (each datastore's tree is its own)
        if self.storage is not None:
            self.storage.save(self.device, {
                "running": etree.tostring(running, encoding="unicode"), ROLLBACK: None})
        self._set("running", running)

    def cancel_pending(self) -> None:
        """Forget a pending confirmed commit without rolling back (the device is
        reset or rebooted, which decides running itself)."""
        pending, self.pending = self.pending, None
        if pending is not None and pending.timer is not None:
            pending.timer.cancel()

    # -- editing in place -------------------------------------------------------------

    def begin_edit(self, name: str) -> tuple[etree._Element, Journal, int, KeyIndex]:
        """(tree, journal, mark, lookups by key) for an edit of running or the
        candidate in place: the edit records its steps in the journal; then
        either edited_*() keeps them, or abandon() undoes them (back to ``mark``)."""
        if name == "running":
            tree = self.tree("running")
            return tree, Journal(tree), 0, self._index_of("running")
        if name != "candidate":
            raise ValueError(f"{name} is not edited in place")
        if self.candidate_changes is None:
            running_stamp = self.stamp("running")
            if self._candidate is None or self._candidate_base != running_stamp \
                    or self._candidate_journal is None:
                self._candidate = deepcopy(self.tree("running"))
                self._candidate_base = running_stamp
                self._candidate_journal = Journal(self._candidate)
                self._key_indexes.pop("candidate", None)
            elif len(self._candidate_journal):   # (a spare equal to running: a fresh journal)
                self._candidate_journal = Journal(self._candidate)
            journal = self._candidate_journal
        else:
            journal = self._candidate_journal
            if journal is None:   # (not replayable: steps only to undo this edit)
                journal = Journal(self._candidate)
        return self._candidate, journal, len(journal), self._index_of("candidate")

    def abandon(self, journal: Journal, mark: int) -> None:
        """Undo an edit's steps (refused, or test-only)."""
        journal.undo(mark)

    def edited_running(self, journal: Journal, mark: int, edits: list,
                       session_id: int | None) -> None:
        """Keep the steps an edit made to running (already validated): stored
        first (if that fails, they are undone), then announced. ``edits``:
        (operation, instance-identifier or None, its prefixes), for the
        netconf-config-change notification."""
        try:
            self._persist_running_steps(journal, mark)
        except BaseException:
            journal.undo(mark)
            raise
        self._set("running", journal.root)
        self._changed("running", journal.parents(mark))
        self._notify("running", edits, session_id)

    def edited_candidate(self, journal: Journal, mark: int, touched: list, removed: list,
                         edits: list) -> None:
        if journal is self._candidate_journal and \
                (len(journal) > REPLAY_STEPS_MAX or journal.size() > REPLAY_CHARS):
            # (too much to make again at <commit> or to undo: the journal goes,
            # and what it held; the commit hands the candidate's tree over)
            self._candidate_journal = None
        changes = self.candidate_changes or _CandidateChanges()
        changes.touched.extend(touched)
        changes.removed.extend(removed)
        changes.edits.extend(edits)
        if len(changes.touched) + len(changes.removed) > CHANGES_KEPT:
            # (what many edits touched, created and deleted again, is not kept
            # until <commit>: the commit checks the whole candidate instead)
            changes.touched, changes.removed = [self._candidate], []
        changes.edits = top_level_edits(changes.edits)
        self.candidate_changes = changes
        self._stamps["candidate"] = next(self._counter)
        self._changed("candidate", journal.parents(mark))

    def commit_candidate(self, session_id: int | None, text: str | None = None) -> None:
        """Make the candidate's changes running's (already validated). When
        running is still what the candidate was copied from, the candidate's
        steps are made again on running (costing what they touch) and the
        candidate's tree is kept for the next edit; otherwise the candidate's
        tree becomes running's. Running is stored first: if that fails, the
        candidate keeps its changes."""
        changes = self.candidate_changes
        if changes is None:
            return
        candidate, journal = self._candidate, self._candidate_journal
        running = self.tree("running")
        old = self._stamps["running"]
        if journal is not None and self._candidate_base == old and \
                len(journal) <= REPLAY_STEPS_MAX and journal.size() <= REPLAY_CHARS:
            replay = Journal(running)
            try:
                replay.apply(journal.ops())
                self._persist_running_steps(replay, 0)
            except BaseException:
                replay.undo()
                raise
            self._set("running", running)
            self._changed("running", replay.parents())
            self.candidate_changes = None
            self._candidate_base = self._stamps["running"]
            self._candidate_journal = Journal(candidate)
            self._stamps.pop("candidate", None)
        else:
            self._persist(running=text if text is not None else candidate)
            index = self._key_indexes.pop("candidate", None)
            self._set("running", candidate)
            if index is not None:
                self._key_indexes["running"] = index
            self.candidate_changes = None
            self._candidate = self._candidate_base = self._candidate_journal = None
            self._stamps.pop("candidate", None)
        self._notify("running", changes.edits, session_id)

    # -- replacing a whole datastore -------------------------------------------------

    def replace_running(self, tree: etree._Element, edits: list, session_id: int | None) -> None:
        """Make ``tree`` (already validated, and running's own from now on) the
        running configuration.

        ``edits``: (operation, instance-identifier or None, its prefixes), for
        the netconf-config-change notification.
        """
        self._persist(running=tree)
        self._set("running", tree)
        self._notify("running", edits, session_id)

    def replace_candidate(self, tree: etree._Element, edits: list) -> None:
        """The candidate becomes ``tree`` (its own from now on), checked whole at
        <commit>."""
        changes = self.candidate_changes or _CandidateChanges()
        self.candidate_changes = _CandidateChanges([tree], [],
                                                   top_level_edits(changes.edits + edits))
        self._candidate, self._candidate_base, self._candidate_journal = tree, None, None
        self._stamps["candidate"] = next(self._counter)
        self._key_indexes.pop("candidate", None)

    def replace_startup(self, tree: etree._Element) -> None:
        self._persist(startup=tree)
        self._set("startup", tree)

    def discard_changes(self) -> None:
        """The candidate reads as running again; its tree is kept (its steps
        undone) when it can be made equal to running so."""
        if self.candidate_changes is None:
            return
        self.candidate_changes = None
        self._stamps.pop("candidate", None)
        journal = self._candidate_journal
        if journal is not None and self._candidate_base == self._stamps.get("running") \
                and len(journal) <= REPLAY_STEPS_MAX:
            self._changed("candidate", journal.parents())
            journal.undo()
        else:
            self._candidate = self._candidate_base = self._candidate_journal = None
            self._key_indexes.pop("candidate", None)

    def _notify(self, name: str, changes: list, session_id: int | None) -> None:
        for listener in self.listeners:
            try:
                listener(name, changes, session_id)
            except Exception:  # a listener's fault must not undo a commit
                log.exception("listener failed on %s", self.device)

    # -- validation -----------------------------------------------------------------

    def outgrows(self, name: str, tree: etree._Element, added: int, limit: int) -> str | None:
        """Does ``tree`` (the datastore as an edit would leave it; ``added``: the
        characters of the text it added) hold more than ``limit`` allows (see
        oversize)? It is counted once 64 KiB of text has been added since the
        last count, so a datastore may pass the limit by at most as much."""
        if not limit:
            return None
        grown = self._grown.get(name, 0) + added
        if grown < RECOUNT_CHARS:
            self._grown[name] = grown
            return None
        self._grown[name] = 0
        return oversize(tree, limit)

    def elements_in(self, name: str) -> int:
        """How many elements the datastore holds (counted once a change)."""
        stamp = self.stamp(name)
        counted = self._counted.get(name)
        if counted is None or counted[0] != stamp:
            counted = self._counted[name] = (stamp, elements(self.tree(name)))
        return counted[1]

    def candidate_replaced(self) -> etree._Element | None:
        """The candidate's tree when it is to be checked whole at <commit> (it was
        replaced, not edited in place since), else None."""
        changes = self.candidate_changes
        if changes is not None and self._candidate is not None and \
                any(t is self._candidate for t in changes.touched):
            return self._candidate
        return None

    def check_candidate(self) -> list[RpcError]:
        """Validate the candidate before it becomes running."""
        schema = self.schema
        changes = self.candidate_changes
        if changes is None:
            return []
        # (each edit checked its changes' structure when it was made)
        return validate_change(schema, self.tree("candidate"), changes.touched,
                               removed=changes.removed, checked=True)

    # -- locks (RFC 6241 7.5, 7.6) --------------------------------------------------

    def check_writable(self, name: str, session_id: int, path: str, path_ns: dict) -> None:
        holder = self.locks.get(name)
        if holder is not None and holder[0] != session_id:
            raise RpcError("in-use", "protocol",
                           f"the {name} datastore is locked by session {holder[0]}",
                           path=path, path_ns=path_ns)

    def lock(self, name: str, session_id: int, now: float, path: str, path_ns: dict) -> None:
        holder = self.locks.get(name)
        if holder is not None:
            raise RpcError("lock-denied", "protocol",
                           f"the {name} datastore is already locked by session {holder[0]}",
                           path=path, path_ns=path_ns, info=[("session-id", str(holder[0]))])
        if name == "candidate" and self.candidate_dirty:
            # RFC 6241 8.3.5.2: not while the candidate holds uncommitted changes.
            raise RpcError("lock-denied", "protocol",
                           "the candidate holds changes that are not committed; commit or "
                           "discard them first", path=path, path_ns=path_ns,
                           info=[("session-id", "0")])
        self.locks[name] = (session_id, now)

    def unlock(self, name: str, session_id: int, path: str, path_ns: dict) -> None:
        holder = self.locks.get(name)
        if holder is None:
            raise RpcError("operation-failed", "protocol", f"the {name} datastore is not locked",
                           path=path, path_ns=path_ns)
        if holder[0] != session_id:
            raise RpcError("operation-failed", "protocol",
                           f"the {name} datastore is locked by session {holder[0]}, not this one",
                           path=path, path_ns=path_ns)
        del self.locks[name]

    def session_ended(self, session_id: int) -> None:
        """Release what the session held, however it ended."""
        for name, (holder, _) in list(self.locks.items()):
            if holder == session_id:
                del self.locks[name]
                if name == "candidate":
                    self.discard_changes()  # RFC 6241 8.3.5.2
        pending = self.pending
        if pending is not None and pending.session_id == session_id and pending.persist is None:
            self.roll_back("cancel", "the session that started the confirmed commit ended")

    # -- confirmed commit (RFC 6241 8.4) -------------------------------------------

    def start_confirmed(self, session_id: int, timeout: float, persist: str | None,
                        rollback: etree._Element, username: str = "",
                        source_host: str | None = None) -> None:
        """``rollback``: running as it was before this commit (kept from the first
        of a series of confirmed commits)."""
        event = "start" if self.pending is None else "extend"
        if self.pending is None:
            self._persist_rollback(rollback)
            self.pending = PendingCommit(rollback=rollback, session_id=session_id,
                                         persist=persist)
        else:
            self.pending.persist = persist
            self.pending.session_id = session_id
            if self.pending.timer is not None:
                self.pending.timer.cancel()
        self.pending.username, self.pending.source_host = username, source_host
        self.pending.timer = self.clock.call_later(timeout, self._expired)
        self._confirm_event(event, self.pending, int(timeout))

    def confirm(self) -> None:
        pending, self.pending = self.pending, None
        if pending is not None:
            self._persist_rollback(None)
            if pending.timer is not None:
                pending.timer.cancel()
            self._confirm_event("complete", pending)

    def _confirm_event(self, event: str, pending: PendingCommit, timeout: int | None = None) -> None:
        for listener in self.confirm_listeners:
            try:
                listener(event, pending, timeout)
            except Exception:
                log.exception("confirm listener failed on %s", self.device)

    def _expired(self) -> None:
        if self.pending is not None:
            self.pending.timer = None
            self.roll_back("timeout", "the confirm-timeout expired")

    def roll_back(self, event: str, why: str, session_id: int | None = None) -> None:
        """Undo a pending confirmed commit; ``event`` is cancel or timeout (RFC 6470);
        ``session_id`` is the session that asked for it (None: the server itself)."""
        pending, self.pending = self.pending, None
        if pending is None:
            return
        if pending.timer is not None:
            pending.timer.cancel()
        log.info("%s: confirmed commit rolled back: %s", self.device, why)
        holder = self.locks.get("candidate")
        if holder is None or holder[0] == pending.session_id:
            self.discard_changes()   # (another session's locked candidate is its own)
        self.replace_running(pending.rollback, [("replace", None, {})], session_id)
        self._persist_rollback(None)
        self._confirm_event(event, pending)


def raise_all(errors: list[RpcError]) -> None:
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise RpcErrors(errors)
