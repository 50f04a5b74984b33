"""What an edit did to a datastore tree, step by step: to undo it, to do it
again on an equal tree, and to store it.

A datastore tree is edited in place (a copy of a 10,000-entry tree per edit
costs more than the edit). Every change the edit makes goes through a
:class:`Journal` as one of three structural steps: an element inserted at a
position, removed from one, or replaced by another. A step keeps the
elements themselves (so that it can be undone exactly, in reverse order) and
what is needed to do it again elsewhere without them: the parent's path as
child positions from the root, the position, and the new element's text,
written when the step is made (a later step may change the element).

Those :data:`Op` tuples need no schema: :func:`apply_ops` replays them on
any tree equal to the one they were recorded on (running, when the candidate
that was its copy is committed; the stored text, when the server starts).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from lxml import etree

from emulator.schema.tree import moving

# (kind, parent's path from the root as child positions, position, new element's text)
# kind: "i" insert, "d" remove ("delete"), "r" replace
Op = tuple[str, list[int], int, Any]

_PARSER = etree.XMLParser(remove_blank_text=True)
def path_of(element: etree._Element, root: etree._Element) -> list[int]:
    """``element``'s position under ``root``, as the child index at each level
    (each index is one C-level walk of the siblings before it)."""
    steps = []
    while element is not root:
        parent = element.getparent()
        if parent is None:
            raise ValueError("the element is not in this tree")
        steps.append(parent.index(element))
        element = parent
    steps.reverse()
    return steps


def at_path(root: etree._Element, path: list[int]) -> etree._Element:
    element = root
    for step in path:
        element = element[step]
    return element


class Journal:
    """The steps made to the tree ``root`` since the journal began."""

    def __init__(self, root: etree._Element):
        self.root = root
        # (kind, parent, position, new element, old element, op)
        self.steps: list[tuple] = []
        # the last parent a step was made under, and its path: a bulk edit makes
        # many steps under one parent (a step there cannot move the parent itself)
        self._parent: etree._Element | None = None
        self._path: list[int] = []
        # since begin(): the elements whose children a step changed, and their
        # parents (an entry's key leaf replaced changes its list's lookups)
        self.changed: set[etree._Element] = set()
        self.chars = 0   # of the new elements' text, in every step
        self.detached = 0   # > 0: changes are being made to elements not yet in the tree

    @contextmanager
    def apart(self) -> Iterator[None]:
        """Around changes made to a new element before it is placed in the tree:
        they are made, not recorded (placing the element records it whole)."""
        self.detached += 1
        try:
            yield
        finally:
            self.detached -= 1

    def _add(self, step: tuple) -> None:
        self.steps.append(step)
        self.chars += len(step[5][3] or "")

    def begin(self) -> int:
        """A new edit begins: its mark (see undo)."""
        self.changed = set()
        return len(self.steps)

    def _note(self, parent: etree._Element) -> None:
        self.changed.add(parent)
        above = parent.getparent()
        if above is not None:
            self.changed.add(above)

    def __len__(self) -> int:
        return len(self.steps)

    # -- recording (each makes the change, then notes it) ----------------------------

    def _parent_path(self, parent: etree._Element) -> list[int]:
        if parent is not self._parent:
            self._parent, self._path = parent, path_of(parent, self.root)
        return self._path

    def _position(self, parent: etree._Element, element: etree._Element) -> int:
        """``element``'s index under ``parent``; right after the element the last
        step inserted there, without a walk (entries appended one by one)."""
        if self.steps:
            kind, last_parent, position, new, _, _ = self.steps[-1]
            if kind == "i" and last_parent is parent and element.getprevious() is new:
                return position + 1
        return parent.index(element)

    def inserted(self, parent: etree._Element, element: etree._Element) -> None:
        """``element`` was just placed under ``parent``."""
        if self.detached:
            return
        position = self._position(parent, element)
        path = self._parent_path(parent)
        self._note(parent)
        text = etree.tostring(element, encoding="unicode", with_tail=False)
        self._add(("i", parent, position, element, None, ("i", path, position, text)))

    def remove(self, parent: etree._Element, child: etree._Element) -> None:
        if self.detached:
            parent.remove(child)
            return
        position = parent.index(child)
        path = self._parent_path(parent)
        self._note(parent)
        with moving(child):
            parent.remove(child)
        self._add(("d", parent, position, None, child, ("d", path, position, None)))

    def replace(self, parent: etree._Element, old: etree._Element, new: etree._Element) -> None:
        if self.detached:
            parent.replace(old, new)
            return
        position = parent.index(old)
        path = self._parent_path(parent)
        self._note(parent)
        with moving(old, new):
            parent.replace(old, new)
        text = etree.tostring(new, encoding="unicode", with_tail=False)
        self._add(("r", parent, position, new, old, ("r", path, position, text)))

    # -- using it -------------------------------------------------------------------

    def undo(self, mark: int = 0) -> None:
        """Back to how the tree was when the journal had ``mark`` steps."""
        self._parent = None
        while len(self.steps) > mark:
            kind, parent, position, new, old, op = self.steps.pop()
            self.chars -= len(op[3] or "")
            with moving(new, old):
                if kind == "i":
                    parent.remove(new)
                elif kind == "d":
                    parent.insert(position, old)
                else:
                    parent.replace(new, old)

    def ops(self, mark: int = 0) -> list[Op]:
        """The steps from ``mark`` on, to do again elsewhere."""
        return [step[5] for step in self.steps[mark:]]

    def size(self, mark: int = 0) -> int:
        """The characters of the new elements' text from ``mark`` on."""
        if mark == 0:
            return self.chars
        return sum(len(step[5][3] or "") for step in self.steps[mark:])

    def parents(self, mark: int = 0) -> list[etree._Element]:
        """The elements whose children the steps from ``mark`` on changed."""
        return [step[1] for step in self.steps[mark:]]

    def apply(self, ops: list[Op]) -> None:
        """Do ``ops`` (recorded on a tree equal to this one) on this tree, as
        steps of this journal (so that they can be undone)."""
        self._parent = None
        for kind, path, position, text in ops:
            parent = at_path(self.root, path)
            if kind == "i":
                element = etree.fromstring(text, _PARSER)
                with moving(element):
                    parent.insert(position, element)
                self._add(("i", parent, position, element, None, (kind, path, position,
                                                                          text)))
            elif kind == "d":
                child = parent[position]
                with moving(child):
                    parent.remove(child)
                self._add(("d", parent, position, None, child, (kind, path, position,
                                                                        None)))
            elif kind == "r":
                element = etree.fromstring(text, _PARSER)
                old = parent[position]
                with moving(old, element):
                    parent.replace(old, element)
                self._add(("r", parent, position, element, old, (kind, path, position,
                                                                         text)))
            else:
                raise ValueError(f"unknown step {kind!r}")


def apply_ops(root: etree._Element, ops: list[Op]) -> None:
    """Replay ``ops`` on ``root`` (no undo kept)."""
    for kind, path, position, text in ops:
        parent = at_path(root, path)
        new = etree.fromstring(text, _PARSER) if kind in "ir" else None
        old = parent[position] if kind in "dr" else None
        with moving(new, old):
            if kind == "i":
                parent.insert(position, new)
            elif kind == "d":
                parent.remove(old)
            elif kind == "r":
                parent.replace(old, new)
            else:
                raise ValueError(f"unknown step {kind!r}")
