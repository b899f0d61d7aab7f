"""Every page renders in under 300 ms of server time with 100k models in the registry.

The catalog is seeded in bulk (SQL inserts in one transaction): 100k models, each with a
version, a third with labels and a team property, some deployed. Each page is timed over a
few requests (after one warm-up) inside the process, so the figure is the server's time
plus the in-process client's small overhead; the median of the repeats must be under budget.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert

from modelreg.api.app import create_app
from modelreg.service.registry import upgrade_schema
from modelreg.settings import Settings
from modelreg.store.schema import TABLES, custom_properties, resource_ids
from tests.ui.conftest import browser

N = int(os.environ.get("MODELREG_UI_BENCH_MODELS", "100000"))
BUDGET_MS = 300.0
REPEATS = 5


def _seed(app: object) -> None:
    db = app.state.registries.control  # type: ignore[attr-defined]
    rm, mv, isv, env = (
        TABLES["registered_model"],
        TABLES["model_version"],
        TABLES["inference_service"],
        TABLES["serving_environment"],
    )
    now = int(time.time() * 1000)
    with db.unit_of_work() as s:
        ids, models, versions, props = [], [], [], []
        for i in range(N):
            mid, vid = 2 * i + 1, 2 * i + 2
            ids += [{"id": mid, "kind": "registered_model"}, {"id": vid, "kind": "model_version"}]
            models.append({"id": mid, "name": f"model-{i:06d}", "description": f"model number {i} for team {i % 97}",
                           "create_time": now - N + i, "update_time": now - N + i, "owner": f"user{i % 50}",
                           "state": "ARCHIVED" if i % 100 == 0 else "LIVE", "archived_with_parent": False})  # fmt: skip
            versions.append({"id": vid, "name": "1.0.0", "parent_id": mid, "author": f"user{i % 50}",
                             "create_time": now - N + i, "update_time": now - N + i,
                             "state": "ARCHIVED" if i % 100 == 0 else "LIVE", "archived_with_parent": i % 100 == 0})  # fmt: skip
            if i % 3 == 0:
                props.append(
                    {
                        "resource_id": mid,
                        "owner_create_time": now - N + i,
                        "name": f"label-{i % 20}",
                        "value_type": "string",
                        "string_value": "",
                    }
                )
                props.append(
                    {
                        "resource_id": mid,
                        "owner_create_time": now - N + i,
                        "name": "team",
                        "value_type": "string",
                        "string_value": f"team-{i % 97}",
                    }
                )
        s.execute(insert(resource_ids), ids)
        s.execute(insert(rm), models)
        s.execute(insert(mv), versions)
        s.execute(insert(custom_properties), props)
        base = 2 * N + 1
        s.execute(insert(resource_ids), [{"id": base, "kind": "serving_environment"}] +
                  [{"id": base + 1 + j, "kind": "inference_service"} for j in range(500)])  # fmt: skip
        s.execute(insert(env), [{"id": base, "name": "prod", "create_time": now, "update_time": now}])
        s.execute(insert(isv), [{"id": base + 1 + j, "name": f"svc-{j}", "parent_id": base,
                                 "registered_model_id": 2 * (N - 1 - j) + 1, "model_version_id": 2 * (N - 1 - j) + 2,
                                 "desired_state": "DEPLOYED", "create_time": now, "update_time": now}
                                for j in range(500)])  # fmt: skip


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    d: Path = tmp_path_factory.mktemp("ui-100k")
    s = Settings(data_dir=d, access_log=False, single_user_name="ana")
    upgrade_schema(s)
    app = create_app(s)
    _seed(app)
    with browser(app) as client:
        yield client


def _last_model() -> int:
    return 2 * (N - 1) + 1


PAGES = {
    "models (default: last modified)": "/models",
    "models sorted by name": "/models?sort=name&order=asc",
    "models, search matching many": "/models?q=team+42",
    "models, search by label": "/models?q=label-7",
    "models, search matching nothing": "/models?q=no-such-thing-anywhere",
    "models, owner filter": "/models?owner=user7",
    "model overview": f"/models/{_last_model()}",
    "model versions tab": f"/models/{_last_model()}?tab=versions",
    "model deployments tab": f"/models/{_last_model()}?tab=deployments",
    "model history tab": f"/models/{_last_model()}?tab=history",
    "version details": f"/versions/{_last_model() + 1}",
    "version deployments tab": f"/versions/{_last_model() + 1}?tab=deployments",
    "deploy form": f"/versions/{_last_model() + 1}/deploy",
    "a deployment": f"/deployments/{2 * N + 2}",
    "register model form": "/models/new",
    "register version form (prefilled)": f"/models/{_last_model()}/versions/new",
    "archived models": "/archived",
    "archived versions": "/archived?tab=versions",
    "registries (admin)": "/admin/registries",
    "tokens (admin)": "/admin/tokens",
}


def test_every_page_under_budget_at_100k_models(big: TestClient) -> None:
    figures = {}
    for label, path in PAGES.items():
        r = big.get(path)
        assert r.status_code == 200, (label, r.status_code, r.text[:500])
        times = []
        for _ in range(REPEATS):
            t0 = time.perf_counter()
            r = big.get(path)
            times.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200
        figures[label] = (statistics.median(times), max(times))
    report = "\n".join(f"  {k:<40} median {m:6.1f} ms  worst {w:6.1f} ms" for k, (m, w) in figures.items())
    print(f"\nUI server time with {N} models:\n{report}")
    # The median is judged: on a shared machine the worst repeat mostly measures the
    # other load (the figures printed show both).
    slow = {k: m for k, (m, _) in figures.items() if m > BUDGET_MS}
    assert not slow, f"pages over {BUDGET_MS} ms:\n{report}"


def test_next_page_deep_in_the_catalog_is_as_quick(big: TestClient) -> None:
    import re

    path = "/models?sort=name&order=asc&size=100"
    for _ in range(5):
        r = big.get(path)
        m = re.search(r'rel="next" href="([^"]+)"', r.text)
        assert m
        path = m.group(1).replace("&amp;", "&")
    t0 = time.perf_counter()
    assert big.get(path).status_code == 200
    assert (time.perf_counter() - t0) * 1000 < BUDGET_MS
