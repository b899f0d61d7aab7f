"""A live `modelreg serve` for the CLI's tests, and ways to run the CLI against it: in
this process (Typer's runner, fast) or as the real `python -m modelreg` command."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from modelreg.cli import app
from tests.client.conftest import migrated_template  # noqa: F401 (a fixture, shared)

MODELREG = [sys.executable, "-m", "modelreg"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(data_dir: Path, **extra_env: str) -> Iterator[str]:
    """`modelreg serve` on a free port and `data_dir`, until the block ends; its URL."""
    with serve_process(data_dir, **extra_env) as (_, url):
        yield url


@contextmanager
def serve_process(
    data_dir: Path, *args: str, **extra_env: str
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`modelreg serve` with more `args`, once it answers: its process and URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [*MODELREG, "serve", "--port", str(port), "--data-dir", str(data_dir), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "MODELREG_ACCESS_LOG": "false", **extra_env},
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/readyz/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"modelreg serve did not start: {proc.communicate()[1]}")
        time.sleep(0.05)
    try:
        yield proc, url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`modelreg serve` on a free port and a fresh data directory, for the whole session."""
    with serving(tmp_path_factory.mktemp("serve-data")) as url:
        yield url


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


CLI = Callable[..., Run]


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    return tmp_path / "config"


@pytest.fixture
def env(server: str, config_dir: Path) -> dict[str, str | None]:
    """The environment every CLI call here gets: the live server, a private config."""
    return {
        "MODELREG_URL": server,
        "MODELREG_TOKEN": None,
        "MODELREG_PROFILE": None,
        "MODELREG_CONFIG_DIR": str(config_dir),
        "COLUMNS": "200",
    }


@pytest.fixture
def cli(env: dict[str, str | None]) -> CLI:
    """Run `modelreg ARGS...` in this process; keyword `env` adds to the environment."""

    def invoke(*args: str, input: str | None = None, **extra_env: str | None) -> Run:
        runner = CliRunner()
        result = runner.invoke(app, list(args), env={**env, **extra_env}, input=input, catch_exceptions=False)
        return Run(result.exit_code, result.stdout, result.stderr)

    return invoke


@pytest.fixture
def sh(env: dict[str, str | None]) -> CLI:
    """Run the real `python -m modelreg ARGS...` in a subprocess."""

    def invoke(*args: str, **extra_env: str | None) -> Run:
        merged = {**os.environ, **env, **extra_env}
        full_env = {k: v for k, v in merged.items() if v is not None}
        r = subprocess.run([*MODELREG, *args], capture_output=True, text=True, timeout=60, env=full_env)
        return Run(r.returncode, r.stdout, r.stderr)

    return invoke


@pytest.fixture
def name() -> str:
    """A model name of this test's own (the server is shared by the session)."""
    return f"model-{uuid.uuid4().hex[:10]}"
