"""Sign-in with a token, the session cookie, CSRF on forms, and what a grant lets one see."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from modelreg.api.app import create_app
from modelreg.service.registry import upgrade_schema
from modelreg.settings import Settings
from tests.access.conftest import ADMIN_USER, bearer
from tests.ui.conftest import browser, csrf_of, no_trace

ADMIN_API = "/api/admin/v1"


def sign_in(client: TestClient, token: str) -> None:
    client.cookies.clear()
    r = client.post("/signin", data={"token": token, "next": "/models"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")


def test_pages_need_sign_in(auth_ui: tuple[TestClient, str]) -> None:
    client, _ = auth_ui
    r = client.get("/models", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/signin?next=%2Fmodels")
    r = client.get("/signin")
    assert r.status_code == 200 and 'for="f-token"' in r.text
    r = client.post("/signin", data={"token": "mrg_1_nottherightsecretatall"})
    assert 'id="e-token"' in r.text and "not valid" in r.text
    no_trace(r)
    r = client.post("/signin", data={"token": ""})
    assert 'id="e-token"' in r.text
    # API callers still get 401 JSON
    r = client.get("/models", headers={"accept": "application/json"})
    assert r.status_code == 401 and r.json()["code"] == "Unauthorized"


def test_admin_signs_in_and_forms_need_the_csrf_field(auth_ui: tuple[TestClient, str]) -> None:
    client, admin = auth_ui
    sign_in(client, admin)
    page = client.get("/models/new")
    assert page.status_code == 200
    token = csrf_of(page.text)
    assert token
    form = {"name": "m1", "version_name": "1", "location": "uri", "uri": "oci://q/m:1"}
    r = client.post("/models/new", data=form)
    assert r.status_code == 403 and "did not come from this site" in r.text
    r = client.post("/models/new", data={**form, "csrf": token})
    assert "Model registered." in r.text
    # the storage API accepts the cookie for reads, and for writes only with the header
    assert (
        client.get("/api/model_registry/v1/registered_models", headers={"accept": "*/*"}).status_code == 200
    )
    r = client.post("/api/model_registry/v1/registered_models", json={"name": "x"}, headers={"accept": "*/*"})
    assert r.status_code == 403
    r = client.post("/api/model_registry/v1/registered_models", json={"name": "x"},
                    headers={"accept": "*/*", "x-csrf-token": token})  # fmt: skip
    assert r.status_code == 201
    r = client.post("/signout", data={"csrf": token})
    assert "Sign in" in r.text
    assert client.get("/models", follow_redirects=False).status_code == 303


def test_a_granted_user_sees_only_what_the_grant_allows(auth_ui: tuple[TestClient, str]) -> None:
    client, admin = auth_ui
    h = {**bearer(admin), "accept": "application/json"}
    for name in ("team-a", "team-b"):
        assert client.post(f"{ADMIN_API}/registries", json={"name": name}, headers=h).status_code == 201
        client.post("/api/model_registry/v1/registered_models".replace("/api", f"/registries/{name}/api"),
                    json={"name": f"model-of-{name}"}, headers=h)  # fmt: skip
    client.put(f"{ADMIN_API}/registries/team-a/grants/user/bob", json={"role": "viewer"}, headers=h)
    bob = client.post(f"{ADMIN_API}/tokens", json={"user": "bob"}, headers=h).json()["token"]
    sign_in(client, bob)
    r = client.get("/registries/team-a/models")
    assert r.status_code == 200 and "model-of-team-a" in r.text
    assert "Register model" not in r.text  # a viewer cannot register
    picker = re.findall(r'<option value="[^"]*"[^>]*>([a-z-]+)</option>', r.text)
    assert picker == ["team-a"]
    assert "/admin/registries" not in r.text
    r = client.get("/registries/team-b/models")
    assert r.status_code == 404 and "model-of-team-b" not in r.text
    r = client.get("/registries/team-a/models/new")
    assert r.status_code == 403
    r = client.get("/admin/tokens")
    assert r.status_code == 403 and "You do not have access" in r.text
    no_trace(r)


def test_behind_a_trusted_proxy_the_header_signs_in(tmp_path: Path) -> None:
    """The proxy's user header is the signed-in user: no sign-in page, no signing out, the
    grants of the user and of the groups the proxy names; a form posted from another site
    is refused (there is no cookie of ours to tie a CSRF field to)."""
    s = Settings(data_dir=tmp_path, access_log=False, admin_users=[ADMIN_USER],
                 proxy_user_header="X-Forwarded-User", proxy_groups_header="X-Forwarded-Groups")  # fmt: skip
    upgrade_schema(s)
    with browser(create_app(s)) as client:
        root = {"x-forwarded-user": ADMIN_USER, "accept": "application/json"}
        for name in ("team-a", "team-b"):
            assert (
                client.post(f"{ADMIN_API}/registries", json={"name": name}, headers=root).status_code == 201
            )
        r = client.put(
            f"{ADMIN_API}/registries/team-a/grants/group/ml-team", json={"role": "editor"}, headers=root
        )
        assert r.status_code == 200, r.text

        dana = {"x-forwarded-user": "dana", "x-forwarded-groups": "ml-team, readers"}
        r = client.get("/registries/team-a/models", headers=dana)
        assert r.status_code == 200 and "dana (editor)" in r.text
        assert "Sign out" not in r.text and "Register model" in r.text
        assert client.get("/registries/team-b/models", headers=dana).status_code == 404
        assert client.get("/admin/registries", headers=dana).status_code == 403
        r = client.get("/signin?next=%2Fregistries%2Fteam-a%2Fmodels", headers=dana, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/registries/team-a/models"

        form = {"name": "m1", "version_name": "1", "location": "uri", "uri": "oci://q/m:1", "csrf": ""}
        r = client.post(
            "/registries/team-a/models/new", data=form, headers={**dana, "sec-fetch-site": "cross-site"}
        )
        assert r.status_code == 403 and "did not come from this site" in r.text
        r = client.post(
            "/registries/team-a/models/new", data=form, headers={**dana, "sec-fetch-site": "same-origin"}
        )
        assert r.status_code == 200 and "Model registered." in r.text, r.text
        no_trace(r)

        # Without the header (the proxy bypassed, or not in front): the token sign-in.
        r = client.get("/registries/team-a/models", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/signin?")
