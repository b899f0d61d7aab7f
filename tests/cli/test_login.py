"""`modelreg login`, profiles, and how the CLI picks its registry; what it says when it
cannot reach one or is refused."""

from __future__ import annotations

import json
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelreg.api.app import create_app
from modelreg.settings import Settings
from tests.cli.conftest import CLI, free_port
from tests.client.conftest import ThreadServer


def test_login_saves_an_active_profile(cli: CLI, server: str, config_dir: Path, name: str) -> None:
    r = cli("login", server, "--token", "t0ken", MODELREG_URL=None)
    assert r.exit_code == 0, r.stderr
    path = config_dir / "config.json"
    saved = json.loads(path.read_text())
    assert saved == {"active": "default", "profiles": {"default": {"url": server, "token": "t0ken"}}}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # With no MODELREG_URL, commands now go to the active profile.
    assert cli("models", "register", name, MODELREG_URL=None).exit_code == 0
    assert cli("models", "show", name, "--output", "json", MODELREG_URL=None).json()["name"] == name


def test_several_profiles_one_active(cli: CLI, server: str, name: str) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    assert cli("login", server, "--profile", "local", MODELREG_URL=None).exit_code == 0
    assert cli("login", dead, "--profile", "dead", "--no-verify", MODELREG_URL=None).exit_code == 0
    listed = cli("profiles", "list", "--output", "json").json()
    assert listed == [
        {"name": "dead", "url": dead, "registry": None, "active": True, "token": False},
        {"name": "local", "url": server, "registry": None, "active": False, "token": False},
    ]
    assert "local" in cli("profiles", "list").stdout
    # The active profile is dead; --profile picks another; MODELREG_URL overrides the active one.
    assert cli("models", "list", MODELREG_URL=None).exit_code == 3
    assert cli("--profile", "local", "models", "list", MODELREG_URL=None).exit_code == 0
    assert cli("models", "list").exit_code == 0  # MODELREG_URL is the live server
    assert cli("--profile", "dead", "models", "list").exit_code == 3  # --profile beats MODELREG_URL
    assert cli("profiles", "use", "local").exit_code == 0
    assert cli("models", "list", MODELREG_URL=None).exit_code == 0
    unknown = cli("--profile", "nope", "models", "list")
    assert unknown.exit_code == 2 and unknown.error_lines[0].startswith("error: no profile 'nope'")
    assert cli("profiles", "use", "nope").exit_code == 2


def test_login_to_a_wrong_url_saves_nothing(cli: CLI, config_dir: Path) -> None:
    r = cli("login", f"http://127.0.0.1:{free_port()}")
    assert r.exit_code == 3
    assert len(r.error_lines) == 1 and r.error_lines[0].startswith("error: cannot connect to the registry at")
    assert not (config_dir / "config.json").exists()


def test_a_wrong_url_is_one_line_and_exit_3(sh: CLI) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    r = sh("models", "list", MODELREG_URL=url)
    assert r.exit_code == 3
    assert r.error_lines == [
        f"error: cannot connect to the registry at {url}: [Errno 111] Connection refused"
    ]
    assert r.stdout == ""


def test_a_missing_model_is_one_line_and_exit_1(sh: CLI, name: str) -> None:
    r = sh("models", "show", name)
    assert r.exit_code == 1 and r.error_lines == [f"error: no registered model named {name!r}"]


async def _deny(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A registry behind an auth proxy that refuses the token."""
    assert scope["type"] == "http"
    body = b'{"code": "Unauthorized", "message": "token expired"}'
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 401, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture
def denying() -> Iterator[str]:
    with ThreadServer(_deny, lifespan="off") as url:
        yield url


def test_a_refused_token_is_one_line_and_exit_4(cli: CLI, denying: str, name: str) -> None:
    r = cli("models", "show", name, MODELREG_URL=denying, MODELREG_TOKEN="expired")
    assert r.exit_code == 4
    assert r.error_lines == [
        f"error: token expired (401 from {denying}/api/model_registry/v1/registered_model; check the token)"
    ]
    refused = cli("login", denying, "--token", "expired")
    assert refused.exit_code == 4 and len(refused.error_lines) == 1


@pytest.fixture
def guarded(migrated_template: Path, tmp_path: Path) -> Iterator[str]:
    """A registry that requires a token (modelreg's own authentication)."""
    shutil.copytree(migrated_template, tmp_path / "guarded")
    app = create_app(Settings(data_dir=tmp_path / "guarded", access_log=False, auth=True))
    with ThreadServer(app) as url:
        yield url


def test_a_wrong_token_for_a_registry_that_requires_one(cli: CLI, guarded: str) -> None:
    r = cli("models", "list", MODELREG_URL=guarded, MODELREG_TOKEN="wrong")
    assert r.exit_code == 4
    assert len(r.error_lines) == 1 and r.error_lines[0].endswith("check the token)")
    assert cli("login", guarded, "--token", "wrong").exit_code == 4
