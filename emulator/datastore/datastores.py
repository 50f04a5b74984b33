"""A device's running, candidate and startup datastores, their locks, and
confirmed commits (RFC 6241 sections 7 and 8).

Trees are never edited in place: an edit works on a copy and the copy
replaces the datastore when it is accepted, so a refused edit changes
nothing and a datastore can be shared (running and candidate are one tree
right after a commit). Running and startup are written to SQLite before
the reply goes out.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from copy import deepcopy
from dataclasses import dataclass, field
from typing import Any, Callable

from lxml import etree

from emulator.datastore.storage import Storage
from emulator.errors import RpcError, RpcErrors
from emulator.netconf.filters import KeyIndex
from emulator.schema.validate import validate_change

log = logging.getLogger(__name__)

NAMES = ("running", "candidate", "startup")
ROLLBACK = "rollback"   # the stored row of a pending confirmed commit's rollback point
DEFAULT_CONFIRM_TIMEOUT = 600
REPLY_CACHE_SIZE = 8
# Up to this many changed nodes are followed into a copy of the candidate one by
# one (each costs its depth and its index among siblings); more, by one walk.
FOLLOW_BY_PATH = 64
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
    """What edits did to the candidate since it last equalled running."""

    touched: list[etree._Element] = field(default_factory=list)
    removed: list[tuple[etree._Element, str]] = field(default_factory=list)
    edits: list[tuple[str, str | None, dict]] = field(default_factory=list)

    def moved_to(self, old: etree._Element, new: etree._Element) -> "_CandidateChanges":
        """The same changes, as nodes of ``new``, a deep copy of ``old``. Few
        are followed by their path; many (after a large edit) through one walk
        of both trees, which costs the tree once rather than the tree per node."""
        count = len(self.touched) + len(self.removed)
        if count > FOLLOW_BY_PATH:
            position = {element: i for i, element in enumerate(old.iter())}
            copies = list(new.iter())

            def follow(element: etree._Element) -> etree._Element | None:
                i = position.get(element)
                return None if i is None else copies[i]
            return self._followed(follow)

        def follow(element: etree._Element) -> etree._Element | None:
            steps = []
            while element is not old:
                parent = element.getparent()
                if parent is None:
                    return None            # no longer in the tree
                steps.append(parent.index(element))
                element = parent
            current = new
            for step in reversed(steps):
                current = current[step]
            return current

        return self._followed(follow)

    def _followed(self, follow: Callable[[etree._Element], etree._Element | None]) \
            -> "_CandidateChanges":
        touched = [e for e in (follow(t) for t in dict.fromkeys(self.touched)) if e is not None]
        removed = [(p, tag) for p, tag in ((follow(p), tag) for p, tag in self.removed)
                   if p is not None]
        return _CandidateChanges(touched, removed, self.edits)


class Datastores:
    """``device``: the name rows are stored under; ``schema``: the profile's;
    ``initial``: the fixture configuration's text, read when nothing is stored."""

    def __init__(self, device: str, schema: Any, initial: Callable[[], str],
                 storage: Storage | None, clock: Any):
        self.device = device
        self.schema = schema
        self.initial = initial
        self.storage = storage
        self.clock = clock
        self._trees: dict[str, etree._Element] = {}
        self._moved: tuple[etree._Element, _CandidateChanges] | None = None
        self.candidate_changes: _CandidateChanges | None = None   # None: candidate == running
        self.locks: dict[str, tuple[int, float]] = {}
        self.pending: PendingCommit | None = None
        # called with (datastore, edits, session id) after a change of running
        self.listeners: list[Callable[[str, list, int | None], None]] = []
        # called with (confirm-event, pending commit, timeout) for netconf-confirmed-commit
        self.confirm_listeners: list[Callable[[str, PendingCommit, int | None], None]] = []
        # serialised <get-config> answers, by the tree they came from (see cached_reply)
        self._replies: OrderedDict[tuple, tuple[etree._Element, str]] = OrderedDict()
        # filters' lookups by key, by datastore, for the tree they were made for
        self._key_indexes: dict[str, tuple[etree._Element, KeyIndex]] = {}

    # -- the trees ----------------------------------------------------------------

    def tree(self, name: str) -> etree._Element:
        if name == "candidate" and self.candidate_changes is None:
            return self.tree("running")
        if name == "running" and "running" not in self._trees:
            self.restore_after_restart()
        tree = self._trees.get(name)
        if tree is None:
            text = self.storage.load(self.device, name) if self.storage else None
            if text is None:
                text = self.initial()
            tree = self._trees[name] = etree.fromstring(text.encode(), _COMPACT)
        return tree

    def copy(self, name: str) -> etree._Element:
        """A copy to edit. For the candidate, the nodes earlier edits touched are
        followed into the copy, so that <commit> can check just those."""
        tree = self.tree(name)
        copy = deepcopy(tree)
        if name == "candidate" and self.candidate_changes is not None:
            # kept aside: they become the candidate's only if this copy does
            self._moved = (copy, self.candidate_changes.moved_to(tree, copy))
        return copy

    @property
    def candidate_dirty(self) -> bool:
        return self.candidate_changes is not None

    def _persist(self, **trees: etree._Element) -> None:
        if self.storage is not None:
            self.storage.save(self.device, {
                name: etree.tostring(tree, encoding="unicode") for name, tree in trees.items()})

    def cached_reply(self, tree: etree._Element, key: tuple) -> str | None:
        entry = self._replies.get((id(tree), *key))
        if entry is not None and entry[0] is tree:   # (the id of a live tree is its own)
            self._replies.move_to_end((id(tree), *key))
            return entry[1]
        return None

    def key_index(self, name: str, tree: etree._Element) -> KeyIndex:
        """Filters' lookups by key in ``tree``, the datastore's tree: built as
        asked, kept as long as the datastore keeps the tree (which is replaced,
        never changed)."""
        entry = self._key_indexes.get(name)
        if entry is None or entry[0] is not tree:
            entry = self._key_indexes[name] = (tree, KeyIndex(persistent=True))
        return entry[1]

    def cache_reply(self, tree: etree._Element, key: tuple, text: str) -> str:
        if len(text) > REPLY_CACHE_BYTES:
            return text                      # (answered, not kept)
        self._replies[(id(tree), *key)] = (tree, text)
        while len(self._replies) > REPLY_CACHE_SIZE or \
                sum(len(entry[1]) for entry in self._replies.values()) > REPLY_CACHE_BYTES:
            self._replies.popitem(last=False)
        return text

    # -- writing ------------------------------------------------------------------

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
            self._trees["running"] = tree

    def reload_from_startup(self) -> None:
        """A reboot: running becomes startup; the candidate and a pending
        confirmed commit are gone (the rollback point is moot: RFC 6241 8.4.1
        restores the configuration from before it, and startup is that or older)."""
        self.cancel_pending()
        self.discard_changes()
        startup = self.tree("startup")
        if self.storage is not None:
            self.storage.save(self.device, {
                "running": etree.tostring(startup, encoding="unicode"), ROLLBACK: None})
        self._trees["running"] = startup

    def cancel_pending(self) -> None:
        """Forget a pending confirmed commit without rolling back (the device is
        reset or rebooted, which decides running itself)."""
        pending, self.pending = self.pending, None
        if pending is not None and pending.timer is not None:
            pending.timer.cancel()

    def replace_running(self, tree: etree._Element, edits: list, session_id: int | None) -> None:
        """Make ``tree`` (already validated) the running configuration.

        ``edits``: (operation, instance-identifier or None, its prefixes), for
        the netconf-config-change notification.
        """
        self._persist(running=tree)
        self._trees["running"] = tree
        if self.candidate_changes is None:
            self._trees.pop("candidate", None)
        self._notify("running", edits, session_id)

    def replace_candidate(self, tree: etree._Element, touched: list, removed: list,
                          edits: list) -> None:
        changes = self.candidate_changes or _CandidateChanges()
        if self.candidate_changes is not None:
            moved = self._moved
            if moved is not None and moved[0] is tree:
                changes = moved[1]
            else:   # a tree not made by copy(): check it whole at commit
                changes = _CandidateChanges([tree], [], changes.edits)
        self._moved = None
        changes.touched.extend(touched)
        changes.removed.extend(removed)
        changes.edits.extend(edits)
        self.candidate_changes = changes
        self._trees["candidate"] = tree

    def replace_startup(self, tree: etree._Element) -> None:
        self._persist(startup=tree)
        self._trees["startup"] = tree

    def discard_changes(self) -> None:
        self.candidate_changes = None
        self._moved = None
        self._trees.pop("candidate", None)

    def _notify(self, name: str, changes: list, session_id: int | None) -> None:
        for listener in self.listeners:
            try:
                listener(name, changes, session_id)
            except Exception:  # a listener's fault must not undo a commit
                log.exception("listener failed on %s", self.device)

    # -- validation -----------------------------------------------------------------

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
