"""A drill's progress on a terminal: a live panel (rich) when the output is
a terminal, a line per timeline entry when it is a file or a pipe (a CI log)."""

from __future__ import annotations

import sys
from typing import IO, Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

# A terminal's panel shows this many of the latest timeline entries.
RECENT = 8


def entry_line(entry: dict[str, Any]) -> str:
    """One timeline entry, for people: ``[  30.000 s] event link-down edge-01 eth0``."""
    kind = entry.get("kind")
    head = f"[{entry.get('t', 0.0):>10.3f} s]"
    if kind == "run":
        more = f" verdict {entry['verdict']}" if entry.get("verdict") else ""
        seed = f" seed {entry['seed']}" if "seed" in entry else ""
        return f"{head} run {entry.get('state')}{seed}{more}"
    where = " ".join(str(entry[k]) for k in ("device", "interface", "component") if k in entry)
    if kind in ("event", "undo", "error"):
        note = entry.get("note") or entry.get("message") or ""
        return f"{head} {kind} {entry.get('event')} {where}{' - ' + note if note else ''}".rstrip()
    if kind == "expect":
        evidence = entry.get("evidence") or {}
        detail = ""
        if "operation" in evidence:
            detail = f" ({evidence['operation']} from session {evidence['session']})"
        elif "seen" in evidence:
            detail = f" (sent meanwhile: {evidence['seen']})"
        return (f"{head} expect {entry.get('state')} {entry.get('name')} {where}: "
                f"{entry.get('expectation', entry.get('note', ''))}{detail}")
    return f"{head} {kind}"


class Progress:
    """Feed it timeline entries and the run's status; it shows them."""

    def __init__(self, out: IO[str] | None = None, live: bool | None = None):
        out = out or sys.stdout
        self.live = out.isatty() if live is None else live
        self.console = Console(file=out, highlight=False, soft_wrap=True,
                               force_terminal=self.live or None, no_color=not self.live)
        self.recent: list[str] = []
        self.status: dict[str, Any] = {}
        self._live: Live | None = None

    def __enter__(self) -> "Progress":
        if self.live:
            self._live = Live(self._panel(), console=self.console, refresh_per_second=8,
                              transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.update(self._panel())
            self._live.__exit__(*exc)
            self._live = None

    def entry(self, entry: dict[str, Any]) -> None:
        line = entry_line(entry)
        if self._live is None:
            self.console.print(line, markup=False)
            return
        self.recent = (self.recent + [line])[-RECENT:]

    def update(self, status: dict[str, Any]) -> None:
        self.status = status
        if self._live is not None:
            self._live.update(self._panel())

    def _panel(self) -> Table:
        s = self.status
        table = Table(title=f"drill {s.get('scenario', '')}", show_header=False, expand=False)
        table.add_column(justify="right", style="bold")
        table.add_column()
        if s:
            fired = sum(step["fired"] for step in s["steps"])
            total = sum(step["count"] for step in s["steps"])
            expectations = s["expectations"]
            table.add_row("state", f"{s['state']}  (seed {s['seed']}, speed {s['speed']:g}x)")
            table.add_row("drill time", f"{s['drill_time']:.1f} s of {s['length']:.1f} s")
            table.add_row("steps fired", f"{fired} of {total}")
            table.add_row("events raised", f"{s['events_raised']} ({s['errors']} refused)")
            table.add_row("affected", f"{s['devices_affected']} devices, "
                                      f"{s['sessions_affected']} sessions")
            table.add_row("expectations", f"{expectations['met']} met, "
                                          f"{expectations['missed']} missed, "
                                          f"{expectations['open']} open")
        for line in self.recent:
            table.add_row("", line)
        return table
