"""The README's screenshots of the browser console, made again:

    python docs/screenshots.py          # from the checkout's root; writes docs/console-*.png

A fleet on a virtual clock, Debian's chromium through Playwright (as the tests).
The drill view needs the scenario engine (GET /api/scenarios); without it that
screenshot is left as it is.
"""

from __future__ import annotations

import json
import sys
import tempfile
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import sync_playwright  # noqa: E402

from emulator.testing import NetconfFleet  # noqa: E402

DOCS = Path(__file__).resolve().parent
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, \
            NetconfFleet.start(data_dir=tmp, clock="virtual") as fleet, \
            sync_playwright() as playwright:
        base = f"http://127.0.0.1:{fleet.port}/"
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 820})
        page.set_default_timeout(10_000)

        page.goto(base + "#/fleet")
        page.wait_for_selector(".row[data-name='access-03'][data-live=true]")
        fleet.inject("edge-02", "link-down", interface="eth1")
        fleet.inject("access-02", "link-down", interface="ge-0/0/1")
        page.wait_for_selector(".row[data-name='access-02'] .link[data-if='ge-0/0/1'][data-state=down]")
        page.screenshot(path=DOCS / "console-fleet.png")

        page.goto(base + "#/device/core-1")
        page.wait_for_selector("body[data-subscribed='core-1']")
        row = page.locator("#tree tr", has=page.locator("button.key:text-is('eth2')"))
        row.locator("button.sel", has_text="spare").click()
        page.fill("#req-value", "to lab B")
        page.click("button[data-rpc='edit-config']")
        page.wait_for_function("() => document.getElementById('reply-meta').textContent"
                               ".startsWith('edit-config')")
        row = page.locator("#tree tr", has=page.locator("button.key:text-is('eth0')"))
        row.locator("button.sel", has_text="true").click()
        page.fill("#req-value", "maybe")
        page.click("button[data-rpc='edit-config']")
        page.wait_for_selector("#errors .error-card")
        fleet.inject("core-1", "link-down", interface="eth1")
        page.wait_for_selector("#notif-log li")
        page.screenshot(path=DOCS / "console-device.png")

        try:
            with urllib.request.urlopen(base + "api/scenarios", timeout=10) as answer:
                json.load(answer)
        except urllib.error.HTTPError:
            print("no scenario engine: docs/console-drill.png left as it is")
        else:
            page.goto(base + "#/drill")
            page.wait_for_selector(".row[data-name='edge-02'][data-live=true]")
            page.select_option("#drill-scenario", "uplink-flap-storm")
            page.click("#drill-start")
            page.wait_for_selector("body[data-drill-state=running]")
            for _ in range(10):
                fleet.advance(10)
            fleet.advance(2)
            page.wait_for_function("() => Number(document.querySelector("
                                   "\"dd[data-fact='events raised']\").textContent) >= 10")
            page.screenshot(path=DOCS / "console-drill.png")
        browser.close()


if __name__ == "__main__":
    main()
