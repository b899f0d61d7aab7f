"""A page of any list costs the same few queries, however many items it holds."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from modelreg.store import filtering
from tests.conftest import V1


@contextmanager
def counting(client: TestClient) -> Iterator[list[str]]:
    engine = client.app.state.db.engine  # type: ignore[attr-defined]
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK", "COMMIT")):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _props(i: int) -> dict[str, object]:
    return {
        "accuracy": {"metadataType": "MetadataDoubleValue", "double_value": i / 100},
        "team": {"metadataType": "MetadataStringValue", "string_value": f"t{i % 3}"},
    }


def test_list_pages_cost_constant_queries(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(filtering, "ESTIMATE_SECONDS", 0.0)  # every page asks (see below)
    model = client.post(f"{V1}/registered_models", json={"name": "m"}).json()
    for i in range(60):
        r = client.post(
            f"{V1}/registered_models/{model['id']}/versions",
            json={"name": f"v{i}", "customProperties": _props(i)},
        )
        assert r.status_code == 201
        client.post(f"{V1}/registered_models", json={"name": f"m{i}", "customProperties": _props(i)})

    # SQLite keeps no statistics: a filter on a custom property first counts its matches
    # (one index read of at most ESTIMATE_CAP entries) to choose its plan.
    limit = 4 if client.app.state.db.dialect == "sqlite" else 3  # type: ignore[attr-defined]
    counts = {}
    for path in (
        f"{V1}/registered_models",
        f"{V1}/model_versions",
        f"{V1}/registered_models/{model['id']}/versions",
    ):
        for size in (1, 50):
            with counting(client) as statements:
                r = client.get(path, params={"pageSize": size, "filterQuery": "accuracy >= 0"})
            assert r.status_code == 200
            assert r.json()["size"] == size
            counts[(path, size)] = len(statements)
        assert counts[(path, 1)] == counts[(path, 50)], counts
        assert counts[(path, 50)] <= limit, counts


def test_a_filter_asked_again_at_once_reuses_its_estimates(client: TestClient) -> None:
    """SQLite's estimates pick only the plan's form, so their answers are kept a moment:
    the same filter asked again right away skips the count; the answer is the same."""
    for i in range(5):
        r = client.post(f"{V1}/registered_models", json={"name": f"m{i}", "customProperties": _props(i)})
        assert r.status_code == 201
    query = {"filterQuery": "team = 't1' AND accuracy >= 0.01"}
    with counting(client) as first:
        a = client.get(f"{V1}/registered_models", params=query)
    with counting(client) as again:
        b = client.get(f"{V1}/registered_models", params=query)
    assert a.status_code == b.status_code == 200
    assert [m["name"] for m in a.json()["items"]] == [m["name"] for m in b.json()["items"]] == ["m1", "m4"]
    asked = 2 if client.app.state.db.dialect == "sqlite" else 0  # type: ignore[attr-defined]
    assert len(first) - len(again) == asked, (first, again)
