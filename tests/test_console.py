"""The browser console (GET /): a real headless Chromium, driven by Playwright,
against a real server on 127.0.0.1. The page speaks NETCONF over WebSocket to
the devices itself; what it changes is checked from a second, non-browser
session.

Needs Debian's chromium (/usr/bin/chromium, or $CHROMIUM) and Playwright from
PyPI; without them these tests skip, saying which is missing. `.ci/run`
installs the browser.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from emulator.clock import VirtualClock
from emulator.paths import BUILTIN_PROFILES
from tests.client import NS, rpc_errors

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# What works on a closed network: no sandbox (CI runs as root), nothing fetched
# from elsewhere (no QUIC, background networking, component updates, sync).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
WAIT_MS = 10_000          # every wait on the page has a timeout

IF = "urn:ietf:params:xml:ns:yang:ietf-interfaces"
MARKUP = '<img src=x onerror="window.pwned=1"><b>bold</b> & <script>window.pwned=2</script>'


def _playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright is not installed (pip install -e '.[test]')")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no browser at {CHROMIUM} (apt-get install chromium, as .ci/run does, "
                    "or set $CHROMIUM)")
    return sync_playwright


@pytest.fixture(scope="module")
def browser() -> Iterator:
    sync_playwright = _playwright()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                             timeout=60_000)
        yield browser
        browser.close()


class Page:
    """A browser page on the console, with every console error and page error kept:
    a test ends by checking there were none."""

    def __init__(self, browser, base: str, **context_options):
        self.context = browser.new_context(viewport={"width": 1400, "height": 900},
                                           **context_options)
        self.context.set_default_timeout(WAIT_MS)
        self.page = self.context.new_page()
        self.base = base
        self.problems: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(m.text))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))

    def open(self, fragment: str = "#/fleet") -> None:
        self.page.goto(self.base + fragment)
        self.page.wait_for_selector("body[data-ready=true]")

    def row(self, device: str):
        return self.page.locator(f".row[data-name='{device}']")

    def select(self, text: str, row_of: str | None = None) -> None:
        """Click a node of the data tree: a leaf's cell (in the row of list entry
        ``row_of``) or a node's name."""
        tree = self.page.locator("#tree")
        if row_of is not None:
            row = tree.locator("tr", has=self.page.locator("button.key", has_text=row_of))
            row.locator("button.sel", has_text=text).first.click()
        else:
            tree.locator("button.sel", has_text=text).first.click()

    def request(self, rpc: str) -> None:
        self.page.click(f"button[data-rpc='{rpc}']")

    def wait_reply(self, label: str) -> str:
        self.page.wait_for_function(
            "label => document.getElementById('reply-meta').textContent.startsWith(label)", arg=label)
        return self.page.text_content("#reply-meta")

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def console(browser, make_server) -> Iterator:
    """``console(server=None)``: a page on the console of ``server`` (default fleet)."""
    pages: list[Page] = []

    def open_page(running=None, **context_options) -> Page:
        running = running or make_server()
        scheme = "https" if running.emulator.scheme == "wss" else "http"
        page = Page(browser, f"{scheme}://127.0.0.1:{running.port}/", **context_options)
        page.running = running
        pages.append(page)
        return page

    yield open_page
    problems = [p for page in pages for p in page.problems]
    for page in pages:
        page.close()
    assert problems == [], "the browser's console showed errors"


def interface_description(running, device: str, interface: str) -> str | None:
    with running.connect(device) as client:
        reply = client.rpc(f"<get-config><source><running/></source><filter type='subtree'>"
                           f"<interfaces xmlns='{IF}'><interface><name>{interface}</name>"
                           f"<description/></interface></interfaces></filter></get-config>")
    return reply.findtext(f".//{{{IF}}}description")


def test_the_page_and_its_files_are_served_with_a_strict_policy(make_server):
    running = make_server()
    with urllib.request.urlopen(f"http://127.0.0.1:{running.port}/", timeout=10) as response:
        page = response.read().decode()
        policy = response.headers["Content-Security-Policy"]
    assert "<title>netconf-emulator console</title>" in page
    assert "connect-src 'self'" in policy and "script-src 'self'" in policy
    assert "http" not in page.replace("http-equiv", "")       # nothing from elsewhere
    for name, kind in [("console.js", "text/javascript"), ("netconf.js", "text/javascript"),
                       ("console.css", "text/css")]:
        with urllib.request.urlopen(f"http://127.0.0.1:{running.port}/console/{name}",
                                    timeout=10) as response:
            assert response.headers["Content-Type"].startswith(kind)
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert "innerHTML" not in response.read().decode()
    request = urllib.request.Request(f"http://127.0.0.1:{running.port}/",
                                     headers={"Host": "rebound.example"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 403


def test_the_fleet_view_lists_every_device_with_its_link_states(console):
    page = console()
    page.open()
    rows = page.page.locator(".row")
    rows.first.wait_for()
    names = rows.evaluate_all("rows => rows.map(r => r.dataset.name)")
    assert names == ["core-1", "edge-01", "edge-02", "access-01", "access-02", "access-03"]
    assert page.page.text_content("#fleet-count") == "6 devices"
    assert page.row("access-01").locator(".c-profile").text_content() == "switch"
    assert page.row("core-1").locator(".c-status").text_content() == "up"
    # the page's own session to the device read its links: eth2 is disabled in the fixture
    page.page.wait_for_selector(".row[data-name='core-1'][data-live=true]")
    assert page.row("core-1").locator(".link[data-if='eth1']").get_attribute("data-state") == "up"
    assert page.row("core-1").locator(".link[data-if='eth2']").get_attribute("data-state") == "down"
    # search, and the keyboard: "/" to search, arrows and Enter to open
    page.page.keyboard.press("/")
    page.page.keyboard.type("access")
    page.page.wait_for_function("() => document.getElementById('fleet-count').textContent"
                                " === '3 of 6 devices'")
    page.page.focus("#fleet-scroll")
    page.page.keyboard.press("ArrowDown")
    page.page.keyboard.press("Enter")
    page.page.wait_for_selector("#view-device:not([hidden])")
    assert page.page.text_content("#dev-name") == "access-02"


def test_a_device_view_opens_a_session_and_shows_an_interface(console):
    page = console()
    page.open("#/device/core-1")
    page.page.wait_for_selector("#tree button.key:text-is('eth0')")
    assert page.page.text_content("#tree-source") == "get-config running"
    session = page.page.text_content("#dev-session")
    assert session.startswith("session ")
    caps = page.page.locator("#dev-caps li").all_text_contents()
    assert "urn:ietf:params:netconf:base:1.1" in caps
    # the device knows the page's session as one of its own
    sessions = page.running.call(lambda: [s.id for s in
                                          page.running.fleet.get("core-1").sessions.values()])
    assert int(session.split()[1]) in sessions
    # the journal shows what the page sent
    page.page.wait_for_selector("#journal code:has-text('get-config')")


def test_an_edit_and_commit_from_the_page_change_running_and_the_diff_shows_it(console):
    page = console()
    page.open("#/device/edge-01")
    page.page.wait_for_selector("#tree button.key:text-is('eth2')")
    page.select("spare", row_of="eth2")
    assert page.page.text_content("#sel-path") == "/interfaces/interface[name='eth2']/description"
    page.page.fill("#req-value", "to lab B")
    page.request("edit-config")
    assert "reply" in page.wait_reply("edit-config candidate")
    assert interface_description(page.running, "edge-01", "eth2") == "spare"   # not yet

    page.page.click("#req-diff")
    page.page.wait_for_selector("#diff:not([hidden]) .diff-title")
    assert [line.split() for line in page.page.locator("#diff .del").all_text_contents()] == \
        [["-", "<description>spare</description>"]]
    assert [line.split() for line in page.page.locator("#diff .add").all_text_contents()] == \
        [["+", "<description>to", "lab", "B</description>"]]
    assert "<name>eth2</name>" in page.page.text_content("#diff")     # (its context)

    page.request("commit")
    page.wait_reply("commit")
    assert page.page.locator("#reply").text_content().count("<ok/>") == 1
    assert interface_description(page.running, "edge-01", "eth2") == "to lab B"


def test_an_rpc_error_is_shown_plainly_with_its_path_in_the_tree(console):
    page = console()
    page.open("#/device/core-1")
    page.page.wait_for_selector("#tree button.key:text-is('eth0')")
    page.select("true", row_of="eth0")           # eth0's <enabled>
    page.page.fill("#req-value", "maybe")
    page.request("edit-config")
    assert "rpc-error" in page.wait_reply("edit-config candidate")
    card = page.page.locator("#errors .error-card")
    assert card.locator(".error-tag").text_content() == "invalid-value"
    assert card.locator(".error-path").text_content() == \
        "/if:interfaces/if:interface[if:name='eth0']/if:enabled"
    assert "not a boolean" in card.locator(".error-message").text_content()
    highlighted = page.page.locator("#tree .error-target")
    assert highlighted.count() == 1
    assert highlighted.locator("button").text_content() == "true"
    assert "interface[name='eth0']/enabled" in card.text_content()


def test_a_link_down_reaches_the_notification_log_and_the_fleet_within_a_second(console):
    page = console()
    page.open()
    page.page.wait_for_selector(".row[data-name='edge-01'][data-live=true]")
    page.page.click(".row[data-name='edge-01'] a")
    page.page.wait_for_selector("body[data-subscribed='edge-01']")
    before = int(page.page.text_content("#notif-count"))

    started = time.monotonic()
    status, answer = page.running.api("/api/devices/edge-01/events", "POST",
                                      b'{"event": "link-down", "interface": "eth1"}')
    assert status == 200, answer
    page.page.wait_for_selector("#notif-log li strong:text-is('link-down')", timeout=1000)
    page.page.click("#nav-fleet")
    page.page.wait_for_selector(".row[data-name='edge-01'] .link[data-if='eth1'][data-state=down]",
                                timeout=1000)
    elapsed = time.monotonic() - started
    assert elapsed < 1.0
    assert int(page.page.text_content("#notif-count")) > before
    item = page.page.locator("#notif-log li", has_text="link-down").first
    assert "if-name=eth1" in item.text_content()
    # the other devices' rows did not change
    assert page.row("edge-02").locator(".link[data-if='eth1']").get_attribute("data-state") == "up"


def test_a_reboot_shows_on_the_fleet_view_and_the_page_reconnects_after_it(console,
                                                                          make_server):
    page = console(make_server(clock=VirtualClock()))
    page.open()
    page.page.wait_for_selector(".row[data-name='access-01'][data-live=true]")
    page.running.call(lambda: page.running.fleet.get("access-01").reboot(30))
    page.page.wait_for_selector(".row[data-name='access-01'][data-status=rebooting]",
                                timeout=2000)
    assert page.row("access-01").get_attribute("data-live") == "false"
    # (the page waits for the device rather than knock at it: no failed WebSocket)
    page.page.wait_for_timeout(700)                  # (real time: its first look, after 0.5 s)
    assert page.row("access-01").get_attribute("data-status") == "rebooting"
    page.running.advance(31)
    page.page.wait_for_selector(".row[data-name='access-01'][data-status=up][data-live=true]")
    assert page.row("access-01").locator(".link[data-if='ge-0/0/1']").get_attribute(
        "data-state") == "up"


def markup_fleet(tmp_path: Path) -> Path:
    """A fleet of one device whose profile's description is markup."""
    profile = tmp_path / "markup-router"
    shutil.copytree(BUILTIN_PROFILES / "router", profile)
    text = (profile / "profile.yaml").read_text()
    start = text.index("description:")
    end = text.index("modules:")
    (profile / "profile.yaml").write_text(
        text[:start] + "description: |\n  " + MARKUP + "\n" + text[end:])
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text("profiles:\n  markup-router: ./markup-router\n"
                     "devices:\n  - name: lab-1\n    profile: markup-router\n")
    return fleet


def test_device_data_containing_markup_is_shown_as_text(console, make_server, tmp_path):
    running = make_server(fleet=markup_fleet(tmp_path))
    escaped = MARKUP.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    with running.connect("lab-1") as client:
        reply = client.rpc(f"<edit-config><target><running/></target><config>"
                           f"<interfaces xmlns='{IF}'><interface><name>eth0</name>"
                           f"<description>{escaped}</description></interface></interfaces>"
                           f"</config></edit-config>")
        assert reply.find("nc:ok", NS) is not None, rpc_errors(reply)
    page = console(running)
    page.open("#/device/lab-1")
    page.page.wait_for_selector("#tree button.key:text-is('eth0')")
    assert page.page.text_content("#dev-description") == MARKUP
    assert page.page.eval_on_selector("#dev-description", "e => e.children.length") == 0
    cell = page.page.locator("#tree tr", has=page.page.locator("button.key:text-is('eth0')"))
    assert MARKUP in cell.text_content()
    assert page.page.locator("#tree img, #tree b, #tree script, #dev-description *").count() == 0
    assert page.page.evaluate("window.pwned") is None


def test_the_console_works_over_wss(console, make_server, tmp_path):
    import trustme
    ca = trustme.CA()
    pem = tmp_path / "server.pem"
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(pem)
    running = make_server(tls_cert=pem)
    page = console(running, ignore_https_errors=True)
    page.open("#/device/core-1")
    page.page.wait_for_selector("#tree button.key:text-is('eth0')")
    assert page.page.evaluate("location.protocol") == "https:"


def test_only_the_rows_in_view_are_drawn_in_a_large_fleet(console, make_server, tmp_path):
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text("devices:\n  - name: sw-{n:04d}\n    count: 2000\n    profile: switch\n")
    page = console(make_server(fleet=fleet))
    page.open()
    page.page.wait_for_function("() => document.getElementById('fleet-count').textContent"
                                " === '2000 devices'")
    drawn = page.page.locator(".row").count()
    assert 10 < drawn < 80
    page.page.eval_on_selector("#fleet-scroll", "e => { e.scrollTop = 1500 * 28; }")
    page.page.wait_for_selector(".row[data-name='sw-1501']")
    assert page.page.locator(".row").count() < 80
    page.page.fill("#fleet-search", "sw-1999")
    page.page.wait_for_function("() => document.getElementById('fleet-count').textContent"
                                " === '1 of 2000 devices'")
    assert page.page.locator(".row").evaluate_all("rows => rows.map(r => r.dataset.name)") == \
        ["sw-1999"]
    # at most the pool's worth of sessions are open to the fleet at any time
    time.sleep(0.5)   # (real time: the pool settles 150 ms after the view stops moving)
    sessions = page.running.call(lambda: sum(len(d.sessions) for d in page.running.fleet))
    assert sessions <= 40


def test_a_drill_started_from_the_page_shows_its_progress_and_lands_on_the_fleet(
        console, make_server):
    running = make_server(clock=VirtualClock(), drill_grace=0)
    page = console(running)
    page.open("#/drill")
    page.page.wait_for_selector(".row[data-name='edge-01'][data-live=true]")
    page.page.select_option("#drill-scenario", "uplink-flap-storm")
    page.page.click("#drill-start")
    page.page.wait_for_selector("body[data-drill-state=running]")
    running.advance(31)               # the storm's first round (at 30 s, jitter up to 3 s)
    running.advance(3)
    page.page.wait_for_selector("#drill-timeline li[data-kind=event]")
    first = page.page.locator("#drill-timeline li[data-kind=event]").first.text_content()
    device = "edge-01" if "device=edge-01" in first else "edge-02"
    page.page.wait_for_selector(f"#drill-fleet-slot .row[data-name='{device}'] "
                                ".link[data-if='eth0'][data-state=down]")
    # the run's status, read again every second: the event is counted, the run goes on
    page.page.wait_for_function("() => Number(document.querySelector("
                                "\"dd[data-fact='events raised']\").textContent) >= 1")
    assert page.page.text_content("dd[data-fact='state']") == "running"
    running.advance(400)              # past the end of the drill
    page.page.wait_for_selector("body[data-drill-state=finished]")
    assert page.page.text_content("dd[data-fact='verdict']") in ("pass", "fail")
    assert page.page.locator("#drill-timeline li[data-kind=run][data-state=finished]").count() == 1


@pytest.mark.slow
def test_the_console_benchmark_runs():
    _playwright()          # (skips as the other tests do without a browser)
    result = subprocess.run([sys.executable, "-m", "bench", "console", "--devices", "20",
                             "--runs", "1"], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "fleet view drawn" in result.stdout and "baseline" in result.stdout


def test_the_ready_made_requests_and_the_raw_editor(console):
    page = console()
    page.open("#/device/access-01")
    page.page.wait_for_selector("#tree button.key:text-is('ge-0/0/1')")
    # <get-config> filtered by the list entry picked in the tree
    page.select("ge-0/0/2")
    page.page.select_option("#req-store", "running")
    page.request("get-config")
    page.wait_reply("get-config running")
    assert page.page.text_content("#tree-source") == "get-config running (filtered)"
    assert page.page.locator("#tree button.key").all_text_contents() == ["ge-0/0/2"]
    # lock, validate, discard, a confirmed commit, unlock: each answered <ok/>
    page.page.select_option("#req-store", "candidate")
    for rpc, label in [("lock", "lock"), ("validate", "validate"),
                       ("discard-changes", "discard-changes"),
                       ("confirmed-commit", "confirmed commit"), ("commit", "commit"),
                       ("unlock", "unlock")]:
        page.page.evaluate("() => { document.getElementById('reply-meta').textContent = ''; }")
        page.request(rpc)
        assert page.wait_reply(label).endswith(" ms") and "rpc-error" not in \
            page.page.text_content("#reply-meta"), rpc
        assert "<ok/>" in page.page.text_content("#reply")
    # a second lock of the same datastore by another session is refused, plainly
    with page.running.connect("access-01") as other:
        reply = other.rpc("<lock><target><candidate/></target></lock>")
        assert reply.find("nc:ok", NS) is not None
        page.request("lock")
        assert "rpc-error" in page.wait_reply("lock")
        assert page.page.text_content("#errors .error-tag") == "lock-denied"
    # the raw editor: an operation of one's own
    page.page.click("#raw-box summary")
    page.page.fill("#raw-xml", f"<get><filter type='subtree'><interfaces xmlns='{IF}'>"
                               "<interface><name>mgmt0</name><oper-status/></interface>"
                               "</interfaces></filter></get>")
    page.page.focus("#raw-xml")
    page.page.keyboard.press("Control+Enter")
    page.wait_reply("raw")
    assert "<oper-status>up</oper-status>" in page.page.text_content("#reply")
    assert page.page.text_content("#tree-source") == "raw request"
    # not XML at all: said so, nothing sent
    page.page.fill("#raw-xml", "<get>")
    page.page.click("#raw-send")
    page.page.wait_for_selector("#errors .error-card:has-text('not well-formed')")


def test_a_reset_device_comes_back_on_the_fleet_view_with_its_fixture_links(console):
    page = console()
    page.open()
    link = ".row[data-name='access-02'] .link[data-if='ge-0/0/1']"
    page.page.wait_for_selector(".row[data-name='access-02'][data-live=true]")
    status, _ = page.running.api("/api/devices/access-02/events", "POST",
                                 b'{"event": "link-down", "interface": "ge-0/0/1"}')
    assert status == 200
    page.page.wait_for_selector(f"{link}[data-state=down]", timeout=1000)
    status, _ = page.running.api("/api/devices/access-02/reset", "POST", b"{}")
    assert status == 200
    page.page.wait_for_selector(f"{link}[data-state=up]")       # read again after the reset
    page.page.wait_for_selector(".row[data-name='access-02'][data-live=true]")
