"""The browser console's fleet view at fleet scale: a real headless Chromium
(Debian's chromium, through Playwright) opening ``/`` on a server of N devices.

- load: from navigation to the fleet view drawn (the page's own clock,
  ``performance.now()`` when it is ready: HTML, modules, GET /api/devices,
  filtering, the visible rows);
- live: until every row in view shows live link states (one NETCONF session
  per visible row: hello, a <get> of the links, <create-subscription>);
- search: one keystroke's filter over every device and redraw;
- scroll: the slowest redraw over 50 jumps through the list.

Baseline, in the same browser and run: the bare ``fetch("/api/devices")`` and
``JSON.parse`` of the same list, which any page showing the fleet must do.

    python -m bench console [--devices 10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.netconf import start
from bench.startup import fleet_file
from bench.table import print_table

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 60_000

BASELINE = """async () => {
  const started = performance.now();
  const devices = await (await fetch("/api/devices")).json();
  return [performance.now() - started, devices.length];
}"""

SCROLL = """async () => {
  const scroll = document.getElementById("fleet-scroll");
  const frame = () => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
  const times = [];
  for (let i = 0; i < 50; i++) {
    scroll.scrollTop = (scroll.scrollHeight - scroll.clientHeight) * ((i * 37) % 50) / 50;
    await frame();
    times.push(Number(document.body.dataset.renderMs));
  }
  scroll.scrollTop = 0;
  await frame();
  times.sort((a, b) => a - b);
  return [times[25], times[49]];
}"""

SEARCH = """async (text) => {
  const input = document.getElementById("fleet-search");
  const count = document.getElementById("fleet-count");
  const before = count.textContent;
  const started = performance.now();
  input.value = text;
  input.dispatchEvent(new Event("input"));
  while (count.textContent === before) await new Promise((done) => setTimeout(done, 1));
  return performance.now() - started - 80;   // (less the page's 80 ms typing pause)
}"""


def measure(browser, base: str, devices: int) -> dict[str, float]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    # (the JSON page's /favicon.ico, which Chromium asks for on its own, is not the console's)
    page.on("console", lambda m: m.type == "error" and
            not (m.location or {}).get("url", "").endswith("/favicon.ico") and
            errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(base + "api/health")        # (a page of the origin, for the baseline fetch)
        baseline, count = page.evaluate(BASELINE)
        assert count == devices, count
        errors.clear()
        started = time.perf_counter()
        page.goto(base + "#/fleet")
        page.wait_for_selector("body[data-ready=true]")
        load = float(page.eval_on_selector("body", "b => b.dataset.readyMs"))
        rows = page.locator(".row").count()
        page.wait_for_function("() => { const rows = [...document.querySelectorAll('.row')]"
                               ".filter(r => r.offsetTop < document.getElementById('fleet-scroll')"
                               ".clientHeight); return rows.length > 0 && rows.every("
                               "r => r.dataset.live === 'true'); }")
        live = (time.perf_counter() - started) * 1000
        scroll, scroll_max = page.evaluate(SCROLL)
        search = page.evaluate(SEARCH, "00042")
        assert not errors, errors
        return {"baseline": baseline, "load": load, "live": live, "scroll": scroll, "scroll_max": scroll_max,
                "search": search, "rows": rows}
    finally:
        context.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench console", description=__doc__)
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sys.exit("bench console: Playwright is not installed (pip install -e '.[test]')")
    if not os.access(CHROMIUM, os.X_OK):
        sys.exit(f"bench console: no browser at {CHROMIUM} (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as tmp:
        fleet = fleet_file(Path(tmp), args.devices)
        process, port = start([sys.executable, "-m", "emulator", "serve", "--fleet", str(fleet),
                               "--port", "0", "--data-dir", str(Path(tmp) / "data"), "--quiet"])
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    runs = [measure(browser, f"http://127.0.0.1:{port}/", args.devices)
                            for _ in range(args.runs)]
                finally:
                    browser.close()
        finally:
            process.terminate()
            process.wait(15)

    def median(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    baseline = median("baseline")
    rows = [
        ["fetch + parse GET /api/devices (baseline)", f"{baseline:.0f} ms", "1.0x"],
        ["fleet view drawn (load)", f"{median('load'):.0f} ms", f"{median('load') / baseline:.1f}x"],
        ["rows in view live (sessions open, subscribed)", f"{median('live'):.0f} ms",
         f"{median('live') / baseline:.1f}x"],
        ["redraw while scrolling (50 jumps): median", f"{median('scroll'):.1f} ms", ""],
        ["redraw while scrolling (50 jumps): slowest", f"{median('scroll_max'):.1f} ms", ""],
        ["search: filter and redraw", f"{median('search'):.1f} ms", ""],
    ]
    print_table(f"browser console, {args.devices} devices (median of {args.runs}; "
                f"{runs[0]['rows']} rows drawn)", ["", "time", "ratio"], rows)


if __name__ == "__main__":
    main()
