"""A run's report, made from its status (``Run.status()``, or the same JSON
from the API), so that a drill played here and one played on a server
elsewhere report alike: as text for people and as JUnit XML for CI."""

from __future__ import annotations

from typing import Any

from lxml import etree


def lines(status: dict[str, Any]) -> list[str]:
    """The end-of-run report, a line each."""
    expectations = status["expectations"]
    out = [f"drill {status['scenario']} (seed {status['seed']}): {status['state']} at "
           f"{status['drill_time']:g} s of drill time, verdict {status['verdict'] or 'none'}",
           f"  {status['events_raised']} events raised on {status['devices_affected']} devices"
           f" ({status['sessions_affected']} sessions affected, {status['errors']} refused)",
           f"  expectations: {expectations['met']} met, {expectations['missed']} missed"
           + (f", {expectations['not_checked']} not checked" if expectations["not_checked"]
              else "")]
    lateness = status.get("lateness_ms") or {}
    if lateness:
        out.append(f"  events fired late by p50 {lateness['p50']} ms, p99 {lateness['p99']} ms,"
                   f" max {lateness['max']} ms")
    for window in status["windows"]:
        out.append("  " + window_line(window))
    return out


def window_line(window: dict[str, Any]) -> str:
    mark = {"met": "met   ", "missed": "MISSED", "open": "open  "}.get(window["state"],
                                                                      window["state"])
    text = (f"{mark} {window['name']} on {window['device']}: {window['expectation']} "
            f"(from {window['opens']:g} s)")
    evidence = window.get("evidence") or {}
    if "operation" in evidence:
        text += (f"; {evidence['operation']} from session {evidence['session']} at "
                 f"{evidence['t']:g} s")
    elif "seen" in evidence:
        text += f"; the device was sent: {evidence['seen']}"
    return text


def junit(status: dict[str, Any]) -> bytes:
    """JUnit XML: a test case for each expectation on each device; a missed
    one is a failure, with its evidence."""
    windows = status["windows"]
    suite = etree.Element("testsuite", name=f"drill {status['scenario']}",
                          tests=str(len(windows) + 1),
                          failures=str(sum(w["state"] == "missed" for w in windows)),
                          errors="0",
                          skipped=str(sum(w["state"] not in ("met", "missed") for w in windows)),
                          time=f"{status['drill_time']:.3f}")
    properties = etree.SubElement(suite, "properties")
    for name in ("scenario", "seed", "speed", "state", "verdict", "events_raised",
                 "devices_affected", "sessions_affected"):
        etree.SubElement(properties, "property", name=name, value=str(status.get(name)))
    timeline = etree.SubElement(suite, "testcase", classname=f"drill.{status['scenario']}",
                                name="timeline")
    if status["state"] not in ("finished", "stopped"):
        etree.SubElement(timeline, "failure", message=f"the run is {status['state']}")
    etree.SubElement(timeline, "system-out").text = "\n".join(lines(status))
    for window in windows:
        case = etree.SubElement(
            suite, "testcase", classname=f"drill.{status['scenario']}.{window['name']}",
            name=f"{window['device']}: {window['expectation']} (from {window['opens']:g} s)")
        if window["state"] == "missed":
            failure = etree.SubElement(case, "failure", message=window_line(window),
                                       type="ExpectationMissed")
            failure.text = window_line(window)
        elif window["state"] != "met":
            etree.SubElement(case, "skipped", message=f"not checked: the run was "
                                                      f"{status['state']}")
    return etree.tostring(suite, xml_declaration=True, encoding="UTF-8", pretty_print=True)
