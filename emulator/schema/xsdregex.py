"""XSD regular expressions (the dialect of YANG's ``pattern``) on the
``regex`` module.

XSD differs from Python's dialects in a few places, each handled here: a
pattern matches the whole value; ``^`` and ``$`` are plain characters;
``.`` excludes only newline and carriage return; ``\\s`` is four characters
and ``\\w`` is "not punctuation, separator or other"; ``\\p{..}`` names
Unicode categories and ``\\p{IsBlock}`` blocks. ``regex`` (unlike ``re``)
knows Unicode categories and blocks. What remains untranslated (XML name
escapes ``\\i``/``\\c`` and class subtraction) returns None, and stays with
libxml2's XSD engine through pyang; libxml2 has bugs with nested counted
repeats, so it is the fallback, not the rule.
"""

from __future__ import annotations

from typing import Callable

import regex

# Escapes that mean the same in both dialects (inside and outside classes).
_SAME_ESCAPES = set("nrt\\|.-^?*+{}()[]/$dD")
# XSD's \s is exactly these four characters.
_SPACE = r" \t\n\r"
_WORD_NOT = r"\p{P}\p{Z}\p{C}"   # \w is everything but these


def _property(name: str) -> str | None:
    """An XSD \\p{name} as the regex module writes it."""
    if name.startswith("Is"):
        return "Block=" + name[2:]
    if regex.fullmatch(r"[A-Z][a-z]?", name):
        return name
    return None


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
            if escaped in ("p", "P"):
                end = pattern.find("}", i)
                if not pattern.startswith("{", i + 2) or end < 0:
                    return None
                name = _property(pattern[i + 3:end])
                if name is None:
                    return None
                out.append(f"\\{escaped}{{{name}}}")
                i = end + 1
                continue
            if escaped in ("s", "S"):
                if in_class:
                    if escaped == "S":
                        return None
                    out.append(_SPACE)
                else:
                    out.append(f"[{_SPACE}]" if escaped == "s" else f"[^{_SPACE}]")
            elif escaped in ("w", "W"):
                if in_class:
                    return None
                out.append(f"[^{_WORD_NOT}]" if escaped == "w" else f"[{_WORD_NOT}]")
            elif escaped in _SAME_ESCAPES:
                out.append("\\" + escaped)
            else:
                return None  # \i, \c and anything unknown stay with libxml2
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
    return "(?:" + "".join(out) + ")"


def compile_pattern(pattern: str) -> Callable[[str], object] | None:
    """A callable that tells whether a whole string matches, or None."""
    translated = translate(pattern)
    if translated is None:
        return None
    try:
        return regex.compile(translated, regex.VERSION0).fullmatch
    except regex.error:
        return None
