"""XSD patterns on the regex module, against libxml2's XSD engine (through pyang)
on every pattern of the modules we ship and pyang installs."""

from __future__ import annotations

import random
import re
import sys
from pathlib import Path

import pytest
from pyang.types import XSDPattern

from emulator.schema.xsdregex import compile_pattern, translate

MODULES = [*Path(sys.prefix, "share", "yang", "modules").rglob("*.yang"),
           *Path(__file__).parents[1].joinpath("yang").glob("*.yang")]


def patterns() -> list[str]:
    found = set()
    for module in MODULES:
        text = module.read_text(encoding="utf-8")
        for match in re.finditer(r"pattern\s+'([^']*)'|pattern\s+\"((?:[^\"\\\\]|\\\\.)*)\"", text):
            found.add(match.group(1) if match.group(1) is not None
                      else match.group(2).replace("\\\\", "\\"))
    return sorted(found)


def samples(pattern: str, rng: random.Random) -> list[str]:
    alphabet = "abcxyzABC019:._-/%@ \u00e9\u4e2d\u0663"
    literal = [c for c in pattern if c.isalnum() or c in ":._-/%@"]
    strings = ["", "a", "1", "::", "0.0.0.0", "192.0.2.1", "2001:db8::1", "::1",
               "fe80::1%eth0", "example.com", "a" * 70]
    for _ in range(60):
        size = rng.randint(0, 14)
        pool = alphabet + "".join(literal)
        strings.append("".join(rng.choice(pool) for _ in range(size)))
    return strings


# libxml2 bugs with nested counted repeats: libyang (and we) refuse these, libxml2 accepts.
LIBXML2_BUGS = {"::1f1668fd", "::2093.194.61.61"}


@pytest.mark.parametrize("pattern", patterns())
def test_translation_agrees_with_libxml2(pattern):
    ours = compile_pattern(pattern)
    if ours is None:
        pytest.skip("not translated: stays with libxml2")
    reference = XSDPattern(pattern, None, False)
    assert reference, pattern
    rng = random.Random(pattern)
    for text in samples(pattern, rng):
        if text in LIBXML2_BUGS:
            continue
        assert bool(ours(text)) == bool(reference(text)), (pattern, text)


@pytest.mark.parametrize("pattern, text, matches", [
    ("a$", "a$", True), ("^a", "^a", True), ("a.b", "a\nb", False), ("a.b", "a\tb", True),
    (r"\s", "\u00a0", False), (r"\s", "\t", True), (r"\w+", "ab+", True), (r"\w", "!", False),
    (r"[\p{L}\p{N}]+", "\u00e9\u0663", True), (r"\p{IsBasicLatin}+", "abc", True),
    (r"\p{IsBasicLatin}", "\u00e9", False), ("abc", "xabcx", False),
])
def test_xsd_meanings(pattern, text, matches):
    assert bool(compile_pattern(pattern)(text)) is matches


@pytest.mark.parametrize("pattern", [r"\i\c*", "[a-z-[aeiou]]", "(?i)a", "[abc"])
def test_what_is_not_translated(pattern):
    assert translate(pattern) is None
