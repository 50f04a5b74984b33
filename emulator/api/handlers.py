"""The admin JSON API: health, devices, each device's message journal, events
and resets.

Handlers get the running server (emulator.server.Emulator, which sits above
this module: typed loosely) and map the device's domain errors to statuses.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

import tornado.web

from emulator import __version__
from emulator.clock import LATEST, rfc3339
from emulator.device import (BadEventParameter, Device, DeviceError, NoSuchComponent,
                             NoSuchInterface, NotInProfile, UnknownEvent)
from emulator.scenarios import catalogue
from emulator.settings import host_allowed, origin_allowed

# The HTTP status of each domain error a device raises.
STATUS_OF: dict[type[DeviceError], int] = {
    UnknownEvent: 400,
    BadEventParameter: 400,
    NotInProfile: 400,
    NoSuchInterface: 404,
    NoSuchComponent: 404,
}


# The API takes small JSON bodies: a list of 10,000 device names is ~200 KiB.
BODY_LIMIT = 1024 * 1024


def status_of(error: DeviceError) -> int:
    return STATUS_OF.get(type(error), 400)


class ApiError(tornado.web.HTTPError):
    """A refusal whose message the client should read."""

    def __init__(self, status: int, message: str):
        super().__init__(status)
        self.message = message


@tornado.web.stream_request_body
class ApiHandler(tornado.web.RequestHandler):
    """The API's common rules: Host and Origin, JSON bodies of at most
    BODY_LIMIT bytes, known query parameters only, JSON errors for every status.
    (Bodies are streamed in, so that one over the limit is refused, in JSON,
    before it is read.)"""

    QUERY: frozenset[str] = frozenset()     # the query parameters a handler takes

    def initialize(self, emulator: Any) -> None:
        self.emulator = emulator
        self._body: list[bytes] = []
        self._body_size = 0

    def prepare(self) -> None:
        options = self.emulator.options
        if not host_allowed(options, self.request.host):
            raise ApiError(403, f"this server is not served as {self.request.host!r} "
                                "(name it with --allow-host)")
        origin = self.request.headers.get("Origin")
        changes = self.request.method not in ("GET", "HEAD", "OPTIONS")
        if changes and not origin_allowed(options, origin, self.request.host):
            raise ApiError(403, f"origin {origin!r} may not change this server "
                                "(allow it with --allow-origin)")
        length = self.request.headers.get("Content-Length", "0")
        if not length.isdigit() or int(length) > BODY_LIMIT:
            raise ApiError(413, f"a request body may hold at most {BODY_LIMIT} bytes")
        self.request.connection.set_max_body_size(BODY_LIMIT)
        if int(length) and changes:
            kind = self.request.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if kind != "application/json":
                # (a browser sends text/plain across origins without asking first)
                raise ApiError(415, "send the body as JSON, with Content-Type: application/json")
        unknown = sorted(set(self.request.query_arguments) - self.QUERY)
        if unknown:
            raise ApiError(400, f"unknown query parameter {unknown[0]!r} "
                                f"({', '.join(sorted(self.QUERY)) or 'none'} taken here)")

    def data_received(self, chunk: bytes) -> None:
        self._body_size += len(chunk)
        if self._body_size > BODY_LIMIT:      # (a body sent in chunks, of no stated length)
            raise ApiError(413, f"a request body may hold at most {BODY_LIMIT} bytes")
        self._body.append(chunk)

    @property
    def body(self) -> bytes:
        return b"".join(self._body)

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")

    def send_json(self, value: Any, status: int = 200) -> None:
        self.set_status(status)
        # (UTF-8 as it is: escaping each character beyond ASCII took up to 12)
        self.finish(json.dumps(value, indent=1, ensure_ascii=False) + "\n")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, ApiError):
            message = exc.message
        elif status_code == 405:
            message = f"method {self.request.method} is not allowed on {self.request.path}"
        else:
            message = HTTPStatus(status_code).phrase if status_code in HTTPStatus._value2member_map_ \
                else "error"
        self.finish(json.dumps({"error": message, "status": status_code}) + "\n")

    def device(self, name: str) -> Device:
        device = self.emulator.fleet.get(name)
        if device is None:
            raise ApiError(404, f"no device named {name!r} in this fleet")
        return device

    def query_int(self, name: str, default: int | None, low: int, high: int) -> int | None:
        raw = self.get_query_argument(name, None)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ApiError(400, f"query parameter {name!r} must be a whole number, not {raw!r}") \
                from None
        if not low <= value <= high:
            raise ApiError(400, f"query parameter {name!r} must be from {low} to {high}")
        return value

    def device_summary(self, device: Device) -> dict[str, Any]:
        summary = {
            "name": device.name,
            "profile": device.profile.name,
            "url": self.emulator.device_url(device, host=self.request.host),
            "status": device.status.value,
            "session_count": len(device.sessions),
            "soap_url": self.emulator.soap_url(device, host=self.request.host),
        }
        ssh_url = self.emulator.ssh_url(device, host=self.request.host)
        if ssh_url is not None:
            summary["ssh_url"] = ssh_url
        return summary


class IndexHandler(ApiHandler):
    def get(self) -> None:
        self.send_json({"endpoints": [
            "GET /api/health",
            "GET /api/devices[?profile=P]",
            "GET /api/devices/{device}",
            "GET /api/devices/{device}/journal[?limit=N][&session=ID]",
            "POST /api/devices/{device}/events",
            "POST /api/events",
            "POST /api/devices/{device}/reset",
            "POST /api/reset",
            "GET /api/clock",
            "POST /api/clock",
            "GET /api/scenarios",
            "GET /api/scenarios/{name}",
            "GET /api/scenarios/runs",
            "POST /api/scenarios/runs",
            "GET /api/scenarios/runs/{id}",
            "GET /api/scenarios/runs/{id}/timeline",
            "GET /api/scenarios/runs/{id}/stream",
            "POST /api/scenarios/runs/{id}/stop",
        ], "events": catalogue.describe()})


class HealthHandler(ApiHandler):
    def get(self) -> None:
        fleet = self.emulator.fleet
        self.send_json({
            "status": "ok",
            "version": __version__,
            "devices": len(fleet),
            "profiles": sorted(fleet.profiles),
            "sessions": sum(len(d.sessions) for d in fleet),
            "uptime": round(self.emulator.uptime(), 3),
            # the fleet's clock: what device time it is, and whether it is virtual
            "time": rfc3339(self.emulator.runtime.clock.now()),
            "clock": "virtual" if self.emulator.runtime.clock.virtual else "real",
        })


class DeviceListHandler(ApiHandler):
    QUERY = frozenset({"profile"})

    def get(self) -> None:
        profile = self.get_query_argument("profile", None)
        if profile is not None and profile not in self.emulator.fleet.profiles:
            raise ApiError(400, f"no profile named {profile!r} in this fleet")
        self.send_json([self.device_summary(d) for d in self.emulator.fleet
                        if profile is None or d.profile.name == profile])


class DeviceHandler(ApiHandler):
    def get(self, name: str) -> None:
        device = self.device(name)
        detail = self.device_summary(device)
        detail.update({
            "description": device.profile.description,
            "modules": [m.name for m in device.profile.modules],
            "capabilities": device.capabilities(),
            "vars": device.values,
            "sessions": [{
                "session-id": s.id,
                "username": s.username,
                "source-host": s.source_host,
                "login-time": rfc3339(s.login_time),
                "state": s.state.value,
            } for s in device.sessions.values()],
        })
        self.send_json(detail)


class JournalHandler(ApiHandler):
    QUERY = frozenset({"limit", "session"})

    def get(self, name: str) -> None:
        device = self.device(name)
        limit = self.query_int("limit", 100, 1, 100_000)
        session = self.query_int("session", None, 1, 2**32 - 1)
        self.send_json({
            "device": device.name,
            "entries": [{
                "seq": e.seq,
                "time": rfc3339(e.time),
                "direction": e.direction,
                "session": e.session,
                "text": e.text,
            } for e in device.journal(limit=limit, session=session)],
        })


class ApiJsonBody(ApiHandler):
    # what a body of this endpoint looks like, for the error that refuses one
    EXAMPLE = '{"event": "link-down", "interface": "eth0"}'

    def json_body(self, empty: Any = None, keys: set[str] | None = None) -> dict[str, Any]:
        """The body as a JSON object; an empty body is ``empty`` when given;
        with ``keys``, any other key is refused (a typo must not widen a reset)."""
        if not self.body.strip() and empty is not None:
            return empty
        try:
            body = json.loads(self.body or b"null")
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise ApiError(400, f"the body is not JSON: {str(exc)[:200]}") from None
        if not isinstance(body, dict):
            raise ApiError(400, f"the body must be a JSON object such as {self.EXAMPLE}")
        unknown = sorted(set(body) - keys) if keys is not None else []
        if unknown:
            raise ApiError(400, f"unknown key {unknown[0]!r} (this endpoint takes "
                                f"{', '.join(sorted(keys)) or 'no keys'}; for example {self.EXAMPLE})")
        return body

    def event_body(self, more: frozenset[str] = frozenset()) -> tuple[str, dict, Any, dict]:
        """An event's body: (its name, its parameters, its duration, the keys in
        ``more``); the parameters are the catalogue's to check."""
        body = self.json_body()
        name = body.get("event")
        if not isinstance(name, str):
            raise ApiError(400, f"give the event's name as \"event\" (one of "
                                f"{', '.join(catalogue.EVENTS)})")
        duration = body.get("duration")
        parameters = {k: v for k, v in body.items() if k not in ("event", "duration", *more)}
        return name, parameters, duration, {k: body[k] for k in more if k in body}

    def check_on(self, device: Device, name: str, parameters: dict) -> None:
        try:
            catalogue.check(device, name, parameters)
        except DeviceError as exc:
            raise ApiError(status_of(exc), f"{device.name}: {exc}") from None

    def raise_on(self, device: Device, name: str, parameters: dict,
                 duration: Any) -> dict[str, Any]:
        try:
            return catalogue.raise_event(device, name, parameters, duration=duration).result
        except DeviceError as exc:
            raise ApiError(status_of(exc), str(exc)) from None

    def devices_named(self, body: dict[str, Any]) -> list[Device]:
        """``"devices": [...]`` of the body, every one known; the whole fleet without it."""
        names = body.get("devices")
        if names is None:
            return list(self.emulator.fleet)
        if isinstance(names, list) and all(isinstance(n, str) for n in names):
            return [self.device(n) for n in dict.fromkeys(names)]
        raise ApiError(400, '"devices" must be a list of device names')


class DeviceEventHandler(ApiJsonBody):
    """One event of the catalogue (emulator.scenarios.catalogue) now:
    ``{"event": .., its parameters.., "duration": optional, seconds or "90s"}``."""

    def post(self, name: str) -> None:
        device = self.device(name)
        event, parameters, duration, _ = self.event_body()
        self.send_json(self.raise_on(device, event, parameters, duration))


class FleetEventHandler(ApiJsonBody):
    """One event on many devices at once: ``{"event": .., its parameters..,
    "devices": [..], "profile": .., "duration": ..}``.

    An interface event (or a component event) goes to every interface (or
    component) that matches ``"interface"`` (``"component"``), a glob such as
    ``eth*`` or ``ge-0/0/?``, on every device (of ``"profile"``, if given) that
    has one; devices with none are skipped, and the answer says how many
    matched. With ``"devices"`` and a plain name, every device must have it,
    and a device event must be possible on every device: all or nothing."""

    MORE = frozenset({"devices", "profile"})

    def post(self) -> None:
        event, parameters, duration, more = self.event_body(self.MORE)
        devices = self.devices_named(more)
        profile = more.get("profile")
        if profile is not None:
            if not isinstance(profile, str) or profile not in self.emulator.fleet.profiles:
                raise ApiError(400, f"no profile {profile!r} in this fleet (profiles: "
                                    f"{', '.join(sorted(self.emulator.fleet.profiles))})")
            devices = [d for d in devices if d.profile.name == profile]
        kind = catalogue.EVENTS.get(event)
        if kind is None:
            raise ApiError(400, f"no event {event!r} (events: {', '.join(catalogue.EVENTS)})")
        target = kind.target if kind.target in ("interface", "component") else None
        pattern = parameters.get(target) if target else None
        if target is None or ("devices" in more and not _is_glob(pattern)):
            for device in devices:   # all or nothing: refuse before anything changes
                self.check_on(device, event, parameters)
            targets = [(device, parameters) for device in devices]
        else:
            if devices and not isinstance(pattern, str):
                self.check_on(devices[0], event, parameters)      # (says what it needs)
            names = (lambda d: d.interfaces(pattern)) if target == "interface" \
                else (lambda d: d.components(pattern))
            targets = [(device, {**parameters, target: name}) for device in devices
                       for name in names(device)]
            if not targets:
                raise ApiError(404, f"no device{f' of profile {profile!r}' if profile else ''} "
                                    f"has an {target} matching {pattern!r}")
        if targets:
            self.check_on(targets[0][0], event, targets[0][1])    # (a bad parameter: once)
        results = [self.raise_on(device, event, parameters, duration)
                   for device, parameters in targets]
        self.send_json({"matched": len({id(d) for d, _ in targets}), "raised": len(results),
                        "changed": sum(bool(r["changed"]) for r in results)})


def _is_glob(pattern: object) -> bool:
    return isinstance(pattern, str) and any(c in pattern for c in "*?[")


class DeviceResetHandler(ApiJsonBody):
    """Back to the fixture; the device's sessions end ("device reset")."""

    EXAMPLE = "{} (or no body at all)"

    def post(self, name: str) -> None:
        device = self.device(name)
        self.json_body(empty={}, keys=set())
        self.emulator.fleet.reset([device])
        self.send_json({"reset": 1, "devices": [device.name]})


class FleetResetHandler(ApiJsonBody):
    """The whole fleet, or ``{"devices": [...]}``; every name is checked first."""

    EXAMPLE = '{"devices": ["core-1", "edge-01"]} (or no body: the whole fleet)'

    def post(self) -> None:
        devices = self.devices_named(self.json_body(empty={}, keys={"devices"}))
        self.emulator.fleet.reset(devices)
        self.send_json({"reset": len(devices)})


class ClockHandler(ApiJsonBody):
    """The fleet's clock: GET reads it; POST ``{"advance": SECONDS}`` or
    ``{"jump": true}`` moves a virtual one, running every timer that falls due."""

    def describe(self) -> dict[str, Any]:
        clock = self.emulator.runtime.clock
        answer = {"clock": "virtual" if clock.virtual else "real", "time": rfc3339(clock.now())}
        if clock.virtual:
            upcoming = clock.next_timer()
            answer["next_timer"] = None if upcoming is None else rfc3339(upcoming)
        return answer

    def get(self) -> None:
        self.send_json(self.describe())

    EXAMPLE = '{"advance": 600} or {"jump": true}'

    def post(self) -> None:
        clock = self.emulator.runtime.clock
        if not clock.virtual:
            raise ApiError(409, "the clock is real: start the server with --clock virtual to "
                                "move time")
        body = self.json_body(keys={"advance", "jump"})
        advance = body.get("advance")
        if set(body) == {"jump"} and body["jump"] is True:
            upcoming = clock.next_timer()
            if upcoming is not None and upcoming > LATEST:
                raise ApiError(400, "the next timer is past the year 9999")
            ran = clock.jump()
        elif set(body) == {"advance"} and isinstance(advance, (int, float)) \
                and not isinstance(advance, bool) and 0 <= advance <= LATEST - clock.now():
            ran = clock.advance(advance)
        else:
            raise ApiError(400, 'give {"advance": SECONDS} (from 0, and not past the year '
                                '9999) or {"jump": true}')
        self.send_json({**self.describe(), "timers_run": ran})


class NotFoundHandler(ApiHandler):
    def prepare(self) -> None:
        super().prepare()
        raise ApiError(404, f"no such API endpoint: {self.request.path}")
