"""A real registry for the client's tests: the app on a private SQLite database, served by
uvicorn on a free port of this process (for `Client`) or called in-process through
httpx's ASGITransport (for `AsyncClient`)."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from modelreg.api.app import create_app
from modelreg.client import AsyncClient, Client
from modelreg.service.registry import upgrade_schema
from modelreg.settings import Settings


@dataclass
class Registry:
    url: str
    app: FastAPI
    data_dir: Path


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite database per test session, copied for each test."""
    template = tmp_path_factory.mktemp("template")
    upgrade_schema(Settings(data_dir=template, access_log=False))
    return template


def fresh_app(template: Path, data_dir: Path) -> FastAPI:
    shutil.copytree(template, data_dir, dirs_exist_ok=True)
    return create_app(Settings(data_dir=data_dir, access_log=False))


class ThreadServer:
    """uvicorn on a thread of this process, on a port the OS picked."""

    def __init__(self, app: Any, lifespan: str = "on") -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan=lifespan, access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test registry did not start")
            time.sleep(0.005)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@pytest.fixture
def registry(migrated_template: Path, tmp_path: Path) -> Iterator[Registry]:
    """A registry of its own for one test, listening on 127.0.0.1."""
    data_dir = tmp_path / "registry"
    app = fresh_app(migrated_template, data_dir)
    with ThreadServer(app) as url:
        yield Registry(url, app, data_dir)


class CountingTransport(httpx.BaseTransport):
    """Wraps a transport and records each request's method and path."""

    def __init__(self, inner: httpx.BaseTransport | None = None) -> None:
        self.inner = inner or httpx.HTTPTransport()
        self.requests: list[tuple[str, str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.method, request.url.path))
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()

    def count(self, method: str, contains: str = "") -> int:
        return sum(1 for m, p in self.requests if m == method and contains in p)


@pytest.fixture
def transport() -> CountingTransport:
    return CountingTransport()


@pytest.fixture
def client(registry: Registry, transport: CountingTransport) -> Iterator[Client]:
    with Client(registry.url, transport=transport) as c:
        yield c


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def asgi_app(migrated_template: Path, tmp_path: Path) -> AsyncIterator[FastAPI]:
    """The app of a registry of its own, its lifespan running, to call in-process."""
    app = fresh_app(migrated_template, tmp_path / "registry")
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def aclient(asgi_app: FastAPI) -> AsyncIterator[AsyncClient]:
    """The async client calling the app in-process through httpx's ASGITransport."""
    async with AsyncClient("http://registry.test", transport=httpx.ASGITransport(app=asgi_app)) as c:
        yield c
