"""Registries are apart: their data never mixes, a token for one cannot reach another,
and one whose database is down answers 503 while the others keep working.

Runs with the server's own database on SQLite and on PostgreSQL. The unreachable
registry lives on PostgreSQL behind a TCP proxy on a loopback port, which the test cuts.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import make_url

from tests.access.conftest import ADMIN, SELF, V1, V1ALPHA3, AuthEnv, Json, ok, refused, unique
from tests.conftest import _scratch_database
from tests.tcp_proxy import TcpProxy


def kf(registry: str, path: str, api: str = V1) -> str:
    return f"/registries/{registry}{api}{path}"


def test_the_same_model_name_in_two_registries(auth_env: AuthEnv) -> None:
    env = auth_env
    a, b = unique("iso-a"), unique("iso-b")
    env.registry(a)
    env.registry(b)
    made: dict[str, Json] = {}
    for reg, label in ((a, "A"), (b, "B")):
        prop = {"metadataType": "MetadataStringValue", "string_value": f"from {label}"}
        m = ok(
            env.client.post(
                kf(reg, "/registered_models"),
                json={
                    "name": "fraud-detector",
                    "description": f"in {label}",
                    "customProperties": {"where": prop},
                },
                headers=env.admin,
            ),
            201,
        )
        v = ok(
            env.client.post(
                kf(reg, f"/registered_models/{m['id']}/versions"),
                json={"name": f"v-{label}"},
                headers=env.admin,
            ),
            201,
        )
        made[reg] = {"model": m, "version": v}

    def found(reg: str) -> Json:
        r = env.client.get(kf(reg, "/registered_model"), params={"name": "fraud-detector"}, headers=env.admin)
        return ok(r)  # type: ignore[no-any-return]

    assert (
        found(a)["description"] == "in A"
        and found(a)["customProperties"]["where"]["string_value"] == "from A"
    )
    assert (
        found(b)["description"] == "in B"
        and found(b)["customProperties"]["where"]["string_value"] == "from B"
    )
    for reg, label in ((a, "A"), (b, "B")):
        versions = ok(env.client.get(kf(reg, "/model_versions"), headers=env.admin))["items"]
        assert [v["name"] for v in versions] == [f"v-{label}"]
    # The default registry has none of it.
    r = env.client.get(f"{V1}/registered_model", params={"name": "fraud-detector"}, headers=env.admin)
    refused(r, 404)
    # A change in one leaves the other alone.
    mid_a = made[a]["model"]["id"]
    ok(
        env.client.patch(
            kf(a, f"/registered_models/{mid_a}"), json={"description": "changed"}, headers=env.admin
        )
    )
    assert found(b)["description"] == "in B"
    ok(env.client.delete(kf(b, f"/registered_models/{made[b]['model']['id']}"), headers=env.admin), 204)
    assert found(a)["description"] == "changed"
    refused(
        env.client.get(kf(b, "/registered_model"), params={"name": "fraud-detector"}, headers=env.admin), 404
    )
    # Each registry's history holds its own events only.
    for reg in (a, b):
        items = ok(env.client.get(f"/registries/{reg}/api/modelreg/v1/history", headers=env.admin))["items"]
        assert items and {e["registry"] for e in items} == {reg}
    assert {
        e["action"]
        for e in ok(env.client.get(f"/registries/{b}/api/modelreg/v1/history", headers=env.admin))["items"]
    } == {"create", "delete"}


def test_a_token_for_one_registry_cannot_reach_another(auth_env: AuthEnv) -> None:
    env = auth_env
    a, b = unique("iso-a"), unique("iso-b")
    env.registry(a)
    env.registry(b)
    user, token = env.user_with(a, "owner")
    theirs = ok(env.client.post(kf(b, "/registered_models"), json={"name": "secret"}, headers=env.admin), 201)
    # The token works in its own registry.
    ok(
        env.client.post(
            kf(a, "/registered_models"), json={"name": "mine"}, headers={"Authorization": f"Bearer {token}"}
        ),
        201,
    )
    headers = {"Authorization": f"Bearer {token}"}
    ghost = unique("no-such")
    for path, method, body in (
        (f"{V1}/registered_models", "GET", None),
        (f"{V1}/registered_models/{theirs['id']}", "GET", None),
        (f"{V1ALPHA3}/registered_models/{theirs['id']}", "PATCH", {"description": "mine now"}),
        (f"{V1}/registered_models/{theirs['id']}", "DELETE", None),
        (f"{V1}/registered_models", "POST", {"name": "planted"}),
        (f"{V1}/registered_models/{theirs['id']}/history", "GET", None),
        ("/api/modelreg/v1/history", "GET", None),
        ("/api/modelreg/v1/artifacts/1/manifest", "GET", None),
    ):
        for reg in (b, ghost):
            r = env.client.request(method, f"/registries/{reg}{path}", json=body, headers=headers)
            assert r.status_code == 404, (reg, method, path, r.text)
            assert r.json() == {"code": "Not Found", "message": f"registry {reg!r} not found"}
    # Its grants are as invisible as its data, and cannot be taken.
    for reg in (b, ghost):
        refused(
            env.client.get(f"{ADMIN}/registries/{reg}/grants", headers=headers),
            404,
            f"registry {reg!r} not found",
        )
        r = env.client.put(
            f"{ADMIN}/registries/{reg}/grants/user/{user}", json={"role": "owner"}, headers=headers
        )
        refused(r, 404, f"registry {reg!r} not found")
    # Nothing in B changed, and the user is told of A only.
    items = ok(env.client.get(kf(b, "/registered_models"), headers=env.admin))["items"]
    assert [(m["name"], m.get("description")) for m in items] == [("secret", None)]
    mine = ok(env.client.get(f"{SELF}/registries", headers=headers))["items"]
    assert [(i["name"], i["role"]) for i in mine] == [(a, "owner")]


@pytest.fixture
def proxied_pg(worker_id_safe: str) -> Iterator[tuple[str, TcpProxy]]:
    """(URL through the proxy, the proxy) of a scratch PostgreSQL database."""
    for url in _scratch_database("postgresql", f"iso_{worker_id_safe}"):
        server = make_url(url)
        proxy = TcpProxy((server.host or "127.0.0.1", server.port or 5432))
        try:
            yield server.set(port=proxy.port).render_as_string(hide_password=False), proxy
        finally:
            proxy.cut()


def test_an_unreachable_registry_answers_503_and_the_others_keep_working(
    auth_env: AuthEnv, proxied_pg: tuple[str, TcpProxy]
) -> None:
    env = auth_env
    url, proxy = proxied_pg
    flaky, healthy = unique("flaky"), unique("healthy")
    info = env.registry(flaky, databaseUrl=url)
    assert info["managed"] is False and str(proxy.port) in info["database"]
    env.registry(healthy)
    for reg in (flaky, healthy, "default"):
        path = f"{V1}/registered_models" if reg == "default" else kf(reg, "/registered_models")
        ok(env.client.post(path, json={"name": f"model-{reg}"}, headers=env.admin), 201)
    user, token = env.user_with(flaky, "viewer")
    env.grant(healthy, user, "viewer")
    headers = {"Authorization": f"Bearer {token}"}
    assert ok(env.client.get(kf(flaky, "/registered_models"), headers=headers))["size"] == 1

    proxy.cut()
    for who in (env.admin, headers):
        for path in (kf(flaky, "/registered_models"), f"/registries/{flaky}/api/modelreg/v1/history"):
            r = env.client.get(path, headers=who)
            refused(r, 503, "unavailable")
            assert r.headers.get("retry-after")
        r = env.client.post(kf(flaky, "/registered_models"), json={"name": "lost"}, headers=env.admin)
        refused(r, 503)
    # Everything else answers as before.
    assert ok(env.client.get(kf(healthy, "/registered_models"), headers=headers))["size"] == 1
    assert ok(env.client.get(f"{V1}/registered_models", headers=env.admin))["size"] >= 1
    ok(env.client.post(kf(healthy, "/registered_models"), json={"name": "more"}, headers=env.admin), 201)
    assert ok(env.client.get(f"{SELF}/whoami", headers=headers))["name"] == user
    names = [i["name"] for i in ok(env.client.get(f"{ADMIN}/registries", headers=env.admin))["items"]]
    assert flaky in names and healthy in names
    assert env.client.get("/readyz/health").status_code == 200
    # A user with no role there still gets 404, not 503: the name does not leak.
    _, stranger = env.user_with(healthy, "viewer")
    refused(
        env.client.get(kf(flaky, "/registered_models"), headers={"Authorization": f"Bearer {stranger}"}), 404
    )

    # The database comes back: so does the registry.
    back = TcpProxy(proxy.target, proxy.port)
    try:
        assert ok(env.client.get(kf(flaky, "/registered_models"), headers=headers))["size"] == 1
    finally:
        back.cut()
    # Down again, it can still be deleted (its data kept, as it cannot be purged now).
    refused(env.client.get(kf(flaky, "/registered_models"), headers=headers), 503)
    r = env.client.delete(f"{ADMIN}/registries/{flaky}", params={"confirm": flaky}, headers=env.admin)
    assert "its data is kept" in ok(r)["message"]
    env.created.remove(flaky)
    refused(env.client.get(kf(flaky, "/registered_models"), headers=env.admin), 404)


def test_the_default_registry_under_its_name(auth_env: AuthEnv) -> None:
    """`/registries/default/...` is the registry at the plain paths, with the same grants."""
    env = auth_env
    _, token = env.user_with("default", "editor")
    headers = {"Authorization": f"Bearer {token}"}
    name = unique("both-ways")
    made = ok(env.client.post(kf("default", "/registered_models"), json={"name": name}, headers=headers), 201)
    found = ok(env.client.get(f"{V1}/registered_model", params={"name": name}, headers=headers))
    assert found["id"] == made["id"]
    elsewhere = unique("elsewhere")
    env.registry(elsewhere)
    _, stranger = env.user_with(elsewhere, "viewer")
    for path in (kf("default", "/registered_models"), f"{V1}/registered_models"):
        r = env.client.get(path, headers={"Authorization": f"Bearer {stranger}"})
        assert r.json() == {"code": "Not Found", "message": "registry 'default' not found"}
