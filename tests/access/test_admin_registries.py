"""The admin API for registries: create, list, show, update, delete (confirmed by name),
with the data kept unless purged, and purged for real: a managed SQLite file or
PostgreSQL database and the registry's stored files are gone. Runs on both backends."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from modelreg.store.engine import normalize_url
from tests.access.conftest import ADMIN, SELF, V1, AuthEnv, ok, refused, unique
from tests.conftest import SERVER_URLS, _scratch_database

FILE = b"weights"


def managed_database_exists(env: AuthEnv, name: str) -> bool:
    """Whether the registry's managed database (SQLite file or PG database) is there."""
    if env.backend == "sqlite":
        return (env.settings.data_dir / "registries" / f"{name}.db").exists()
    admin = create_engine(normalize_url(SERVER_URLS["postgresql"]), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            db = "modelreg_" + name.replace("-", "_")
            return (
                conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": db}).first()
                is not None
            )
    finally:
        admin.dispose()


def sqlite_leftovers(env: AuthEnv, name: str) -> list[str]:
    folder = env.settings.data_dir / "registries"
    return sorted(p.name for p in folder.glob(f"{name}.db*"))


def fill(env: AuthEnv, name: str) -> Path:
    """A model in the registry, with one uploaded file; returns where the file lies."""
    base = f"/registries/{name}"
    m = ok(env.client.post(f"{base}{V1}/registered_models", json={"name": "kept"}, headers=env.admin), 201)
    v = ok(
        env.client.post(
            f"{base}{V1}/registered_models/{m['id']}/versions", json={"name": "1"}, headers=env.admin
        ),
        201,
    )
    files = {"files": [{"path": "w.bin", "size": len(FILE), "sha256": hashlib.sha256(FILE).hexdigest()}]}
    up = ok(
        env.client.post(
            f"{base}/api/modelreg/v1/model_versions/{v['id']}/uploads", json=files, headers=env.admin
        ),
        201,
    )
    aid = up["artifactId"]
    ok(env.client.put(f"{base}/api/modelreg/v1/artifacts/{aid}/files/w.bin", content=FILE, headers=env.admin))
    done = ok(env.client.post(f"{base}/api/modelreg/v1/artifacts/{aid}/complete", headers=env.admin))
    assert done["uri"].startswith("file://")
    stored = Path(done["uri"][len("file://") :]) / "w.bin"
    assert stored.read_bytes() == FILE
    return stored


def test_create_list_show_update(auth_env: AuthEnv) -> None:
    env = auth_env
    name = unique("crud")
    made = env.registry(name, description="for fraud models")
    assert made["name"] == name and made["description"] == "for fraud models"
    assert made["managed"] is True and made["tlsCa"] is False
    assert managed_database_exists(env, name)
    assert "password" not in made["database"] and name.replace("-", "_") in made["database"].replace("-", "_")
    listed = ok(env.client.get(f"{ADMIN}/registries", headers=env.admin))
    names = [i["name"] for i in listed["items"]]
    assert names[0] == "default" and name in names and listed["size"] == len(names)
    shown = ok(env.client.get(f"{ADMIN}/registries/{name}", headers=env.admin))
    assert shown == made
    assert ok(env.client.get(f"{ADMIN}/registries/default", headers=env.admin))["name"] == "default"
    updated = ok(
        env.client.patch(f"{ADMIN}/registries/{name}", json={"description": "renamed"}, headers=env.admin)
    )
    assert updated["description"] == "renamed"
    assert int(updated["lastUpdateTimeSinceEpoch"]) >= int(made["lastUpdateTimeSinceEpoch"])
    assert ok(env.client.get(f"{ADMIN}/registries/{name}", headers=env.admin))["description"] == "renamed"
    # The registry answers at once, empty.
    assert ok(env.client.get(f"/registries/{name}{V1}/registered_models", headers=env.admin))["size"] == 0
    # A user sees it listed only once granted.
    user, token = env.user_with("default", "viewer")
    auth = {"Authorization": f"Bearer {token}"}
    assert name not in [i["name"] for i in ok(env.client.get(f"{SELF}/registries", headers=auth))["items"]]
    env.grant(name, user, "editor")
    mine = {i["name"]: i["role"] for i in ok(env.client.get(f"{SELF}/registries", headers=auth))["items"]}
    assert mine == {"default": "viewer", name: "editor"}


def test_refusals(auth_env: AuthEnv) -> None:
    env = auth_env
    name = unique("dup")
    env.registry(name)
    for bad in ("", "UPPER", "under_score", "-lead", "trail-", "a" * 64, "white space", "dot.ted", "é"):
        r = env.client.post(f"{ADMIN}/registries", json={"name": bad}, headers=env.admin)
        refused(r, 400, "a registry name is 1 to 63 characters")
    refused(
        env.client.post(f"{ADMIN}/registries", json={"name": name}, headers=env.admin), 409, "already exists"
    )
    refused(env.client.post(f"{ADMIN}/registries", json={"name": "default"}, headers=env.admin), 409)
    refused(env.client.post(f"{ADMIN}/registries", json={"name": "x", "extra": 1}, headers=env.admin), 400)
    refused(env.client.post(f"{ADMIN}/registries", json={"description": "no name"}, headers=env.admin), 422)
    r = env.client.post(
        f"{ADMIN}/registries", json={"name": unique("u"), "databaseUrl": "ftp://x/y"}, headers=env.admin
    )
    refused(r, 400, "PostgreSQL, MariaDB/MySQL or SQLite")
    # A database that cannot be reached: refused, with the reason, and nothing is left behind.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    lost = unique("dead")
    r = env.client.post(
        f"{ADMIN}/registries",
        json={"name": lost, "databaseUrl": f"postgresql://postgres@127.0.0.1:{dead}/nothing"},
        headers=env.admin,
    )
    refused(r, 400, "cannot prepare the registry's database")
    refused(env.client.get(f"{ADMIN}/registries/{lost}", headers=env.admin), 404)
    r = env.client.patch(
        f"{ADMIN}/registries/{name}",
        json={"databaseUrl": f"postgresql://postgres@127.0.0.1:{dead}/x"},
        headers=env.admin,
    )
    refused(r, 400, "cannot use that database")
    assert ok(env.client.get(f"{ADMIN}/registries/{name}", headers=env.admin))["managed"] is True
    ghost = unique("ghost")
    refused(env.client.get(f"{ADMIN}/registries/{ghost}", headers=env.admin), 404)
    refused(
        env.client.patch(f"{ADMIN}/registries/{ghost}", json={"description": "x"}, headers=env.admin), 404
    )
    refused(
        env.client.delete(f"{ADMIN}/registries/{ghost}", params={"confirm": ghost}, headers=env.admin), 404
    )
    refused(
        env.client.patch(f"{ADMIN}/registries/default", json={"description": "x"}, headers=env.admin), 400
    )
    refused(
        env.client.delete(f"{ADMIN}/registries/default", params={"confirm": "default"}, headers=env.admin),
        400,
    )
    # Deleting asks for the name again, exactly.
    for params in ({}, {"confirm": ""}, {"confirm": name.upper()}, {"confirm": name + " "}):
        r = env.client.delete(f"{ADMIN}/registries/{name}", params=params, headers=env.admin)
        refused(r, 400, "confirm with its name")
    r = env.client.delete(
        f"{ADMIN}/registries/{name}", params={"confirm": name, "purge": "yes"}, headers=env.admin
    )
    refused(r, 400, "purge must be true or false")
    assert ok(env.client.get(f"{ADMIN}/registries/{name}", headers=env.admin))["name"] == name


@pytest.fixture
def kept_databases(auth_env: AuthEnv) -> Iterator[list[str]]:
    """Registry names whose kept managed PostgreSQL database is dropped at the end."""
    names: list[str] = []
    yield names
    if auth_env.backend == "postgresql":
        admin = create_engine(normalize_url(SERVER_URLS["postgresql"]), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                for name in names:
                    conn.execute(
                        text(f"DROP DATABASE IF EXISTS modelreg_{name.replace('-', '_')} WITH (FORCE)")
                    )
        finally:
            admin.dispose()


def test_delete_keeps_the_data_unless_purged(auth_env: AuthEnv, kept_databases: list[str]) -> None:
    env = auth_env
    kept, purged = unique("kept"), unique("purged")
    kept_databases.append(kept)
    for name in (kept, purged):
        env.registry(name)
    kept_file = fill(env, kept)
    purged_file = fill(env, purged)
    _, token = env.user_with(kept, "owner")
    # Without purge: gone from the server, its database and files kept, and it says so.
    r = env.client.delete(f"{ADMIN}/registries/{kept}", params={"confirm": kept}, headers=env.admin)
    env.created.remove(kept)
    assert "its data is kept" in ok(r)["message"]
    refused(env.client.get(f"{ADMIN}/registries/{kept}", headers=env.admin), 404)
    refused(env.client.get(f"/registries/{kept}{V1}/registered_models", headers=env.admin), 404)
    assert managed_database_exists(env, kept) and kept_file.read_bytes() == FILE
    # Re-created under the same name, it finds its data again; its grants did not survive.
    # (A kept PostgreSQL database is not taken over by a new managed registry: name it.)
    if env.backend == "sqlite":
        env.registry(kept)
    else:
        r = env.client.post(f"{ADMIN}/registries", json={"name": kept}, headers=env.admin)
        refused(r, 400, "already exists")
        url = make_url(str(env.settings.database_url)).set(database="modelreg_" + kept.replace("-", "_"))
        env.registry(kept, databaseUrl=url.render_as_string(hide_password=False))
    items = ok(env.client.get(f"/registries/{kept}{V1}/registered_models", headers=env.admin))["items"]
    assert [m["name"] for m in items] == ["kept"]
    refused(
        env.client.get(
            f"/registries/{kept}{V1}/registered_models", headers={"Authorization": f"Bearer {token}"}
        ),
        404,
    )
    ok(env.client.delete(f"{ADMIN}/registries/{kept}", params={"confirm": kept}, headers=env.admin))
    env.created.remove(kept)
    # With purge: database and files removed.
    r = env.client.delete(
        f"{ADMIN}/registries/{purged}", params={"confirm": purged, "purge": "true"}, headers=env.admin
    )
    env.created.remove(purged)
    assert "removed" in ok(r)["message"]
    assert not managed_database_exists(env, purged)
    assert not purged_file.exists()
    if env.backend == "sqlite":
        assert sqlite_leftovers(env, purged) == []
        assert sqlite_leftovers(env, kept) != []


@pytest.fixture
def external_pg(worker_id_safe: str) -> Iterator[str]:
    yield from _scratch_database("postgresql", f"ext_{worker_id_safe}")


def test_a_registry_on_a_database_of_its_own(auth_env: AuthEnv, external_pg: str) -> None:
    """A registry on a database the admin names: kept on delete (and found again by the
    next registry pointed at it), emptied of modelreg's tables on purge."""
    env = auth_env
    first = unique("ext")
    info = env.registry(first, databaseUrl=external_pg)
    assert info["managed"] is False
    assert make_url(external_pg).database in info["database"]
    ok(
        env.client.post(
            f"/registries/{first}{V1}/registered_models", json={"name": "lives-on"}, headers=env.admin
        ),
        201,
    )
    ok(env.client.delete(f"{ADMIN}/registries/{first}", params={"confirm": first}, headers=env.admin))
    env.created.remove(first)
    second = unique("ext-again")
    env.registry(second, databaseUrl=external_pg)
    items = ok(env.client.get(f"/registries/{second}{V1}/registered_models", headers=env.admin))["items"]
    assert [m["name"] for m in items] == ["lives-on"]
    r = env.client.delete(
        f"{ADMIN}/registries/{second}", params={"confirm": second, "purge": "true"}, headers=env.admin
    )
    env.created.remove(second)
    assert "tables and files removed" in ok(r)["message"]
    engine = create_engine(normalize_url(external_pg))
    try:
        assert inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


# A self-signed CA (EC P-256, valid to 2126), made for these tests only: no server trusts it.
TEST_CA = """-----BEGIN CERTIFICATE-----
MIIBjDCCATOgAwIBAgIUEwrRbQ7OtqDEoSU8JklwipMi7eAwCgYIKoZIzj0EAwIw
GzEZMBcGA1UEAwwQbW9kZWxyZWcgdGVzdCBDQTAgFw0yNjExMjYyMzUyMDJaGA8y
MTI2MTEwMjIzNTIwMlowGzEZMBcGA1UEAwwQbW9kZWxyZWcgdGVzdCBDQTBZMBMG
ByqGSM49AgEGCCqGSM49AwEHA0IABFBeS5W6FCn5gHpztOfhrReTYf04WbzefXbO
lbtv4haONDKod/qxY8VctoTUIuhKoZzmQTTL08X+WUXtA6tk2xujUzBRMB0GA1Ud
DgQWBBSrWvCLnsr8id363TDBx2gDQAC9ZzAfBgNVHSMEGDAWgBSrWvCLnsr8id36
3TDBx2gDQAC9ZzAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0cAMEQCIHte
MSCVus/OL7H0svX37njCR+gW7OgCoOQNiM5yAfSFAiB0kUXE1S3r/OZ1zS3gwfd5
sRP10CTXTqBjFNXLTeOLxQ==
-----END CERTIFICATE-----
"""


@pytest.fixture(params=("postgresql", "mariadb"))
def external_db(request: pytest.FixtureRequest, worker_id_safe: str) -> Iterator[str]:
    yield from _scratch_database(request.param, f"tls_{worker_id_safe}")


def test_a_ca_certificate_secures_the_database_connection(sqlite_env: AuthEnv, external_db: str) -> None:
    """With a CA the registry's connection requires TLS verified by that CA (PostgreSQL
    sslmode=verify-full, PyMySQL ssl ca): the test servers speak no TLS, so the registry is
    refused and nothing is kept; without the CA the same database is accepted, and a CA
    added later is checked the same way before it replaces the working connection."""
    env = sqlite_env
    name = unique("tls")

    def create(**fields: str) -> httpx.Response:
        return env.client.post(f"{ADMIN}/registries", json={"name": name, **fields}, headers=env.admin)

    refused(create(tlsCa=TEST_CA), 400, "PostgreSQL or MySQL")  # a managed SQLite database
    refused(create(databaseUrl=external_db, tlsCa="not a certificate"), 400, "PEM")
    broken = TEST_CA.replace("MIIB", "MIIA", 1)
    refused(create(databaseUrl=external_db, tlsCa=broken), 400, "cannot be read")
    refused(create(databaseUrl=external_db, tlsCa=TEST_CA), 400, "SSL")
    refused(env.client.get(f"{ADMIN}/registries/{name}", headers=env.admin), 404)
    info = env.registry(name, databaseUrl=external_db)
    assert info["tlsCa"] is False
    r = env.client.patch(f"{ADMIN}/registries/{name}", json={"tlsCa": TEST_CA}, headers=env.admin)
    refused(r, 400, "SSL")
    assert ok(env.client.get(f"{ADMIN}/registries/{name}", headers=env.admin))["tlsCa"] is False
    ok(
        env.client.post(
            f"/registries/{name}{V1}/registered_models", json={"name": "still"}, headers=env.admin
        ),
        201,
    )
    r = env.client.patch(f"{ADMIN}/registries/{name}", json={"tlsCa": ""}, headers=env.admin)
    assert ok(r)["tlsCa"] is False
