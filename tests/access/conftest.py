"""Servers with authentication on, and the people who call them.

`AuthEnv` is the app (through Starlette's TestClient) with `auth=True` and one server
admin, `root-admin`, whose first token is minted straight in the server's database (the
one step there is no HTTP for); everything after that goes through the admin API.
`auth_env` gives one on SQLite and on PostgreSQL (a scratch database, with the managed
registries it creates dropped at the end); `sqlite_env` only the first.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from modelreg.api.admin_routes import issue_token
from modelreg.api.app import create_app
from modelreg.service.registry import upgrade_schema
from modelreg.service.transactions import transaction
from modelreg.settings import Settings
from tests.conftest import _scratch_database

ADMIN_USER = "root-admin"
ADMIN = "/api/admin/v1"
SELF = "/api/modelreg/v1"
V1 = "/api/model_registry/v1"
V1ALPHA3 = "/api/model_registry/v1alpha3"
ACCESS_BACKENDS = ("sqlite", "postgresql")
Json = dict[str, Any]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, f"{r.request.method} {r.request.url} -> {r.status_code} {r.text}"
    return r.json() if r.content else None


def refused(r: httpx.Response, status: int, contains: str | None = None) -> str:
    """An error answer of `status` in the `{code, message}` shape; returns the message."""
    assert r.status_code == status, f"{r.request.method} {r.request.url} -> {r.status_code} {r.text}"
    body = r.json()
    assert set(body) == {"code", "message"}, body
    if contains is not None:
        assert contains in body["message"], body
    return str(body["message"])


def unique(prefix: str) -> str:
    """A registry or user name no other test (or concurrent run on the same server) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def scoped(registry: str | None, path: str) -> str:
    """`path` in `registry` (None or "default": the plain paths)."""
    return path if registry in (None, "default") else f"/registries/{registry}{path}"


@dataclass
class AuthEnv:
    client: TestClient
    settings: Settings
    backend: str
    admin_token: str
    created: list[str] = field(default_factory=list)  # registries to purge at the end

    @property
    def admin(self) -> dict[str, str]:
        return bearer(self.admin_token)

    @property
    def control(self) -> Any:
        return self.client.app.state.registries.control  # type: ignore[attr-defined]

    def request(self, method: str, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
        headers = dict(kw.pop("headers", None) or {})
        if token is not None:
            headers.update(bearer(token))
        return self.client.request(method, path, headers=headers, **kw)

    # -- administration, as root-admin

    def token(self, user: str, name: str = "test", expires: int | None = None) -> tuple[str, str]:
        """(token id, secret) of a new token for `user`."""
        body: Json = {"user": user, "name": name}
        if expires is not None:
            body["expiresInSeconds"] = expires
        out = ok(self.client.post(f"{ADMIN}/tokens", json=body, headers=self.admin), 201)
        return out["id"], out["token"]

    def registry(self, name: str, **fields: Any) -> Json:
        out = ok(
            self.client.post(f"{ADMIN}/registries", json={"name": name, **fields}, headers=self.admin), 201
        )
        self.created.append(name)
        return out  # type: ignore[no-any-return]

    def grant(
        self, registry: str, subject: str, role: str, kind: str = "user", token: str | None = None
    ) -> Json:
        r = self.request(
            "PUT",
            f"{ADMIN}/registries/{registry}/grants/{kind}/{subject}",
            token or self.admin_token,
            json={"role": role},
        )
        return ok(r)  # type: ignore[no-any-return]

    def user_with(self, registry: str, role: str, prefix: str = "user") -> tuple[str, str]:
        """(name, token) of a new user who holds `role` in `registry`."""
        name = unique(prefix)
        self.grant(registry, name, role)
        return name, self.token(name)[1]

    def purge_created(self) -> None:
        for name in self.created:
            self.client.delete(
                f"{ADMIN}/registries/{name}", params={"confirm": name, "purge": "true"}, headers=self.admin
            )
        self.created.clear()


def mint_admin_token(app: Any, user: str = ADMIN_USER) -> str:
    with transaction(app.state.registries.control, write=True) as session:
        _, secret = issue_token(session, user, "bootstrap", None, "test-fixture")
    return secret


@contextmanager
def auth_env_for(settings: Settings, backend: str) -> Iterator[AuthEnv]:
    upgrade_schema(settings)
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        env = AuthEnv(client, settings, backend, mint_admin_token(app))
        try:
            yield env
        finally:
            env.purge_created()


def auth_settings(data_dir: Path, database_url: str | None = None, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "auth": True,
        "admin_users": [ADMIN_USER],
        "access_log": False,
    }
    values.update(overrides)
    return Settings(**values)


def backend_settings(backend: str, tmp_path: Path, worker: str, **overrides: Any) -> Iterator[Settings]:
    """Auth settings on SQLite (in tmp_path) or on a scratch PostgreSQL database."""
    if backend == "sqlite":
        yield auth_settings(tmp_path, **overrides)
        return
    for url in _scratch_database(backend, f"access_{worker}"):
        yield auth_settings(tmp_path, url, **overrides)


@pytest.fixture(scope="module", params=ACCESS_BACKENDS)
def auth_env(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, worker_id_safe: str
) -> Iterator[AuthEnv]:
    backend = str(request.param)
    for settings in backend_settings(backend, tmp_path_factory.mktemp(f"auth-{backend}"), worker_id_safe):
        with auth_env_for(settings, backend) as env:
            yield env


@pytest.fixture
def sqlite_env(tmp_path: Path) -> Iterator[AuthEnv]:
    with auth_env_for(auth_settings(tmp_path / "data"), "sqlite") as env:
        yield env


EnvFactory = Callable[..., AuthEnv]


@pytest.fixture
def make_env(tmp_path: Path) -> Iterator[EnvFactory]:
    """Build SQLite AuthEnvs with extra settings (OIDC, proxy headers, ...)."""
    stack: list[Any] = []

    def build(**overrides: Any) -> AuthEnv:
        data_dir = tmp_path / f"data-{len(stack)}"
        cm = auth_env_for(auth_settings(data_dir, **overrides), "sqlite")
        stack.append(cm)
        return cm.__enter__()

    yield build
    for cm in reversed(stack):
        cm.__exit__(None, None, None)
