"""The runtime: one clock per fleet, settings per fleet, stop and start again."""

from __future__ import annotations

import asyncio
import time

import pytest

from emulator.clock import VirtualClock, rfc3339
from emulator.fleet import load_fleet
from emulator.runtime import Runtime
from emulator.server import StartError
from tests.client import NC, hostname, hostname_edit, rpc_errors
from tests.memory import MemoryWire, connect, subscribe

SYS = "urn:ietf:params:xml:ns:yang:ietf-system"


# -- the virtual clock -------------------------------------------------------------------

def test_timers_run_in_order_of_time_then_of_setting():
    clock = VirtualClock(100.0)
    ran = []
    clock.call_later(5, lambda: ran.append(("b", clock.now())))
    clock.call_at(103, lambda: ran.append(("a", clock.now())))
    clock.call_later(5, lambda: ran.append(("c", clock.now())))
    cancelled = clock.call_later(1, lambda: ran.append("never"))
    cancelled.cancel()
    assert clock.advance(4) == 1 and clock.now() == 104
    assert clock.advance(10) == 2 and clock.now() == 114
    assert ran == [("a", 103), ("b", 105), ("c", 105)]
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_a_timer_set_by_a_timer_runs_in_the_same_advance_when_due():
    clock = VirtualClock(0.0)
    ran = []
    clock.call_later(10, lambda: clock.call_later(10, lambda: ran.append(clock.now())))
    clock.advance(30)
    assert ran == [20.0]


def test_jump_goes_to_the_next_timer():
    clock = VirtualClock(0.0)
    assert clock.jump() == 0 and clock.now() == 0
    clock.call_later(600, lambda: None)
    clock.call_later(600, lambda: None)
    assert clock.jump() == 2 and clock.now() == 600


# (autojump is defined by real idleness: these two tests let a few real milliseconds pass)
def test_autojump_moves_time_when_the_fleet_is_idle():
    clock = VirtualClock(0.0)
    fired = []

    async def main() -> None:
        clock.start_autojump(idle=0.005)
        clock.call_later(600, lambda: fired.append(clock.now()))
        clock.call_later(1200, lambda: fired.append(clock.now()))
        deadline = time.monotonic() + 5
        while len(fired) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        clock.stop_autojump()

    asyncio.run(main())
    assert fired == [600.0, 1200.0]


def test_an_hour_of_device_time_passes_in_well_under_a_second():
    clock = VirtualClock()
    device = load_fleet(None, Runtime(clock=clock)).get("core-1")
    wire = MemoryWire()
    connection, _ = connect(device, wire)
    start = clock.now()
    subscribe(connection, wire, f"<startTime>{rfc3339(start)}</startTime>"
                                f"<stopTime>{rfc3339(start + 3000)}</stopTime>")
    connection.receive(f"<rpc message-id='2' xmlns='{NC}'>{hostname_edit('trial', 'candidate')}"
                       "</rpc>")
    connection.receive(f"<rpc message-id='3' xmlns='{NC}'><commit><confirmed/></commit></rpc>")
    for minute in range(60):      # a link flaps every minute, on the clock
        clock.call_at(start + 60 * minute + 30, lambda: device.raise_event(
            "link-down", {"interface": "eth1"}))
        clock.call_at(start + 60 * minute + 45, lambda: device.raise_event(
            "link-up", {"interface": "eth1"}))
    began = time.perf_counter()
    clock.advance(3600)
    elapsed = time.perf_counter() - began
    assert elapsed < 1.0
    notes = wire.notes()
    # the confirmed commit timed out at 600 s; the subscription ended at 3000 s
    assert "netconf-confirmed-commit" in notes and notes[-1] == "notificationComplete"
    assert notes.count("link-down") == 50          # minutes 0..49 are before the stopTime
    assert device.datastores.pending is None
    assert device.running().findtext(f".//{{{SYS}}}hostname") == "core-1"
    link = device.operational().link("eth1")
    assert link.last_change == start + 59 * 60 + 45


# -- a runtime per fleet -------------------------------------------------------------------

def test_two_fleets_with_different_limits_run_in_one_process(make_server, tmp_path):
    small = make_server(journal_size=3, hello_timeout=10, data_dir=tmp_path / "small",
                        clock=VirtualClock())
    large = make_server(journal_size=100, hello_timeout=100, data_dir=tmp_path / "large",
                        clock=VirtualClock())
    for running in (small, large):
        with running.connect("core-1") as client:
            for _ in range(5):
                client.rpc("<get-config><source><running/></source></get-config>")
    assert len(small.api("/api/devices/core-1/journal")[1]["entries"]) == 3
    assert len(large.api("/api/devices/core-1/journal")[1]["entries"]) == 12
    # each fleet keeps its own hello timeout, on its own clock
    with small.connect(send_hello=False) as quiet_small, \
            large.connect(send_hello=False) as quiet_large:
        small.advance(10)
        large.advance(10)
        assert quiet_small.wait_closed()[0] == 1002
        assert large.call(lambda: len(large.fleet.get("core-1").sessions)) == 1
        large.advance(90)
        assert quiet_large.wait_closed()[0] == 1002
    # and its own session ids
    assert small.runtime.next_session_id() < 100 and small.runtime is not large.runtime


def test_a_fleet_stops_and_starts_again_in_the_same_process(make_server):
    running = make_server()

    def restart() -> None:
        asyncio.run_coroutine_threadsafe(running.emulator.stop(), running.loop).result(15)
        asyncio.run_coroutine_threadsafe(running.emulator.start(), running.loop).result(15)

    with running.connect("core-1") as client:
        assert rpc_errors(client.rpc(hostname_edit("kept"))) == []
    restart()
    assert running.runtime.storage is not None
    with running.connect("core-1") as client:
        assert hostname(client) == "kept"
        assert rpc_errors(client.rpc(hostname_edit("again"))) == []
    restart()
    with running.connect("core-1") as client:
        assert hostname(client) == "again"
    assert running.api("/api/health")[1]["sessions"] == 0


def test_the_data_dir_holds_one_server_at_a_time(make_server, tmp_path):
    import os
    first = make_server(data_dir=tmp_path / "shared")
    with pytest.raises(StartError) as refused:
        make_server(data_dir=tmp_path / "shared", fresh=True)
    message = str(refused.value)
    assert f"PID {os.getpid()}" in message and str(tmp_path / "shared") in message
    assert "\n" not in message
    with first.connect("core-1") as client:     # --fresh wiped nothing
        assert rpc_errors(client.rpc(hostname_edit("mine"))) == []
    first.stop()
    second = make_server(data_dir=tmp_path / "shared")   # free once the first has stopped
    with second.connect("core-1") as client:
        assert hostname(client) == "mine"


def test_the_clock_api_moves_a_virtual_clock_and_refuses_a_real_one(make_server, tmp_path):
    running = make_server(clock=VirtualClock(), data_dir=tmp_path / "v")
    with running.connect("core-1") as client:
        assert rpc_errors(client.rpc(hostname_edit("trial", "candidate"))) == []
        assert rpc_errors(client.rpc("<commit><confirmed/></commit>")) == []
        status, clock = running.api("/api/clock")
        assert status == 200 and clock["clock"] == "virtual" and clock["next_timer"] is not None
        status, moved = running.api("/api/clock", "POST", b'{"advance": 599}')
        assert status == 200 and moved["timers_run"] == 0
        assert hostname(client) == "trial"
        status, moved = running.api("/api/clock", "POST", b'{"jump": true}')
        assert status == 200 and moved["timers_run"] == 1 and moved["time"] == clock["next_timer"]
        assert hostname(client) == "core-1"            # rolled back at 600 s
    for body in (b'{"advance": -1}', b'{"advance": "1"}', b'{"jump": 1}', b'{}', b"[]"):
        status, answer = running.api("/api/clock", "POST", body)
        assert status == 400 and answer["error"], body
    real = make_server(data_dir=tmp_path / "r")
    status, answer = real.api("/api/clock", "POST", b'{"advance": 1}')
    assert status == 409 and "--clock virtual" in answer["error"]
    assert real.api("/api/health")[1]["clock"] == "real"


# -- what the review found --------------------------------------------------------------

def test_cancelled_timers_do_not_pile_up_on_a_clock_that_does_not_move():
    clock = VirtualClock(0.0)
    held = []
    for _ in range(10_000):
        timer = clock.call_later(60, lambda payload=bytearray(1000): held.append(payload))
        timer.cancel()
    assert len(clock._timers) < 200
    assert clock.advance(120) == 0 and held == []


def test_a_timer_that_fails_is_logged_and_the_others_still_run(caplog):
    clock = VirtualClock(0.0)
    ran = []
    clock.call_later(1, lambda: ran.append(1))
    clock.call_later(2, lambda: 1 / 0)
    clock.call_later(3, lambda: ran.append(3))
    assert clock.advance(10) == 3 and ran == [1, 3] and clock.now() == 10
    assert "ZeroDivisionError" in caplog.text


def test_autojump_waits_for_a_client_in_the_middle_of_its_hello():
    clock = VirtualClock(0.0)
    fired = []

    async def main() -> None:
        clock.start_autojump(idle=0.005)
        clock.hold("client")
        clock.call_later(60, lambda: fired.append(clock.now()))
        for _ in range(10):
            await asyncio.sleep(0.005)
        assert fired == []                   # held: no jump
        clock.release("client")
        deadline = time.monotonic() + 5
        while not fired and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        clock.stop_autojump()

    asyncio.run(main())
    assert fired == [60.0]
    with pytest.raises(ValueError):     # (0 is "as fast as it can"; just above is a mistake)
        asyncio.run(_start_autojump(VirtualClock(), 0.001))


async def _start_autojump(clock: VirtualClock, idle: float) -> None:
    clock.start_autojump(idle)


def test_a_virtual_clock_never_starts_before_what_the_data_dir_holds(make_server, tmp_path):
    first = make_server(data_dir=tmp_path / "d")      # the real clock: it is 2026 or later
    with first.connect("core-1") as client:
        assert rpc_errors(client.rpc(hostname_edit("x"))) == []
    first.stop()
    clock = VirtualClock()
    second = make_server(data_dir=tmp_path / "d", clock=clock)
    assert clock.now() > time.time() - 3600
    assert any("virtual clock starts at" in n for n in second.emulator.notices)
    booted = second.call(lambda: second.fleet.get("core-1").started)
    assert booted == clock.now()


def test_the_clock_api_refuses_to_go_past_the_year_9999(make_server):
    running = make_server(clock=VirtualClock())
    status, answer = running.api("/api/clock", "POST", b'{"advance": 1e12}')
    assert status == 400 and "9999" in answer["error"]
    assert running.api("/api/clock", "POST", b'{"advance": 1, "jump": true}')[0] == 400
    assert running.api("/api/health")[0] == 200


def test_a_data_dir_that_is_a_file_is_refused(make_server, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(StartError, match="is not a directory"):
        make_server(data_dir=tmp_path / "file")


def test_a_foreign_sqlite_file_is_refused_and_left_exactly_as_it_was(make_server, tmp_path):
    import sqlite3
    data = tmp_path / "d"
    make_server(data_dir=data).stop()
    (data / "datastores.sqlite").unlink()
    for leftover in data.glob("datastores.sqlite-*"):
        leftover.unlink()
    connection = sqlite3.connect(data / "datastores.sqlite")
    connection.execute("CREATE TABLE invoices (id INTEGER)")
    connection.commit()
    connection.close()
    before = (data / "datastores.sqlite").read_bytes()
    with pytest.raises(StartError, match="'invoices'"):
        make_server(data_dir=data)
    assert (data / "datastores.sqlite").read_bytes() == before
    assert sorted(p.name for p in data.iterdir()) == [".netconf-emulator-data", "datastores.sqlite"]


def test_stored_rows_are_checked_again_when_the_profile_key_changes(make_server, tmp_path):
    import sqlite3
    data = tmp_path / "d"
    first = make_server(data_dir=data)
    for name, value in (("core-1", "kept"), ("edge-01", "broken")):
        with first.connect(name) as client:
            assert rpc_errors(client.rpc(hostname_edit(value))) == []
    first.stop()
    db = sqlite3.connect(data / "datastores.sqlite")
    db.execute("UPDATE profiles SET profile = 'router:an-older-module-set'")
    db.execute("UPDATE datastores SET xml = '<data' WHERE device = 'edge-01'")
    db.commit()
    db.close()
    running = make_server(data_dir=data)
    [note] = running.emulator.notices
    assert "device edge-01" in note and "running is not XML" in note
    with running.connect("core-1") as client:          # still valid: kept, and re-recorded
        assert hostname(client) == "kept"
    with running.connect("edge-01") as client:
        assert hostname(client) == "edge-01"
    running.stop()
    assert make_server(data_dir=data).emulator.notices == []


def test_a_commit_that_cannot_be_stored_keeps_the_candidate():
    import sqlite3

    from emulator.datastore.storage import Storage
    from tests.memory import connect

    clock = VirtualClock()
    runtime = Runtime(clock=clock)
    runtime.storage = Storage(None, clock.now)
    device = load_fleet(None, runtime).get("core-1")
    connection, wire = connect(device)
    connection.receive(f"<rpc message-id='1' xmlns='{NC}'>{hostname_edit('staged', 'candidate')}"
                       "</rpc>")

    def disk_full(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    runtime.storage.save = disk_full
    connection.receive(f"<rpc message-id='2' xmlns='{NC}'><commit/></rpc>")
    assert "<rpc-error>" in wire.sent[-1] and "operation-failed" in wire.sent[-1]
    assert device.datastores.candidate_dirty
    assert device.datastores.tree("candidate").findtext(f".//{{{SYS}}}hostname") == "staged"
    assert device.running().findtext(f".//{{{SYS}}}hostname") == "core-1"
