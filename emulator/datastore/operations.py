"""The datastore operations of RFC 6241 (sections 7 and 8) and with-defaults
(RFC 6243): get, get-config, edit-config, copy-config, delete-config,
lock, unlock, validate, commit (confirmed too), discard-changes and
cancel-commit."""

from __future__ import annotations

import re
from copy import deepcopy
from typing import Callable

from lxml import etree

from emulator.datastore.datastores import (DEFAULT_CONFIRM_TIMEOUT, EDITS_LISTED, Datastores,
                                           elements, oversize, raise_all, top_level_edits)
from emulator.datastore.edit import apply_edit
from emulator.errors import RpcError
from emulator.namespaces import CAPABILITY, HW_NS, IF_NS, NC_NS, RT_NS, WD_ATTR_NS, WD_NS, qn
from emulator.netconf import filters
from emulator.netconf.operations import BASE_OPERATIONS, Offload, Rpc, Serialized
from emulator.netconf.xml import localname
from emulator.operational import interface_leaves, summary
from emulator.schema.tree import moving
from emulator.schema.validate import Validation, instance_path, validate, validate_change

PROTOCOL_CAPABILITIES = [
    f"{CAPABILITY}writable-running:1.0",
    f"{CAPABILITY}candidate:1.0",
    f"{CAPABILITY}confirmed-commit:1.1",
    f"{CAPABILITY}rollback-on-error:1.0",
    f"{CAPABILITY}validate:1.1",
    f"{CAPABILITY}startup:1.0",
    f"{CAPABILITY}with-defaults:1.0?basic-mode=explicit&also-supported=report-all,report-all-tagged,trim",
]


# -- parameters -------------------------------------------------------------------------

_BASE_PREFIX = f"{{{NC_NS}}}"


def _datastore_name(rpc: Rpc, param: str, allowed: tuple[str, ...] | None = None,
                    inline: bool = False) -> str | etree._Element:
    """The datastore a <source>/<target> names (or, with ``inline``, a <config>)."""
    element = rpc.param(param)
    if element is not None and len(element) == 1 and allowed is None:
        # the usual case, quickly: one datastore element in the base namespace
        tag = element[0].tag
        if type(tag) is str and tag.startswith(_BASE_PREFIX) and \
                tag[len(_BASE_PREFIX):] in rpc.device.datastore_names():
            return tag[len(_BASE_PREFIX):]
    if element is None:
        raise RpcError.missing_element(param, rpc.path(),
                                       f"<{rpc.operation_name}> needs a <{param}>", rpc.path_ns)
    names = [c for c in element if isinstance(c.tag, str)]
    if len(names) != 1:
        raise RpcError("bad-element", "protocol", f"<{param}> names exactly one datastore",
                       path=rpc.path(param), path_ns=rpc.path_ns, info=[("bad-element", param)])
    chosen = names[0]
    name = localname(chosen)
    if inline and chosen.tag == qn("config"):
        return chosen
    if name == "url":
        raise RpcError("operation-not-supported", "protocol", "the :url capability is not offered",
                       path=rpc.path(param), path_ns=rpc.path_ns, info=[("bad-element", "url")])
    if chosen.tag != qn(name) or name not in (allowed or rpc.device.datastore_names()):
        what = ", ".join(allowed or rpc.device.datastore_names())
        raise RpcError("invalid-value", "protocol",
                       f"<{name}> is not a datastore <{rpc.operation_name}> can use here ({what})",
                       path=rpc.path(param), path_ns=rpc.path_ns, info=[("bad-element", name)])
    return name


def _choice(rpc: Rpc, param: str, allowed: tuple[str, ...], default: str) -> str:
    element = rpc.param(param)
    if element is None:
        return default
    value = (element.text or "").strip()
    if value not in allowed:
        raise RpcError("invalid-value", "protocol",
                       f"<{param}> must be one of {', '.join(allowed)}, not {value!r}",
                       path=rpc.path(param), path_ns=rpc.path_ns, info=[("bad-element", param)])
    return value


def _with_defaults(rpc: Rpc) -> str | None:
    element = rpc.param("with-defaults", WD_NS)
    if element is None:
        return None
    mode = (element.text or "").strip()
    if mode not in ("report-all", "report-all-tagged", "trim", "explicit"):
        raise RpcError("invalid-value", "protocol",
                       f"with-defaults {mode!r} is not report-all, report-all-tagged, trim or "
                       "explicit", path=rpc.path() + "/wd:with-defaults",
                       path_ns={**rpc.path_ns, "wd": WD_NS})
    return mode


def _datastores(rpc: Rpc) -> Datastores:
    return rpc.device.datastores


# -- reading ----------------------------------------------------------------------------

def with_defaults(rpc: Rpc, data: etree._Element, mode: str | None, config_only: bool) -> None:
    """RFC 6243 on a ``<data>`` tree of our own, in place; the basic mode is explicit."""
    if mode in (None, "explicit"):
        return
    schema = rpc.device.profile.schema
    if mode == "trim":
        for element in list(data.iter()):
            node = schema.node_for(element) if type(element.tag) is str else None
            if node is not None and node.keyword == "leaf" and node.default \
                    and (element.text or "").strip() == node.default[0].strip():
                element.getparent().remove(element)
        return
    run = Validation(schema, data, config_only)
    run.add_defaults(data, schema.root)
    if mode == "report-all-tagged":
        added = set(run.defaults)
        tag = f"{{{WD_ATTR_NS}}}default"
        for element in data.iter():
            if type(element.tag) is not str:
                continue
            node = schema.node_for(element)
            if node is not None and node.keyword == "leaf" and (element in added or (
                    node.default and (element.text or "").strip() == node.default[0].strip())):
                element.set(tag, "true")
        # declare wd: once at the top (keeping every other prefix: identityref
        # values use prefixes in their text, which lxml cannot see)
        prefixes = {p for e in data.iter() if type(e.tag) is str for p in e.nsmap if p}
        etree.cleanup_namespaces(data, top_nsmap={"wd": WD_ATTR_NS},
                                 keep_ns_prefixes=sorted(prefixes - {"wd"}))


# What a filter may look at and take on the event loop (a few tens of ms); a
# filter that would cost more is applied on the worker thread (see _read_apart).
FILTER_STEPS = 20_000


def _data_reply(rpc: Rpc, tree: etree._Element, config_only: bool,
                owned: bool = False, index: filters.KeyIndex | None = None,
                budget: int | None = None) -> etree._Element:
    """The ``<data>`` of a reply: ``tree`` (only read, unless ``owned``) with the
    defaults the client asked for, then what the filter selects of it.
    ``index``: lookups by key kept with ``tree`` (a datastore's). ``budget``:
    raise filters.OverBudget rather than do more than that much work."""
    mode = _with_defaults(rpc)
    filter_element = rpc.param("filter")
    if mode not in (None, "explicit"):
        if budget is not None and elements(tree) > budget:
            raise filters.OverBudget
        if not owned:
            tree = deepcopy(tree)
        with_defaults(rpc, tree, mode, config_only)
        owned = True
        index = None
    if filter_element is not None:
        data = filters.apply(tree, filter_element, rpc.path("filter"),
                             schema=rpc.device.profile.schema,
                             index=index or filters.KeyIndex(), budget=budget)
    elif owned:
        data = tree
    else:
        data = etree.Element(qn("data"), nsmap={None: NC_NS})
        for child in tree:
            copy = deepcopy(child)
            with moving(copy):   # (a big list moved whole costs the square of its declarations)
                data.append(copy)
    data.tag = qn("data")
    return data


def _whole(rpc: Rpc, filter_element: etree._Element | None):
    """The filter's predicate over top-level tags when it selects whole
    top-level nodes and nothing else, and no defaults are to be added."""
    if _with_defaults(rpc) not in (None, "explicit"):
        return None
    if filter_element is None:
        return lambda tag: True
    return filters.whole_top_level(filter_element)


def _serialised(children) -> str:
    """A <data> of these top-level nodes (elements, or text already written)."""
    return "".join([f'<data xmlns="{NC_NS}">',
                    *(c if isinstance(c, str) else etree.tostring(c, encoding="unicode")
                      for c in children), "</data>"])


@BASE_OPERATIONS.operation("get-config")
def get_config(rpc: Rpc) -> Serialized:
    name = _datastore_name(rpc, "source")
    stores = _datastores(rpc)
    tree = stores.tree(name)
    # Every change of a datastore gives it a new stamp, so the same question
    # about the same stamp has the same answer: serialised once, then reused.
    stamp = stores.stamp(name)
    filter_element = rpc.param("filter")
    wd = rpc.param("with-defaults", WD_NS)
    key = (etree.tostring(filter_element) if filter_element is not None else b"",
           (wd.text or "").strip() if wd is not None else "")
    cached = stores.cached_reply(stamp, key)
    if cached is None:
        whole = _whole(rpc, filter_element)
        if whole is not None:   # written as they are: nothing to copy
            text = _serialised(c for c in tree if type(c.tag) is str and whole(c.tag))
        else:
            try:
                text = etree.tostring(_data_reply(rpc, tree, config_only=True,
                                                  index=stores.key_index(name),
                                                  budget=FILTER_STEPS), encoding="unicode")
            except filters.OverBudget:
                def answer(text: str) -> Serialized:
                    if stores.stamp(name) != stamp:   # (changed meanwhile: answered, not kept)
                        return Serialized(text)
                    return Serialized(stores.cache_reply(stamp, key, text),
                                      still_valid=lambda: stores.stamp(name) == stamp)
                return _read_apart(rpc, tree, True, answer)
        cached = stores.cache_reply(stamp, key, text)
    return Serialized(cached, still_valid=lambda: stores.stamp(name) == stamp)


def _read_apart(rpc: Rpc, tree: etree._Element, config_only: bool,
                answer: Callable[[str], Serialized]) -> Offload:
    """A read whose filter (or defaults) costs more than the loop's budget: the
    loop writes ``tree``'s text, and the worker thread parses it and does the
    rest on a tree of its own, unbounded; ``answer`` makes the reply of the text."""
    source = etree.tostring(tree)

    def work() -> str:
        own = etree.fromstring(source)
        return etree.tostring(_data_reply(rpc, own, config_only, owned=True), encoding="unicode")

    return Offload(work, answer)


def _interfaces_by_name(rpc: Rpc, filter_element: etree._Element | None) \
        -> etree._Element | None:
    """When the filter selects interfaces by name only, configuration and state
    of just the entries it can select (found by key in running): the filter
    then gives from it what it gives from the whole. Otherwise None."""
    keyed = filters.keyed_entries(filter_element)
    if keyed is None:
        return None
    top, entry_tag, keys = keyed
    if top != _IF_INTERFACES or entry_tag != _IF_INTERFACE or \
            any(key_tag != _IF_NAME for key_tag, _ in keys):
        return None
    device = rpc.device
    known = interface_leaves(device.profile.schema)
    running = device.running()
    container = running.find(top)
    if known is None or container is None or container.prefix is not None:
        return None
    index = device.datastores.key_index("running")
    chosen = set()
    for _, value in keys:
        chosen.update(index.candidates(container, entry_tag, _IF_NAME, value))
    if len(chosen) <= 16:
        entries = sorted(chosen, key=container.index)
    else:
        entries = [entry for entry in container.iterchildren(entry_tag) if entry in chosen]
    text = device.operational().entries_text(running, entries, known)
    if text is None:
        return None
    return etree.fromstring(f'<data xmlns="{NC_NS}"><interfaces xmlns="{IF_NS}">{text}'
                            "</interfaces></data>")


# The top-level nodes whose state is built as trees for each interface (ietf-
# routing's RIBs, ietf-hardware's ports: 0.1 ms an interface); the interfaces'
# own is written as text (9 us an interface), on the loop even for a big device.
_BUILT_AS_TREES = (f"{{{RT_NS}}}routing", f"{{{HW_NS}}}hardware")

_IF_INTERFACES, _IF_INTERFACE, _IF_NAME = (f"{{{IF_NS}}}interfaces", f"{{{IF_NS}}}interface",
                                           f"{{{IF_NS}}}name")


@BASE_OPERATIONS.operation("get")
def get(rpc: Rpc) -> etree._Element | Serialized:
    filter_element = rpc.param("filter")
    some = _interfaces_by_name(rpc, filter_element)
    if some is not None:   # (a few interfaces by name: only they are built)
        return _data_reply(rpc, some, config_only=False, owned=True)
    device = rpc.device
    # only the top-level nodes the filter can reach are built
    reach = filters.reaches(filter_element)
    whole = _whole(rpc, filter_element)
    if device.big() and (reach is None or any(reach(tag) for tag in _BUILT_AS_TREES)):
        # (a big device's state is built on the worker thread, and filtered there)
        if whole is not None:
            parts = device.state_apart(None, whole)
            return Offload(lambda: _serialised(parts()), Serialized)
        make = device.state_apart(reach)
        return Offload(lambda: etree.tostring(_data_reply(rpc, make(), False, owned=True),
                                              encoding="unicode"), Serialized)
    if whole is not None:
        return Serialized(_serialised(device.state_parts(whole)))
    tree = device.state(reach)
    try:
        return _data_reply(rpc, tree, config_only=False, owned=True, budget=FILTER_STEPS)
    except filters.OverBudget:
        return _read_apart(rpc, tree, False, Serialized)


# -- editing ------------------------------------------------------------------------------

def _check_config_element(rpc: Rpc) -> etree._Element:
    config = rpc.param("config")
    if config is None:
        if rpc.param("url") is not None:
            raise RpcError("operation-not-supported", "protocol",
                           "the :url capability is not offered", path=rpc.path("url"),
                           path_ns=rpc.path_ns, info=[("bad-element", "url")])
        raise RpcError.missing_element("config", rpc.path(),
                                       f"<{rpc.operation_name}> needs a <config>", rpc.path_ns)
    return config


def _as_tree(config: etree._Element) -> etree._Element:
    """An inline <config> as a datastore tree of its own."""
    tree = etree.Element(qn("data"), nsmap={None: NC_NS})
    for child in config:
        if isinstance(child.tag, str):
            copy = deepcopy(child)
            with moving(copy):
                tree.append(copy)
    return tree


@BASE_OPERATIONS.operation("edit-config")
def edit_config(rpc: Rpc) -> None:
    stores = _datastores(rpc)
    target = _datastore_name(rpc, "target", ("running", "candidate"))
    default_operation = _choice(rpc, "default-operation", ("merge", "replace", "none"), "merge")
    test_option = _choice(rpc, "test-option", ("test-then-set", "set", "test-only"), "test-then-set")
    error_option = _choice(rpc, "error-option",
                           ("stop-on-error", "continue-on-error", "rollback-on-error"),
                           "stop-on-error")
    config = _check_config_element(rpc)
    stores.check_writable(target, rpc.session.id, rpc.path("target"), rpc.path_ns)

    schema = rpc.device.profile.schema
    if elements(config) > rpc.device.runtime.limits.offload_elements:
        return _edit_apart(rpc, stores, target, config, default_operation, test_option,
                           error_option)
    # (in place: every step is journalled, and undone unless the edit is kept)
    work, journal, mark, index = stores.begin_edit(target)
    kept = False
    try:
        result = apply_edit(schema, work, config, default_operation, error_option, journal,
                            index)
        if result.errors and error_option != "continue-on-error":
            raise_all(result.errors)
        # Running must stay valid; the candidate may be incomplete until <commit>.
        problems = validate_change(schema, work, result.touched, removed=result.removed,
                                   structural=target == "candidate")
        if problems:
            raise_all(result.errors + problems)
        if test_option != "test-only" and (result.touched or result.removed or result.changes):
            _check_size(rpc, target, stores.outgrows(
                target, work, journal.size(mark),
                rpc.device.runtime.limits.max_datastore_elements))
            edits = _edits(schema, result.changes, config)
            if target == "running":
                stores.edited_running(journal, mark, edits, rpc.session.id)
            else:
                stores.edited_candidate(journal, mark, result.touched, result.removed, edits)
            kept = True
    finally:
        if not kept:
            stores.abandon(journal, mark)
    raise_all(result.errors)  # continue-on-error: the rest was applied


def _check_size(rpc: Rpc, target: str, excess: str | None) -> None:
    """Refuse what would leave the datastore holding more than the limit allows."""
    if excess is not None:
        raise RpcError("resource-denied", "application",
                       f"the {target} datastore would hold {excess} "
                       "(--max-datastore-elements)", path=rpc.path("target"), path_ns=rpc.path_ns)


def _edit_apart(rpc: Rpc, stores: Datastores, target: str, config: etree._Element,
                default_operation: str, test_option: str, error_option: str) -> Offload:
    """A big edit, made on the worker thread to a tree of its own, parsed there
    from the target's text; the loop writes that text and then parses the
    edited text back and puts it in the target's place, as a <copy-config>
    would: other devices' sessions are answered meanwhile. (The worker only
    changes trees it parsed itself: lxml names live in a dictionary per thread.
    The request's tree is this rpc's alone, and only read there.)"""
    schema, limit = rpc.device.profile.schema, rpc.device.runtime.limits.max_datastore_elements
    stamp = stores.stamp(target)
    base = etree.tostring(stores.tree(target))
    state = rpc.device.operational() if target == "running" else None

    def apart() -> tuple:
        work = etree.fromstring(base)
        result = apply_edit(schema, work, config, default_operation, error_option)
        if result.errors and error_option != "continue-on-error":
            return result, [], [], None, None, None
        problems = validate_change(schema, work, result.touched, removed=result.removed,
                                   structural=target == "candidate")
        if problems or test_option == "test-only":
            return result, problems, [], None, None, None
        interfaces = summary(work) if state is not None else None
        return (result, problems, _edits(schema, result.changes, config), oversize(work, limit),
                (interfaces, state.new_links(interfaces)) if state is not None else None,
                etree.tostring(work))

    def finish(value: tuple) -> None:
        result, problems, edits, excess, interfaces, text = value
        if result.errors and error_option != "continue-on-error":
            raise_all(result.errors)
        if problems:
            raise_all(result.errors + problems)
        if text is not None and (result.touched or result.removed or result.changes):
            session = rpc.session
            stores.check_writable(target, session.id, rpc.path("target"), rpc.path_ns)
            if stores.stamp(target) != stamp:
                raise RpcError("in-use", "protocol", f"the {target} datastore changed while "
                               "this edit was being made; send it again",
                               path=rpc.path("target"), path_ns=rpc.path_ns)
            _check_size(rpc, target, excess)
            tree = etree.fromstring(text, _COMPACT)
            if target == "running":
                state.prepare(tree, *interfaces)
                stores.replace_running(tree, edits, session.id)
            else:
                stores.replace_candidate(tree, edits)
        raise_all(result.errors)  # continue-on-error: the rest was applied

    return Offload(apart, finish)


_COMPACT = etree.XMLParser(remove_blank_text=True)


def _edits(schema, changes: list, config: etree._Element) -> list:
    """The (operation, instance-identifier, its prefixes) of each change, for
    the netconf-config-change event; past EDITS_LISTED, of the top-level nodes
    they change (a bulk load of 50,000 entries is not 50,000 <edit>s in a
    notification, and their paths are not worked out)."""
    if len(changes) <= EDITS_LISTED:
        return top_level_edits([(operation, *instance_path(schema, element, config))
                                for operation, element in changes])
    tops: dict[etree._Element, str] = {}
    for operation, element in changes:
        if element.getparent() is not config:
            operation = "merge"   # (a node that stands for changes below it was merged into)
            while element.getparent() is not config:
                element = element.getparent()
        tops[element] = operation if tops.get(element, operation) == operation else "merge"
    if len(tops) > EDITS_LISTED:     # (entries of a top-level list: the whole datastore)
        return [("merge", None, {})]
    return top_level_edits([(operation, *instance_path(schema, element, config))
                            for element, operation in tops.items()])


@BASE_OPERATIONS.operation("copy-config")
def copy_config(rpc: Rpc) -> Offload | None:
    stores = _datastores(rpc)
    target = _datastore_name(rpc, "target")
    source = _datastore_name(rpc, "source", inline=True)
    if source == target:
        raise RpcError("invalid-value", "protocol", "the source and the target are the same "
                       "datastore", path=rpc.path("target"), path_ns=rpc.path_ns)
    stores.check_writable(target, rpc.session.id, rpc.path("target"), rpc.path_ns)
    tree = _as_tree(source) if isinstance(source, etree._Element) else stores.copy(source)
    limits = rpc.device.runtime.limits
    _check_size(rpc, target, oversize(tree, limits.max_datastore_elements))
    schema, structural = rpc.device.profile.schema, target == "candidate"

    def install(problems: list[RpcError]) -> None:
        # The candidate may be incomplete until <commit>; the others must be valid.
        raise_all(problems)
        stores.check_writable(target, rpc.session.id, rpc.path("target"), rpc.path_ns)
        everything = [("replace", None, {})]   # the whole datastore
        if target == "running":
            stores.replace_running(tree, everything, rpc.session.id)
        elif target == "startup":
            stores.replace_startup(tree)
        else:
            stores.replace_candidate(tree, everything)

    if elements(tree) <= limits.offload_elements:
        return install(validate(schema, tree, structural=structural))
    # (a big one is checked on the worker thread, in a tree parsed there from its text;
    # then put in place if neither datastore changed meanwhile)
    text = etree.tostring(tree)
    named = [name for name in (source, target) if isinstance(name, str) and name != "startup"]
    stamps = [stores.stamp(name) for name in named]

    def install_unless_changed(problems: list[RpcError]) -> None:
        if stamps != [stores.stamp(name) for name in named]:
            raise RpcError("in-use", "protocol", "a datastore of this <copy-config> changed "
                           "while it was being made; send it again",
                           path=rpc.path("target"), path_ns=rpc.path_ns)
        install(problems)

    return Offload(lambda: validate(schema, etree.fromstring(text), structural=structural),
                   install_unless_changed)


@BASE_OPERATIONS.operation("delete-config")
def delete_config(rpc: Rpc) -> None:
    stores = _datastores(rpc)
    target = rpc.param("target")
    names = [localname(c) for c in target if isinstance(c.tag, str)] if target is not None else []
    if names == ["running"]:
        raise RpcError("invalid-value", "protocol", "the running datastore cannot be deleted",
                       path=rpc.path("target"), path_ns=rpc.path_ns,
                       info=[("bad-element", "running")])
    _datastore_name(rpc, "target", ("startup",))
    stores.check_writable("startup", rpc.session.id, rpc.path("target"), rpc.path_ns)
    stores.replace_startup(etree.Element(qn("data"), nsmap={None: NC_NS}))


@BASE_OPERATIONS.operation("validate")
def validate_operation(rpc: Rpc) -> None:
    stores = _datastores(rpc)
    source = _datastore_name(rpc, "source", inline=True)
    if isinstance(source, etree._Element):
        raise_all(validate(rpc.device.profile.schema, _as_tree(source)))
    elif source == "candidate":
        raise_all(stores.check_candidate())
    else:
        raise_all(validate(rpc.device.profile.schema, stores.tree(source)))


@BASE_OPERATIONS.operation("lock")
def lock(rpc: Rpc) -> None:
    name = _datastore_name(rpc, "target")
    _datastores(rpc).lock(name, rpc.session.id, rpc.device.clock.now(),
                          rpc.path("target"), rpc.path_ns)


@BASE_OPERATIONS.operation("unlock")
def unlock(rpc: Rpc) -> None:
    name = _datastore_name(rpc, "target")
    _datastores(rpc).unlock(name, rpc.session.id, rpc.path("target"), rpc.path_ns)


@BASE_OPERATIONS.operation("discard-changes")
def discard_changes(rpc: Rpc) -> None:
    stores = _datastores(rpc)
    stores.check_writable("candidate", rpc.session.id, rpc.path(), rpc.path_ns)
    stores.discard_changes()


@BASE_OPERATIONS.operation("commit")
def commit(rpc: Rpc) -> Offload | None:
    stores = _datastores(rpc)
    session = rpc.session
    confirmed = rpc.param("confirmed") is not None
    persist = _text_param(rpc, "persist")
    persist_id = _text_param(rpc, "persist-id")
    timeout = DEFAULT_CONFIRM_TIMEOUT
    timeout_element = rpc.param("confirm-timeout")
    if timeout_element is not None:
        text = (timeout_element.text or "").strip()
        if not re.fullmatch(r"[0-9]{1,10}", text) or not 1 <= int(text) <= 0xFFFFFFFF:
            raise RpcError("invalid-value", "protocol",
                           f"confirm-timeout must be a number of seconds from 1, not {text!r}",
                           path=rpc.path("confirm-timeout"), path_ns=rpc.path_ns)
        timeout = int(text)
    if not confirmed and (persist is not None or timeout_element is not None):
        raise RpcError("invalid-value", "protocol",
                       "<persist> and <confirm-timeout> go with <confirmed/>",
                       path=rpc.path(), path_ns=rpc.path_ns)
    pending = stores.pending
    if pending is not None:
        # Only the session that started it, or whoever knows its persist-id, may go on.
        if pending.persist is not None:
            if persist_id != pending.persist:
                raise RpcError("invalid-value", "protocol",
                               "a confirmed commit with persist is pending; give its "
                               "<persist-id>", path=rpc.path("persist-id"), path_ns=rpc.path_ns)
        elif persist_id is not None or pending.session_id != session.id:
            raise RpcError("in-use", "protocol",
                           f"session {pending.session_id} has a confirmed commit pending",
                           path=rpc.path(), path_ns=rpc.path_ns)
    elif persist_id is not None:
        raise RpcError("invalid-value", "protocol", "no confirmed commit is pending for that "
                       "persist-id", path=rpc.path("persist-id"), path_ns=rpc.path_ns)
    stores.check_writable("running", session.id, rpc.path(), rpc.path_ns)
    # (committing the candidate publishes it: not while another session holds it)
    stores.check_writable("candidate", session.id, rpc.path(), rpc.path_ns)

    def conclude(problems: list[RpcError], text: str | None = None) -> None:
        raise_all(problems)
        # (running is changed in place: the rollback point of a first confirmed
        # commit is a copy of it)
        before = stores.copy("running") if confirmed and pending is None else None
        # running is stored first: if that fails, the candidate keeps its changes
        stores.commit_candidate(session.id, text)
        if confirmed:
            stores.start_confirmed(session.id, timeout, persist, rollback=before,
                                   username=session.username, source_host=session.source_host)
        elif pending is not None:
            stores.confirm()

    whole = stores.candidate_replaced()
    if whole is None:
        return conclude(stores.check_candidate())
    # A candidate to be checked whole is checked on the worker thread, in a
    # tree parsed there from its text (which is also what is stored), with what
    # following it as running needs; then committed if neither datastore
    # changed meanwhile.
    schema, text = rpc.device.profile.schema, etree.tostring(whole, encoding="unicode")
    stamps = stores.stamp("candidate"), stores.stamp("running")
    state = rpc.device.operational()

    def check() -> tuple:
        copy = etree.fromstring(text)
        # (every way a candidate comes to be checked whole checked its structure)
        problems = validate(schema, copy, checked=True)
        if problems:
            return problems, None, None
        interfaces = summary(copy)
        return problems, interfaces, state.new_links(interfaces)

    def finish(checked: tuple) -> None:
        problems, interfaces, made = checked
        if stamps != (stores.stamp("candidate"), stores.stamp("running")) or \
                stores.pending is not pending:
            raise RpcError("in-use", "protocol", "the candidate or running changed while the "
                           "candidate was being checked; send the <commit> again",
                           path=rpc.path(), path_ns=rpc.path_ns)
        stores.check_writable("running", session.id, rpc.path(), rpc.path_ns)
        stores.check_writable("candidate", session.id, rpc.path(), rpc.path_ns)
        if not problems:
            state.prepare(whole, interfaces, made)
        conclude(problems, text)

    return Offload(check, finish)


def _text_param(rpc: Rpc, name: str) -> str | None:
    element = rpc.param(name)
    if element is None:
        return None
    return (element.text or "").strip()


@BASE_OPERATIONS.operation("cancel-commit")
def cancel_commit(rpc: Rpc) -> None:
    stores = _datastores(rpc)
    pending = stores.pending
    persist_id = _text_param(rpc, "persist-id")
    if pending is None:
        raise RpcError("operation-failed", "protocol", "no confirmed commit is pending",
                       path=rpc.path(), path_ns=rpc.path_ns)
    if pending.persist is not None:
        if persist_id != pending.persist:
            raise RpcError("invalid-value", "protocol", "give the pending commit's <persist-id>",
                           path=rpc.path("persist-id"), path_ns=rpc.path_ns)
    elif pending.session_id != rpc.session.id:
        raise RpcError("in-use", "protocol",
                       f"session {pending.session_id} has the confirmed commit pending",
                       path=rpc.path(), path_ns=rpc.path_ns)
    stores.roll_back("cancel", f"cancelled by session {rpc.session.id}", rpc.session.id)
