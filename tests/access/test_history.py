"""History: every kind of change names its actor (the token's user) and the fields it
changed, before and after; the per-entity and per-registry endpoints filter, page and
export; a change that fails leaves no event.

Entity events are read from the registry's history (`/registries/<r>/api/modelreg/v1/history`
and the per-entity `/history` endpoints). Grants, tokens, registries, users and groups
live in the server's own database and are read from the admin history
(`/api/admin/v1/history`, `registry=<r>` for a registry's grants, `registry=` for the
server-level events). Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import time
from typing import Any

from tests.access.conftest import ADMIN, V1, V1ALPHA3, AuthEnv, Json, bearer, ok, refused, unique

HISTORY = "/api/modelreg/v1/history"


class Registry:
    """One registry, an editor and an owner in it, and ways to read its history."""

    def __init__(self, env: AuthEnv) -> None:
        self.env = env
        self.name = unique("hist")
        env.registry(self.name)
        self.editor, editor_token = env.user_with(self.name, "editor", "editor")
        self.owner, owner_token = env.user_with(self.name, "owner", "owner")
        self.ed = bearer(editor_token)
        self.own = bearer(owner_token)

    def url(self, path: str, api: str = V1) -> str:
        return f"/registries/{self.name}{api}{path}"

    def post(self, path: str, body: Json, headers: dict[str, str] | None = None) -> Json:
        return ok(self.env.client.post(self.url(path), json=body, headers=headers or self.ed), 201)  # type: ignore[no-any-return]

    def patch(self, path: str, body: Json, headers: dict[str, str] | None = None) -> Json:
        return ok(self.env.client.patch(self.url(path), json=body, headers=headers or self.ed))  # type: ignore[no-any-return]

    def events(self, **params: Any) -> list[Json]:
        params.setdefault("sortOrder", "ASC")
        params.setdefault("pageSize", "10000")
        r = self.env.client.get(f"/registries/{self.name}{HISTORY}", params=params, headers=self.env.admin)
        return ok(r)["items"]  # type: ignore[no-any-return]

    def control_events(self, **params: Any) -> list[Json]:
        params.setdefault("sortOrder", "ASC")
        params.setdefault("pageSize", "10000")
        return ok(self.env.client.get(f"{ADMIN}/history", params=params, headers=self.env.admin))["items"]  # type: ignore[no-any-return]


def summary(events: list[Json]) -> list[tuple[str, str, str, str]]:
    return [(e["actor"], e["action"], e["entityType"], e["entityId"]) for e in events]


def test_each_kind_of_entity_change(auth_env: AuthEnv) -> None:
    reg = Registry(auth_env)
    ed, own = reg.editor, reg.owner
    m = reg.post("/registered_models", {"name": "m", "description": "first"})
    v = reg.post(f"/registered_models/{m['id']}/versions", {"name": "v1"})
    art = reg.post(
        f"/model_versions/{v['id']}/artifacts",
        {"artifactType": "model-artifact", "name": "w", "uri": "s3://b/w"},
    )
    env_ = reg.post("/serving_environments", {"name": "prod"})
    isvc = reg.post(
        "/inference_services",
        {
            "name": "svc",
            "servingEnvironmentId": env_["id"],
            "registeredModelId": m["id"],
            "modelVersionId": v["id"],
            "desiredState": "UNDEPLOYED",
        },
    )
    created = reg.events()
    assert summary(created) == [
        (ed, "create", "registered_model", m["id"]),
        (ed, "create", "model_version", v["id"]),
        (ed, "create", "artifact", art["id"]),
        (ed, "create", "serving_environment", env_["id"]),
        (ed, "create", "inference_service", isvc["id"]),
    ]
    assert created[0]["changes"] == {
        "name": {"before": None, "after": "m"},
        "description": {"before": None, "after": "first"},
        "owner": {"before": None, "after": ed},  # owner defaults to the caller
        "state": {"before": None, "after": "LIVE"},
    }
    assert created[1]["changes"]["author"] == {"before": None, "after": ed}
    assert created[0]["registry"] == reg.name and created[0]["entityName"] == "m"
    assert all(e["requestId"] for e in created) and len({e["requestId"] for e in created}) == 5

    # update: only the fields that changed, before and after.
    reg.patch(
        f"/registered_models/{m['id']}",
        {
            "description": "second",
            "customProperties": {"team": {"metadataType": "MetadataStringValue", "string_value": "fraud"}},
        },
    )
    (update,) = reg.events(action="update")
    assert (update["actor"], update["entityId"]) == (ed, m["id"])
    assert update["changes"] == {
        "description": {"before": "first", "after": "second"},
        "customProperties": {"before": {}, "after": {"team": "fraud"}},
    }
    # archive and restore, with the version following its model.
    reg.patch(f"/registered_models/{m['id']}", {"state": "ARCHIVED"})
    reg.patch(f"/registered_models/{m['id']}", {"state": "LIVE"}, headers=reg.own)
    moves = reg.events(entityType="registered_model") + reg.events(entityType="model_version")
    moves = [e for e in moves if e["action"] in ("archive", "restore")]
    assert sorted(
        (e["actor"], e["action"], e["entityType"], json.dumps(e["changes"])) for e in moves
    ) == sorted(
        [
            (ed, "archive", "registered_model", '{"state": {"before": "LIVE", "after": "ARCHIVED"}}'),
            (ed, "archive", "model_version", '{"state": {"before": "LIVE", "after": "ARCHIVED"}}'),
            (own, "restore", "registered_model", '{"state": {"before": "ARCHIVED", "after": "LIVE"}}'),
            (own, "restore", "model_version", '{"state": {"before": "ARCHIVED", "after": "LIVE"}}'),
        ]
    )
    # delete, with its cascade: artifacts and versions go, the service loses its version.
    mark = reg.events()[-1]["id"]
    ok(auth_env.client.delete(reg.url(f"/registered_models/{m['id']}"), headers=reg.own), 204)
    gone = [e for e in reg.events() if int(e["id"]) > int(mark)]
    assert sorted(summary(gone)) == sorted(
        [
            (own, "delete", "artifact", art["id"]),
            (own, "update", "inference_service", isvc["id"]),
            (own, "delete", "model_version", v["id"]),
            (own, "delete", "inference_service", isvc["id"]),
            (own, "delete", "registered_model", m["id"]),
        ]
    )
    by_kind = {(e["action"], e["entityType"]): e["changes"] for e in gone}
    assert by_kind[("update", "inference_service")] == {
        "modelVersionId": {"before": int(v["id"]), "after": None}
    }
    assert by_kind[("delete", "registered_model")]["description"] == {"before": "second", "after": None}
    assert by_kind[("delete", "model_version")]["name"] == {"before": "v1", "after": None}
    assert len({e["requestId"] for e in gone}) == 1  # one request, one transaction

    # The per-entity endpoints, in both API versions, newest first.
    for api in (V1, V1ALPHA3):
        items = ok(
            auth_env.client.get(reg.url(f"/registered_models/{m['id']}/history", api), headers=reg.ed)
        )["items"]
        assert [e["action"] for e in items] == ["delete", "restore", "archive", "update", "create"]
        versions = ok(auth_env.client.get(reg.url(f"/model_versions/{v['id']}/history", api), headers=reg.ed))
        assert [e["action"] for e in versions["items"]] == ["delete", "restore", "archive", "create"]
        arts = ok(auth_env.client.get(reg.url(f"/artifacts/{art['id']}/history", api), headers=reg.ed))
        assert [e["action"] for e in arts["items"]] == ["delete", "create"]
        svcs = ok(
            auth_env.client.get(reg.url(f"/inference_services/{isvc['id']}/history", api), headers=reg.ed)
        )
        assert [e["action"] for e in svcs["items"]] == ["delete", "update", "create"]
    # An id that never existed has an empty history; a bad id is a 400.
    assert (
        ok(auth_env.client.get(reg.url("/registered_models/999999/history"), headers=reg.ed))["items"] == []
    )
    refused(auth_env.client.get(reg.url("/registered_models/abc/history"), headers=reg.ed), 400)


def test_filters_pages_and_export(auth_env: AuthEnv) -> None:
    reg = Registry(auth_env)
    client = auth_env.client
    for i in range(3):
        reg.post("/registered_models", {"name": f"by-editor-{i}"})
    time.sleep(0.01)
    middle = int(time.time() * 1000)
    time.sleep(0.01)
    for i in range(2):
        reg.post("/registered_models", {"name": f"by-owner-{i}"}, headers=reg.own)
    env_ = reg.post("/serving_environments", {"name": "e"}, headers=reg.own)
    every = reg.events()
    assert len(every) == 6

    assert [e["entityName"] for e in reg.events(actor=reg.editor)] == [f"by-editor-{i}" for i in range(3)]
    assert {e["actor"] for e in reg.events(actor=reg.owner)} == {reg.owner}
    assert [e["entityId"] for e in reg.events(entityType="serving_environment")] == [env_["id"]]
    assert reg.events(actor="nobody") == []
    assert [e["entityName"] for e in reg.events(since=str(middle))] == ["by-owner-0", "by-owner-1", "e"]
    assert [e["entityName"] for e in reg.events(until=str(middle))] == [f"by-editor-{i}" for i in range(3)]
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(middle / 1000)) + f".{middle % 1000:03d}Z"
    assert reg.events(since=iso) == reg.events(since=str(middle))
    assert reg.events(entityId=every[0]["entityId"], entityType="registered_model") == [every[0]]

    # Pages: newest first by default; the token continues; the last page has none.
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        params = {"pageSize": "4", **({"nextPageToken": token} if token else {})}
        page = ok(client.get(f"/registries/{reg.name}{HISTORY}", params=params, headers=reg.ed))
        pages += 1
        seen += [e["id"] for e in page["items"]]
        token = page["nextPageToken"]
        if not token:
            break
    assert pages == 2 and seen == [e["id"] for e in reversed(every)]
    # JSON lines: every matching event, one a line, filters applied.
    r = client.get(
        f"/registries/{reg.name}{HISTORY}", params={"format": "jsonl", "sortOrder": "ASC"}, headers=reg.ed
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    assert [json.loads(line) for line in r.text.splitlines()] == every
    r = client.get(
        f"/registries/{reg.name}{HISTORY}", params={"format": "jsonl", "actor": reg.owner}, headers=reg.ed
    )
    assert [json.loads(line)["actor"] for line in r.text.splitlines()] == [reg.owner] * 3
    # Bad filters are 400s.
    for bad in ({"since": "yesterday"}, {"pageSize": "0"}, {"nextPageToken": "x"}, {"sortOrder": "UP"}):
        refused(client.get(f"/registries/{reg.name}{HISTORY}", params=bad, headers=reg.ed), 400)


def test_a_failed_change_leaves_no_event(auth_env: AuthEnv) -> None:
    reg = Registry(auth_env)
    client = auth_env.client
    m = reg.post("/registered_models", {"name": "deployed"})
    v = reg.post(f"/registered_models/{m['id']}/versions", {"name": "v1"})
    e = reg.post("/serving_environments", {"name": "prod"})
    reg.post(
        "/inference_services",
        {
            "name": "live",
            "servingEnvironmentId": e["id"],
            "registeredModelId": m["id"],
            "modelVersionId": v["id"],
        },
    )
    _, viewer = auth_env.user_with(reg.name, "viewer")
    before = reg.events()
    control_before = reg.control_events()
    failures = [
        (client.post(reg.url("/registered_models"), json={"name": "deployed"}, headers=reg.ed), 409),
        (client.delete(reg.url(f"/registered_models/{m['id']}"), headers=reg.own), 409),  # deployed
        (client.delete(reg.url(f"/model_versions/{v['id']}"), headers=reg.ed), 409),
        (
            client.patch(
                reg.url(f"/registered_models/{m['id']}"), json={"state": "ARCHIVED"}, headers=reg.ed
            ),
            409,
        ),
        (client.patch(reg.url(f"/registered_models/{m['id']}"), json={"state": "GONE"}, headers=reg.ed), 400),
        (client.patch(reg.url(f"/model_versions/{v['id']}"), json={"name": 5}, headers=reg.ed), 400),
        (client.delete(reg.url(f"/registered_models/{m['id']}"), headers=reg.ed), 403),  # editors cannot
        (client.post(reg.url("/registered_models"), json={"name": "x"}, headers=bearer(viewer)), 403),
        (client.post(reg.url("/registered_models"), json={"name": "x"}), 401),
        (
            client.put(f"{ADMIN}/registries/{reg.name}/grants/user/x", json={"role": "god"}, headers=reg.own),
            400,
        ),
        (
            client.put(
                f"{ADMIN}/registries/{reg.name}/grants/team/x", json={"role": "viewer"}, headers=reg.own
            ),
            400,
        ),
        (client.delete(f"{ADMIN}/registries/{reg.name}/grants/user/nobody", headers=reg.own), 404),
        (
            client.put(
                f"{ADMIN}/registries/{reg.name}/grants/user/x", json={"role": "viewer"}, headers=reg.ed
            ),
            403,
        ),
        (
            client.post(f"{ADMIN}/tokens", json={"user": "x", "expiresInSeconds": 0}, headers=auth_env.admin),
            400,
        ),
        (client.post(f"{ADMIN}/tokens", json={"user": ""}, headers=auth_env.admin), 400),
        (client.post(f"{ADMIN}/registries", json={"name": reg.name}, headers=auth_env.admin), 409),
        (client.post(f"{ADMIN}/registries", json={"name": "Bad_Name"}, headers=auth_env.admin), 400),
        (
            client.delete(f"{ADMIN}/registries/{reg.name}", params={"confirm": "no"}, headers=auth_env.admin),
            400,
        ),
    ]
    for r, status in failures:
        assert r.status_code == status, (r.request.method, r.request.url, r.status_code, r.text)
    assert reg.events() == before
    assert reg.control_events() == control_before
    # The refused delete deleted nothing.
    assert ok(client.get(reg.url(f"/model_versions/{v['id']}"), headers=reg.ed))["state"] == "LIVE"


def test_grants_tokens_registries_users_and_groups(auth_env: AuthEnv) -> None:
    env = auth_env
    client = env.client
    reg = Registry(env)
    start = reg.control_events()[-1]["id"]

    def since_start(**params: Any) -> list[Json]:
        return [e for e in reg.control_events(**params) if int(e["id"]) > int(start)]

    # Grants, by an owner who is not an admin.
    person = unique("person")
    path = f"{ADMIN}/registries/{reg.name}/grants/user/{person}"
    ok(client.put(path, json={"role": "viewer"}, headers=reg.own))
    ok(client.put(path, json={"role": "editor"}, headers=reg.own))
    ok(client.delete(path, headers=reg.own), 204)
    ok(
        client.put(
            f"{ADMIN}/registries/{reg.name}/grants/group/ml", json={"role": "viewer"}, headers=env.admin
        )
    )
    grants = since_start(registry=reg.name)
    assert [(e["actor"], e["action"], e["entityType"], e["entityId"], e["changes"]) for e in grants] == [
        (reg.owner, "grant", "grant", f"user:{person}", {"role": {"before": None, "after": "viewer"}}),
        (reg.owner, "grant", "grant", f"user:{person}", {"role": {"before": "viewer", "after": "editor"}}),
        (reg.owner, "revoke", "grant", f"user:{person}", {"role": {"before": "editor", "after": None}}),
        ("root-admin", "grant", "grant", "group:ml", {"role": {"before": None, "after": "viewer"}}),
    ]
    assert all(e["registry"] == reg.name for e in grants)

    # Tokens: issued and revoked by the admin; the secret is never in an event.
    issued = ok(
        client.post(f"{ADMIN}/tokens", json={"user": person, "expiresInSeconds": 3600}, headers=env.admin),
        201,
    )
    ok(client.delete(f"{ADMIN}/tokens/{issued['id']}", headers=env.admin))
    ok(client.delete(f"{ADMIN}/tokens/{issued['id']}", headers=env.admin))  # again: nothing new
    tokens = since_start(entityType="token")
    assert [(e["actor"], e["action"], e["entityId"], e["registry"]) for e in tokens] == [
        ("root-admin", "issue", issued["id"], ""),
        ("root-admin", "revoke", issued["id"], ""),
    ]
    assert tokens[0]["changes"] == {
        "user": {"before": None, "after": person},
        "expireTimeSinceEpoch": {"before": None, "after": int(issued["expireTimeSinceEpoch"])},
    }
    assert tokens[1]["changes"]["revoked"] == {"before": False, "after": True}
    secret = issued["token"].split("_", 2)[2]
    assert secret not in json.dumps(reg.control_events())

    # Registries: created, edited, deleted; server-level events, not the default registry's.
    other = unique("short-lived")
    env.registry(other, description="one")
    ok(client.patch(f"{ADMIN}/registries/{other}", json={"description": "two"}, headers=env.admin))
    ok(
        client.delete(
            f"{ADMIN}/registries/{other}", params={"confirm": other, "purge": "true"}, headers=env.admin
        )
    )
    env.created.remove(other)
    lifecycle = since_start(entityType="registry", entityId=other)
    assert [(e["actor"], e["action"], e["registry"], e["changes"]) for e in lifecycle] == [
        ("root-admin", "create", "", {"description": {"before": None, "after": "one"}}),
        ("root-admin", "update", "", {"description": {"before": "one", "after": "two"}}),
        ("root-admin", "delete", "", {"purged": {"before": None, "after": True}}),
    ]
    # A viewer of the default registry does not learn of other registries (or of tokens)
    # from its history; the default registry's own grants are all it shows of access.
    _, default_viewer = env.user_with("default", "viewer")
    default_history = ok(client.get(HISTORY, params={"pageSize": "10000"}, headers=bearer(default_viewer)))
    assert not [
        e for e in default_history["items"] if e["entityType"] in ("registry", "token", "user", "group")
    ]
    assert {e["registry"] for e in default_history["items"]} == {"default"}
    assert reg.name not in json.dumps(default_history) and other not in json.dumps(default_history)

    # Users and groups.
    newcomer, group = unique("newcomer"), unique("group")
    ok(client.post(f"{ADMIN}/users", json={"name": newcomer}, headers=env.admin), 201)
    ok(client.patch(f"{ADMIN}/users/{newcomer}", json={"admin": True}, headers=env.admin))
    ok(client.post(f"{ADMIN}/groups", json={"name": group}, headers=env.admin), 201)
    ok(client.put(f"{ADMIN}/groups/{group}/members/{newcomer}", headers=env.admin), 204)
    ok(client.delete(f"{ADMIN}/groups/{group}/members/{newcomer}", headers=env.admin), 204)
    people = [e for e in since_start(registry="") if e["entityType"] in ("user", "group")]
    assert [(e["action"], e["entityType"], e["entityId"], e["changes"]) for e in people] == [
        ("create", "user", newcomer, {"admin": {"before": None, "after": False}}),
        ("update", "user", newcomer, {"admin": {"before": False, "after": True}}),
        ("create", "group", group, {}),
        ("update", "group", group, {"members": {"before": None, "after": newcomer}}),
        ("update", "group", group, {"members": {"before": newcomer, "after": None}}),
    ]
    assert {e["actor"] for e in people} == {"root-admin"}
    # The admin history filters like the registry history does.
    assert {e["registry"] for e in since_start(registry="")} == {""}
    assert since_start(actor=reg.owner) == grants[:3]
    refused(client.get(f"{ADMIN}/history", headers=reg.own), 403)
