"""Our validator against an independent YANG implementation: yanglint (libyang).

A corpus of valid and invalid documents is generated for the test module
(from a fixed seed, so a failure can be reproduced); every document must get
the same verdict from both, and for invalid ones both must blame the same
node. Skipped where yanglint (Debian's libyang2-tools) is not installed.
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from lxml import etree

from emulator.schema.compiler import compile_modules
from emulator.schema.validate import validate

YANGLINT = shutil.which("yanglint")
pytestmark = pytest.mark.skipif(YANGLINT is None, reason="yanglint (libyang2-tools) is not installed")

MODULE = Path(__file__).parent / "yang" / "validation-test.yang"
VT = "urn:test:validation"
NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
FEATURES = {"validation-test": ["fancy"]}


def top(body: str) -> str:
    return f'<top xmlns="{VT}">{body}</top>'


def corpus(seed: int = 7) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    docs: list[tuple[str, str]] = []

    def leaf(name: str, values: list[str]) -> None:
        for value in values:
            docs.append((f"{name}={value!r}", top(f"<{name}>{value}</{name}>")))

    ints = ["0", "1", "-1", "+5", "07", "-0", "127", "128", "-128", "-129", "1.0", "0x10", "",
            "abc", "1e2", " 7 "]
    leaf("i8", ints + [str(rng.randint(-300, 300)) for _ in range(20)])
    leaf("u16", ints + [str(rng.randint(-5, 40)) for _ in range(30)])
    leaf("i64", ["9223372036854775807", "9223372036854775808", "-9223372036854775808",
                 "-9223372036854775809"])
    leaf("pct", [str(v) for v in (0, 9, 10, 50, 90, 91, 100, 101, 255, 256)])
    leaf("dec", ["-1.5", "-1.51", "0", "0.0", "99.99", "100", "100.00", "100.01", "1.234",
                 "1.000", "1.", ".5", "+1.5", "abc", "1e3"]
         + [f"{rng.uniform(-3, 103):.{rng.randint(0, 3)}f}" for _ in range(20)])
    letters = "abcxyzAB019 -"
    leaf("word", ["ab", "a", "abcdefgh", "abcdefghi", "Ab", "1ab", "xyz", "ax9", "ab9c"]
         + ["".join(rng.choice(letters) for _ in range(rng.randint(0, 10))) for _ in range(40)])
    # (not-a-name's class subtraction is left out: libyang does not implement it)
    leaf("v6", ["ab:c1", "\u00e9:\u0663", "a::b", "a b", ":a"])
    leaf("flag", ["true", "false", "True", "1", "", " true", "false "])
    leaf("color", ["red", "green", "blue", "Red", "purple", "1", "", " red", "blue "])
    leaf("perms", ["", "read", "read write", "exec read", "execute", "read read", "write  exec"])
    leaf("blob", ["AQ==", "AQIDBA==", "", "AQIDBAU=", "not base64!", "AQI="])
    leaf("either", ["-5", "none", "200", "some", "127", "-128", " none", " 5"])
    leaf("blob", ["AQ ==", " AQ=="])
    leaf("marker", ["", " "])
    docs.append(("marker=x", top("<marker>x</marker>")))
    for value in ("cat", "mammal", "parrot", "unicorn", "vt:cat", "q:cat", " cat", "vt:cat "):
        docs.append((f"pet={value}", top(f'<pet xmlns:vt="{VT}">{value}</pet>')))
    docs += [
        ("unknown", top("<nonsense/>")),
        ("absent-feature", top("<absent-leaf>x</absent-leaf>")),
        ("state-leaf", top("<state-leaf>x</state-leaf>")),
        ("keys-ok", top("<item><id>1</id></item><item><id>2</id></item>")),
        ("key-missing", top("<item><label>x</label></item>")),
        ("key-duplicate", top("<item><id>1</id></item><item><id>1</id></item>")),
        ("unique-ok", top("<item><id>1</id><label>a</label></item><item><id>2</id><label>b</label></item>")),
        ("unique-bad", top("<item><id>1</id><label>a</label></item><item><id>2</id><label>a</label></item>")),
        ("leaf-list-dup", top("<tags>a</tags><tags>a</tags>")),
        ("leaf-list-max", top("".join(f"<tags>{i}</tags>" for i in range(4)))),
        ("ref-ok", top("<item><id>7</id></item><ref>7</ref>")),
        ("ref-missing", top("<item><id>7</id></item><ref>8</ref>")),
        ("weak-ref", top("<weak-ref>9</weak-ref>")),
        ("deref-ok", top("<item><id>1</id><label>special</label></item><special-ref>1</special-ref>")),
        ("deref-bad", top("<item><id>1</id><label>plain</label></item><special-ref>1</special-ref>")),
        ("when-ok", top("<kind>parrot</kind><wings>2</wings>")),
        ("when-bad", top("<kind>cat</kind><wings>2</wings>")),
        ("when-or-self", top("<kind>mammal</kind><fur>x</fur>")),
        ("must-ok", top("<low>1</low><high>2</high>")),
        ("must-bad", top("<low>3</low><high>2</high>")),
        ("re-match-ok", top("<code>ABC</code>")),
        ("re-match-bad", top("<code>AB1</code>")),
        ("enum-value-ok", top("<color>green</color><shade>green</shade>")),
        ("enum-value-bad", top("<color>red</color><shade>red</shade>")),
        ("bit-is-set-ok", top("<perms>write</perms><mode>x</mode>")),
        ("bit-is-set-bad", top("<perms>read</perms><mode>x</mode>")),
        ("current-ok", top("<word>abc</word><echo>abc</echo>")),
        ("current-bad", top("<word>abc</word><echo>abd</echo>")),
        ("default-seen", top("<retries-seen>1</retries-seen>")),
        ("default-overridden", top("<retries-seen>1</retries-seen>")
         + f'<settings xmlns="{VT}"><retries>4</retries></settings>'),
        ("choice-ok", f'<transport xmlns="{VT}"><tcp-port>1</tcp-port></transport>'),
        ("choice-missing", f'<transport xmlns="{VT}"/>'),
        ("choice-two-cases", f'<transport xmlns="{VT}"><tcp-port>1</tcp-port><udp-port>2</udp-port></transport>'),
        ("default-case-seen", f'<transport xmlns="{VT}"><tcp-port>1</tcp-port><speed-seen>1</speed-seen></transport>'),
        ("default-case-left", f'<transport xmlns="{VT}"><tcp-port>1</tcp-port><rate>1</rate><speed-seen>1</speed-seen></transport>'),
        ("mandatory-ok", f'<account xmlns="{VT}"><user>u</user></account>'),
        ("mandatory-missing", f'<account xmlns="{VT}"/>'),
        ("min-ok", f'<limits xmlns="{VT}"><bounded><k>a</k></bounded><bounded><k>b</k></bounded></limits>'),
        ("min-bad", f'<limits xmlns="{VT}"><bounded><k>a</k></bounded></limits>'),
        ("union-leafref-ok", top("<item><id>3</id></item><u-ref>3</u-ref>")),
        ("union-leafref-missing", top("<u-ref>4</u-ref>")),
        ("int-keys-equal", top("<num><n>1</n></num><num><n>01</n></num>")),
        ("unique-default", top("<person><name>a</name></person><person><name>b</name><nick>anon</nick></person>")),
        ("enum-feature-off", top("<hue>ultra</hue>")),
        ("bit-feature-off", top("<flags>b</flags>")),
        ("identity-feature-off", top("<pet>hidden</pet>")),
        ("lte-ok", top("<maxv>5</maxv><lte-check>5</lte-check>")),
        ("lte-bad", top("<maxv>5</maxv><lte-check>6</lte-check>")),
        ("union-path-ok", top("<maxv>5</maxv><i8>1</i8><union-check>0</union-check>")),
        ("union-path-bad", top("<maxv>5</maxv><union-check>0</union-check>")),
        ("gated-off", f'<gated xmlns="{VT}"><mode2>off</mode2></gated>'),
        ("gated-on", f'<gated xmlns="{VT}"><mode2>on</mode2></gated>'),
        ("holder-empty", f'<holder xmlns="{VT}"/>'),
        ("holder-ok", f'<holder xmlns="{VT}"><np><p1>x</p1></np></holder>'),
        ("dwhen-true", top("<flag>true</flag><dwhen-seen>1</dwhen-seen>")),
        ("dwhen-false", top("<flag>false</flag><dwhen-seen>1</dwhen-seen>")),
        ("wgate-off", f'<wgate xmlns="{VT}"><on>false</on></wgate>'),
        ("wgate-on", f'<wgate xmlns="{VT}"><on>true</on></wgate>'),
        ("max-bad", f'<limits xmlns="{VT}">' + "".join(f"<bounded><k>{i}</k></bounded>" for i in range(4)) + "</limits>"),
    ]
    return docs


def yanglint_verdict(directory: Path, name: str, text: str) -> tuple[bool, str]:
    path = directory / f"{abs(hash(name))}.xml"
    path.write_text(text)
    result = subprocess.run([YANGLINT, "-t", "config", "-F", "validation-test:fancy", str(MODULE),
                             str(path)], capture_output=True, text=True, timeout=60)
    return result.returncode == 0, result.stderr


def our_verdict(schema, text: str) -> tuple[bool, list]:
    root = etree.fromstring(f'<data xmlns="{NC}">{text}</data>')
    errors = validate(schema, root)
    return not errors, errors


def location(text: str) -> str | None:
    match = re.search(r'Data location "([^"]+)"', text)
    return match.group(1) if match else None


def test_verdicts_agree_with_yanglint(tmp_path):
    schema = compile_modules("validation-test", [MODULE], FEATURES)
    docs = corpus()
    disagreements = []
    for name, text in docs:
        ours, errors = our_verdict(schema, text)
        theirs, stderr = yanglint_verdict(tmp_path, name, text)
        if ours != theirs:
            disagreements.append(f"{name}: ours={'valid' if ours else [e.message for e in errors]} "
                                 f"yanglint={'valid' if theirs else stderr.strip()}")
            continue
        where = location(stderr)
        if not ours and where and errors[0].path:
            # /validation-test:top/i8 against /vt:top/vt:i8 (keys aside)
            theirs_path = re.sub(r"\[[^\]]*\]", "", where).replace("validation-test:", "")
            our_path = re.sub(r"\[[^\]]*\]", "", errors[0].path).replace("vt:", "")
            # Equal; or yanglint names the missing child of the node we name; or, for an
            # element that should not be there, we name it and yanglint its parent.
            if not (our_path == theirs_path or theirs_path.startswith(our_path + "/")
                    or (errors[0].tag in ("unknown-element", "unknown-namespace", "bad-element")
                        and our_path.rpartition("/")[0] == theirs_path)):
                disagreements.append(f"{name}: ours blames {errors[0].path}, yanglint {where}")
    assert len(docs) > 250
    assert not disagreements, "\n".join(disagreements)
