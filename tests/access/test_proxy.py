"""Trusted proxy headers (oauth-proxy, kube-rbac-proxy), off unless configured; and the
optional read-only access without credentials for KServe's storage initializer."""

from __future__ import annotations

from tests.access.conftest import SELF, V1, EnvFactory, ok, refused


def test_configured_proxy_headers_name_the_caller(make_env: EnvFactory) -> None:
    env = make_env(auth=False, proxy_user_header="X-Forwarded-User", proxy_groups_header="X-Forwarded-Groups")
    env.registry("shared")
    env.grant("shared", "data-science", "editor", kind="group")
    who = {"x-forwarded-user": "erin", "X-Forwarded-Groups": "data-science, other ,,"}
    me = ok(env.client.get(f"{SELF}/whoami", headers=who))
    assert me == {
        "name": "erin",
        "kind": "user",
        "groups": ["data-science", "other"],
        "admin": False,
        "authenticatedBy": "proxy",
    }
    made = ok(
        env.client.post(f"/registries/shared{V1}/registered_models", json={"name": "m"}, headers=who), 201
    )
    assert made["owner"] == "erin"
    # Without the group header erin holds no role in "shared".
    refused(
        env.client.get(f"/registries/shared{V1}/registered_models", headers={"X-Forwarded-User": "erin"}), 404
    )
    # Service accounts are told apart by their name.
    sa = {"X-Forwarded-User": "system:serviceaccount:ml:pipeline"}
    assert ok(env.client.get(f"{SELF}/whoami", headers=sa))["kind"] == "serviceaccount"
    # Groups alone name nobody; an empty user header neither.
    refused(env.client.get(f"{SELF}/whoami", headers={"X-Forwarded-Groups": "data-science"}), 401)
    refused(env.client.get(f"{SELF}/whoami", headers={"X-Forwarded-User": ""}), 401)
    # A bearer token, when sent, is what counts.
    me = ok(env.client.get(f"{SELF}/whoami", headers={**env.admin, "X-Forwarded-User": "erin"}))
    assert me["name"] == "root-admin" and me["authenticatedBy"] == "token"


def test_proxy_headers_are_ignored_unless_configured(make_env: EnvFactory) -> None:
    env = make_env()  # auth=True, no proxy header configured
    env.registry("shared")
    env.grant("shared", "erin", "owner")
    env.grant("shared", "admins", "owner", kind="group")
    for headers in (
        {"X-Forwarded-User": "erin"},
        {"X-Forwarded-User": "root-admin", "X-Forwarded-Groups": "admins"},
        {"X-Remote-User": "erin", "X-Remote-Group": "admins"},
    ):
        refused(env.client.get(f"{SELF}/whoami", headers=headers), 401, "credentials are required")
        refused(env.client.get(f"/registries/shared{V1}/registered_models", headers=headers), 401)


def test_anonymous_read_only_where_configured(make_env: EnvFactory) -> None:
    env = make_env(anonymous_read_registries=["public-models"])
    env.registry("public-models")
    env.registry("private")
    for name in ("public-models", "private"):
        ok(
            env.client.post(
                f"/registries/{name}{V1}/registered_models", json={"name": "m"}, headers=env.admin
            ),
            201,
        )
    assert ok(env.client.get(f"/registries/public-models{V1}/registered_models"))["size"] == 1
    refused(env.client.post(f"/registries/public-models{V1}/registered_models", json={"name": "n"}), 401)
    refused(env.client.get(f"/registries/private{V1}/registered_models"), 401)
    refused(env.client.get(f"{V1}/registered_models"), 401)
    refused(env.client.get("/api/admin/v1/registries"), 401)
