"""Many reads at once on a small connection pool: each answers, with its own entity."""

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
