"""XSD regular expressions (the dialect of YANG's ``pattern``) as Python ``re``.

libxml2 (through pyang) is the reference engine, but calling it costs a
schema validation per value. Most patterns in real modules use a small,
common subset; :func:`translate` turns those into an anchored Python
regular expression with the same meaning, and returns None for anything
it is not sure of (Unicode categories, class subtraction, XSD's own
escapes), which then stays with libxml2.
"""

from __future__ import annotations

import re

# Escapes that mean the same in both dialects (inside and outside classes).
_SAME_ESCAPES = set("nrt\\|.-^?*+{}()[]/$d D")
_SAME_ESCAPES.discard(" ")
# XSD's \s is exactly these four characters (Python's is wider).
_SPACE = r" \t\n\r"


def translate(pattern: str) -> str | None:
    out: list[str] = []
    i = 0
    in_class = False
    n = len(pattern)
    while i < n:
        char = pattern[i]
        if char == "\\":
            if i + 1 >= n:
                return None
            escaped = pattern[i + 1]
            if escaped in ("s", "S"):
                if in_class:
                    if escaped == "S":
                        return None
                    out.append(_SPACE)
                else:
                    out.append(f"[{_SPACE}]" if escaped == "s" else f"[^{_SPACE}]")
            elif escaped in _SAME_ESCAPES:
                out.append("\\" + escaped)
            else:
                return None  # \p{..}, \i, \c, \w and the rest stay with libxml2
            i += 2
            continue
        if in_class:
            if char == "[":
                return None  # class subtraction, e.g. [a-z-[aeiou]]
            if char == "]":
                in_class = False
            out.append(char)
        elif char == "[":
            in_class = True
            out.append(char)
            if pattern.startswith("^", i + 1):
                out.append("^")
                i += 1
        elif char in "^$":
            out.append("\\" + char)  # plain characters in XSD
        elif char == ".":
            out.append("[^\\n\\r]")
        elif char == "(" and pattern.startswith("(?", i):
            return None  # no such syntax in XSD
        else:
            out.append(char)
        i += 1
    if in_class:
        return None
    return "(?:" + "".join(out) + r")\Z"


def compile_pattern(pattern: str):
    """A callable that tells whether a whole string matches, or None."""
    translated = translate(pattern)
    if translated is None:
        return None
    try:
        return re.compile(translated).match
    except re.error:
        return None
