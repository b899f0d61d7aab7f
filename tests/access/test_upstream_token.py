"""The upstream `model-registry` client, given a modelreg token as `user_token`, against a
live `modelreg serve` with MODELREG_AUTH=true: it works on the default registry (plain
paths) and on a granted registry (its `/registries/<name>` prefix carried in the server
address), and gets a clear error for a registry it holds no grant in, and for a bad token.

The client's virtualenvs are the ones tests/compat/upstream builds (and reuses) under
`.venv-compat/`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from modelreg.api.admin_routes import issue_token
from modelreg.service.registry import open_database, upgrade_schema
from modelreg.service.transactions import transaction
from modelreg.settings import Settings
from tests.access.conftest import ADMIN, ADMIN_USER, V1, bearer, ok
from tests.compat.upstream.test_upstream_client import CLIENT_VERSIONS, _client_python, _free_port

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parent / "upstream_with_token.py"


class LiveServer:
    def __init__(self, url: str, port: int, admin_token: str, log: Path) -> None:
        self.url = url
        self.port = port
        self.admin = bearer(admin_token)
        self.log = log


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """`modelreg serve` with MODELREG_AUTH=true, its first admin token minted beforehand."""
    home = tmp_path_factory.mktemp("live-auth")
    data = home / "data"
    settings = Settings(data_dir=data, auth=True, admin_users=[ADMIN_USER])
    upgrade_schema(settings)
    db = open_database(settings)
    try:
        with transaction(db, write=True) as session:
            _, admin_token = issue_token(session, ADMIN_USER, "bootstrap", None, "test")
    finally:
        db.dispose()
    port = _free_port()
    log = home / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELREG_")}
    env.update({"MODELREG_AUTH": "true", "MODELREG_ADMIN_USERS": ADMIN_USER})
    cmd = [sys.executable, "-m", "modelreg", "serve", "--port", str(port), "--data-dir", str(data)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=home)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"modelreg serve exited with {proc.returncode}:\n{log.read_text()}")
            try:
                if httpx.get(f"{url}/readyz/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"modelreg serve was not healthy within 60 s:\n{log.read_text()}")
            time.sleep(0.1)
        yield LiveServer(url, port, admin_token, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("version", CLIENT_VERSIONS)
def test_upstream_client_with_a_modelreg_token(live: LiveServer, version: str, tmp_path: Path) -> None:
    client_python = _client_python(version)
    label = version.replace(".", "-")
    granted, other = f"granted-{label}", f"other-{label}"
    with httpx.Client(base_url=live.url, headers=live.admin, timeout=30) as admin:
        assert "requires authentication" in live.log.read_text()
        for name in (granted, other):
            ok(admin.post(f"{ADMIN}/registries", json={"name": name}), 201)
        user = f"client-{label}"
        token = ok(admin.post(f"{ADMIN}/tokens", json={"user": user, "name": "upstream"}), 201)["token"]
        for registry in ("default", granted):
            ok(admin.put(f"{ADMIN}/registries/{registry}/grants/user/{user}", json={"role": "editor"}))
        empty_bundle = tmp_path / "empty-ca-bundle.pem"
        empty_bundle.write_text("")
        env = {**os.environ, "SSL_CERT_FILE": str(empty_bundle), "SSL_CERT_DIR": str(tmp_path)}
        env.pop("KF_PIPELINES_SA_TOKEN_PATH", None)
        proc = subprocess.run(
            [str(client_python), str(SCRIPT), str(live.port), token, granted, other, label],
            capture_output=True,
            text=True,
            timeout=180,
            env=env,
            cwd=tmp_path,
        )
        assert proc.returncode == 0, (
            f"{proc.stdout}\n{proc.stderr}\n--- server log ---\n{live.log.read_text()[-4000:]}"
        )
        out = json.loads(proc.stdout.strip().splitlines()[-1])

        # It worked where it holds a grant, and its models landed where they should.
        assert out["default"]["id"] and out["default"]["found"] == out["default"]["id"]
        assert out["prefixed"]["id"] and out["prefixed"]["version"] == "2.0"
        assert out["prefixed_sees_plain"] is False
        plain = ok(admin.get(f"{V1}/registered_model", params={"name": f"plain-{label}"}))
        assert plain["owner"] == "client-author"  # the client sends its author as owner: kept
        # Whatever the client claims, the history names the token's user.
        events = ok(admin.get(f"{V1}/registered_models/{plain['id']}/history"))["items"]
        assert [(e["action"], e["actor"]) for e in events] == [("create", user)]
        prefixed = ok(
            admin.get(f"/registries/{granted}{V1}/registered_model", params={"name": f"prefixed-{label}"})
        )
        assert prefixed["id"] == out["prefixed"]["id"]
        assert ok(admin.get(f"/registries/{other}{V1}/registered_models"))["size"] == 0
        # The API version the client speaks went through both ways in.
        api = "v1alpha3" if version == "0.3.11" else "v1"
        log = live.log.read_text()
        assert (
            f"/api/model_registry/{api}/" in log and f"/registries/{granted}/api/model_registry/{api}/" in log
        )

    # Refused with the server's own words in the client's error.
    assert out["no_grant"]["type"] is not None, out
    assert f"registry '{other}' not found" in out["no_grant"]["message"], out["no_grant"]
    assert out["bad_token"]["type"] is not None, out
    assert "the token is not valid" in out["bad_token"]["message"], out["bad_token"]
