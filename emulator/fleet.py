"""Fleets: a YAML file that names profiles and stamps out devices.

::

    profiles:                  # optional: profiles of your own, by folder
      lab-router: ./lab-router
    devices:
      - name: core-1
        profile: router        # built in (fixtures/profiles/) or listed above
        vars: {hostname: core-1.example.net}
      - name: edge-{n:03d}     # a pattern: n counts from `start` (1)
        count: 10000
        profile: switch
        vars:
          hostname: "{name}.lab"
          mgmt_ipv4: {ipv4: 10.0.0.0/16}        # 10.0.0.1, 10.0.0.2, ...
          base_mac: {mac: "02:00:5e:00:00:00"}  # counts from the base

Strings in ``name`` and ``vars`` are Python format strings over ``name``,
``n`` (counting from ``start``), ``i`` (counting from 0) and ``profile``.
The fleet is also the registry that routes ``/netconf/{device}`` to a device.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from lxml import etree

from emulator import paths
from emulator.device import Device
from emulator.profile import BUILTIN_VARS, Profile, check_var_name, load_profile
from emulator.runtime import Runtime
from emulator.schema.validate import validate
from emulator.yamlfile import FixtureError, YDict, check_keys, expect_list, expect_mapping, load

MAX_COUNT = 1_000_000
_DEVICE_KEYS = {"name", "profile", "count", "start", "vars", "ssh_port"}
_DEVICE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")


@dataclass
class Fleet:
    source: Path
    profiles: dict[str, Profile]
    devices: dict[str, Device]
    runtime: Runtime
    # SSH ports a fleet file pins (device name -> port); the others follow --ssh-port.
    ssh_ports: dict[str, int] = field(default_factory=dict)

    def get(self, name: str) -> Device | None:
        return self.devices.get(name)

    def __iter__(self) -> Iterator[Device]:
        return iter(self.devices.values())

    def __len__(self) -> int:
        return len(self.devices)

    def reset(self, devices: list[Device] | None = None) -> int:
        """Reset these devices (all by default) to their fixtures: in memory one
        by one, then their stored rows in one transaction. Returns how many."""
        chosen = list(self) if devices is None else devices
        for device in chosen:
            device.forget()
        if self.runtime.storage is not None:
            self.runtime.storage.forget(d.name for d in chosen)
        return len(chosen)

    def unload(self) -> None:
        """The fleet stops: what devices built in memory goes (it is in storage),
        so that a start again reads it afresh."""
        for device in self:
            device.unload()


def load_fleet(path: Path | None = None, runtime: Runtime | None = None) -> Fleet:
    """Load a fleet file (the embedded default fleet when ``path`` is None);
    its devices share ``runtime`` (by default a new one: real time, default
    limits, no storage)."""
    runtime = runtime if runtime is not None else Runtime()
    path = Path(path) if path is not None else paths.DEFAULT_FLEET
    data = expect_mapping(load(path), path, 1, "a fleet file")
    check_keys(data, {"profiles", "devices"}, path, "a fleet file", required={"devices"})

    own_profiles: dict[str, Path] = {}
    if "profiles" in data:
        listed = expect_mapping(data["profiles"], path, data.line_of("profiles"), "'profiles'")
        for name, folder in listed.items():
            if not isinstance(folder, str):
                raise FixtureError(path, listed.line_of(name),
                                   f"profile {name!r} must name a folder")
            own_profiles[str(name)] = (path.parent / folder).resolve()

    profiles: dict[str, Profile] = {}

    def profile_named(name: object, line: int) -> Profile:
        if not isinstance(name, str):
            raise FixtureError(path, line, f"'profile' must be a name, not {name!r}")
        if name not in profiles:
            folder = own_profiles.get(name, paths.BUILTIN_PROFILES / name)
            if not (folder / "profile.yaml").is_file():
                known = sorted(set(own_profiles) | _builtin_profile_names())
                raise FixtureError(path, line, f"unknown profile {name!r} "
                                               f"(known: {', '.join(known)})")
            profiles[name] = load_profile(name, folder)
        return profiles[name]

    devices: dict[str, Device] = {}
    ssh_ports: dict[str, int] = {}
    entries = expect_list(data["devices"], path, data.line_of("devices"), "'devices'")
    if not entries:
        raise FixtureError(path, entries.line, "the fleet has no devices")
    for entry, line in zip(entries, entries.lines):
        entry = expect_mapping(entry, path, line, "a device entry")
        check_keys(entry, _DEVICE_KEYS, path, "a device entry", required={"name", "profile"})
        profile = profile_named(entry["profile"], entry.line_of("profile"))
        first = None
        ssh_port = _int(entry, "ssh_port", 0, 1, 65535, path) if "ssh_port" in entry else None
        for i, (name, values) in enumerate(_stamp(entry, profile, path)):
            if name in devices:
                raise FixtureError(path, entry.line_of("name"), f"device {name!r} is defined twice")
            devices[name] = Device(name, profile, values, runtime, index=len(devices))
            first = first or devices[name]
            if ssh_port is not None:
                if ssh_port + i > 65535:
                    raise FixtureError(path, entry.line_of("ssh_port"),
                                       f"ssh_port {ssh_port} leaves no port for device {name}")
                ssh_ports[name] = ssh_port + i
        _check_initial_config(first, path, entry.line)
    return Fleet(source=path, profiles=profiles, devices=devices, runtime=runtime,
                 ssh_ports=ssh_ports)


def _check_initial_config(device: Device, path: Path, line: int) -> None:
    """The entry's first device must start valid (the others differ only in values)."""
    try:
        config = etree.fromstring(device.initial("config").encode())
    except etree.XMLSyntaxError as exc:
        raise FixtureError(path, line, f"device {device.name}: its initial configuration is not "
                                       f"well-formed XML once filled in: {exc.msg}") from None
    errors = validate(device.profile.schema, config)
    if errors:
        first = errors[0]
        raise FixtureError(path, line, f"device {device.name}: its initial configuration is "
                                       f"invalid: {first.path}: {first.message}")


def _builtin_profile_names() -> set[str]:
    return {p.parent.name for p in paths.BUILTIN_PROFILES.glob("*/profile.yaml")}


def _int(entry: YDict, key: str, default: int, low: int, high: int, path: Path) -> int:
    value = entry.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise FixtureError(path, entry.line_of(key),
                           f"{key!r} must be a whole number from {low} to {high}, not {value!r}")
    return value


def _stamp(entry: YDict, profile: Profile, path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """Every device of one entry: its name and its values."""
    count = _int(entry, "count", 1, 1, MAX_COUNT, path)
    start = _int(entry, "start", 1, 0, 10**9, path)
    pattern = entry["name"]
    if not isinstance(pattern, str):
        raise FixtureError(path, entry.line_of("name"), f"'name' must be a string, not {pattern!r}")

    makers: dict[str, Callable[[dict[str, object]], str]] = {}
    for key, (spec, line) in profile.defaults.items():
        makers[key] = _var_maker(key, spec, count, profile.directory / "profile.yaml", line)
    if "vars" in entry:
        given = expect_mapping(entry["vars"], path, entry.line_of("vars"), "'vars'")
        for key, spec in given.items():
            check_var_name(key, path, given.line_of(key))
            makers[key] = _var_maker(key, spec, count, path, given.line_of(key))

    missing = profile.placeholders - set(makers) - set(BUILTIN_VARS)
    if missing:
        raise FixtureError(path, entry.line, f"profile {profile.name!r} needs var(s) "
                                             f"{', '.join(sorted(missing))}, which this entry "
                                             "does not set")

    name_of = _formatter(pattern, path, entry.line_of("name"), "'name'")
    if count > 1 and not re.search(r"\{[ni]\b", pattern):
        raise FixtureError(path, entry.line_of("name"),
                           f"with count {count}, 'name' needs {{n}} or {{i}} to tell devices apart")
    for i in range(count):
        env: dict[str, object] = {"n": start + i, "i": i, "profile": profile.name}
        name = name_of(env)
        if not _DEVICE_NAME.match(name):
            raise FixtureError(path, entry.line_of("name"),
                               f"device name {name!r} may hold only letters, digits, '.', '_' "
                               "and '-' (at most 128)")
        env["name"] = name
        values = {"name": name, "n": str(start + i), "i": str(i), "profile": profile.name}
        for key, make in makers.items():
            values[key] = make(env)
        yield name, values


def _formatter(fmt: str, path: Path, line: int, what: str) -> Callable[[dict[str, object]], str]:
    sample = {"name": "x", "n": 1, "i": 0, "profile": "x"}
    try:
        fmt.format_map(sample)
    except KeyError as exc:
        raise FixtureError(path, line, f"{what}: unknown field {{{exc.args[0]}}} "
                                       f"(known: {', '.join(BUILTIN_VARS)})") from None
    except (ValueError, IndexError, AttributeError, TypeError) as exc:
        raise FixtureError(path, line, f"{what}: bad format string {fmt!r}: {exc}") from None
    return fmt.format_map


def _var_maker(key: str, spec: object, count: int, path: Path,
               line: int) -> Callable[[dict[str, object]], str]:
    if isinstance(spec, bool) or spec is None:
        raise FixtureError(path, line, f"var {key!r} must be a string, a number or an "
                                       f"address counter, not {spec!r}")
    if isinstance(spec, (int, float)):
        text = str(spec)
        return lambda env: text
    if isinstance(spec, str):
        return _formatter(spec, path, line, f"var {key!r}")
    if isinstance(spec, YDict):
        return _address_counter(key, spec, count, path, line)
    raise FixtureError(path, line, f"var {key!r} must be a string, a number or an address "
                                   f"counter, not a list")


def _address_counter(key: str, spec: YDict, count: int, path: Path,
                     line: int) -> Callable[[dict[str, object]], str]:
    """``{ipv4: 10.0.0.0/16}``, ``{ipv6: 2001:db8::/64}`` or ``{mac: 02:00:..}``, plus ``start``."""
    kinds = [k for k in ("ipv4", "ipv6", "mac") if k in spec]
    check_keys(spec, {"ipv4", "ipv6", "mac", "start"}, path, f"var {key!r}")
    if len(kinds) != 1:
        raise FixtureError(path, line, f"var {key!r} must have exactly one of ipv4, ipv6, mac")
    kind = kinds[0]
    base_text = str(spec[kind])
    if kind == "mac":
        if not re.fullmatch(r"[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}", base_text):
            raise FixtureError(path, line, f"var {key!r}: {base_text!r} is not a MAC address "
                                           "like 02:00:5e:00:00:00")
        base, first, last = int(base_text.replace(":", ""), 16), 0, 2**48 - 1
    else:
        try:
            net = ipaddress.ip_network(base_text, strict=False)
        except ValueError as exc:
            raise FixtureError(path, line, f"var {key!r}: {exc}") from None
        if (net.version == 4) != (kind == "ipv4"):
            raise FixtureError(path, line, f"var {key!r}: {base_text!r} is not an {kind} address")
        if "/" in base_text:  # a subnet: hand out its host addresses
            base = int(net.network_address)
            first = 1
            last = net.num_addresses - (2 if net.version == 4 and net.prefixlen < 31 else 1)
        else:                 # an address: count on from it
            base, first = int(net.network_address), 0
            last = 2**net.max_prefixlen - 1 - base
    offset = spec.get("start", first)
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise FixtureError(path, spec.line_of("start"), f"var {key!r}: 'start' must be a "
                                                        "whole number from 0")
    if offset + count - 1 > last:
        raise FixtureError(path, line, f"var {key!r}: {base_text} has room for "
                                       f"{max(last - offset + 1, 0)} devices, not {count}")

    if kind == "mac":
        def make(env: dict[str, object]) -> str:
            value = f"{base + offset + env['i']:012x}"
            return ":".join(value[k:k + 2] for k in range(0, 12, 2))
    else:
        address_class = ipaddress.IPv4Address if kind == "ipv4" else ipaddress.IPv6Address

        def make(env: dict[str, object]) -> str:
            return str(address_class(base + offset + env["i"]))
    return make
