"""Instance validation, rule by rule: a valid and an invalid case for each,
with the error-tag, error-app-tag and error-path asserted."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from emulator.schema.compiler import SchemaError, compile_modules
from emulator.schema.validate import validate

TEST_MODULE = Path(__file__).parent / "yang" / "validation-test.yang"
VT = "urn:test:validation"
NC = "urn:ietf:params:xml:ns:netconf:base:1.0"


@pytest.fixture(scope="module")
def schema():
    return compile_modules("validation-test", [TEST_MODULE], {"validation-test": ["fancy"]})


def check(schema, body: str, config: bool = True):
    root = etree.fromstring(f'<data xmlns="{NC}"><top xmlns="{VT}">{body}</top></data>'
                            if not body.startswith("<!top>") else
                            f'<data xmlns="{NC}">{body[6:]}</data>')
    before = etree.tostring(root)
    errors = validate(schema, root, config=config)
    assert etree.tostring(root) == before, "validation must leave the tree as it found it"
    return [(e.tag, e.app_tag, e.path) for e in errors], errors


def ok(schema, body: str, config: bool = True) -> None:
    found, errors = check(schema, body, config)
    assert found == [], [e.message for e in errors]


def bad(schema, body: str, tag: str, path: str, app_tag: str | None = None,
        config: bool = True):
    found, errors = check(schema, body, config)
    assert found == [(tag, app_tag, path)], [e.message for e in errors]
    assert errors[0].message and errors[0].path_ns["vt"] == VT
    return errors[0]


# -- built-in types (RFC 7950 section 9) ---------------------------------------------

@pytest.mark.parametrize("leaf, good, wrong", [
    ("i8", ["-128", "127", "+5", " 7 "], ["128", "-129", "1.0", "0x10", "", "seven"]),
    ("u16", ["1", "10", "20", "30"], ["0", "11", "19", "31", "-1"]),
    ("i64", ["-9223372036854775808", "9223372036854775807"], ["9223372036854775808"]),
    ("dec", ["-1.5", "0", "99.99", "100", "3.1"], ["-1.51", "100.01", "1.234", "1e3", "abc"]),
    ("word", ["ab", "abc123", "zz9"], ["a", "abcdefghi", "Ab", "1ab", "xyz"]),
    ("not-a-name", ["abc", "e", "b1"], ["bcd", "xyz"]),   # invert-match on libxml2's engine
    ("v6", ["ab:c1", "\u00e9:\u0663"], ["a::b", "a b"]),
    ("flag", ["true", "false"], ["True", "1", "yes", " true"]),
    ("color", ["red", "green", "blue"], ["Red", "purple", "1", "red "]),
    ("perms", ["", "read", "read write", "exec read"], ["execute", "read read"]),
    ("blob", ["AQ==", "AQIDBA=="], ["", "AQIDBAU=", "not base64!", " AQ=="]),
    ("either", ["-5", "none"], ["200", "some"]),
    ("marker", [""], ["x"]),
])
def test_built_in_types(schema, leaf, good, wrong):
    for value in good:
        ok(schema, f"<{leaf}>{value}</{leaf}>")
    for value in wrong:
        err = bad(schema, f"<{leaf}>{value}</{leaf}>", "invalid-value", f"/vt:top/vt:{leaf}")
        assert leaf in err.message


def test_range_error_message_and_app_tag_come_from_the_module(schema):
    err = bad(schema, "<pct>95</pct>", "invalid-value", "/vt:top/vt:pct", app_tag="pct-range")
    assert err.message == "pct: pct must be from 10 to 90"
    # 101 breaks both ranges; the most derived one speaks
    bad(schema, "<pct>101</pct>", "invalid-value", "/vt:top/vt:pct", app_tag="pct-range")
    ok(schema, "<pct>50</pct>")


def test_identityref_by_namespace_with_derived_identities(schema):
    ok(schema, f'<pet xmlns:a="{VT}">a:cat</pet>')
    ok(schema, "<pet>cat</pet>")                 # the default namespace in scope
    ok(schema, f'<pet xmlns:zz="{VT}">zz:mammal</pet>'.replace("mammal", "cat"))
    bad(schema, "<pet>mammal</pet>", "invalid-value", "/vt:top/vt:pet")  # the base itself
    bad(schema, "<pet>parrot</pet>", "invalid-value", "/vt:top/vt:pet")  # not a mammal
    bad(schema, "<pet>unicorn</pet>", "invalid-value", "/vt:top/vt:pet")
    bad(schema, "<pet>q:cat</pet>", "invalid-value", "/vt:top/vt:pet")  # undeclared prefix
    bad(schema, '<pet xmlns:o="urn:other">o:cat</pet>', "invalid-value", "/vt:top/vt:pet")


def test_instance_identifier(schema):
    ok(schema, f'<item><id>1</id></item><target xmlns:t="{VT}">/t:top/t:item[t:id=\'1\']</target>')
    bad(schema, f'<target xmlns:t="{VT}">/t:top/t:item[t:id=\'2\']</target>', "data-missing",
        "/vt:top/vt:target", app_tag="instance-required")
    ok(schema, f'<loose-target xmlns:t="{VT}">/t:top/t:item[t:id=\'2\']</loose-target>')
    bad(schema, "<loose-target>not a path</loose-target>", "invalid-value", "/vt:top/vt:loose-target")


# -- structure ----------------------------------------------------------------------

def test_unknown_element_and_namespace(schema):
    bad(schema, "<nonsense/>", "unknown-element", "/vt:top/vt:nonsense")
    err = bad(schema, '<x xmlns="urn:elsewhere"/>', "unknown-namespace", "/vt:top/ns0:x")
    assert ("bad-namespace", "urn:elsewhere") in err.info


def test_if_feature_prunes_disabled_nodes(schema):
    ok(schema, "<fancy-leaf>yes</fancy-leaf>")
    bad(schema, "<absent-leaf>no</absent-leaf>", "unknown-element", "/vt:top/vt:absent-leaf")


def test_config_false_data_is_refused_in_configuration(schema):
    bad(schema, "<state-leaf>x</state-leaf>", "invalid-value", "/vt:top/vt:state-leaf")
    ok(schema, "<state-leaf>x</state-leaf>", config=False)


def test_a_leaf_may_appear_once(schema):
    bad(schema, "<i8>1</i8><i8>2</i8>", "bad-element", "/vt:top/vt:i8")


def test_list_keys_must_be_present_and_unique(schema):
    ok(schema, "<item><id>1</id></item><item><id>2</id></item>")
    bad(schema, "<item><label>x</label></item>", "missing-element", "/vt:top/vt:item")
    bad(schema, "<item><id>1</id></item><item><id>1</id></item>", "operation-failed",
        "/vt:top/vt:item[vt:id='1']", app_tag="data-not-unique")
    ok(schema, "<pair><a>x</a><b>1</b></pair><pair><a>x</a><b>2</b></pair>")
    bad(schema, "<pair><a>x</a><b>1</b></pair><pair><b>1</b><a>x</a></pair>", "operation-failed",
        "/vt:top/vt:pair[vt:a='x'][vt:b='1']", app_tag="data-not-unique")
    bad(schema, "<pair><a>x</a></pair>", "missing-element", "/vt:top/vt:pair[vt:a='x']")


def test_unique(schema):
    ok(schema, "<item><id>1</id><label>a</label></item><item><id>2</id><label>b</label></item>")
    ok(schema, "<item><id>1</id></item><item><id>2</id></item>")  # absent leaves never clash
    err = bad(schema, "<item><id>1</id><label>a</label></item><item><id>2</id><label>a</label></item>",
              "operation-failed", "/vt:top/vt:item[vt:id='2']", app_tag="data-not-unique")
    [non_unique] = err.info
    assert etree.QName(non_unique).localname == "non-unique"
    assert non_unique.text == "/vt:top/vt:item[vt:id='2']/vt:label"


def test_min_and_max_elements(schema):
    entries = lambda n: "".join(f"<bounded><k>{i}</k></bounded>" for i in range(n))
    ok(schema, f'<!top><limits xmlns="{VT}">{entries(2)}</limits>')
    ok(schema, f'<!top><limits xmlns="{VT}">{entries(3)}</limits>')
    bad(schema, f'<!top><limits xmlns="{VT}">{entries(4)}</limits>', "operation-failed",
        "/vt:limits/vt:bounded[vt:k='3']", app_tag="too-many-elements")
    bad(schema, f'<!top><limits xmlns="{VT}">{entries(1)}</limits>', "operation-failed",
        "/vt:limits/vt:bounded[vt:k='0']", app_tag="too-few-elements")
    bad(schema, f'<!top><limits xmlns="{VT}"/>', "operation-failed", "/vt:limits",
        app_tag="too-few-elements")
    bad(schema, "<tags>a</tags><tags>b</tags><tags>c</tags><tags>d</tags>", "operation-failed",
        "/vt:top/vt:tags[.='d']", app_tag="too-many-elements")


def test_leaf_list_values_are_unique_in_configuration(schema):
    ok(schema, "<tags>a</tags><tags>b</tags>")
    bad(schema, "<tags>a</tags><tags>a</tags>", "operation-failed", "/vt:top/vt:tags[.='a']",
        app_tag="data-not-unique")


def test_mandatory_leaf(schema):
    ok(schema, f'<!top><account xmlns="{VT}"><user>u</user></account>')
    err = bad(schema, f'<!top><account xmlns="{VT}"/>', "missing-element", "/vt:account")
    assert ("bad-element", "user") in err.info


def test_choice_mandatory_and_one_case(schema):
    ok(schema, f'<!top><transport xmlns="{VT}"><tcp-port>22</tcp-port></transport>')
    err = bad(schema, f'<!top><transport xmlns="{VT}"/>', "data-missing", "/vt:transport",
              app_tag="missing-choice")
    assert err.info[0].text == "protocol"
    bad(schema, f'<!top><transport xmlns="{VT}"><tcp-port>1</tcp-port><udp-port>2</udp-port>'
                '</transport>', "bad-element", "/vt:transport/vt:udp-port")
    bad(schema, f'<!top><transport xmlns="{VT}"><udp-port>2</udp-port><speed>1</speed>'
                '<rate>3</rate></transport>', "bad-element", "/vt:transport/vt:speed")


# -- references and XPath ---------------------------------------------------------------

def test_leafref_require_instance(schema):
    ok(schema, "<item><id>7</id></item><ref>7</ref>")
    bad(schema, "<item><id>7</id></item><ref>8</ref>", "data-missing", "/vt:top/vt:ref",
        app_tag="instance-required")
    bad(schema, "<ref>x</ref>", "invalid-value", "/vt:top/vt:ref")  # the target's type: uint8
    ok(schema, "<weak-ref>9</weak-ref>")
    ok(schema, "<item><id>7</id></item><ref>007</ref>")  # compared as uint8 values


def test_when(schema):
    ok(schema, "<kind>parrot</kind><wings>2</wings>")
    bad(schema, "<kind>cat</kind><wings>2</wings>", "unknown-element", "/vt:top/vt:wings")
    bad(schema, "<wings>2</wings>", "unknown-element", "/vt:top/vt:wings")
    ok(schema, "<kind>mammal</kind><fur>brown</fur>")      # -or-self
    ok(schema, "<kind>cat</kind><fur>brown</fur>")
    bad(schema, "<kind>bird</kind><fur>x</fur>", "unknown-element", "/vt:top/vt:fur")


def test_must_with_app_tag_and_message(schema):
    ok(schema, "<low>1</low><high>2</high>")
    bad(schema, "<low>3</low><high>2</high>", "operation-failed", "/vt:top/vt:low",
        app_tag="low-above-high")
    err = bad(schema, "<item><id>1</id><label>plain</label></item><special-ref>1</special-ref>",
              "operation-failed", "/vt:top/vt:special-ref", app_tag="must-violation")
    assert err.message == "special-ref must name the item labelled special"
    ok(schema, "<item><id>1</id><label>special</label></item><special-ref>1</special-ref>")


@pytest.mark.parametrize("good, wrong, path", [
    ("<code>ABC</code>", "<code>AB1</code>", "code"),                         # re-match()
    ("<color>green</color><shade>green</shade>", "<color>red</color><shade>red</shade>", "shade"),
    ("<perms>read write</perms><mode>x</mode>", "<perms>read</perms><mode>x</mode>", "mode"),
    ("<word>abc</word><echo>abc</echo>", "<word>abc</word><echo>abd</echo>", "echo"),
])
def test_yang_xpath_functions(schema, good, wrong, path):
    ok(schema, good)
    bad(schema, wrong, "operation-failed", f"/vt:top/vt:{path}", app_tag="must-violation")


def test_a_union_member_leafref_requires_its_instance(schema):
    ok(schema, "<item><id>3</id></item><u-ref>3</u-ref>")
    ok(schema, "<u-ref>none</u-ref>")
    bad(schema, "<u-ref>4</u-ref>", "data-missing", "/vt:top/vt:u-ref", app_tag="instance-required")


def test_keys_and_unique_compare_values(schema):
    bad(schema, "<num><n>1</n></num><num><n>01</n></num>", "operation-failed",
        "/vt:top/vt:num[vt:n='01']", app_tag="data-not-unique")
    bad(schema, "<person><name>a</name></person><person><name>b</name><nick>anon</nick></person>",
        "operation-failed", "/vt:top/vt:person[vt:name='b']", app_tag="data-not-unique")
    ok(schema, "<person><name>a</name></person><person><name>b</name><nick>bee</nick></person>")


def test_if_feature_on_enums_bits_and_identities(schema):
    ok(schema, "<hue>red</hue><flags>a</flags><pet>cat</pet>")
    bad(schema, "<hue>ultra</hue>", "invalid-value", "/vt:top/vt:hue")
    bad(schema, "<flags>b</flags>", "invalid-value", "/vt:top/vt:flags")
    bad(schema, "<pet>hidden</pet>", "invalid-value", "/vt:top/vt:pet")


def test_absolute_paths_after_union_and_comparison_operators(schema):
    ok(schema, "<maxv>5</maxv><lte-check>5</lte-check>")
    bad(schema, "<maxv>5</maxv><lte-check>6</lte-check>", "operation-failed",
        "/vt:top/vt:lte-check", app_tag="must-violation")
    ok(schema, "<maxv>5</maxv><i8>1</i8><union-check>0</union-check>")
    bad(schema, "<maxv>5</maxv><union-check>0</union-check>", "operation-failed",
        "/vt:top/vt:union-check", app_tag="must-violation")


def test_mandatory_choice_under_a_false_when_is_excused(schema):
    ok(schema, f'<!top><gated xmlns="{VT}"><mode2>off</mode2></gated>')
    bad(schema, f'<!top><gated xmlns="{VT}"><mode2>on</mode2></gated>', "data-missing",
        "/vt:gated", app_tag="missing-choice")
    ok(schema, f'<!top><gated xmlns="{VT}"><mode2>on</mode2><x>1</x></gated>')


def test_mandatory_choice_in_an_absent_non_presence_container(schema):
    bad(schema, f'<!top><holder xmlns="{VT}"/>', "data-missing", "/vt:holder",
        app_tag="missing-choice")
    ok(schema, f'<!top><holder xmlns="{VT}"><np><p1>x</p1></np></holder>')


def test_a_default_under_a_true_when_is_seen(schema):
    ok(schema, "<flag>true</flag><dwhen-seen>1</dwhen-seen>")
    bad(schema, "<flag>false</flag><dwhen-seen>1</dwhen-seen>", "operation-failed",
        "/vt:top/vt:dwhen-seen", app_tag="must-violation")


def test_a_when_on_uses_makes_its_mandatory_leaf_required(schema):
    ok(schema, f'<!top><wgate xmlns="{VT}"><on>false</on></wgate>')
    found, _ = check(schema, f'<!top><wgate xmlns="{VT}"><on>true</on></wgate>')
    assert found == [("missing-element", None, "/vt:wgate")] * 2   # needed, self-gated
    ok(schema, f'<!top><wgate xmlns="{VT}"><on>true</on><needed>n</needed>'
               "<self-gated>s</self-gated></wgate>")


# -- defaults (RFC 7950 7.6.1) -----------------------------------------------------------

def test_defaults_in_non_presence_containers_are_seen_by_must(schema):
    ok(schema, "<retries-seen>1</retries-seen>")  # /settings/retries defaults to 3
    bad(schema, f'<!top><top xmlns="{VT}"><retries-seen>1</retries-seen></top>'
                f'<settings xmlns="{VT}"><retries>4</retries></settings>', "operation-failed",
        "/vt:top/vt:retries-seen", app_tag="must-violation")


def test_defaults_of_the_default_case(schema):
    ok(schema, f'<!top><transport xmlns="{VT}"><tcp-port>1</tcp-port><speed-seen>1</speed-seen>'
               '</transport>')
    bad(schema, f'<!top><transport xmlns="{VT}"><tcp-port>1</tcp-port><rate>5</rate>'
                '<speed-seen>1</speed-seen></transport>', "operation-failed",
        "/vt:transport/vt:speed-seen", app_tag="must-violation")


def test_many_errors_are_all_reported(schema):
    found, _ = check(schema, "<i8>x</i8><u16>0</u16><nonsense/>")
    assert [f[0] for f in found] == ["invalid-value", "invalid-value", "unknown-element"]


# -- compiling -----------------------------------------------------------------------------

def test_a_module_that_does_not_compile_names_the_file_and_line(tmp_path):
    broken = tmp_path / "broken.yang"
    broken.write_text("module broken {\n  namespace urn:b;\n  prefix b;\n  leaf x { type nosuch; }\n}\n")
    with pytest.raises(SchemaError) as info:
        compile_modules("broken", [broken], {})
    assert f"{broken}:4:" in str(info.value)


def test_an_unknown_feature_is_refused():
    with pytest.raises(SchemaError, match="no feature 'nope'"):
        compile_modules("x", [TEST_MODULE], {"validation-test": ["nope"]})


def test_profiles_share_one_compiled_schema():
    a = compile_modules("a", [TEST_MODULE], {"validation-test": ["fancy"]})
    b = compile_modules("b", [TEST_MODULE], {"validation-test": ["fancy"]})
    assert a is b


# -- incremental validation -------------------------------------------------------------

from emulator.schema.validate import validate_change  # noqa: E402


def tree(body: str) -> etree._Element:
    return etree.fromstring(f'<data xmlns="{NC}"><top xmlns="{VT}">{body}</top></data>')


def top_child(root, name):
    return root.find(f"{{{VT}}}top/{{{VT}}}{name}")


def test_a_changed_leaf_is_checked_again(schema):
    root = tree("<i8>1</i8>")
    top_child(root, "i8").text = "300"
    [err] = validate_change(schema, root, [top_child(root, "i8")])
    assert (err.tag, err.path) == ("invalid-value", "/vt:top/vt:i8")


def test_a_change_reaches_the_constraints_that_name_it(schema):
    root = tree("<low>1</low><high>5</high>")
    assert validate_change(schema, root, [top_child(root, "high")]) == []
    top_child(root, "high").text = "0"  # breaks the must on <low>, which the edit did not touch
    [err] = validate_change(schema, root, [top_child(root, "high")])
    assert (err.app_tag, err.path) == ("low-above-high", "/vt:top/vt:low")


def test_a_deletion_reaches_the_references_to_it(schema):
    root = tree("<item><id>7</id></item><ref>7</ref>")
    top = root.find(f"{{{VT}}}top")
    item = top_child(root, "item")
    top.remove(item)
    [err] = validate_change(schema, root, removed=[(top, item.tag)])
    assert (err.app_tag, err.path) == ("instance-required", "/vt:top/vt:ref")


def test_a_new_list_entry_is_checked_against_its_siblings(schema):
    root = tree("<item><id>1</id><label>a</label></item>")
    top = root.find(f"{{{VT}}}top")
    new = etree.SubElement(top, f"{{{VT}}}item")
    etree.SubElement(new, f"{{{VT}}}id").text = "2"
    etree.SubElement(new, f"{{{VT}}}label").text = "a"
    [err] = validate_change(schema, root, [new])
    assert (err.tag, err.app_tag) == ("operation-failed", "data-not-unique")


def test_incremental_catches_a_unique_clash_made_inside_an_entry(schema):
    root = tree("<person><name>a</name><nick>x</nick></person><person><name>b</name><nick>y</nick>"
                "</person>")
    nick = root.find(f"{{{VT}}}top/{{{VT}}}person[{{{VT}}}name='b']/{{{VT}}}nick")
    nick.text = "x"
    [err] = validate_change(schema, root, [nick])
    assert (err.app_tag, err.path) == ("data-not-unique", "/vt:top/vt:person[vt:name='b']")


def test_incremental_catches_a_when_that_makes_a_node_mandatory(schema):
    root = etree.fromstring(f'<data xmlns="{NC}"><wgate xmlns="{VT}"><on>false</on></wgate></data>')
    on = root.find(f"{{{VT}}}wgate/{{{VT}}}on")
    on.text = "true"
    errors = validate_change(schema, root, [on])
    assert [(e.tag, e.path) for e in errors] == [("missing-element", "/vt:wgate")] * 2


@pytest.mark.parametrize("body, edit", [
    ("<kind>parrot</kind><wings>2</wings>", ("kind", "cat")),
    ("<word>abc</word><echo>abc</echo>", ("word", "abd")),
    ("<perms>write</perms><mode>x</mode>", ("perms", "read")),
    ("<item><id>1</id><label>special</label></item><special-ref>1</special-ref>", None),
])
def test_incremental_and_full_validation_agree(schema, body, edit):
    root = tree(body)
    if edit is None:
        element = root.find(f"{{{VT}}}top/{{{VT}}}item/{{{VT}}}label")
        element.text = "plain"
    else:
        element = top_child(root, edit[0])
        element.text = edit[1]
    incremental = [(e.tag, e.app_tag, e.path) for e in validate_change(schema, root, [element])]
    full = [(e.tag, e.app_tag, e.path) for e in validate(schema, root)]
    assert incremental == full and full


def test_a_submodule_with_its_own_prefix_and_imports():
    folder = Path(__file__).parent / "yang" / "sub"
    schema = compile_modules("sub", [folder / "subtest.yang"], {}, search=[folder])
    good = etree.fromstring(f'<data xmlns="{NC}"><part-box xmlns="urn:test:subtest"><x>1</x><y>80</y>'
                            "</part-box></data>")
    assert validate(schema, good) == []
    wrong = etree.fromstring(f'<data xmlns="{NC}"><part-box xmlns="urn:test:subtest"><x>2</x><y>80</y>'
                             "</part-box></data>")
    [err] = validate(schema, wrong)
    assert err.app_tag == "must-violation"
    assert [s[0] for s in schema.modules["subtest"].submodules] == ["subtest-part"]
