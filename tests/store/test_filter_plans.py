"""The forms a filter on a custom property takes to be planned well answer exactly as the default.

On SQLite a value many rows hold is probed row by row (correlated EXISTS) instead of
collected (IN); on PostgreSQL a filter with few property conditions is a plain EXISTS the
planner may join. Large catalogs pick these forms; here they are forced on a small one and
must select the same rows, including long texts found by their indexed prefix.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from modelreg.entities import BY_KIND
from modelreg.store import filtering
from modelreg.store.filtering import compile_filter
from modelreg.store.schema import STRING_PREFIX, TABLES
from tests.conftest import V1

LONG = "x" * (STRING_PREFIX + 20)
QUERIES = [
    "team = 'red'",
    "team != 'red'",
    "NOT team = 'red'",
    "team IN ('red', 'blue')",
    "team NOT IN ('red')",
    "team = 'red' AND size > 2",
    "team = 'red' OR size <= 1",
    "size > 2",
    "size BETWEEN 1 AND 3",
    "score >= 0.5",
    f"note = '{LONG}'",
    f"note = '{LONG[:-1]}'",
    f"note IN ('{LONG}', 'short')",
    f"note = '{LONG[:STRING_PREFIX]}'",
    "note = 'short'",
    "team = 'red' AND note = 'short' AND size = 2 AND score < 1",
]


def _s(v: str) -> dict[str, Any]:
    return {"metadataType": "MetadataStringValue", "string_value": v}


@pytest.fixture
def seeded(client: TestClient) -> TestClient:
    notes = [LONG, LONG[:STRING_PREFIX], "short", LONG + "y"]
    for i in range(8):
        props = {
            "team": _s(["red", "blue", "green"][i % 3]),
            "size": {"metadataType": "MetadataIntValue", "int_value": str(i % 4)},
            "score": {"metadataType": "MetadataDoubleValue", "double_value": i / 8},
            "note": _s(notes[i % 4]),
        }
        r = client.post(f"{V1}/registered_models", json={"name": f"m{i}", "customProperties": props})
        assert r.status_code == 201, r.text
    return client


@pytest.mark.parametrize("query", QUERIES)
def test_plan_forms_select_the_same_rows(seeded: TestClient, query: str) -> None:
    db = seeded.app.state.db  # type: ignore[attr-defined]
    spec = BY_KIND["registered_model"]
    t = TABLES["registered_model"]

    def names(cond: Any) -> list[str]:
        with db.read_only() as session:
            return list(session.execute(select(t.c.name).where(cond).order_by(t.c.name)).scalars())

    default = names(compile_filter(spec, query))
    assert names(compile_filter(spec, query, dialect="sqlite", estimate=lambda _ids: True)) == default
    assert names(compile_filter(spec, query, dialect="postgresql")) == default
    via_api = seeded.get(f"{V1}/registered_models", params={"filterQuery": query}).json()["items"]
    assert sorted(m["name"] for m in via_api) == default


@pytest.mark.parametrize("cap", [1, 5000])
def test_cached_plans_answer_as_compiled_ones(
    seeded: TestClient, cap: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A query's compiled forms are kept per text; the estimates are asked again each time,
    and a form is compiled for each answer they give (cap 1: every estimate says "many")."""
    monkeypatch.setattr(filtering, "ESTIMATE_CAP", cap)
    monkeypatch.setattr(filtering, "_plans", {})
    spec = BY_KIND["registered_model"]
    db = seeded.app.state.db  # type: ignore[attr-defined]
    t = TABLES["registered_model"]
    for query in QUERIES:
        with db.read_only() as session:
            expected = list(
                session.execute(
                    select(t.c.name).where(compile_filter(spec, query)).order_by(t.c.name)
                ).scalars()
            )
        for _ in range(2):
            items = seeded.get(f"{V1}/registered_models", params={"filterQuery": query}).json()["items"]
            assert sorted(m["name"] for m in items) == expected, query
    assert len(filtering._plans) == len(QUERIES)
    with db.read_only() as session:
        first = filtering.cached_filter(spec, QUERIES[0], None, session=session)
        assert filtering.cached_filter(spec, QUERIES[0], None, session=session).condition is first.condition
