"""XPath expressions compiled once for each thread that evaluates them.

lxml locks a compiled ``etree.XPath`` for the length of each evaluation: one
shared by the event loop and the worker thread (where big edits, commits and
reads are worked) would make the loop wait for the worker's evaluation over a
tree of hundreds of thousands of elements.
"""

from __future__ import annotations

import threading
from typing import Any

from lxml import etree


class PerThreadXPath:
    """Called as an ``etree.XPath`` made with the same arguments would be."""

    __slots__ = ("_args", "_kwargs", "_local")

    def __init__(self, *args: Any, **kwargs: Any):
        self._args, self._kwargs = args, kwargs
        self._local = threading.local()
        self._local.xpath = etree.XPath(*args, **kwargs)   # (compiled now: errors raised now)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            xpath = self._local.xpath
        except AttributeError:
            xpath = self._local.xpath = etree.XPath(*self._args, **self._kwargs)
        return xpath(*args, **kwargs)
