"""Start, watch and stop the servers under test: modelreg, MLflow and the floor.

Each runs in its own session (process group) on a free loopback port, with its output in
a log file in the run's work directory. Startup time is from the spawn to the first
answered API request. Scratch PostgreSQL databases are created here and dropped when the
run ends.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench._proc import TreeSampler

__all__ = [
    "Database",
    "Server",
    "floor_server",
    "free_port",
    "mlflow_bin",
    "mlflow_server",
    "modelreg_server",
]

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass
class Database:
    """Where a system keeps its data in one run: a SQLite file, or a scratch PostgreSQL database."""

    kind: str  # "sqlite" or "postgresql"
    workdir: Path
    pg_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    created: list[str] = field(default_factory=list)

    def _pg_admin(self, sql: str) -> None:
        import psycopg

        url = self.pg_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def url_for(self, system: str) -> str:
        """A SQLAlchemy URL for `system`'s database (created empty on PostgreSQL)."""
        if self.kind == "sqlite":
            # modelreg names its file itself (modelreg.db in its --data-dir).
            path = self.workdir / system / f"{system}.db"
            path.parent.mkdir(parents=True, exist_ok=True)
            return f"sqlite:///{path}"
        name = f"bench_{os.getpid()}_{system}"
        self._pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        self._pg_admin(f"CREATE DATABASE {name}")
        self.created.append(name)
        base = self.pg_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
        return f"{base}/{name}"

    def cleanup(self) -> None:
        for name in self.created:
            try:
                self._pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            except Exception as exc:  # a leftover scratch database must not hide the results
                print(f"bench: could not drop {name}: {exc}", file=sys.stderr)
        self.created.clear()


class Server:
    """One server process tree, started in its own process group."""

    def __init__(
        self, name: str, argv: list[str], port: int, ready_path: str, log: Path, env: dict[str, str]
    ) -> None:
        self.name = name
        self.argv = argv
        self.port = port
        self.base_url = f"http://{HOST}:{port}"
        self.ready_path = ready_path
        self.log = log
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.sampler: TreeSampler | None = None
        self.startup_s = 0.0

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 180.0) -> Server:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = self.log.open("wb")
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            self.argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=True,
            cwd=self.log.parent,
        )
        out.close()
        self.sampler = TreeSampler(self.proc.pid).start()
        with httpx.Client(base_url=self.base_url, timeout=5) as client:
            while True:
                if self.proc.poll() is not None:
                    tail = self.log.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{tail}")
                try:
                    if client.get(self.ready_path).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.perf_counter() - started > timeout:
                    self.stop()
                    raise RuntimeError(f"{self.name} did not answer within {timeout:.0f} s; see {self.log}")
                time.sleep(0.02)
        self.startup_s = time.perf_counter() - started
        return self

    def stop(self) -> None:
        if self.sampler is not None:
            self.sampler.stop()
        if self.proc is None or self.proc.poll() is not None:
            return
        # The group is the one this Server started (start_new_session), named by its id.
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def modelreg_server(
    workdir: Path, url: str, workers: int, *, access_log: bool = True, label: str = ""
) -> Server:
    """`modelreg serve` on `url` (a SQLite file's directory becomes its --data-dir)."""
    port = free_port()
    argv = [sys.executable, "-m", "modelreg", "serve", "--host", HOST, "--port", str(port)]
    argv += ["--workers", str(workers)]
    if url.startswith("sqlite:///"):
        argv += ["--data-dir", str(Path(url.removeprefix("sqlite:///")).parent)]
    else:
        argv += ["--database-url", url]
    env = _env(MODELREG_ACCESS_LOG="true" if access_log else "false")
    ready = "/api/model_registry/v1/registered_models?pageSize=1"
    return Server("modelreg", argv, port, ready, workdir / "logs" / f"modelreg-{label or port}.log", env)


def mlflow_bin() -> Path:
    """The `mlflow` command: beside this Python (the bench extra), or in .venv-bench-mlflow/."""
    for candidate in (
        Path(sys.executable).with_name("mlflow"),
        ROOT / ".venv-bench-mlflow" / "bin" / "mlflow",
    ):
        if candidate.exists():
            return candidate
    raise RuntimeError(
        "mlflow is not installed: pip install -e '.[bench]' (or run with --systems modelreg,floor)"
    )


def mlflow_server(workdir: Path, uri: str, workers: int, *, label: str = "") -> Server:
    port = free_port()
    artifacts = workdir / "mlflow" / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    argv = [str(mlflow_bin()), "server", "--backend-store-uri", uri]
    argv += ["--default-artifact-root", artifacts.as_uri(), "--no-serve-artifacts"]
    argv += ["--host", HOST, "--port", str(port), "--workers", str(workers)]
    env = _env(MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true")
    ready = "/api/2.0/mlflow/registered-models/search?max_results=1"
    return Server("mlflow", argv, port, ready, workdir / "logs" / f"mlflow-{label or port}.log", env)


def floor_server(workdir: Path, workers: int, database_url: str | None = None) -> Server:
    """The floor; given modelreg's PostgreSQL database, the floor with a query (bench._floor)."""
    port = free_port()
    argv = [sys.executable, "-m", "bench", "floor-server", "--port", str(port), "--workers", str(workers)]
    name = "floor"
    if database_url:
        argv += ["--database-url", database_url]
        name = "floor-pg"
    return Server(name, argv, port, "/", workdir / "logs" / f"{name}.log", _env())
