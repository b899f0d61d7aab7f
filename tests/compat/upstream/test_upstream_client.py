"""The upstream Python client (`model-registry` on PyPI) against a live `modelreg serve`.

Two client versions cannot share one environment, so each gets its own virtualenv,
created once under `<repo>/.venv-compat/model-registry-<version>/` and reused after
that. `drive_client.py`, run with that virtualenv's Python, drives the client against
a server started here on a free port, on each of the three databases (PostgreSQL and
MariaDB in a fresh scratch database). 0.3.11 speaks v1alpha3; 0.3.18 speaks v1.

Where PyPI or a database server cannot be reached the case skips with the reason,
except under CI=true, where that is a failure.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import _scratch_database

pytestmark = pytest.mark.slow

# The release the issue names (it speaks v1alpha3) and the newest release (it speaks v1),
# with the API path each is expected to use.
CLIENT_API = {
    "0.3.11": "/api/model_registry/v1alpha3/",
    "0.3.18": "/api/model_registry/v1/",
}
CLIENT_VERSIONS = tuple(CLIENT_API)
BACKENDS = ("sqlite", "postgresql", "mariadb")

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
VENVS = REPO / ".venv-compat"
DRIVER = HERE / "drive_client.py"
INSTALLED_MARKER = ".modelreg-compat-installed"

# pip output that means the package index could not be reached, not that the install broke.
OFFLINE_SIGNS = (
    "Could not find a version that satisfies",
    "No matching distribution found",
    "Failed to establish a new connection",
    "Max retries exceeded",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "ProxyError",
)


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run the upstream client compatibility tests)")
    pytest.skip(reason)


def _client_python(version: str) -> Path:
    """The Python of a virtualenv with `model-registry==version`, created when missing."""
    home = VENVS / f"model-registry-{version}"
    python = home / "bin" / "python"
    VENVS.mkdir(exist_ok=True)
    # xdist workers may want the same virtualenv at once: one builds, the others wait.
    with open(VENVS / f"model-registry-{version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (home / INSTALLED_MARKER).exists() and python.exists():
            return python
        shutil.rmtree(home, ignore_errors=True)
        venv.EnvBuilder(with_pip=True, symlinks=True).create(home)
        proc = subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                f"model-registry=={version}",
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if proc.returncode != 0:
            output = proc.stdout + proc.stderr
            shutil.rmtree(home, ignore_errors=True)
            if any(sign in output for sign in OFFLINE_SIGNS):
                _skip_or_fail(
                    f"cannot install model-registry=={version} from the package index:\n{output[-2000:]}"
                )
            pytest.fail(f"pip install model-registry=={version} failed:\n{output[-4000:]}")
        (home / INSTALLED_MARKER).write_text(f"model-registry=={version}\n")
    return python


@pytest.fixture(scope="session", params=CLIENT_VERSIONS)
def client(request: pytest.FixtureRequest) -> tuple[str, Path]:
    """(version, the Python of its virtualenv)."""
    version = str(request.param)
    return version, _client_python(version)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, worker_id_safe: str) -> Iterator[str | None]:
    """None for SQLite (the server's data dir), else the URL of a fresh scratch database."""
    if request.param == "sqlite":
        yield None
        return
    yield from _scratch_database(str(request.param), f"compat_{worker_id_safe}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _log_tail(path: Path, chars: int = 6000) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return text[-chars:]


class Server:
    def __init__(self, url: str, log: Path) -> None:
        self.url = url
        self.log = log

    def log_tail(self) -> str:
        return f"--- server log ({self.log}) ---\n{_log_tail(self.log)}"


@pytest.fixture
def server(database_url: str | None, tmp_path: Path) -> Iterator[Server]:
    """`modelreg serve` on a free port; its output goes to a file shown on failure."""
    port = _free_port()
    log = tmp_path / "server.log"
    cmd = [sys.executable, "-m", "modelreg", "serve", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--data-dir", str(tmp_path / "data")]
    if database_url:
        cmd += ["--database-url", database_url]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELREG_")}
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    srv = Server(f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"modelreg serve exited with {proc.returncode}\n{srv.log_tail()}")
            try:
                with urllib.request.urlopen(f"{srv.url}/readyz/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"modelreg serve was not healthy within 60 s\n{srv.log_tail()}")
            time.sleep(0.2)
        yield srv
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_upstream_client(client: tuple[str, Path], server: Server, tmp_path: Path) -> None:
    version, client_python = client
    # The client builds a fresh TLS context per request even for plain http, and loading
    # the system CA bundle each time costs ~70 ms: point it at an empty bundle instead.
    empty_bundle = tmp_path / "empty-ca-bundle.pem"
    empty_bundle.write_text("")
    env = {**os.environ, "SSL_CERT_FILE": str(empty_bundle), "SSL_CERT_DIR": str(tmp_path)}
    env.pop("KF_PIPELINES_SA_TOKEN_PATH", None)
    try:
        proc = subprocess.run(
            [str(client_python), str(DRIVER), server.url],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
            cwd=tmp_path,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"the client script timed out after 300 s\n{exc.stdout}\n{exc.stderr}\n{server.log_tail()}"
        )
    assert proc.returncode == 0, (
        f"upstream client script failed (exit {proc.returncode})\n"
        f"--- script stdout ---\n{proc.stdout}\n--- script stderr ---\n{proc.stderr}\n{server.log_tail()}"
    )
    assert "all checks passed" in proc.stdout, proc.stdout
    # The access log shows which API version the client spoke.
    assert CLIENT_API[version] in server.log.read_text(), (
        f"model-registry {version} did not call {CLIENT_API[version]}\n{server.log_tail()}"
    )
