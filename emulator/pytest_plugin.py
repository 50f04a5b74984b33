"""The pytest plugin (entry point ``pytest11``): fixtures that serve a fleet
of NETCONF devices in the test process.

- ``netconf_fleet``: one fleet for the whole test session, started the first
  time a test asks for it, and reset to its fixtures before each test that
  uses it (sessions end, datastores, state, journal and replay log return to
  the fixture), so tests never see each other's changes.
- ``fresh_netconf_fleet``: a fleet of the test's own, started for it and
  stopped after it (for a test that changes what a reset does not restore,
  or must start from the clock's first moment).

Both are :class:`emulator.testing.NetconfFleet`. They run on a virtual clock
unless told otherwise: device time starts at 2025-01-01T00:00:00Z and moves
only when the test calls ``advance(seconds)`` or ``jump()``, so a 600 s
confirmed-commit timeout takes no time and no test depends on the wall
clock. Time never goes backwards: on the session's fleet it carries on from
test to test.

Settings (the command line wins over the ini file)::

    [pytest]
    netconf_fleet = tests/fleet.yaml     # default: the embedded default fleet
    netconf_clock = virtual              # or real

    pytest --netconf-fleet tests/fleet.yaml --netconf-clock real
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import pytest

if TYPE_CHECKING:
    from emulator.testing import NetconfFleet

CLOCKS = ("virtual", "real")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("netconf-emulator", "netconf-emulator fleets (netconf_fleet fixture)")
    group.addoption("--netconf-fleet", metavar="FILE", default=None,
                    help="fleet file the netconf_fleet fixtures serve (default: the "
                         "embedded default fleet)")
    group.addoption("--netconf-clock", choices=CLOCKS, default=None,
                    help="device time of the netconf_fleet fixtures (default: virtual)")
    parser.addini("netconf_fleet", "fleet file the netconf_fleet fixtures serve, relative "
                                   "to the ini file (default: the embedded default fleet)")
    parser.addini("netconf_clock", "device time of the netconf_fleet fixtures: virtual "
                                   "(default) or real")


def _settings(config: pytest.Config) -> tuple[Path | None, str]:
    fleet: Path | None = None
    given = config.getoption("--netconf-fleet")
    if given:
        fleet = Path(given)
        if not fleet.is_absolute():
            fleet = Path(config.invocation_params.dir) / fleet
        where = "--netconf-fleet"
    elif config.getini("netconf_fleet"):
        fleet = Path(str(config.getini("netconf_fleet")))
        if not fleet.is_absolute():
            base = config.inipath.parent if config.inipath else config.rootpath
            fleet = base / fleet
        where = "the ini option netconf_fleet"
    if fleet is not None and not fleet.is_file():
        raise pytest.UsageError(f"netconf-emulator: {where}: no such fleet file: {fleet}")
    clock = config.getoption("--netconf-clock") or str(config.getini("netconf_clock") or "virtual")
    if clock not in CLOCKS:
        raise pytest.UsageError(f"netconf-emulator: netconf_clock must be 'virtual' or 'real', "
                                f"not {clock!r}")
    return fleet, clock


def pytest_configure(config: pytest.Config) -> None:
    _settings(config)     # a bad setting stops the run at once, with one line


def _start(config: pytest.Config, data_dir: Path) -> NetconfFleet:
    # Imported here: every pytest run in an environment with this package loads
    # the plugin, and only the runs that use a fleet should pay for the emulator.
    from emulator.testing import NetconfFleet
    from emulator.yamlfile import FixtureError

    fleet_file, clock = _settings(config)
    try:
        return NetconfFleet.start(fleet_file, data_dir=data_dir, clock=clock)
    except FixtureError as exc:
        pytest.fail(f"netconf-emulator: cannot load the fleet: {exc}", pytrace=False)
    except Exception as exc:   # (a start error: say it in one line)
        pytest.fail(f"netconf-emulator: cannot start the fleet: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def netconf_fleet_session(request: pytest.FixtureRequest,
                          tmp_path_factory: pytest.TempPathFactory) -> Iterator[NetconfFleet]:
    """The session's fleet, not reset between tests (``netconf_fleet`` resets it)."""
    fleet = _start(request.config, tmp_path_factory.mktemp("netconf-emulator"))
    yield fleet
    fleet.stop()


@pytest.fixture
def netconf_fleet(netconf_fleet_session: NetconfFleet) -> Iterator[NetconfFleet]:
    """The session's fleet, every device reset to its fixture before the test;
    clients the test made with ``client()`` are closed after it."""
    netconf_fleet_session.reset()
    yield netconf_fleet_session
    netconf_fleet_session.close_clients()


@pytest.fixture
def fresh_netconf_fleet(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[NetconfFleet]:
    """A fleet of the test's own: started for it, stopped after it."""
    fleet = _start(request.config, tmp_path / "netconf-emulator")
    yield fleet
    fleet.stop()
