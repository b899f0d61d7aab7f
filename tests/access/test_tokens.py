"""modelreg's own API tokens: expiry, revocation, wrong and malformed tokens, listing
without secrets, and no secret in clear anywhere: not in the database files, not in the logs."""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

import pytest

from tests.access.conftest import ADMIN, SELF, V1, AuthEnv, EnvFactory, bearer, ok, refused

NOT_VALID = "the token is not valid"


def whoami(env: AuthEnv, token: str) -> int:
    return env.client.get(f"{SELF}/whoami", headers=bearer(token)).status_code


def listed(env: AuthEnv, token_id: str) -> dict[str, object]:
    items = ok(env.client.get(f"{ADMIN}/tokens", headers=env.admin))["items"]
    return next(i for i in items if i["id"] == token_id)


def test_a_token_expires(sqlite_env: AuthEnv) -> None:
    env = sqlite_env
    tid, secret = env.token("shortlived", expires=1)
    status = whoami(env, secret)
    info = listed(env, tid)
    expire = int(str(info["expireTimeSinceEpoch"]))
    assert expire - int(str(info["createTimeSinceEpoch"])) == 1000
    if time.time() * 1000 < expire - 100:  # (a machine slow enough may already be past it)
        assert status == 200 and info["active"] is True
    while time.time() * 1000 <= expire + 50:
        time.sleep(0.1)
    refused(env.client.get(f"{SELF}/whoami", headers=bearer(secret)), 401, NOT_VALID)
    assert listed(env, tid)["active"] is False
    # Lifetimes out of range are refused.
    for bad in (0, -5, 10 * 365 * 24 * 3600 + 1):
        r = env.client.post(f"{ADMIN}/tokens", json={"user": "x", "expiresInSeconds": bad}, headers=env.admin)
        refused(r, 400, "expiresInSeconds")


def test_a_revoked_token_stops_working(sqlite_env: AuthEnv) -> None:
    env = sqlite_env
    tid, secret = env.token("revokee")
    other_id, other = env.token("revokee", name="second")
    assert whoami(env, secret) == 200
    out = ok(env.client.delete(f"{ADMIN}/tokens/{tid}", headers=env.admin))
    assert out["active"] is False and out["revokeTimeSinceEpoch"]
    refused(env.client.get(f"{SELF}/whoami", headers=bearer(secret)), 401, NOT_VALID)
    # Revoking again changes nothing; the user's other token still works.
    again = ok(env.client.delete(f"{ADMIN}/tokens/{tid}", headers=env.admin))
    assert again["revokeTimeSinceEpoch"] == out["revokeTimeSinceEpoch"]
    assert whoami(env, other) == 200 and other_id != tid
    refused(env.client.delete(f"{ADMIN}/tokens/999999", headers=env.admin), 404)
    refused(env.client.delete(f"{ADMIN}/tokens/abc", headers=env.admin), 400)
    # Only admins revoke.
    refused(env.client.delete(f"{ADMIN}/tokens/{other_id}", headers=bearer(other)), 403)


def test_wrong_and_malformed_tokens(sqlite_env: AuthEnv) -> None:
    env = sqlite_env
    tid, secret = env.token("someone")
    right_secret = secret.split("_", 2)[2]
    forged = f"mrg_{tid}_{'A' * len(right_secret)}"
    other_id = str(int(tid) + 1000)
    for token in (
        forged,  # right id, wrong secret
        f"mrg_{other_id}_{right_secret}",  # right secret, unknown id
        secret[:-1],  # one character short
        secret + "x",
        "mrg_",
        "mrg_abc_def",
        f"mrg_0_{right_secret}",
        "mrg_" + "9" * 40 + "_" + right_secret,
    ):
        refused(env.client.get(f"{SELF}/whoami", headers=bearer(token)), 401, NOT_VALID)
    # Without OIDC configured, a bearer token that is not a modelreg token is refused as such.
    refused(
        env.client.get(f"{SELF}/whoami", headers=bearer("eyJhbGciOi.e30.sig")), 401, "not a modelreg token"
    )
    for header in (f"Basic {secret}", "Bearer", "Bearer    ", secret, f"Token {secret}"):
        r = env.client.get(f"{SELF}/whoami", headers={"Authorization": header})
        refused(r, 401, "must be 'Bearer <token>'")
        assert r.headers["www-authenticate"].startswith("Bearer")
    # Case of the scheme does not matter; surrounding blanks do not either.
    assert (
        env.client.get(f"{SELF}/whoami", headers={"Authorization": f"bearer  {secret} "}).status_code == 200
    )


def test_listing_never_shows_a_secret(sqlite_env: AuthEnv) -> None:
    env = sqlite_env
    tid, secret = env.token("listed", name="ci")
    hashed = hashlib.sha256(secret.split("_", 2)[2].encode()).hexdigest()
    for params in (None, {"user": "listed"}):
        r = env.client.get(f"{ADMIN}/tokens", params=params, headers=env.admin)
        body = ok(r)
        assert secret.split("_", 2)[2] not in r.text and hashed not in r.text
        mine = next(i for i in body["items"] if i["id"] == tid)
        assert set(mine) == {
            "id",
            "user",
            "name",
            "createTimeSinceEpoch",
            "expireTimeSinceEpoch",
            "revokeTimeSinceEpoch",
            "lastUsedTimeSinceEpoch",
            "createdBy",
            "active",
        }
        assert mine["user"] == "listed" and mine["name"] == "ci" and mine["createdBy"] == "root-admin"
    assert [
        i["user"]
        for i in ok(env.client.get(f"{ADMIN}/tokens", params={"user": "listed"}, headers=env.admin))["items"]
    ] == ["listed"]
    # The secret is in the answer that issued it, and only there.
    created = ok(env.client.post(f"{ADMIN}/tokens", json={"user": "listed"}, headers=env.admin), 201)
    assert created["token"].startswith(f"mrg_{created['id']}_")


def test_no_secret_in_clear(
    make_env: EnvFactory, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    """A token is issued, used (well and badly), listed and revoked with every log on at
    DEBUG; then neither its secret nor the whole token appears in any database file
    (including SQLite's -wal and -shm) or any log line, while its hash does appear."""
    caplog.set_level(logging.DEBUG)
    env = make_env(access_log=True, log_level="debug")
    data_dir = env.settings.data_dir
    registry = "secrets"
    env.registry(registry)
    tid, token = env.token("leaky", name="probe")
    secret = token.split("_", 2)[2]
    env.grant(registry, "leaky", "editor")
    for path in (f"{SELF}/whoami", f"/registries/{registry}{V1}/registered_models"):
        assert env.client.get(path, headers=bearer(token)).status_code == 200
    r = env.client.post(
        f"/registries/{registry}{V1}/registered_models", json={"name": "m"}, headers=bearer(token)
    )
    assert r.status_code == 201
    env.client.get(f"{SELF}/whoami", headers=bearer(token + "x"))  # a failed attempt
    env.client.get(f"{SELF}/whoami", params={"token": "not-here"}, headers=bearer(token))
    ok(env.client.get(f"{ADMIN}/tokens", headers=env.admin))
    ok(env.client.delete(f"{ADMIN}/tokens/{tid}", headers=env.admin))
    env.client.get(f"{SELF}/whoami", headers=bearer(token))  # revoked

    def files() -> dict[Path, bytes]:
        return {p: p.read_bytes() for p in data_dir.rglob("*") if p.is_file()}

    hashed = hashlib.sha256(secret.encode()).hexdigest().encode()
    found = files()
    names = {p.name for p in found}
    assert "modelreg.db" in names and f"{registry}.db" in names, names
    assert any(n.endswith("-wal") for n in names), names
    assert any(hashed in blob for blob in found.values()), "the token's hash is not where the tokens are"
    for path, blob in found.items():
        assert secret.encode() not in blob, f"the secret is in {path}"
    # The logs: the access log and every modelreg logger, at DEBUG.
    assert any(r.name == "modelreg.access" for r in caplog.records), "no access log captured"
    logged = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    out, err = capfd.readouterr()
    for text in (logged, out, err):
        assert secret not in text
        assert secret[:16] not in text
    # Still absent once the databases are closed (SQLite checkpoints the WAL into the file).
    env.client.app.state.registries.close()  # type: ignore[attr-defined]
    for path, blob in files().items():
        assert secret.encode() not in blob, f"the secret is in {path}"
