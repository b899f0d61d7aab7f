"""The `modelreg` command as a user runs it: serve, db upgrade, db current."""

from __future__ import annotations

import compileall
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import modelreg

MODELREG = [sys.executable, "-m", "modelreg"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MODELREG, *args], capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})}
    )


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _waited_for_cpu(pid: int) -> float:
    """Seconds the process sat runnable but not running: other load's share of its wall time."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9


def _start_and_time(data_dir: Path) -> tuple[subprocess.Popen[str], str, float, float]:
    """Start `modelreg serve` on a fresh data dir; wall seconds to its first answer, less
    the time it waited for a CPU, and the CPU seconds it used."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/api/model_registry/v1/registered_models"
    started = time.monotonic()
    proc = subprocess.Popen(
        [*MODELREG, "serve", "--port", str(port), "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    while time.monotonic() - started < 20:
        try:
            if httpx.get(url, timeout=0.5).status_code == 200:
                wall = time.monotonic() - started - _waited_for_cpu(proc.pid)
                return proc, url, wall, _cpu_seconds(proc.pid)
        except httpx.TransportError:
            time.sleep(0.01)
    proc.kill()
    raise AssertionError(f"modelreg serve never answered: {proc.communicate()[1]}")


def _stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    # uvicorn shuts down gracefully, then re-raises SIGTERM as its exit status.
    assert proc.returncode in (0, -signal.SIGTERM), err
    assert "Application shutdown complete" in err
    return out, err


@pytest.fixture(scope="module")
def installed_bytecode() -> None:
    """modelreg's modules compiled, as installing its wheel leaves them (pip compiles each).

    A checkout installed in editable mode compiles its modules at the first start and keeps
    them, unless PYTHONDONTWRITEBYTECODE is set (as on the machines CI runs on): then every
    start compiles every module from source, about 0.1 to 0.2 s that no installed modelreg
    pays."""
    compileall.compile_dir(Path(modelreg.__file__).parent, quiet=1)


@pytest.mark.usefixtures("installed_bytecode")
def test_serve_answers_within_two_seconds_and_stops_cleanly(tmp_path: Path) -> None:
    # Wall time on a shared machine is noisy: the time the server spent waiting for a CPU
    # that other processes held is taken out, and the best of five fresh starts counts.
    # CPU time moves less with other load, but not little on these shared machines: the
    # same start took 1.4 to 2.1 s of CPU idle, minutes apart, and 2.3 s beside the test
    # suite. The best start must also use less CPU than the 2 s budget.
    walls, cpus = [], []
    for attempt in range(5):
        proc, url, wall, cpu = _start_and_time(tmp_path / f"data{attempt}")
        try:
            walls.append(wall)
            cpus.append(cpu)
            assert (tmp_path / f"data{attempt}" / "modelreg.db").exists()
            assert httpx.post(url, json={"name": "m"}).status_code == 201
        finally:
            out, err = _stop(proc)
        assert "modelreg serving http://127.0.0.1" in err
        assert "modelreg web UI at http://127.0.0.1:" in err
        access = [line for line in out.splitlines() if '"request_id"' in line]
        assert len(access) >= 2, out
        if wall < 2.0 and cpu < 2.0:
            break
    assert min(walls) < 2.0, f"first answers after {walls} seconds"
    assert min(cpus) < 2.0, f"start-up used {cpus} seconds of CPU"


def test_serve_refuses_an_unreachable_database_with_one_line(tmp_path: Path) -> None:
    port = free_port()
    r = run("serve", "--database-url", f"postgresql://nobody@127.0.0.1:{free_port()}/x", "--port", str(port))
    assert r.returncode == 2
    lines = [line for line in r.stderr.strip().splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("error: cannot prepare the database"), r.stderr


def test_db_current_and_upgrade(tmp_path: Path) -> None:
    env = {"MODELREG_DATA_DIR": str(tmp_path / "d")}
    before = run("db", "current", env=env)
    assert before.returncode == 1
    assert "empty" in before.stdout and "modelreg db upgrade" in before.stdout
    up = run("db", "upgrade", env=env)
    assert up.returncode == 0, up.stderr
    assert "database schema at revision" in up.stdout
    after = run("db", "current", env=env)
    assert after.returncode == 0
    assert "up to date" in after.stdout


@pytest.mark.parametrize("args", [["--help"], ["serve", "--help"], ["db", "upgrade", "--help"]])
def test_help_has_examples(args: list[str]) -> None:
    r = run(*args)
    assert r.returncode == 0
    if args != ["--help"]:
        assert "Example:" in r.stdout
