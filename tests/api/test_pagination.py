"""Keyset pagination: every order, both directions, several page sizes, each item exactly once."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api import factories as f
from tests.api.factories import Json, err
from tests.conftest import V1, V1ALPHA3

ORDERS = ("ID", "CREATE_TIME", "LAST_UPDATE_TIME", "NAME")
KEY = {
    "ID": lambda i: int(i["id"]),
    "CREATE_TIME": lambda i: int(i["createTimeSinceEpoch"]),
    "LAST_UPDATE_TIME": lambda i: int(i["lastUpdateTimeSinceEpoch"]),
    "NAME": lambda i: i["name"].encode(),  # byte order on every database
}
# Names out of creation order, with mixed case and shared prefixes.
NAMES = ("m", "B", "a", "a1", "Z", "b", "a10", "a2")


def walk(c: TestClient, path: str, base: str = V1ALPHA3, **params: Any) -> list[Json]:
    """Every item of a list, page by page, checking each page's bookkeeping."""
    items: list[Json] = []
    token = None
    for _ in range(100):
        q = dict(params)
        if token:
            q["nextPageToken"] = token
        page = f.get(c, path, base=base, **q)
        assert page["size"] == len(page["items"])
        assert page["pageSize"] == int(params.get("pageSize", 0))
        if "pageSize" in params:
            assert page["size"] <= int(params["pageSize"])
        items += page["items"]
        token = page["nextPageToken"]
        if not token:
            return items
        assert page["size"] == int(params["pageSize"])
    raise AssertionError("pagination did not end")


def expected(items: list[Json], order: str, desc: bool) -> list[str]:
    key = KEY[order]
    ranked = sorted(items, key=lambda i: (key(i), int(i["id"])), reverse=desc)
    return f.ids(ranked)


@pytest.fixture
def models(client: TestClient) -> list[Json]:
    """Eight models; some created within one millisecond, some updated later in mixed order."""
    made = []
    for i, name in enumerate(NAMES):
        if i % 3 == 0:
            f.tick()
        made.append(f.model(client, name))
    for m in (made[5], made[1], made[6]):
        f.tick()
        f.patch(client, f"/registered_models/{m['id']}", {"description": "touched"})
    return f.get(client, "/registered_models")["items"]


@pytest.mark.parametrize("desc", [False, True], ids=["ASC", "DESC"])
@pytest.mark.parametrize("order", ORDERS)
def test_every_page_size_order_and_direction(
    client: TestClient, models: list[Json], order: str, desc: bool
) -> None:
    want = expected(models, order, desc)
    sort = "DESC" if desc else "ASC"
    for size in ("1", "2", "3", "100"):
        for base in (V1, V1ALPHA3):
            got = walk(client, "/registered_models", base=base, pageSize=size, orderBy=order, sortOrder=sort)
            assert f.ids(got) == want, (size, base)
    assert f.ids(walk(client, "/registered_models", orderBy=order, sortOrder=sort)) == want


def test_default_order_is_id_ascending(client: TestClient, models: list[Json]) -> None:
    want = expected(models, "ID", False)
    assert f.ids(walk(client, "/registered_models")) == want
    assert f.ids(walk(client, "/registered_models", pageSize="3")) == want
    assert f.ids(walk(client, "/registered_models", pageSize="3", sortOrder="DESC")) == want[::-1]


@pytest.mark.parametrize("order", ORDERS)
def test_ties_are_broken_by_id(client: TestClient, order: str) -> None:
    """Versions of two models share names; created fast, they share timestamps too."""
    a = f.model(client, "a")
    b = f.model(client, "b")
    for name in ("2", "1", "3"):
        f.version(client, a["id"], name)
        f.version(client, b["id"], name)
    everything = f.get(client, "/model_versions")["items"]
    for desc in (False, True):
        got = walk(
            client, "/model_versions", pageSize="1", orderBy=order, sortOrder="DESC" if desc else "ASC"
        )
        assert f.ids(got) == expected(everything, order, desc)


def test_nested_and_filtered_lists_page_too(client: TestClient) -> None:
    m = f.model(client)
    other = f.model(client, "other")
    versions = [f.version(client, m["id"], f"v{i}", author="x" if i % 2 else "y") for i in range(7)]
    f.version(client, other["id"], "v0")
    got = walk(
        client, f"/registered_models/{m['id']}/versions", pageSize="2", orderBy="NAME", sortOrder="DESC"
    )
    assert f.ids(got) == f.ids(versions[::-1])
    odd = walk(client, "/model_versions", pageSize="2", filterQuery="author = 'x'", orderBy="CREATE_TIME")
    assert f.ids(odd) == f.ids(versions[1::2])


def test_empty_token_restarts_and_last_page_has_empty_token(client: TestClient, models: list[Json]) -> None:
    first = f.get(client, "/registered_models", pageSize="3")
    assert first["nextPageToken"]
    restarted = f.get(client, "/registered_models", pageSize="3", nextPageToken="")
    assert restarted == first
    whole = f.get(client, "/registered_models", pageSize=str(len(models)))
    assert whole["nextPageToken"] == ""
    assert whole["size"] == len(models)
    empty = f.get(client, "/serving_environments", pageSize="5")
    assert (empty["items"], empty["size"], empty["nextPageToken"]) == ([], 0, "")


def test_a_page_boundary_survives_deletes_and_inserts(client: TestClient, models: list[Json]) -> None:
    first = f.get(client, "/registered_models", pageSize="3")
    seen = f.ids(first["items"])
    f.delete(client, f"/registered_models/{seen[-1]}")  # the item the token points at
    f.model(client, "newcomer")
    rest = walk_from(client, first["nextPageToken"], pageSize="3")
    ids = seen + f.ids(rest)
    assert len(ids) == len(set(ids))
    assert set(ids) == {m["id"] for m in models} | {f.get(client, "/registered_model", name="newcomer")["id"]}


def walk_from(c: TestClient, token: str, **params: Any) -> list[Json]:
    items: list[Json] = []
    while token:
        page = f.get(c, "/registered_models", nextPageToken=token, **params)
        items += page["items"]
        token = page["nextPageToken"]
    return items


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("pageSize", "0"),
        ("pageSize", "-1"),
        ("pageSize", "abc"),
        ("pageSize", "1.5"),
        ("pageSize", "1234567890"),
        ("orderBy", "name"),
        ("orderBy", "SIZE"),
        ("orderBy", "ID;DROP"),
        ("sortOrder", "asc"),
        ("sortOrder", "UP"),
        ("nextPageToken", "not-a-token!"),
        ("nextPageToken", "abc"),
        ("nextPageToken", base64.b64encode(b"5:1700000000000").decode()),
        ("nextPageToken", "A" * 2000),
    ],
)
def test_bad_paging_parameters_are_400(client: TestClient, param: str, value: str) -> None:
    f.model(client)
    for base in (V1, V1ALPHA3):
        err(client.get(f"{base}/registered_models", params={param: value}), 400, param, "Bad Request")
        err(client.get(f"{base}/model_artifacts", params={param: value}), 400, param)


def test_token_is_tied_to_its_order(client: TestClient, models: list[Json]) -> None:
    token = f.get(client, "/registered_models", pageSize="2", orderBy="NAME")["nextPageToken"]
    err(client.get(f"{V1ALPHA3}/registered_models", params={"pageSize": "2", "nextPageToken": token}), 400)
    err(
        client.get(
            f"{V1ALPHA3}/registered_models",
            params={"pageSize": "2", "orderBy": "CREATE_TIME", "nextPageToken": token},
        ),
        400,
        "nextPageToken",
    )


def _int_prop(n: int) -> Json:
    return {"metadataType": "MetadataIntValue", "int_value": str(n)}


@pytest.mark.parametrize("desc", [False, True], ids=["ASC", "DESC"])
def test_lists_filtered_on_a_text_property_page_in_creation_order(client: TestClient, desc: bool) -> None:
    """On PostgreSQL such a page walks the property's own rows in their owners' creation
    order: properties replaced after the entity was created keep its place, values that
    share a long prefix stay apart, and the rest of the filter and the parent still apply."""
    m, other = f.model(client), f.model(client, "other")
    long = "x" * 250
    made = []
    for i in range(10):
        if i % 3 == 0:
            f.tick()
        team = long + ("y" if i == 8 else "") if i >= 7 else "a" if i % 3 else "b"
        props = {"team": f.string_prop(team), "n": _int_prop(i)}
        made.append(f.version(client, (other if i % 4 == 0 else m)["id"], f"v{i}", customProperties=props))
    f.tick()
    for i in (1, 4, 7):  # replaced later, older ones first; and touched again
        props = {"team": f.string_prop("a" if i < 7 else long), "n": _int_prop(i), "late": f.string_prop("1")}
        f.patch(client, f"/model_versions/{made[i]['id']}", {"customProperties": props})
    everything = f.get(client, "/model_versions")["items"]

    def team(v: Json) -> str:
        return str(v["customProperties"]["team"]["string_value"])

    def n(v: Json) -> int:
        return int(v["customProperties"]["n"]["int_value"])

    sort = "DESC" if desc else "ASC"
    mine = {v["id"] for v in made if v["registeredModelId"] == m["id"]}
    cases = [
        ("team = 'a'", "/model_versions", lambda v: team(v) == "a"),
        ("team = 'a' AND n > 2", "/model_versions", lambda v: team(v) == "a" and n(v) > 2),
        ("n < 6 AND (team = 'b')", "/model_versions", lambda v: team(v) == "b" and n(v) < 6),
        (f"team = '{long}'", "/model_versions", lambda v: team(v) == long),
        (
            "team = 'a'",
            f"/registered_models/{m['id']}/versions",
            lambda v: team(v) == "a" and v["id"] in mine,
        ),
        ("team = 'a' OR n = 0", "/model_versions", lambda v: team(v) == "a" or n(v) == 0),
    ]
    for query, path, wanted in cases:
        want = expected([v for v in everything if wanted(v)], "CREATE_TIME", desc)
        assert want, query
        for size in ("1", "2", "100"):
            got = walk(client, path, pageSize=size, filterQuery=query, orderBy="CREATE_TIME", sortOrder=sort)
            assert f.ids(got) == want, (query, path, size)
