"""The benchmarks still run (tiny sizes; the figures themselves are not checked here)."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_startup_benchmark_runs():
    result = subprocess.run([sys.executable, "-m", "bench", "startup", "--devices", "50", "--runs", "1"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "netconf-emulator" in result.stdout and "ratio" in result.stdout


def test_unknown_benchmark_is_refused():
    result = subprocess.run([sys.executable, "-m", "bench", "nope"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2 and "unknown benchmark 'nope'" in result.stderr


def test_validation_benchmark_runs():
    result = subprocess.run([sys.executable, "-m", "bench", "validation", "--interfaces", "20",
                             "--runs", "2"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "full validation" in result.stdout and "validate_change" in result.stdout


def test_netconf_benchmark_runs():
    result = subprocess.run([sys.executable, "-m", "bench", "netconf", "--seconds", "0.3",
                             "--interfaces", "20", "--commits", "3"],
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "<get-config>" in result.stdout and "<commit>" in result.stdout


def test_notify_benchmark_runs():
    result = subprocess.run([sys.executable, "-m", "bench", "notify", "--devices", "5"],
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "5/5" in result.stdout


def test_reset_benchmark_runs():
    result = subprocess.run([sys.executable, "-m", "bench", "reset", "--devices", "10",
                             "--samples", "5"], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "reset one device" in result.stdout and "reset 10 devices" in result.stdout


def test_scale_benchmark_runs():
    result = subprocess.run([sys.executable, "-m", "bench", "scale", "--sizes", "10,40",
                             "--seconds", "0.2", "--runs", "2", "--devices", "5"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "each request different" in result.stdout and "fleet poll" in result.stdout


def test_ssh_benchmark_runs():
    result = subprocess.run([sys.executable, "-m", "bench", "ssh", "--connects", "3", "--seconds",
                             "0.3", "--devices", "20"], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "connect + hello" in result.stdout and "20 devices, --ssh-port" in result.stdout


def test_fixture_benchmark_runs():
    result = subprocess.run([sys.executable, "-m", "bench", "fixture", "--runs", "1", "--resets", "5",
                             "--seconds", "0.2", "--rounds", "1"],
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "default fleet started" in result.stdout and "emulator.client" in result.stdout


@pytest.mark.slow
def test_drill_benchmark_runs():
    result = subprocess.run([sys.executable, "-m", "bench", "drill", "--devices", "20",
                             "--rate", "20", "--seconds", "1", "--virtual-events", "200"],
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    [ours] = [line for line in result.stdout.splitlines() if "netconf-emulator drill" in line]
    assert "20/20" in ours                    # every event raised, every notification received
    assert "virtual clock" in result.stdout


def test_fairness_benchmark_runs():
    result = subprocess.run([sys.executable, "-m", "bench", "fairness", "--interfaces", "50",
                             "--baseline", "0.3"], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "the bystander alone" in result.stdout and "<get> of everything" in result.stdout
