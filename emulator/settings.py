"""How the server is served: its address, TLS, data dir, and who may talk to
it (the Host and Origin rules that every HTTP path shares).

What a fleet allows its devices and sessions (message size, queues, replay)
is not here: that is the runtime's ``Limits``.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from ipaddress import ip_address
from pathlib import Path


@dataclass
class Options:
    host: str = "127.0.0.1"
    port: int = 8830
    data_dir: Path = Path(".netconf-emulator")
    fresh: bool = False
    ping_interval: float = 30.0           # WebSocket pings keep idle sessions alive (0: off)
    allow_origins: list[str] = field(default_factory=list)
    allow_hosts: list[str] = field(default_factory=list)
    username: str = "netconf"
    # NETCONF over SSH (RFC 6242): off (None), or device i on ssh_port + i (0: any free port each).
    ssh_port: int | None = None
    # A lab tool's default login, documented in the README: netconf / netconf.
    password: str = "netconf"
    # whether the operator chose the password (--password): SOAP then asks every
    # request for an HTTP Basic login; with the lab default it does not
    password_set: bool = False
    authorized_keys: Path | None = None   # public keys that may log in as any user
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    shutdown_grace: float = 5.0           # real seconds clients get to answer our close
    # On a virtual clock, real seconds a drill's expectation window stays open
    # at its end for a client in another process to act (README, Drills).
    drill_grace: float = 3.0


def host_allowed(options: Options, host_header: str) -> bool:
    """DNS-rebinding guard: may a request name this server by ``host_header``?

    IP literals and localhost cannot be rebound; names are accepted only
    when the operator gave them (--host, --allow-host, --allow-origin).
    """
    host = urllib.parse.urlsplit("//" + host_header).hostname
    if not host:
        return False
    if host == "localhost" or "*" in options.allow_origins:
        return True
    try:
        ip_address(host)
        return True
    except ValueError:
        pass
    named = {options.host.lower(), *(h.lower() for h in options.allow_hosts)}
    named.update((urllib.parse.urlsplit(o).hostname or "") for o in options.allow_origins)
    return host in named


def origin_allowed(options: Options, origin: str | None, host_header: str) -> bool:
    """Cross-site request guard for browsers: no Origin (not a browser), the
    same origin, a loopback origin, or one the operator allowed."""
    if origin is None:
        return True
    netloc = urllib.parse.urlsplit(origin).netloc.lower()
    if netloc and netloc == host_header.lower():
        return True
    allowed = options.allow_origins
    if "*" in allowed or origin.rstrip("/") in allowed:
        return True
    host = urllib.parse.urlsplit(origin).hostname or ""
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False
