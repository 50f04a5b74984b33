"""The API of drills: the shipped scenarios, and runs (start, progress,
timeline, a live stream of it, stop)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import tornado.ioloop
import tornado.iostream

from emulator.api.handlers import ApiError, ApiHandler, ApiJsonBody
from emulator.scenarios import model
from emulator.scenarios.engine import Run, State
from emulator.scenarios.runs import CannotPlay, TooManyRuns

# Entries a stream client may fall behind by before it is let go (its memory
# is ours): a drill that raises 200 events a second leaves 50 s of slack.
STREAM_BACKLOG = 10_000
# Clients following one run's stream at once (each is called on every entry).
MAX_STREAMS = 32
MAX_SPEED = 1_000_000.0


def _scenario_summary(path) -> dict[str, Any]:
    try:
        return model.load(path).summary()
    except model.ScenarioError as exc:
        return {"name": path.stem, "error": str(exc)}


class ScenarioListHandler(ApiHandler):
    def get(self) -> None:
        self.send_json({"scenarios": [_scenario_summary(p) for p in model.shipped().values()]})


class ScenarioHandler(ApiHandler):
    def get(self, name: str) -> None:
        path = model.shipped().get(name)
        if path is None:
            raise ApiError(404, f"no shipped scenario named {name!r} "
                                f"(there are: {', '.join(model.shipped()) or 'none'})")
        try:
            scenario = model.load(path)
        except model.ScenarioError as exc:
            raise ApiError(500, str(exc)) from None
        self.send_json({**scenario.summary(), "source": scenario.text})


class RunsHandler(ApiJsonBody):
    EXAMPLE = '{"scenario": "uplink-flap-storm", "speed": 10}'
    KEYS = {"scenario", "source", "seed", "speed", "grace", "wait_for_sessions"}

    def get(self) -> None:
        self.send_json({"runs": [_brief(run) for run in self.emulator.runs]})

    async def post(self) -> None:
        body = self.json_body(keys=self.KEYS)
        if ("scenario" in body) == ("source" in body):
            raise ApiError(400, "give either \"scenario\" (a shipped drill's name) or "
                                "\"source\" (a drill file's YAML text)")
        try:
            if "scenario" in body:
                name = body["scenario"]
                path = model.shipped().get(name) if isinstance(name, str) else None
                if path is None:
                    raise ApiError(404, f"no shipped scenario named {name!r} "
                                        f"(there are: {', '.join(model.shipped()) or 'none'})")
                scenario = model.load(path)
            else:
                if not isinstance(body["source"], str):
                    raise ApiError(400, "\"source\" must be the drill file's text")
                # (YAML is parsed in Python: a 256 KiB drill takes a second, off the loop)
                scenario = await tornado.ioloop.IOLoop.current().run_in_executor(
                    None, model.parse, body["source"], "uploaded drill")
        except model.ScenarioError as exc:
            raise ApiError(400, str(exc)) from None
        seed = _number(body, "seed", int, 0, 2**63 - 1)
        speed = _number(body, "speed", float, 1e-6, MAX_SPEED)
        grace = _number(body, "grace", float, 0.0, 3600.0)
        sessions = _number(body, "wait_for_sessions", int, 0, 1_000_000)
        try:
            run = self.emulator.runs.start(
                scenario, seed=seed, speed=1.0 if speed is None else speed,
                grace=self.emulator.options.drill_grace if grace is None else grace,
                wait_for_sessions=sessions or 0)
        except TooManyRuns as exc:
            raise ApiError(409, str(exc)) from None
        except CannotPlay as exc:
            raise ApiError(400, str(exc)) from None
        self.set_header("Location", f"/api/scenarios/runs/{run.id}")
        self.send_json(run.status(), 201)


def _number(body: dict[str, Any], key: str, kind: type, low: float, high: float) -> Any:
    if key not in body:
        return None
    value = body[key]
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        ok = ok and float(value).is_integer()
    if not ok or not low <= value <= high:
        what = "a whole number" if kind is int else "a number"
        raise ApiError(400, f"\"{key}\" must be {what} from {low:g} to {high:g}")
    return kind(value)


def _brief(run: Run) -> dict[str, Any]:
    return {"id": run.id, "scenario": run.scenario.name, "seed": run.seed,
            "state": run.state.value, "verdict": run.verdict,
            "drill_time": round(run.drill_time(), 6)}


class RunHandler(ApiHandler):
    def run(self, run_id: str) -> Run:
        run = self.emulator.runs.get(run_id)
        if run is None:
            raise ApiError(404, f"no run {run_id!r} (GET /api/scenarios/runs lists them)")
        return run

    def get(self, run_id: str) -> None:
        self.send_json(self.run(run_id).status())


class RunStopHandler(RunHandler, ApiJsonBody):
    EXAMPLE = '{"restore": true}'

    def post(self, run_id: str) -> None:
        run = self.run(run_id)
        body = self.json_body(empty={}, keys={"restore"})
        restore = body.get("restore", False)
        if not isinstance(restore, bool):
            raise ApiError(400, "\"restore\" must be true or false")
        run.stop(restore=restore)
        self.send_json(run.status())


class RunTimelineHandler(RunHandler):
    def get(self, run_id: str) -> None:
        run = self.run(run_id)
        self.set_header("Content-Type", "application/x-ndjson; charset=utf-8")
        self.finish("".join(json.dumps(e, separators=(",", ":")) + "\n" for e in run.timeline))


class RunStreamHandler(RunHandler):
    """The timeline as server-sent events: what is kept so far, then each
    entry as it happens; ``event: end`` when the run is over."""

    async def get(self, run_id: str) -> None:
        run = self.run(run_id)
        if len(run.listeners) >= MAX_STREAMS:
            raise ApiError(429, f"{MAX_STREAMS} clients follow this run already")
        self.set_header("Content-Type", "text/event-stream; charset=utf-8")
        self.set_header("X-Accel-Buffering", "no")
        queue: asyncio.Queue = asyncio.Queue()
        overflow = []

        def listen(entry: dict[str, Any]) -> None:
            if queue.qsize() >= STREAM_BACKLOG:
                overflow.append(True)
                return
            queue.put_nowait(entry)
        backlog = list(run.timeline)
        first = run.entries - len(backlog)
        run.listeners.append(listen)
        try:
            for n, entry in enumerate(backlog, first):
                self.write(_event(n, entry))
            seq = run.entries
            await self.flush()
            while run.state in (State.WAITING, State.RUNNING) or not queue.empty():
                if overflow:
                    self.write("event: overflow\ndata: {\"error\": \"this stream fell more than "
                               f"{STREAM_BACKLOG} entries behind\"}}\n\n")
                    break
                try:
                    entry = await asyncio.wait_for(queue.get(), 15.0)
                except asyncio.TimeoutError:
                    self.write(": keep-alive\n\n")        # (proxies close silent streams)
                else:
                    self.write(_event(seq, entry))
                    seq += 1
                await self.flush()
            else:
                self.write(f"event: end\ndata: {json.dumps(_brief(run))}\n\n")
            self.finish()
        except tornado.iostream.StreamClosedError:
            pass
        finally:
            run.listeners.remove(listen)


def _event(seq: int, entry: dict[str, Any]) -> str:
    return f"id: {seq}\ndata: {json.dumps(entry, separators=(',', ':'))}\n\n"
