"""NETCONF over SOAP/HTTP beside NETCONF over WebSocket, and each beside a raw
Tornado echo of its own wire, in the same run: small <get-config> round trips
per second over one persistent connection.

The SOAP client is http.client on one keep-alive connection (what a SOAP
toolkit's HTTP session does, without the toolkit's own cost); the WebSocket
client is bench.netconf's. The HTTP echo answers every POST with its body,
wrapped as an envelope would be, and stands for the ceiling of Tornado's HTTP.

    python -m bench soap [--seconds 1] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.netconf import ECHO_SERVER as WS_ECHO_SERVER
from bench.netconf import GET_CONFIG, rate, start
from bench.table import print_table

ENV = "http://schemas.xmlsoap.org/soap/envelope/"
NC = "urn:ietf:params:xml:ns:netconf:base:1.0"


def envelope(body: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{ENV}">'
            f"<soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>").encode()


HELLO = envelope(f'<hello xmlns="{NC}"><capabilities><capability>urn:ietf:params:netconf:'
                 "base:1.1</capability></capabilities></hello>")
REQUEST = envelope(GET_CONFIG)
HEADERS = {"Content-Type": "text/xml; charset=utf-8"}

HTTP_ECHO_SERVER = """
import asyncio, tornado.web, tornado.netutil, tornado.httpserver
class Echo(tornado.web.RequestHandler):
    def post(self, *args):
        self.set_header("Content-Type", "text/xml; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("Pragma", "no-cache")
        self.finish(self.request.body)
async def main():
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    tornado.httpserver.HTTPServer(tornado.web.Application([(r"/soap/(.*)", Echo)])).add_sockets(sockets)
    print("ready: port", sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


def soap_rate(port: int, path: str, seconds: float, hello: bool) -> float:
    """Round trips per second on one keep-alive HTTP connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    if hello:
        connection.request("POST", path, HELLO, HEADERS)
        response = connection.getresponse()
        assert response.status == 200 and b"session-id" in response.read()
    count = 0
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        connection.request("POST", path, REQUEST, HEADERS)
        response = connection.getresponse()
        body = response.read()
        assert response.status == 200 and b"Fault" not in body, body
        count += 1
    elapsed = time.perf_counter() - started
    connection.close()
    return count / elapsed


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench soap")
    parser.add_argument("--seconds", type=float, default=1.0, help="each measurement, each round")
    parser.add_argument("--rounds", type=int, default=5,
                        help="rounds of the four measurements in turns (medians are shown)")
    args = parser.parse_args(argv)

    results: dict[str, list[float]] = {"soap": [], "soap_echo": [], "ws": [], "ws_echo": []}
    with tempfile.TemporaryDirectory() as tmp:
        http_echo_process, http_echo_port = start([sys.executable, "-c", HTTP_ECHO_SERVER])
        ws_echo_process, ws_echo_port = start([sys.executable, "-c", WS_ECHO_SERVER])
        ours, port = start([sys.executable, "-m", "emulator", "serve", "--port", "0", "--fresh",
                            "--data-dir", str(Path(tmp) / "data")])
        try:
            # in turns, so that the shared machine's load falls on all four alike
            for _ in range(args.rounds):
                results["soap"].append(soap_rate(port, "/soap/core-1", args.seconds, hello=True))
                results["soap_echo"].append(soap_rate(http_echo_port, "/soap/x", args.seconds,
                                                      hello=False))
                results["ws"].append(asyncio.run(
                    rate(f"ws://127.0.0.1:{port}/netconf/core-1", 1, args.seconds)))
                results["ws_echo"].append(asyncio.run(
                    rate(f"ws://127.0.0.1:{ws_echo_port}/netconf/x", 1, args.seconds)))
        finally:
            for process in (http_echo_process, ws_echo_process, ours):
                process.terminate()
                process.wait(30)
    soap, soap_echo, ws, ws_echo = (statistics.median(results[k])
                                    for k in ("soap", "soap_echo", "ws", "ws_echo"))
    rows = [
        ["small <get-config>, SOAP/HTTP keep-alive", f"{soap:,.0f}/s", f"{soap_echo:,.0f}/s",
         f"{soap / soap_echo:.2f}"],
        ["small <get-config>, WebSocket", f"{ws:,.0f}/s", f"{ws_echo:,.0f}/s",
         f"{ws / ws_echo:.2f}"],
        ["SOAP beside WebSocket", "", "", f"{soap / ws:.2f}"],
    ]
    print_table(f"soap: round trips on one connection, each beside a raw Tornado echo of its "
                f"wire (same run, medians of {args.rounds} rounds in turns)",
                ["", "netconf-emulator", "echo", "ratio"], rows)
