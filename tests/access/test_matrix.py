"""The authorization matrix: every route x every kind of caller, from the route table.

The cases are generated from the app's routes (route_table.py) and the rule each one
declares, so a new endpoint joins the matrix by itself, and one without a rule fails
`test_every_route_has_a_rule` (test_rule_required.py shows that happen). Callers:

- anonymous: no credentials;
- viewer, editor, owner: a token whose user holds that role in registry A and in the
  default registry;
- admin: a server administrator;
- other: a user who is owner of registry B only.

Expected: public routes answer everybody; otherwise anonymous gets 401; `authenticated`
routes answer any caller with credentials; `admin` routes answer admins, 403 the rest;
registry routes answer admins and holders of the rule's role or more, 403 holders of a
smaller role, and 404 "registry … not found" callers with no role in that registry (even
though it exists). Registry routes run against A (`/registries/A/...`) and the default
registry (the plain paths). Path parameters are filled with ids of seeded entities (a
fresh one for each delete, upload or completion), bodies with valid data, so every
allowed call succeeds (2xx): it is never 401, 403 or the registry's 404.

Runs on SQLite and PostgreSQL. Per backend there are 6 x (number of routes) cases
(`test_matrix_size` prints them: 276 routes, 1656 cases when this was written); each
route is one test, checking its whole row.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from modelreg.api.app import create_app
from modelreg.api.params import path_param
from modelreg.entities import ENTITIES, V1, V1ALPHA3
from modelreg.service.principals import RANK
from modelreg.settings import Settings
from tests.access.conftest import ADMIN, AuthEnv, Json, ok, scoped, unique
from tests.access.conftest import V1ALPHA3 as KF
from tests.access.route_table import Route, routes, rule_problems

PRINCIPALS = ("anonymous", "viewer", "editor", "owner", "admin", "other")
MR = "/api/model_registry/"
FILE = b"matrix file bytes\n"
FILE_SHA = hashlib.sha256(FILE).hexdigest()
DUMMY = "matrix-dummy"
GROUP = "matrix-group"


def _route_table() -> list[Route]:
    """The routes of an app built with authentication on (the table does not depend on the data)."""
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings(data_dir=Path(tmp), auth=True, access_log=False))
        try:
            return routes(app)
        finally:
            app.state.registries.close()


ROUTES = _route_table()
CASES = [(p, r) for r in ROUTES for p in PRINCIPALS]


# ---------------------------------------------------------------- what each path parameter means

# {registered_model_id}, {registeredmodelId}, ... -> the entity kind whose id goes there.
PARAM_KIND: dict[str, str] = {"version_id": "model_version"}
FIND_KIND: dict[str, str] = {}
for _spec in ENTITIES:
    for _api in (V1, V1ALPHA3):
        PARAM_KIND[path_param(_spec.kind, _api)] = _spec.kind
        for _view in _spec.views:
            PARAM_KIND[path_param(_view.kind, _api)] = _spec.kind
    if _spec.find_path:
        FIND_KIND[_spec.find_path] = _spec.kind
    for _view in _spec.views:
        if _view.find_path:
            FIND_KIND[_view.find_path] = _spec.kind

_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")


def _registry_of(route: Route, world: World) -> str:
    """The registry whose roles the route's rule is checked against."""
    return world.a if "{registry}" in route.path else "default"


def expected(world: World, principal: str, route: Route) -> int | None:
    """The status the matrix demands, or None: allowed (any answer but a refusal)."""
    rule = route.rule
    assert rule is not None
    if rule == "public":
        return None
    if principal == "anonymous":
        return 401
    if rule == "authenticated":
        return None
    if rule == "admin":
        return None if principal == "admin" else 403
    if principal == "admin":
        return None
    held = world.roles[principal].get(_registry_of(route, world))
    if held is None:
        return 404
    return None if RANK[held] >= RANK[rule] else 403


# ---------------------------------------------------------------- the world the cases run in


@dataclass
class World:
    env: AuthEnv
    a: str
    b: str
    tokens: dict[str, str | None]
    roles: dict[str, dict[str, str]]
    seeds: dict[str, dict[str, str]]  # registry -> {kind or key: id}
    dummy_token: str
    counter: Iterator[int]

    def name(self, prefix: str = "mx") -> str:
        return f"{prefix}-{next(self.counter)}"


def _seed(env: AuthEnv, registry: str) -> dict[str, str]:
    """One entity of every kind in `registry`, made by the admin, plus two uploads."""

    def post(path: str, body: Json) -> Json:
        r = env.client.post(scoped(registry, KF + path), json=body, headers=env.admin)
        return ok(r, 201)  # type: ignore[no-any-return]

    s: dict[str, str] = {}
    m = post("/registered_models", {"name": "seed-model", "externalId": "x-registered_model"})
    s["registered_model"] = m["id"]
    v = post(f"/registered_models/{m['id']}/versions", {"name": "v1", "externalId": "x-model_version"})
    s["model_version"] = v["id"]
    art = post(
        f"/model_versions/{v['id']}/artifacts",
        {"artifactType": "model-artifact", "name": "weights", "uri": "s3://b/w", "externalId": "x-artifact"},
    )
    s["artifact"] = art["id"]
    e = post("/serving_environments", {"name": "env", "externalId": "x-serving_environment"})
    s["serving_environment"] = e["id"]
    isvc = post(
        "/inference_services",
        {
            "name": "isvc",
            "servingEnvironmentId": e["id"],
            "registeredModelId": m["id"],
            "modelVersionId": v["id"],
            "externalId": "x-inference_service",
        },
    )
    s["inference_service"] = isvc["id"]
    post(f"/inference_services/{isvc['id']}/serves", {"modelVersionId": v["id"]})
    x = post("/experiments", {"name": "exp", "externalId": "x-experiment"})
    s["experiment"] = x["id"]
    run = post(f"/experiments/{x['id']}/experiment_runs", {"name": "run", "externalId": "x-experiment_run"})
    s["experiment_run"] = run["id"]
    # A finished upload (read by manifest/files) and a pending one (written by PUT/complete).
    files = {"files": [{"path": "w.bin", "size": len(FILE), "sha256": FILE_SHA}]}
    for key in ("live_upload", "pending_upload"):
        ver = post(f"/registered_models/{m['id']}/versions", {"name": key})
        up = env.client.post(
            scoped(registry, f"/api/modelreg/v1/model_versions/{ver['id']}/uploads"),
            json=files,
            headers=env.admin,
        )
        s[key] = ok(up, 201)["artifactId"]
    live = s["live_upload"]
    ok(
        env.client.put(
            scoped(registry, f"/api/modelreg/v1/artifacts/{live}/files/w.bin"),
            content=FILE,
            headers=env.admin,
        )
    )
    ok(env.client.post(scoped(registry, f"/api/modelreg/v1/artifacts/{live}/complete"), headers=env.admin))
    return s


@pytest.fixture(scope="module")
def world(auth_env: AuthEnv) -> Iterator[World]:
    env = auth_env
    a, b = unique("reg-a"), unique("reg-b")
    env.registry(a, description="registry A")
    env.registry(b, description="registry B")
    tokens: dict[str, str | None] = {"anonymous": None, "admin": env.admin_token}
    roles: dict[str, dict[str, str]] = {"anonymous": {}, "admin": {}}
    for role in ("viewer", "editor", "owner"):
        user = unique(f"matrix-{role}")
        env.grant(a, user, role)
        env.grant("default", user, role)
        tokens[role] = env.token(user)[1]
        roles[role] = {a: role, "default": role}
    other = unique("matrix-other")
    env.grant(b, other, "owner")
    tokens["other"] = env.token(other)[1]
    roles["other"] = {b: "owner"}
    ok(env.client.post(f"{ADMIN}/users", json={"name": DUMMY}, headers=env.admin), 201)
    ok(env.client.post(f"{ADMIN}/groups", json={"name": GROUP}, headers=env.admin), 201)
    ok(
        env.client.put(
            f"{ADMIN}/registries/{a}/grants/user/{DUMMY}", json={"role": "viewer"}, headers=env.admin
        )
    )
    dummy_token = env.token(DUMMY)[0]
    seeds = {"default": _seed(env, "default"), a: _seed(env, a)}
    yield World(env, a, b, tokens, roles, seeds, dummy_token, itertools.count(1))


# ---------------------------------------------------------------- one call per case


def _fresh(world: World, registry: str, kind: str) -> str:
    """A new entity of `kind` in `registry`, for a delete to take."""
    env, s = world.env, world.seeds[registry]
    name = world.name()
    bodies: dict[str, tuple[str, Json]] = {
        "registered_model": ("/registered_models", {"name": name}),
        "model_version": ("/model_versions", {"name": name, "registeredModelId": s["registered_model"]}),
        "artifact": (
            f"/model_versions/{s['model_version']}/artifacts",
            {"artifactType": "model-artifact", "name": name, "uri": "s3://b/x"},
        ),
        "serving_environment": ("/serving_environments", {"name": name}),
        "inference_service": (
            "/inference_services",
            {
                "name": name,
                "servingEnvironmentId": s["serving_environment"],
                "registeredModelId": s["registered_model"],
                "desiredState": "UNDEPLOYED",
            },
        ),
        "experiment": ("/experiments", {"name": name}),
        "experiment_run": ("/experiment_runs", {"name": name, "experimentId": s["experiment"]}),
    }
    path, body = bodies[kind]
    r = env.client.post(scoped(registry, KF + path), json=body, headers=env.admin)
    return str(ok(r, 201)["id"])


def _fresh_upload(world: World, registry: str, *, stored: bool) -> str:
    """A pending upload of one file on a new version (the file already sent if `stored`)."""
    env = world.env
    model = world.seeds[registry]["registered_model"]
    r = env.client.post(
        scoped(registry, f"{KF}/registered_models/{model}/versions"),
        json={"name": world.name()},
        headers=env.admin,
    )
    version = ok(r, 201)["id"]
    files = {"files": [{"path": "w.bin", "size": len(FILE), "sha256": FILE_SHA}]}
    r = env.client.post(
        scoped(registry, f"/api/modelreg/v1/model_versions/{version}/uploads"), json=files, headers=env.admin
    )
    artifact = str(ok(r, 201)["artifactId"])
    if stored:
        r = env.client.put(
            scoped(registry, f"/api/modelreg/v1/artifacts/{artifact}/files/w.bin"),
            content=FILE,
            headers=env.admin,
        )
        ok(r)
    return artifact


def _model_registry_body(world: World, registry: str, method: str, resource: str) -> Json | None:
    """A valid body for a Kubeflow API call on `resource` (its path, ids as {})."""
    s = world.seeds[registry]
    name = world.name()
    if method == "PATCH":
        body: Json = {"description": "patched by the matrix"}
        if resource == "/artifacts/{}":
            body["artifactType"] = "model-artifact"
        return body
    if method != "POST":
        return None
    model_artifact = {"artifactType": "model-artifact", "name": name, "uri": "s3://b/m"}
    isvc = {
        "name": name,
        "servingEnvironmentId": s["serving_environment"],
        "registeredModelId": s["registered_model"],
        "desiredState": "UNDEPLOYED",
    }
    bodies: dict[str, Json] = {
        "/registered_models": {"name": name},
        "/model_versions": {"name": name, "registeredModelId": s["registered_model"]},
        "/registered_models/{}/versions": {"name": name},
        "/artifacts": model_artifact,
        "/model_artifacts": {"name": name, "uri": "s3://b/m"},
        "/model_versions/{}/artifacts": model_artifact,
        "/experiment_runs/{}/artifacts": model_artifact,
        "/serving_environments": {"name": name},
        "/inference_services": isvc,
        "/serving_environments/{}/inference_services": isvc,
        "/inference_services/{}/serves": {"modelVersionId": s["model_version"]},
        "/experiments": {"name": name},
        "/experiment_runs": {"name": name, "experimentId": s["experiment"]},
        "/experiments/{}/experiment_runs": {"name": name},
    }
    return bodies.get(resource, {})


def _request(world: World, principal: str, route: Route, allowed: bool) -> tuple[str, dict[str, Any]]:
    """The URL and request arguments of one case."""
    env = world.env
    registry = _registry_of(route, world)
    s = world.seeds.get(registry, {})
    params = _PARAM.findall(route.path)
    fresh: dict[str, str] = {}
    query: dict[str, str] = {}
    kw: dict[str, Any] = {}
    admin_route = route.path.startswith(ADMIN)
    # A delete takes something made for it, so no case depends on another's leftovers.
    if route.method == "DELETE" and allowed:
        if route.path == f"{ADMIN}/registries/{{registry}}":
            name = unique("mx-del")
            env.registry(name)
            env.created.remove(name)
            fresh["registry"] = name
            query = {"confirm": name, "purge": "true"}
        elif route.path.endswith("/grants/{subject_kind}/{subject}"):
            fresh["subject"] = world.name("grantee")
            env.grant(registry, fresh["subject"], "viewer")
        elif route.path == f"{ADMIN}/tokens/{{token_id}}":
            fresh["token_id"] = env.token(DUMMY)[0]
        elif route.path == f"{ADMIN}/groups/{{group}}/members/{{user}}":
            fresh["user"] = world.name("member")
            ok(env.client.put(f"{ADMIN}/groups/{GROUP}/members/{fresh['user']}", headers=env.admin), 204)
        elif params and params[-1] in PARAM_KIND:
            fresh[params[-1]] = _fresh(world, registry, PARAM_KIND[params[-1]])
    elif allowed and "artifact_id" in params and route.method != "GET":
        # Uploading a file or finishing an upload: a pending upload of its own.
        fresh["artifact_id"] = _fresh_upload(world, registry, stored=route.path.endswith("/complete"))
    elif route.method == "DELETE" and route.path == f"{ADMIN}/registries/{{registry}}":
        query = {"confirm": world.a}
    values: dict[str, str] = {}
    for p in params:
        if p in fresh:
            values[p] = fresh[p]
        elif p == "registry":
            values[p] = world.a
        elif p == "artifact_id":
            reads = route.method == "GET"
            values[p] = s["live_upload" if reads else "pending_upload"]
        elif p == "path":
            values[p] = "w.bin"
        elif p == "subject_kind":
            values[p] = "user"
        elif p in ("subject", "user"):
            values[p] = DUMMY
        elif p == "group":
            values[p] = GROUP
        elif p == "token_id":
            values[p] = world.dummy_token
        elif p in PARAM_KIND:
            values[p] = s[PARAM_KIND[p]]
        else:
            values[p] = "1"  # a parameter this table does not know yet: still checks the rule
    url = _PARAM.sub(lambda m: values[m.group(1)], route.path)

    if MR in route.path:
        api_path = route.path.split(MR, 1)[1]
        resource = _PARAM.sub("{}", "/" + api_path.split("/", 1)[1])
        body = _model_registry_body(world, registry, route.method, resource)
        if body is not None:
            kw["json"] = body
        find = resource.lstrip("/")
        if route.method == "GET" and find in FIND_KIND:
            query["externalId"] = f"x-{FIND_KIND[find]}"
    elif route.path.endswith("/uploads"):
        kw["json"] = {"files": [{"path": "w.bin", "size": len(FILE), "sha256": FILE_SHA}]}
    elif route.method == "PUT" and "/files/" in route.path:
        kw["content"] = FILE
    elif admin_route and route.method in ("POST", "PATCH", "PUT"):
        tail = route.path[len(ADMIN) :]
        if tail == "/registries":
            name = unique("mx-new")
            kw["json"] = {"name": name}
            if allowed:
                env.created.append(name)
        elif tail.startswith("/registries/") and route.method == "PATCH":
            kw["json"] = {"description": "patched by the matrix"}
        elif tail.endswith("/grants/{subject_kind}/{subject}"):
            kw["json"] = {"role": "viewer"}
        elif tail == "/tokens":
            kw["json"] = {"user": DUMMY, "name": "matrix"}
        elif tail in ("/users", "/groups"):
            kw["json"] = {"name": world.name("made")}
        elif tail == "/users/{user}":
            kw["json"] = {"admin": False}
    if query:
        kw["params"] = query
    return url, kw


def check_every_route_has_a_rule(app_factory: Callable[[Settings], FastAPI] = create_app) -> None:
    """The completeness check the matrix stands on: every route runs `authorize` with a
    rule the matrix knows (test_rule_required.py feeds it an app with a route without one)."""
    with tempfile.TemporaryDirectory() as tmp:
        app = app_factory(Settings(data_dir=Path(tmp), auth=True, access_log=False))
        try:
            assert routes(app), "no routes found"
            problems = rule_problems(app)
            assert problems == [], "routes without a usable permission rule:\n" + "\n".join(problems)
        finally:
            app.state.registries.close()


def test_every_route_has_a_rule() -> None:
    check_every_route_has_a_rule()
    assert all(r.rule is not None and r.checked for r in ROUTES)


def test_matrix_size() -> None:
    scoped_copies = [r for r in ROUTES if r.path.startswith("/registries/{registry}")]
    print(
        f"\nauthorization matrix: {len(ROUTES)} routes ({len(scoped_copies)} under /registries/{{registry}}) "
        f"x {len(PRINCIPALS)} callers = {len(CASES)} cases per backend"
    )
    # Every registry route is served for the default registry and under /registries/{name}.
    plain = {r.key.replace("/registries/{registry}", "", 1) for r in scoped_copies}
    assert plain <= {r.key for r in ROUTES}
    assert len(CASES) == len(PRINCIPALS) * len(ROUTES)


def check_case(world: World, principal: str, route: Route) -> None:
    """One cell of the matrix: `principal` calls `route`; raises AssertionError on a mismatch."""
    want = expected(world, principal, route)
    url, kw = _request(world, principal, route, allowed=want is None)
    token = world.tokens[principal]
    r = world.env.request(route.method, url, token, **kw)
    where = f"{principal} {route.method} {url} -> {r.status_code} {r.text[:300]}"
    registry = _registry_of(route, world)
    not_found = f"registry {registry!r} not found"
    if want is None:
        assert r.status_code not in (401, 403), where
        if r.status_code == 404:
            assert r.json().get("message") != not_found, where
        # Every allowed call is given real ids and a valid body, so it succeeds; a new
        # route that fails here may only need its parameters or body taught to _request.
        assert 200 <= r.status_code < 300, where
        return
    assert r.status_code == want, f"expected {want}: {where}"
    body = r.json()
    if want == 401:
        assert body["code"] == "Unauthorized", where
        assert r.headers.get("www-authenticate", "").startswith("Bearer"), where
    elif want == 403:
        assert body["code"] == "Forbidden", where
    else:
        assert body == {"code": "Not Found", "message": not_found}, where


# One test per route (its row of the matrix: every caller), so that the many cases do not
# pay pytest's per-test cost; a failure lists every cell of the row that went wrong.
@pytest.mark.parametrize("route", ROUTES, ids=[r.key for r in ROUTES])
def test_matrix(world: World, route: Route) -> None:
    failures = []
    for principal in PRINCIPALS:
        try:
            check_case(world, principal, route)
        except AssertionError as exc:
            failures.append(f"{principal}: {exc}")
    assert not failures, "\n".join(failures)
