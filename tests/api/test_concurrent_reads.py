"""Many reads or writes at once on a small connection pool: each answers, with its own entity."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

from modelreg.api.app import create_app
from modelreg.settings import Settings
from tests.conftest import V1, wipe


def test_more_reads_at_once_than_connections_all_answer(settings: Settings) -> None:
    small = settings.model_copy(update={"pool_size": 2})
    with TestClient(create_app(small), raise_server_exceptions=False) as c:
        wipe(c)
        ids = {}
        for i in range(12):
            r = c.post(f"{V1}/registered_models", json={"name": f"m{i}"})
            assert r.status_code == 201, r.text
            ids[f"m{i}"] = r.json()["id"]

        def read(n: int) -> tuple[str, str, str]:
            name = f"m{n % 12}"
            if n % 2:
                r = c.get(f"{V1}/registered_model", params={"name": name})
            else:
                r = c.get(f"{V1}/registered_models/{ids[name]}")
            assert r.status_code == 200, r.text
            return name, r.json()["name"], r.json()["id"]

        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(read, range(200), timeout=60))
        assert all(asked == got for asked, got, _ in answers)
        assert all(ids[name] == id_ for name, _, id_ in answers)
        missing = c.get(f"{V1}/registered_models/999999")
        assert missing.status_code == 404
        assert "999999" in missing.json()["message"]


def test_more_writes_at_once_than_connections_all_land(settings: Settings) -> None:
    small = settings.model_copy(update={"pool_size": 2})
    with TestClient(create_app(small), raise_server_exceptions=False) as c:
        wipe(c)
        model = c.post(f"{V1}/registered_models", json={"name": "m"}).json()["id"]

        def write(n: int) -> str:
            r = c.post(
                f"{V1}/registered_models/{model}/versions", json={"name": f"v{n}", "registeredModelId": model}
            )
            assert r.status_code == 201, r.text
            version = r.json()["id"]
            r = c.patch(f"{V1}/model_versions/{version}", json={"description": f"d{n}"})
            assert r.status_code == 200, r.text
            return str(version)

        with ThreadPoolExecutor(16) as pool:
            written = list(pool.map(write, range(60), timeout=60))
        assert len(set(written)) == 60
        listed = c.get(f"{V1}/registered_models/{model}/versions", params={"pageSize": 100}).json()["items"]
        assert sorted((v["name"], v["description"]) for v in listed) == sorted(
            (f"v{n}", f"d{n}") for n in range(60)
        )
        again = c.post(
            f"{V1}/registered_models/{model}/versions", json={"name": "v7", "registeredModelId": model}
        )
        assert again.status_code == 409, again.text
