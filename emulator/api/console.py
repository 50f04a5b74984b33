"""The browser console: the page at ``/`` and its static files.

The page is plain HTML, CSS and JavaScript modules in ``static/`` (no build
step, nothing from elsewhere). It speaks NETCONF over WebSocket to the devices
itself, as draft-iijima-netconf-websocket-ps describes, and reads the JSON API;
the server only hands out the files.

Every file is sent with a Content-Security-Policy that lets the page load only
its own scripts and styles and connect only to this server (``'self'`` covers
``ws://`` and ``wss://`` of the same host), so neither device data that slips
into markup nor a tampered file can run script from elsewhere or send data
away.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tornado.web

from emulator.settings import host_allowed

STATIC = Path(__file__).parent / "static"

PARSERERROR_STYLES = (
    # display: block; white-space: pre; border: 2px solid #c77; padding: 0 1em 0 1em; ...
    "'sha256-ICa0DhwZQJsOd/Rn0N8H6FdQ71GfNL+op2zhAQ+Y4mM='",
    # font-family:monospace;font-size:12px
    "'sha256-ZD0chCyBaNHl+4UwQHJIHGoYhKwMeyCXGgJTKW5/67E='",
)
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    # The only inline styles the page meets: the two Chromium puts in the <parsererror>
    # of an XML document that is not well-formed (what the raw editor's parse of a
    # typo gives); without them, every typo is a CSP violation in the browser's console.
    "style-src-attr 'unsafe-hashes' " + " ".join(PARSERERROR_STYLES),
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
])


class ConsoleFileHandler(tornado.web.StaticFileHandler):
    """A file of the console. The same Host rule as the API and the WebSocket
    upgrade (a page served under a rebound name could otherwise read the API
    as its own origin)."""

    def initialize(self, path: str, default_filename: str | None = None,
                   emulator: Any = None) -> None:
        super().initialize(path, default_filename)
        self.emulator = emulator

    def prepare(self) -> None:
        if self.emulator is not None and not host_allowed(self.emulator.options,
                                                          self.request.host):
            raise tornado.web.HTTPError(403, reason="Host not served (see --allow-host)")

    def set_extra_headers(self, path: str) -> None:
        self.set_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")
        # the files change with the package, not while it runs; revalidate (cheap: ETag)
        self.set_header("Cache-Control", "no-cache")

    def get_content_type(self) -> str:
        # (mimetypes can be told otherwise by the host's /etc/mime.types; a module
        # script served as text/plain is refused by the browser)
        suffix = Path(self.absolute_path or "").suffix
        return {".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8",
                ".html": "text/html; charset=utf-8",
                ".svg": "image/svg+xml"}.get(suffix, super().get_content_type())


def routes(emulator: Any) -> list[tuple[str, type, dict[str, Any]]]:
    """The console's routes: ``/`` (the page) and ``/console/...`` (its files)."""
    return [
        (r"/()", ConsoleFileHandler,
         {"path": str(STATIC), "default_filename": "index.html", "emulator": emulator}),
        (r"/console/(.+)", ConsoleFileHandler, {"path": str(STATIC), "emulator": emulator}),
    ]
